//! Run folders: one training run (or one cross-validation of K runs) on disk, with
//! everything needed to evaluate, apply and reproduce it.
//!
//! ```text
//! RUN_DIR/
//!   config.toml          the resolved TrainConfig (`--resume` reads it back)
//!   run.json             seed, tool/burn/backend versions, command, timings, outputs
//!   split.csv            the patient-level split used
//!   model.json           the network's ModelConfig          ┐ per trained model; with
//!   mean.bin             the training mean image            │ --folds K these live in
//!   weights.safetensors  final weights                      │ fold-1/ … fold-K/ and the
//!   train_log.csv        iteration, loss, lr, img/s, val AUC│ run's predictions.csv holds
//!   checkpoint/          latest weights + optimizer state   ┘ the out-of-fold predictions
//!   predictions.csv      image, patient_id, label, class, part, p_<class>…
//! ```

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::Module;
use data::cache::Cache;
use data::{Manifest, Split, SplitSettings};
use imaging::preprocess::MeanImage;
use model::{Architecture, ModelConfig, Network};
use serde::Serialize;

use crate::config::{Init, TrainConfig};
use crate::device::{self, Compute};
use crate::infer;
use crate::input::{ImageSource, Input};
use crate::patches;
use crate::trainer::{self, Event, TrainData};
use crate::TrainError;

/// The configuration file of a run folder.
pub const CONFIG_FILE: &str = "config.toml";
/// Final weights of a trained model.
pub const WEIGHTS_FILE: &str = "weights.safetensors";
/// The model configuration.
pub const MODEL_FILE: &str = "model.json";
/// The training mean image.
pub const MEAN_FILE: &str = "mean.bin";
/// Predictions (test part, or out-of-fold with cross-validation).
pub const PREDICTIONS_FILE: &str = "predictions.csv";

/// One prediction row.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// The image as written in the manifest.
    pub image: String,
    /// Its patient.
    pub patient_id: String,
    /// Its manifest label.
    pub label: String,
    /// Its class in the scenario.
    pub class: usize,
    /// The split part it was predicted as (`test` or `fold-N`).
    pub part: String,
    /// Class probabilities.
    pub probs: Vec<f32>,
}

/// Writes predictions as CSV (`image, patient_id, label, class, part, p_<class>…`).
pub fn write_predictions(
    path: &Path,
    class_names: &[&str],
    rows: &[Prediction],
) -> Result<(), TrainError> {
    let mut text = String::from("image,patient_id,label,class,part");
    for c in class_names {
        text.push_str(&format!(",p_{c}"));
    }
    text.push('\n');
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    for r in rows {
        let mut rec = vec![
            r.image.clone(),
            r.patient_id.clone(),
            r.label.clone(),
            r.class.to_string(),
            r.part.clone(),
        ];
        rec.extend(r.probs.iter().map(|p| format!("{p:.7}")));
        w.write_record(&rec)
            .map_err(|e| TrainError::file(path, e))?;
    }
    let body = w.into_inner().map_err(|e| TrainError::file(path, e))?;
    text.push_str(&String::from_utf8_lossy(&body));
    store::write_atomic(path, text.as_bytes())?;
    Ok(())
}

/// Reads a predictions CSV written by [`write_predictions`]; returns the class names too.
pub fn read_predictions(path: &Path) -> Result<(Vec<String>, Vec<Prediction>), TrainError> {
    let mut r = csv::Reader::from_path(path).map_err(|e| TrainError::file(path, e))?;
    let headers = r.headers().map_err(|e| TrainError::file(path, e))?.clone();
    let fixed = ["image", "patient_id", "label", "class", "part"];
    for (i, name) in fixed.iter().enumerate() {
        if headers.get(i) != Some(*name) {
            return Err(TrainError::file(
                path,
                format!("column {} must be '{name}'", i + 1),
            ));
        }
    }
    let classes: Vec<String> = headers
        .iter()
        .skip(5)
        .map(|h| h.trim_start_matches("p_").to_string())
        .collect();
    if classes.len() < 2 {
        return Err(TrainError::file(path, "no probability columns (p_<class>)"));
    }
    let mut rows = Vec::new();
    for (n, rec) in r.records().enumerate() {
        let line = n + 2;
        let rec = rec.map_err(|e| TrainError::file(path, format!("line {line}: {e}")))?;
        let num = |i: usize| -> Result<f32, TrainError> {
            rec.get(i)
                .and_then(|v| v.trim().parse::<f32>().ok())
                .filter(|v| v.is_finite())
                .ok_or_else(|| {
                    TrainError::file(
                        path,
                        format!("line {line}: column {} is not a number", i + 1),
                    )
                })
        };
        let class = rec
            .get(3)
            .and_then(|v| v.trim().parse::<usize>().ok())
            .filter(|&c| c < classes.len())
            .ok_or_else(|| TrainError::file(path, format!("line {line}: bad class")))?;
        let probs = (5..5 + classes.len()).map(num).collect::<Result<_, _>>()?;
        rows.push(Prediction {
            image: rec.get(0).unwrap_or_default().to_string(),
            patient_id: rec.get(1).unwrap_or_default().to_string(),
            label: rec.get(2).unwrap_or_default().to_string(),
            class,
            part: rec.get(4).unwrap_or_default().to_string(),
            probs,
        });
    }
    Ok((classes, rows))
}

/// What `run.json` records.
#[derive(Debug, Serialize)]
struct RunRecord {
    tool: &'static str,
    version: &'static str,
    burn: &'static str,
    device: String,
    backend: &'static str,
    command: Vec<String>,
    seed: u64,
    manifest: String,
    manifest_sha256: String,
    scenario: String,
    arch: String,
    init: String,
    folds: usize,
    images: ImageCounts,
    outputs: Vec<String>,
    seconds: f64,
    test_auc: Option<f64>,
}

#[derive(Debug, Serialize, Default, Clone)]
struct ImageCounts {
    train_per_class: Vec<usize>,
    test: usize,
}

/// Options of [`train_run`] that are not part of the configuration.
pub struct RunOptions<'a> {
    /// Continue an interrupted run from its checkpoints.
    pub resume: bool,
    /// Draw progress bars while building the cache.
    pub progress: bool,
    /// The command line, recorded in run.json.
    pub command: Vec<String>,
    /// Training events (for progress bars); the `usize` is the fold (0: no CV).
    pub observer: &'a mut dyn FnMut(usize, &Event),
}

/// The outcome of a run.
#[derive(Debug, Clone)]
pub struct RunSummary {
    /// AUC of predictions.csv (test part, or out-of-fold).
    pub auc: Option<f64>,
    /// Rows of predictions.csv.
    pub predictions: usize,
    /// Wall time.
    pub seconds: f64,
}

/// Trains the run described by `cfg` into `dir` (a new folder, or with `opts.resume` one
/// that holds this configuration).
pub fn train_run(
    cfg: &TrainConfig,
    dir: &Path,
    opts: &mut RunOptions,
) -> Result<RunSummary, TrainError> {
    let t = Instant::now();
    cfg.check()?;
    std::fs::create_dir_all(dir).map_err(|e| TrainError::file(dir, e))?;
    cfg.save(&dir.join(CONFIG_FILE))?;
    let compute = device::open(&cfg.device)?;
    let manifest = Manifest::read(&cfg.data.manifest)?;
    let split_path = dir.join("split.csv");
    let split = match (&cfg.data.split, opts.resume && split_path.exists()) {
        (_, true) => Split::read(&split_path, &manifest)?,
        (Some(p), false) => Split::read(p, &manifest)?,
        (None, false) => Split::make(
            &manifest,
            None,
            SplitSettings {
                test_fraction: cfg.data.test_fraction,
                folds: cfg.data.folds.max(2),
                repeats: 1,
                seed: cfg.data.split_seed,
            },
        )?,
    };
    if split.rows.len() != manifest.records.len() {
        return Err(TrainError::Data(format!(
            "the split covers {} images, the manifest has {}",
            split.rows.len(),
            manifest.records.len()
        )));
    }
    split.write(&split_path)?;
    let cache_dir = cache_dir(cfg);
    let cache = Cache::open_or_build(&manifest, &cfg.preprocess, &cache_dir, opts.progress)?;
    let select = |records: Vec<usize>| -> Vec<(usize, usize)> {
        records
            .into_iter()
            .filter_map(|i| {
                cfg.scenario
                    .class_of(manifest.records[i].label)
                    .map(|c| (i, c))
            })
            .collect()
    };
    let test = select(split.test());
    let folds = if cfg.data.folds >= 2 { split.folds } else { 0 };
    // Lesion-patch pretraining: where the lesions lie on the preprocessed images (once
    // for all folds), or whose patch classifiers to start from.
    let placed = match &cfg.init {
        Init::Patches(None) => {
            let found = patches::findings(&manifest);
            Some(patches::place(&manifest, &found, &cfg.preprocess)?)
        }
        Init::Patches(Some(source)) => {
            same_split(source, &split_path)?;
            None
        }
        _ => None,
    };
    let patch_plan = |model_dir: &Path, train: Vec<usize>, held: Vec<usize>| match &cfg.init {
        Init::Patches(None) => PatchPlan::Train {
            placed: placed.as_deref().unwrap_or_default(),
            train,
            validation: held,
        },
        Init::Patches(Some(source)) => {
            let rel = model_dir.strip_prefix(dir).unwrap_or(Path::new(""));
            PatchPlan::From(patches::classifier_of(&source.join(rel)))
        }
        _ => PatchPlan::None,
    };
    let mut predictions = Vec::new();
    let mut counts = ImageCounts {
        test: test.len(),
        ..ImageCounts::default()
    };
    if folds == 0 {
        let train = select(split.development());
        let observer = &mut *opts.observer;
        let plan = patch_plan(dir, split.development(), Vec::new());
        let preds = train_model(
            cfg,
            &compute,
            dir,
            &cache,
            &manifest,
            plan,
            TrainData {
                source: &cache,
                train,
                validation: Vec::new(),
            },
            &[(test.clone(), "test".to_string())],
            opts.resume,
            &mut |e| observer(0, e),
            &mut counts,
        )?;
        predictions = preds;
    } else {
        for k in 1..=folds {
            let sub = dir.join(format!("fold-{k}"));
            let held = select(split.fold(0, k));
            let train = select(split.train(0, k));
            let observer = &mut *opts.observer;
            let mut fold_counts = ImageCounts::default();
            let plan = patch_plan(&sub, split.train(0, k), split.fold(0, k));
            let preds = train_model(
                cfg,
                &compute,
                &sub,
                &cache,
                &manifest,
                plan,
                TrainData {
                    source: &cache,
                    train,
                    validation: held.clone(),
                },
                &[(held, format!("fold-{k}")), (test.clone(), "test".into())],
                opts.resume,
                &mut |e| observer(k, e),
                &mut fold_counts,
            )?;
            if k == 1 {
                counts.train_per_class = fold_counts.train_per_class;
            }
            predictions.extend(preds.into_iter().filter(|p| p.part != "test"));
        }
    }
    let names = cfg.scenario.class_names();
    let pred_path = dir.join(PREDICTIONS_FILE);
    write_predictions(&pred_path, names, &predictions)?;
    let classes: Vec<usize> = predictions.iter().map(|p| p.class).collect();
    let probs: Vec<Vec<f32>> = predictions.iter().map(|p| p.probs.clone()).collect();
    let auc = infer::auc(cfg.scenario, &classes, &probs);
    let seconds = t.elapsed().as_secs_f64();
    let record = RunRecord {
        tool: "mammorecall",
        version: env!("CARGO_PKG_VERSION"),
        burn: device::BURN_VERSION,
        device: compute.name.clone(),
        backend: compute.backend,
        command: opts.command.clone(),
        seed: cfg.seed,
        manifest: cfg.data.manifest.display().to_string(),
        manifest_sha256: store::sha256_file(&cfg.data.manifest)?,
        scenario: cfg.scenario.to_string(),
        arch: cfg.arch.to_string(),
        init: cfg.init.to_string(),
        folds,
        images: counts,
        outputs: outputs(dir, folds),
        seconds,
        test_auc: auc,
    };
    let json = serde_json::to_vec_pretty(&record).map_err(|e| TrainError::file(dir, e))?;
    store::write_atomic(&dir.join("run.json"), &json)?;
    Ok(RunSummary {
        auc,
        predictions: predictions.len(),
        seconds,
    })
}

fn outputs(dir: &Path, folds: usize) -> Vec<String> {
    let mut v = vec![
        CONFIG_FILE.to_string(),
        "split.csv".into(),
        PREDICTIONS_FILE.into(),
    ];
    let per = [MODEL_FILE, MEAN_FILE, WEIGHTS_FILE, trainer::LOG_FILE];
    if folds == 0 {
        v.extend(per.iter().map(|s| s.to_string()));
    } else {
        for k in 1..=folds {
            v.extend(per.iter().map(|s| format!("fold-{k}/{s}")));
        }
    }
    v.retain(|f| dir.join(f).exists());
    v
}

/// The cache folder of a run: the configured one, else [`data::cache::default_dir`]
/// (shared with `mammorecall preprocess`).
pub fn cache_dir(cfg: &TrainConfig) -> PathBuf {
    cfg.data
        .cache_dir
        .clone()
        .unwrap_or_else(data::cache::default_dir)
}

/// Builds the network of `cfg` on `device` and applies its initialisation.
pub fn init_network(
    cfg: &TrainConfig,
    device: &burn::tensor::Device,
) -> Result<Network, TrainError> {
    let mc = cfg.model_config();
    device.seed(crate::mix_seed(cfg.seed, 0x1417));
    let mut net = mc.init(device)?;
    match &cfg.init {
        Init::Scratch => {}
        Init::ImageNet(path) => {
            let p = imagenet_path(cfg.arch, path.as_deref())?;
            model::weights::load_imagenet(&mut net, &p)?;
        }
        Init::Weights(p) => {
            let is_ours = p.extension().is_some_and(|e| e == "safetensors")
                && p.file_name().is_some_and(|n| n == WEIGHTS_FILE);
            if is_ours {
                model::weights::load_transfer(&mut net, p)?;
            } else {
                model::weights::load_imagenet(&mut net, p)?;
            }
        }
        Init::Run(run) => {
            let (weights, source) = run_weights(run)?;
            if source.arch != mc.arch || source.in_channels != mc.in_channels {
                return Err(TrainError::Config(format!(
                    "--init {}: that run trained {} with {} channel(s), this one is {} with {}",
                    run.display(),
                    source.arch,
                    source.in_channels,
                    mc.arch,
                    mc.in_channels
                )));
            }
            model::weights::load_transfer(&mut net, &weights)?;
        }
        Init::Patches(_) => {
            return Err(TrainError::Config(
                "lesion-patch initialisation needs the patch classifier's folder: \
                 use init_from_patches"
                    .into(),
            ))
        }
    }
    Ok(net)
}

/// How a model's patch classifier comes about.
enum PatchPlan<'a> {
    /// No patch pretraining.
    None,
    /// Trained here from the images of the model's training part (record indices), with
    /// the held-out images' patches for its validation AUC.
    Train {
        placed: &'a [Option<Vec<patches::Placed>>],
        train: Vec<usize>,
        validation: Vec<usize>,
    },
    /// Taken from this folder of another run.
    From(PathBuf),
}

/// Refuses another run's patch classifiers unless that run used exactly this split:
/// otherwise its patches may come from images this run tests on.
fn same_split(source: &Path, split_path: &Path) -> Result<(), TrainError> {
    let theirs = source.join("split.csv");
    let a = std::fs::read(&theirs).map_err(|e| TrainError::file(&theirs, e))?;
    let b = std::fs::read(split_path).map_err(|e| TrainError::file(split_path, e))?;
    if a != b {
        return Err(TrainError::file(
            &theirs,
            "--init patches: that run's split differs from this run's, so its patch              classifiers may have seen this run's test images; use the same split              (--split that-run/split.csv) or --init patches",
        ));
    }
    Ok(())
}

/// Builds the network of `cfg` with the backbone of the patch classifier in
/// `patch_dir`. The head's rows are carried over for the classes both share by name
/// (normal tissue = `negative`), so the network starts as a whole-image detector of
/// lesion-like patches; when a class has no counterpart (`abnormal`, `…+negative`) the
/// head starts fresh.
pub fn init_from_patches(
    cfg: &TrainConfig,
    device: &burn::tensor::Device,
    patch_dir: &Path,
) -> Result<Network, TrainError> {
    let mc = cfg.model_config();
    let source = ModelConfig::load_json(&patch_dir.join(MODEL_FILE))?;
    if source.arch != mc.arch || source.in_channels != mc.in_channels {
        return Err(TrainError::file(
            patch_dir,
            format!(
                "the patch classifier is {} with {} channel(s), this run is {} with {}",
                source.arch, source.in_channels, mc.arch, mc.in_channels
            ),
        ));
    }
    let patch_cfg = TrainConfig::load(&patch_dir.join(CONFIG_FILE))?;
    device.seed(crate::mix_seed(cfg.seed, 0x1417));
    let mut net = mc.init(device)?;
    let (fresh_w, fresh_b) = net.head_weights();
    let weights = patch_dir.join(WEIGHTS_FILE);
    model::weights::load_transfer(&mut net, &weights)?;
    let theirs = patch_cfg.scenario.class_names();
    let rows: Option<Vec<usize>> = cfg
        .scenario
        .class_names()
        .iter()
        .map(|n| theirs.iter().position(|t| t == n))
        .collect();
    match rows {
        Some(rows) => {
            // The patch head's rows: read once more, as the patch network, only here.
            let mut patch_net = source.init(device)?;
            model::weights::load(&mut patch_net, &weights)?;
            let (w, b) = patch_net.head_weights();
            let idx = burn::tensor::Tensor::<1, burn::tensor::Int>::from_data(
                burn::tensor::TensorData::new(
                    rows.iter().map(|&r| r as i64).collect::<Vec<_>>(),
                    [rows.len()],
                ),
                device,
            );
            let b = b.map(|b| b.select(0, idx.clone()));
            net.set_head_weights(w.select(1, idx), b);
        }
        None => net.set_head_weights(fresh_w, fresh_b),
    }
    Ok(net)
}

/// The ImageNet weights file of `arch`.
pub fn imagenet_path(arch: Architecture, explicit: Option<&Path>) -> Result<PathBuf, TrainError> {
    match arch {
        Architecture::EfficientNetLite0 => Ok(model::weights::efficientnet_lite0_path(explicit)?),
        Architecture::AlexNetSmall | Architecture::AlexNetFcn => Err(TrainError::Config(format!(
            "{arch} has no ImageNet weights: use --init scratch, patches, a weights file or a run folder"
        ))),
        Architecture::AlexNet => {
            if let Some(p) = explicit {
                return Ok(p.to_path_buf());
            }
            let dir = std::env::var_os(model::weights::WEIGHTS_ENV).map(PathBuf::from);
            let found = dir.as_ref().and_then(|d| {
                [
                    "alexnet.pth",
                    "alexnet-owt-7be5be79.pth",
                    "alexnet/alexnet.pth",
                ]
                .iter()
                .map(|n| d.join(n))
                .find(|p| p.is_file())
            });
            found.ok_or_else(|| {
                TrainError::Config(
                    "AlexNet ImageNet weights: give the torchvision file with --init imagenet:PATH \
                     (alexnet-owt-7be5be79.pth) or put it in $MAMMORECALL_WEIGHTS as alexnet.pth"
                        .into(),
                )
            })
        }
    }
}

/// The final weights and model configuration of a run folder (for a cross-validated run,
/// those of fold 1).
fn run_weights(run: &Path) -> Result<(PathBuf, ModelConfig), TrainError> {
    let dirs = model_dirs(run)?;
    let d = &dirs[0];
    let mc = ModelConfig::load_json(&d.join(MODEL_FILE))?;
    Ok((d.join(WEIGHTS_FILE), mc))
}

/// The folders of a run that hold a trained model: the run itself, or its folds.
pub fn model_dirs(run: &Path) -> Result<Vec<PathBuf>, TrainError> {
    if run.join(WEIGHTS_FILE).is_file() {
        return Ok(vec![run.to_path_buf()]);
    }
    let mut folds: Vec<(usize, PathBuf)> = std::fs::read_dir(run)
        .map_err(|e| TrainError::file(run, e))?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            let k = name.strip_prefix("fold-")?.parse::<usize>().ok()?;
            e.path().join(WEIGHTS_FILE).is_file().then(|| (k, e.path()))
        })
        .collect();
    folds.sort();
    if folds.is_empty() {
        return Err(TrainError::file(
            run,
            "not a finished mammorecall run (no weights.safetensors, no fold-N/)",
        ));
    }
    Ok(folds.into_iter().map(|(_, p)| p).collect())
}

/// Trains one model into `dir` and predicts `parts` with it.
#[allow(clippy::too_many_arguments)]
fn train_model(
    cfg: &TrainConfig,
    compute: &Compute,
    dir: &Path,
    cache: &Cache,
    manifest: &Manifest,
    plan: PatchPlan,
    data: TrainData,
    parts: &[(Vec<(usize, usize)>, String)],
    resume: bool,
    observer: &mut dyn FnMut(&Event),
    counts: &mut ImageCounts,
) -> Result<Vec<Prediction>, TrainError> {
    std::fs::create_dir_all(dir).map_err(|e| TrainError::file(dir, e))?;
    let mc = cfg.model_config();
    let train_idx: Vec<usize> = data.train.iter().map(|t| t.0).collect();
    let input = Input::from_training(&mc, cache, &train_idx)?;
    let sampler = crate::sampler::Sampler::new(
        &data.train,
        mc.num_classes,
        cfg.balance,
        cfg.batch_size,
        cfg.seed,
    )?;
    counts.train_per_class = sampler.per_class();
    let cfg = &cfg.resolved(sampler.epoch_len());
    let weights = dir.join(WEIGHTS_FILE);
    let ad = compute.device.clone().autodiff();
    let network = if resume && weights.is_file() {
        // Finished before the interruption: reuse.
        let mut net = mc.init(&compute.device)?;
        model::weights::load(&mut net, &weights)?;
        net
    } else {
        let patch_dir = match plan {
            PatchPlan::None => None,
            PatchPlan::From(p) => Some(p),
            PatchPlan::Train {
                placed,
                train,
                validation,
            } => {
                let stage = patches::Stage {
                    cfg,
                    compute,
                    manifest,
                    source: cache,
                    placed,
                    train: &train,
                    validation: &validation,
                };
                Some(stage.train(dir, resume, observer)?)
            }
        };
        input.mean.save(&dir.join(MEAN_FILE))?;
        mc.save_json(&dir.join(MODEL_FILE))?;
        let net = match &patch_dir {
            Some(p) => init_from_patches(cfg, &ad, p)?,
            None => init_network(cfg, &ad)?,
        };
        let trained = trainer::fit(cfg, net, &input, &data, &ad, dir, resume, observer)?;
        let valid = trained.valid();
        model::weights::save(&valid, &weights)?;
        valid
    };
    let mut out = Vec::new();
    for (items, part) in parts {
        let idx: Vec<usize> = items.iter().map(|i| i.0).collect();
        let probs = infer::probabilities_tta(
            &network,
            &input,
            cache as &dyn ImageSource,
            &idx,
            cfg.batch_size,
            &compute.device,
            cfg.tta,
        );
        for ((i, c), p) in items.iter().zip(probs) {
            let r = &manifest.records[*i];
            out.push(Prediction {
                image: r.image.clone(),
                patient_id: r.patient_id.clone(),
                label: r.label.as_str().to_string(),
                class: *c,
                part: part.clone(),
                probs: p,
            });
        }
    }
    write_predictions(
        &dir.join(PREDICTIONS_FILE),
        cfg.scenario.class_names(),
        &out,
    )?;
    Ok(out)
}

/// The file [`repredict`] writes for `tta`.
pub fn tta_predictions_file(tta: infer::Tta) -> String {
    format!("predictions-tta-{}.csv", tta.as_str())
}

/// Predicts again the images of a finished run's predictions.csv — each with the model
/// that predicted it (its fold's, out of fold) — averaged over the test-time
/// augmentation views of `tta`, into [`tta_predictions_file`]; returns that path.
pub fn repredict(
    run: &Path,
    tta: infer::Tta,
    device: &burn::tensor::Device,
    progress: bool,
) -> Result<PathBuf, TrainError> {
    let (cfg, models) = load_run(run, device)?;
    let (_, rows) = read_predictions(&run.join(PREDICTIONS_FILE))?;
    let manifest = Manifest::read(&cfg.data.manifest)?;
    let cache = Cache::open_or_build(&manifest, &cfg.preprocess, &cache_dir(&cfg), progress)?;
    let mut index = std::collections::HashMap::new();
    for (i, r) in manifest.records.iter().enumerate() {
        index.entry(r.image.as_str()).or_insert(i);
    }
    let items = rows
        .iter()
        .map(|r| {
            index
                .get(r.image.as_str())
                .map(|&i| (i, r.part.as_str()))
                .ok_or_else(|| {
                    TrainError::file(
                        &cfg.data.manifest,
                        format!(
                            "image {} of the run's predictions is not in the manifest",
                            r.image
                        ),
                    )
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let probs = predict_parts(run, &cfg, &models, &cache, &items, tta, device)?;
    let mut out = rows;
    for (r, p) in out.iter_mut().zip(probs) {
        r.probs = p;
    }
    let path = run.join(tta_predictions_file(tta));
    write_predictions(&path, cfg.scenario.class_names(), &out)?;
    Ok(path)
}

/// Class probabilities of manifest images `(record index, part)`, each by the model of
/// its part (`fold-N`: that fold's, out of fold) or by every model averaged (any other
/// part), averaged over the views of `tta`.
pub(crate) fn predict_parts(
    run: &Path,
    cfg: &TrainConfig,
    models: &[LoadedModel],
    cache: &Cache,
    items: &[(usize, &str)],
    tta: infer::Tta,
    device: &burn::tensor::Device,
) -> Result<Vec<Vec<f32>>, TrainError> {
    let dirs = model_dirs(run)?;
    let model_of = |part: &str| -> Option<usize> {
        dirs.iter()
            .position(|d| d.file_name().is_some_and(|n| n == part))
    };
    let mut out = vec![Vec::new(); items.len()];
    let mut groups: std::collections::BTreeMap<Option<usize>, Vec<usize>> = Default::default();
    for (k, (_, part)) in items.iter().enumerate() {
        groups.entry(model_of(part)).or_default().push(k);
    }
    for (model, members) in groups {
        let idx: Vec<usize> = members.iter().map(|&k| items[k].0).collect();
        let used: Vec<&LoadedModel> = match model {
            Some(m) => vec![&models[m]],
            None => models.iter().collect(),
        };
        for (j, m) in used.iter().enumerate() {
            let p = infer::probabilities_tta(
                &m.network,
                &m.input,
                cache as &dyn ImageSource,
                &idx,
                cfg.batch_size,
                device,
                tta,
            );
            for (&k, probs) in members.iter().zip(p) {
                let row = &mut out[k];
                if j == 0 {
                    *row = probs;
                } else {
                    for (acc, v) in row.iter_mut().zip(probs) {
                        *acc += v;
                    }
                }
            }
        }
        for &k in &members {
            for v in out[k].iter_mut() {
                *v /= used.len() as f32;
            }
        }
    }
    Ok(out)
}

/// A trained model loaded for inference.
pub struct LoadedModel {
    /// Its network, in inference mode.
    pub network: Network,
    /// Its input transform.
    pub input: Input,
}

/// Loads every model of a run folder (one, or one per fold) on `device`, with the run's
/// configuration.
pub fn load_run(
    run: &Path,
    device: &burn::tensor::Device,
) -> Result<(TrainConfig, Vec<LoadedModel>), TrainError> {
    let cfg = TrainConfig::load(&run.join(CONFIG_FILE))?;
    let mut models = Vec::new();
    for d in model_dirs(run)? {
        let mc = ModelConfig::load_json(&d.join(MODEL_FILE))?;
        let mut net = mc.init(device)?;
        model::weights::load(&mut net, &d.join(WEIGHTS_FILE))?;
        let mean = MeanImage::load(&d.join(MEAN_FILE))?;
        models.push(LoadedModel {
            network: net,
            input: Input {
                mean,
                norm: mc.normalization,
                channels: mc.in_channels,
            },
        });
    }
    Ok((cfg, models))
}
