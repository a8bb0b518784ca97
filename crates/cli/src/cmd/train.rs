//! `mammorecall train`: one scenario on one manifest, from scratch, ImageNet or another
//! run, into a run folder (see the `train` crate's `run` module for its layout).

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use data::Scenario;
use model::Architecture;
use train::augment::Augment;
use train::config::{Balance, Init, Preset, TrainConfig};
use train::infer::Tta;
use train::run::{train_run, RunOptions};
use train::trainer::Event;

/// Train a network on one scenario of a manifest (defaults: the study's recipe).
///
/// Writes RUN_DIR/config.toml, run.json, split.csv, model.json, mean.bin,
/// weights.safetensors, train_log.csv, checkpoint/ and predictions.csv (the test part,
/// or out-of-fold predictions with --folds). `--resume RUN_DIR` continues an interrupted
/// run from its last checkpoint.
#[derive(clap::Args)]
pub struct Args {
    /// Manifest CSV (labels.csv schema).
    #[arg(long, required_unless_present_any = ["resume", "config"])]
    pub manifest: Option<PathBuf>,
    /// Scenario: malignant-vs-rest, malignant-vs-negative, malignant-vs-benign,
    /// negative-vs-benign, benign-vs-rest, three-class (the study's six), or
    /// abnormal-vs-negative.
    #[arg(long, required_unless_present_any = ["resume", "config"])]
    pub scenario: Option<Scenario>,
    /// A split CSV (from `mammorecall split`); else one is made (patient-level, stratified).
    #[arg(long, conflicts_with = "test_fraction")]
    pub split: Option<PathBuf>,
    /// Fraction of patients held out for testing when the split is made here [default 0.05].
    #[arg(long)]
    pub test_fraction: Option<f64>,
    /// Cross-validation: train K models on patient-level folds and write out-of-fold
    /// predictions.
    #[arg(long, value_name = "K")]
    pub folds: Option<usize>,
    /// Starting recipe: `study` (the published protocol: AlexNet, 227², equalized, 5000
    /// iterations of 50) or `lesion` (512² on the cropped breast, an ImageNet EfficientNet
    /// lesion-patch classifier reading whole images by windows, flip TTA; with --arch
    /// alexnet-fcn no weights are needed; needs lesion annotations). Other flags override it.
    #[arg(long, conflicts_with = "config")]
    pub preset: Option<Preset>,
    /// Architecture: alexnet, alexnet-small (quarter width, no pretrained weights),
    /// alexnet-fcn (alexnet-small's convolutions, global max pooling, any multiple of 32)
    /// or efficientnet-lite0 [default: alexnet, or the preset's or --config's].
    #[arg(long)]
    pub arch: Option<Architecture>,
    /// Initial weights: scratch, imagenet, imagenet:PATH, a weights file, a run folder
    /// (incremental transfer; the head is replaced when the class count differs),
    /// `patches` (train a lesion-patch classifier first, per model) or `patches:RUN_DIR`
    /// (that run's patch classifiers; same split). [default: scratch, or the preset's]
    #[arg(long)]
    pub init: Option<Init>,
    /// Training iterations (mini-batches) [default 5000, the study's]; 0 with --init patches:
    /// the patch classifier itself scores whole images (see --window-pooling).
    #[arg(long, conflicts_with = "epochs")]
    pub iterations: Option<usize>,
    /// Passes over the (balanced) training images instead of --iterations.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Images per mini-batch [default 50].
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Initial learning rate [default 0.001].
    #[arg(long)]
    pub lr: Option<f64>,
    /// Multiply the learning rate by --lr-gamma every N iterations [default 2500].
    #[arg(long)]
    pub lr_step: Option<usize>,
    /// Learning-rate step factor [default 0.1].
    #[arg(long)]
    pub lr_gamma: Option<f64>,
    /// SGD momentum [default 0.9].
    #[arg(long)]
    pub momentum: Option<f64>,
    /// L2 weight decay [default 0.001].
    #[arg(long)]
    pub weight_decay: Option<f64>,
    /// Class balance: downsample (the study), oversample, none.
    #[arg(long)]
    pub balance: Option<Balance>,
    /// Augmentation, comma-separated: hflip, vflip, rotate=DEG, intensity=F (off by default).
    #[arg(long, value_name = "LIST")]
    pub augment: Option<String>,
    /// Input side [default: the architecture's, 227 for AlexNet, 224 for EfficientNet].
    #[arg(long)]
    pub input_size: Option<usize>,
    /// Input channels: 3 (gray replicated, for pretrained weights) or 1 (AlexNet only).
    #[arg(long)]
    pub channels: Option<usize>,
    /// Crop to the breast region before resizing.
    #[arg(long)]
    pub crop: bool,
    /// Mirror images so the chest wall is on the left (side detected from the image).
    #[arg(long)]
    pub flip: bool,
    /// Linear grey levels instead of the study's histogram equalization.
    #[arg(long)]
    pub no_equalize: bool,
    /// Linear grey levels off: histogram equalization (the study's; the lesion preset turns
    /// it off).
    #[arg(long, conflicts_with = "no_equalize")]
    pub equalize: bool,
    /// Test-time augmentation of the run's predictions: none, flip, flip-shift.
    #[arg(long)]
    pub tta: Option<Tta>,
    /// Images per forward/backward pass; the batch is accumulated from such micro-batches
    /// [default 0: as many as the memory allows].
    #[arg(long)]
    pub micro_batch: Option<usize>,
    /// Patch stage (--init patches): patch side in pixels [default: 3/16 of the input size].
    #[arg(long)]
    pub patch_size: Option<usize>,
    /// Patch stage: training iterations [default 400].
    #[arg(long)]
    pub patch_iterations: Option<usize>,
    /// Patch stage: patches per mini-batch [default 32].
    #[arg(long)]
    pub patch_batch_size: Option<usize>,
    /// Patch stage: learning rate [default 0.003].
    #[arg(long)]
    pub patch_lr: Option<f64>,
    /// Patch stage: where the patch classifier starts (scratch, imagenet[:PATH],
    /// weights:PATH) [default: scratch].
    #[arg(long)]
    pub patch_init: Option<Init>,
    /// Patch stage with window pooling: hard negatives per training image — its most
    /// abnormal windows away from every lesion, mined after the first round and trained
    /// on for --mining-iterations more (0: none) [lesion preset: 4].
    #[arg(long)]
    pub hard_negatives: Option<usize>,
    /// Patch stage: iterations of the hard-negative round [lesion preset: 100; 100 when
    /// --hard-negatives turns mining on].
    #[arg(long)]
    pub mining_iterations: Option<usize>,
    /// efficientnet-lite0: score each image by its most abnormal patch-sized window (what
    /// a lesion-patch classifier reads whole images with; see --iterations 0).
    #[arg(long)]
    pub window_pooling: bool,
    /// Checkpoint every N iterations [default 500].
    #[arg(long)]
    pub checkpoint_every: Option<usize>,
    /// Validation AUC on the held-out fold every N iterations (with --folds) [default: end].
    #[arg(long)]
    pub validate_every: Option<usize>,
    /// Device: cpu (burn flex, pure Rust) or cuda (build with --features cuda).
    #[arg(long)]
    pub device: Option<String>,
    /// Seed of initialisation, sampling, dropout and augmentation [default 1]; also the
    /// split's seed when the split is made here.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Folder of preprocessed caches [default: $XDG_CACHE_HOME/mammorecall or ~/.cache/mammorecall].
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Start from a config.toml (flags given override it).
    #[arg(long, value_name = "FILE", conflicts_with = "resume")]
    pub config: Option<PathBuf>,
    /// Continue the interrupted run in RUN_DIR (its config.toml; no other flags).
    #[arg(long, value_name = "RUN_DIR", conflicts_with_all = ["manifest", "output"])]
    pub resume: Option<PathBuf>,
    /// No progress bar; one log line per checkpoint.
    #[arg(short, long)]
    pub quiet: bool,
    /// Run folder to create.
    #[arg(
        short,
        long,
        value_name = "RUN_DIR",
        required_unless_present = "resume"
    )]
    pub output: Option<PathBuf>,
}

fn parse_augment(s: &str) -> Result<Augment> {
    let mut a = Augment::default();
    for item in s.split(',').map(str::trim).filter(|x| !x.is_empty()) {
        match item.split_once('=') {
            None if item == "hflip" => a.hflip = true,
            None if item == "vflip" => a.vflip = true,
            Some(("rotate", v)) => a.rotate_degrees = v.parse().context("--augment rotate=DEG")?,
            Some(("intensity", v)) => a.intensity = v.parse().context("--augment intensity=F")?,
            _ => bail!("--augment: unknown item '{item}' (hflip, vflip, rotate=DEG, intensity=F)"),
        }
    }
    Ok(a)
}

/// The configuration these flags describe.
fn config(a: &Args) -> Result<TrainConfig> {
    let mut c = match &a.config {
        Some(p) => TrainConfig::load(p).map_err(anyhow::Error::from)?,
        None => {
            let (Some(m), Some(s)) = (&a.manifest, a.scenario) else {
                bail!("--manifest and --scenario are required");
            };
            let preset = a.preset.unwrap_or(Preset::Study);
            let arch = a.arch.unwrap_or(match preset {
                Preset::Study => Architecture::AlexNet,
                Preset::Lesion => Architecture::EfficientNetLite0,
            });
            TrainConfig::preset(preset, s, arch, m.clone())
        }
    };
    if let Some(m) = &a.manifest {
        c.data.manifest = m.clone();
    }
    if let Some(s) = a.scenario {
        c.scenario = s;
    }
    // Flags override the --config file only where they are given.
    if let Some(arch) = a.arch.filter(|&arch| arch != c.arch) {
        c.arch = arch;
        // The study's input size is the architecture's; the lesion recipe's resolution is
        // the point of the recipe and stays.
        if a.preset != Some(Preset::Lesion) {
            c.input_size = arch.default_input_size();
        }
        if !arch.supported_channels().contains(&c.in_channels) {
            c.in_channels = 3;
        }
    }
    if let Some(init) = &a.init {
        c.init = init.clone();
    }
    if let Some(v) = &a.split {
        c.data.split = Some(v.clone());
    }
    if let Some(v) = a.test_fraction {
        c.data.test_fraction = v;
    }
    if let Some(v) = a.folds {
        c.data.folds = v;
    }
    if let Some(v) = a.iterations {
        c.iterations = v;
        c.epochs = None;
    }
    if let Some(v) = a.epochs {
        c.epochs = Some(v);
    }
    macro_rules! set {
        ($flag:ident, $field:ident) => {
            if let Some(v) = a.$flag.clone() {
                c.$field = v;
            }
        };
    }
    set!(batch_size, batch_size);
    set!(lr, learning_rate);
    set!(lr_step, lr_step);
    set!(lr_gamma, lr_gamma);
    set!(momentum, momentum);
    set!(weight_decay, weight_decay);
    set!(balance, balance);
    set!(input_size, input_size);
    set!(channels, in_channels);
    set!(checkpoint_every, checkpoint_every);
    set!(validate_every, validate_every);
    set!(device, device);
    set!(tta, tta);
    set!(micro_batch, micro_batch);
    if let Some(v) = a.patch_size {
        c.patches.size = v;
    }
    if let Some(v) = a.patch_iterations {
        c.patches.iterations = v;
    }
    if let Some(v) = a.patch_batch_size {
        c.patches.batch_size = v;
    }
    if let Some(v) = a.patch_lr {
        c.patches.learning_rate = v;
    }
    if let Some(v) = &a.patch_init {
        c.patches.init = v.clone();
    }
    if let Some(v) = a.hard_negatives {
        c.patches.hard_negatives = v;
        if v == 0 {
            c.patches.mining_iterations = 0;
        } else if c.patches.mining_iterations == 0 {
            c.patches.mining_iterations = DEFAULT_MINING_ITERATIONS;
        }
    }
    if let Some(v) = a.mining_iterations {
        c.patches.mining_iterations = v;
    }
    if a.window_pooling {
        c.window_pooling = true;
    }
    if let Some(s) = a.seed {
        c.seed = s;
        c.data.split_seed = s;
    }
    if let Some(v) = &a.augment {
        c.augment = parse_augment(v)?;
    }
    if a.crop {
        c.preprocess.crop = true;
    }
    if a.flip {
        c.preprocess.flip = imaging::preprocess::Flip::Detect;
    }
    if a.no_equalize {
        c.preprocess.equalize = false;
    }
    if a.equalize {
        c.preprocess.equalize = true;
    }
    if let Some(d) = &a.cache_dir {
        c.data.cache_dir = Some(d.clone());
    }
    c.preprocess.size = c.input_size;
    // Relative paths are kept relative to where the command runs; record them absolute so
    // `--resume` and `--init RUN_DIR` work from anywhere.
    c.data.manifest = absolute(&c.data.manifest)?;
    if let Some(s) = &c.data.split {
        c.data.split = Some(absolute(s)?);
    }
    c.init = match &c.init {
        Init::Run(p) => Init::Run(absolute(p)?),
        Init::Weights(p) => Init::Weights(absolute(p)?),
        Init::ImageNet(Some(p)) => Init::ImageNet(Some(absolute(p)?)),
        Init::Patches(Some(p)) => Init::Patches(Some(absolute(p)?)),
        other => other.clone(),
    };
    c.check()?;
    Ok(c)
}

fn absolute(p: &std::path::Path) -> Result<PathBuf> {
    std::path::absolute(p).with_context(|| format!("resolving {}", p.display()))
}

/// Whether `dir` (or a folder up to `depth` below it, such as `fold-K/`) holds a
/// checkpoint or trained weights: work that `--resume` can continue.
fn holds_progress(dir: &std::path::Path, depth: usize) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|e| {
        let name = e.file_name();
        name == "checkpoint"
            || name == train::run::WEIGHTS_FILE
            || (depth > 1 && e.path().is_dir() && holds_progress(&e.path(), depth - 1))
    })
}

/// Runs `mammorecall train`.
/// Iterations of the hard-negative round when `--hard-negatives` turns it on.
const DEFAULT_MINING_ITERATIONS: usize = 100;

pub fn run(a: Args) -> Result<()> {
    let (cfg, dir, resume) = match &a.resume {
        Some(dir) => {
            let p = dir.join(train::run::CONFIG_FILE);
            let cfg = TrainConfig::load(&p)
                .with_context(|| format!("{} is not a run folder to resume", dir.display()))?;
            (cfg, dir.clone(), true)
        }
        None => {
            let dir = a.output.clone().context("-o RUN_DIR is required")?;
            if dir.join(train::run::CONFIG_FILE).exists() {
                bail!(
                    "{} already holds a run: use --resume {} to continue it, or another -o",
                    dir.display(),
                    dir.display()
                );
            }
            (config(&a)?, dir, false)
        }
    };
    let quiet = a.quiet || !std::io::IsTerminal::is_terminal(&std::io::stderr());
    let mut bar: Option<indicatif::ProgressBar> = None;
    let mut observer = |fold: usize, e: &Event| match e {
        Event::Started { start, total } => {
            let what = if fold == 0 {
                "training".to_string()
            } else {
                format!("fold {fold}")
            };
            if quiet {
                eprintln!("{what}: iterations {}..{total}", start + 1);
            } else {
                let b = indicatif::ProgressBar::new(*total as u64);
                b.set_style(
                    indicatif::ProgressStyle::with_template(&format!(
                        "{what} {{bar:30}} {{pos}}/{{len}} {{msg}} {{elapsed_precise}} (eta {{eta}})"
                    ))
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                );
                b.set_position(*start as u64);
                bar = Some(b);
            }
        }
        Event::Iteration(row) => {
            if let Some(b) = &bar {
                b.set_position(row.iteration as u64);
                b.set_message(format!(
                    "loss {:.4} lr {:.0e} {:.1} img/s{}",
                    row.loss,
                    row.lr,
                    row.images_per_second,
                    row.val_auc
                        .map(|v| format!(" val AUC {v:.3}"))
                        .unwrap_or_default()
                ));
                if b.position() >= b.length().unwrap_or(0) {
                    b.finish_and_clear();
                }
            } else if let Some(v) = row.val_auc {
                eprintln!(
                    "  iteration {}: loss {:.4}, validation AUC {v:.4}",
                    row.iteration, row.loss
                );
            }
        }
        Event::Checkpoint(it) => {
            if quiet {
                eprintln!("  checkpoint at iteration {it}");
            }
        }
    };
    let mut opts = RunOptions {
        resume,
        progress: !quiet,
        command: std::env::args().collect(),
        observer: &mut observer,
    };
    // A new run that fails before its first checkpoint (a missing manifest, a bad
    // split) leaves no folder behind: it would only block the corrected command.
    let created = !resume && !dir.exists();
    let summary = match train_run(&cfg, &dir, &mut opts) {
        Ok(s) => s,
        Err(e) => {
            if created && !holds_progress(&dir, 2) {
                let _ = std::fs::remove_dir_all(&dir);
            }
            return Err(e.into());
        }
    };
    println!(
        "{}: {} {} on {} ({}), {} predictions, AUC {} [{:.0} s]",
        dir.display(),
        cfg.arch,
        cfg.scenario,
        cfg.data.manifest.display(),
        if cfg.data.folds >= 2 {
            format!("{}-fold out-of-fold", cfg.data.folds)
        } else {
            "test part".into()
        },
        summary.predictions,
        summary
            .auc
            .map(|a| format!("{a:.4}"))
            .unwrap_or_else(|| "n/a".into()),
        summary.seconds
    );
    println!("next: mammorecall evaluate {}", dir.display());
    Ok(())
}
