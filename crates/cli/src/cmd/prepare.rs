//! `mammorecall prepare`: the data pipeline end to end — synthesize (when no data is
//! given) or read a manifest, validate it, split it by patient, preprocess it into the
//! cache and compute the training mean image — into one run folder that records
//! everything needed to reproduce it.

use anyhow::{Context, Result};
use data::cache::Cache;
use data::{Split, SplitSettings, Summary};
use imaging::preprocess::{MeanImage, PreprocessConfig};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Run the data pipeline: validate → patient-level split → preprocess (cache) → mean
/// image, into OUT. Without --manifest, a synthetic dataset is generated first (the
/// embedded default).
#[derive(clap::Args)]
pub struct Args {
    /// Run folder to create (config, split, mean image, run.json).
    #[arg(short, long, default_value = "mammorecall-run")]
    pub output: PathBuf,
    /// Manifest CSV (labels.csv schema). Omit to use the synthetic default.
    #[arg(long)]
    pub manifest: Option<PathBuf>,
    /// Patients of the synthetic default (four images each).
    #[arg(long, default_value_t = 60, conflicts_with = "manifest")]
    pub patients: usize,
    /// Fraction of patients held out for testing (the study: 0.05, 0.10, 0.15).
    #[arg(long, default_value_t = 0.05)]
    pub test_fraction: f64,
    /// Cross-validation folds of the remaining patients (the study: 6).
    #[arg(long, default_value_t = 6)]
    pub folds: usize,
    /// Seed of the synthetic data and of the split.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Side of the preprocessed square images (the study: 227).
    #[arg(long, default_value_t = 227)]
    pub size: usize,
    /// Folder of preprocessed caches [default: OUTPUT/cache].
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Skip opening every image during validation (faster on large datasets).
    #[arg(long)]
    pub no_image_check: bool,
}

/// What `run.json` records.
#[derive(Serialize)]
struct RunRecord<'a> {
    tool: &'static str,
    version: &'static str,
    command: Vec<String>,
    seed: u64,
    manifest: String,
    manifest_sha256: String,
    synthetic: Option<&'a synth::SynthConfig>,
    split: SplitRecord,
    preprocess: &'a PreprocessConfig,
    cache: String,
    outputs: Vec<String>,
    seconds: Seconds,
}

#[derive(Serialize)]
struct SplitRecord {
    test_fraction: f64,
    folds: usize,
    repeats: usize,
    seed: u64,
}

#[derive(Serialize, Default)]
struct Seconds {
    synthesize: f64,
    validate: f64,
    split: f64,
    preprocess: f64,
    mean_image: f64,
}

/// Runs `mammorecall prepare`.
pub fn run(args: Args) -> Result<()> {
    let out = &args.output;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let mut secs = Seconds::default();
    let mut outputs = Vec::new();

    // 1. Data: the user's manifest, or the synthetic default.
    let t = Instant::now();
    let synth_cfg;
    let manifest_path = match &args.manifest {
        Some(m) => {
            synth_cfg = None;
            m.clone()
        }
        None => {
            let cfg = synth::SynthConfig {
                patients: args.patients,
                seed: args.seed,
                ..synth::SynthConfig::default()
            };
            let dir = out.join("synthetic");
            eprintln!(
                "no --manifest given: generating the synthetic default ({} patients, {} images) in {}",
                cfg.patients,
                4 * cfg.patients,
                dir.display()
            );
            let bar = super::progress_bar(4 * cfg.patients as u64, "synthesizing");
            let s = synth::generate(&cfg, &dir, &|n| bar.inc(n))?;
            bar.finish_and_clear();
            outputs.push(rel(out, &s.manifest));
            synth_cfg = Some(cfg);
            s.manifest
        }
    };
    secs.synthesize = t.elapsed().as_secs_f64();

    // 2. Validate: every problem listed, nothing proceeds on bad data.
    let t = Instant::now();
    let manifest = super::dataset::load_validated(&manifest_path, !args.no_image_check)?;
    secs.validate = t.elapsed().as_secs_f64();
    let summary = Summary::of(&manifest);
    println!("dataset: {}", manifest_path.display());
    print!("{}", summary.table());

    // 3. Patient-level, label-stratified split.
    let t = Instant::now();
    let settings = SplitSettings {
        test_fraction: args.test_fraction,
        folds: args.folds,
        repeats: 1,
        seed: args.seed,
    };
    let split = Split::make(&manifest, None, settings)?;
    let split_path = out.join("split.csv");
    split.write(&split_path)?;
    outputs.push(rel(out, &split_path));
    secs.split = t.elapsed().as_secs_f64();
    let test = split.test();
    let dev = split.development();
    println!(
        "split: {} test images, {} development images in {} folds (patient-level, seed {}) -> {}",
        test.len(),
        dev.len(),
        args.folds,
        args.seed,
        split_path.display()
    );

    // 4. Preprocess every image once into the memory-mapped cache.
    let t = Instant::now();
    let pre = PreprocessConfig {
        size: args.size,
        ..PreprocessConfig::default()
    };
    let cache_dir = args.cache_dir.clone().unwrap_or_else(|| out.join("cache"));
    let cache = Cache::open_or_build(&manifest, &pre, &cache_dir, true)?;
    secs.preprocess = t.elapsed().as_secs_f64();
    println!(
        "preprocessed: {} images at {s}x{s} in {:.1} s -> {}",
        cache.len(),
        secs.preprocess,
        cache.path().display(),
        s = cache.side()
    );

    // 5. The mean image of the training (development) part only: the test part
    // never informs preprocessing.
    let t = Instant::now();
    let mean = MeanImage::from_images(pre.size, dev.iter().map(|&i| cache.image(i)))?;
    let mean_path = out.join("mean-image.bin");
    mean.save(&mean_path)?;
    outputs.push(rel(out, &mean_path));
    secs.mean_image = t.elapsed().as_secs_f64();

    // 6. Everything needed to reproduce the run.
    let record = RunRecord {
        tool: "mammorecall",
        version: env!("CARGO_PKG_VERSION"),
        command: std::env::args().collect(),
        seed: args.seed,
        manifest: manifest_path.display().to_string(),
        manifest_sha256: store::sha256_file(&manifest_path)?,
        synthetic: synth_cfg.as_ref(),
        split: SplitRecord {
            test_fraction: settings.test_fraction,
            folds: settings.folds,
            repeats: settings.repeats,
            seed: settings.seed,
        },
        preprocess: &pre,
        cache: cache.path().display().to_string(),
        outputs,
        seconds: secs,
    };
    let run_json = out.join("run.json");
    store::write_atomic(&run_json, &serde_json::to_vec_pretty(&record)?)?;
    println!("run record: {}", run_json.display());
    Ok(())
}

fn rel(base: &Path, p: &Path) -> String {
    p.strip_prefix(base).unwrap_or(p).display().to_string()
}
