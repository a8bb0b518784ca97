//! `mammorecall evaluate`: statistics of a run's predictions into RUN_DIR/metrics.json
//! and RUN_DIR/roc.svg.

use std::path::PathBuf;

use anyhow::{Context, Result};
use train::evaluate::{evaluate, EvalOptions, Level, Reduce, RADIOLOGIST_SENSITIVITY};

/// AUC with DeLong and bootstrap 95% CIs, specificity at 86.9% sensitivity and the ROC
/// figure of a run (test part, or out-of-fold with --folds); writes metrics.json.
#[derive(clap::Args)]
pub struct Args {
    /// The run folder.
    pub run: PathBuf,
    /// Bootstrap replicates (stratified).
    #[arg(long, default_value_t = 2000)]
    pub bootstrap: usize,
    /// Bootstrap seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Sensitivity at which specificity is reported (the study's radiologists: 0.869).
    #[arg(long, default_value_t = RADIOLOGIST_SENSITIVITY)]
    pub sensitivity: f64,
    /// Score each image (the study), each breast (its views together) or each exam
    /// (patient); breast and exam write metrics-LEVEL-REDUCE.json and roc-LEVEL-REDUCE.svg.
    #[arg(long, value_enum, default_value_t = LevelArg::Image)]
    pub level: LevelArg,
    /// How a breast's or exam's image scores are combined: mean or max.
    #[arg(long, value_enum, default_value_t = ReduceArg::Mean)]
    pub reduce: ReduceArg,
    /// Test-time augmentation: predict the run's images again with each model averaged
    /// over flip (or flip-shift) views (writes predictions-tta-MODE.csv; outputs get a
    /// -tta-MODE suffix).
    #[arg(long)]
    pub tta: Option<train::infer::Tta>,
    /// Read each image against the same view of the patient's other breast with this
    /// weight (0 = off; 0.5 = the lesion recipe's): class probabilities p·q^(−α)
    /// renormalised, q the other breast's. Its images outside the run's predictions
    /// (e.g. a benign breast in malignant-vs-negative) are predicted by the same fold's
    /// model into companions.csv; outputs get a -contra-ALPHA suffix.
    #[arg(long, default_value_t = 0.0, value_parser = parse_alpha)]
    pub contralateral: f32,
    /// Device for --tta and --contralateral: cpu or cuda.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Print metrics.json instead of the summary.
    #[arg(long)]
    pub json: bool,
}

/// Scoring unit (`--level`).
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum LevelArg {
    Image,
    Breast,
    Exam,
}

/// Combination of image scores (`--reduce`).
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum ReduceArg {
    Mean,
    Max,
}

/// `--contralateral`: a finite weight ≥ 0.
pub fn parse_alpha(s: &str) -> Result<f32, String> {
    match s.parse::<f32>() {
        Ok(a) if a.is_finite() && a >= 0.0 => Ok(a),
        _ => Err(format!("'{s}' is not a weight ≥ 0 (e.g. 0.5)")),
    }
}

/// Runs `mammorecall evaluate`.
pub fn run(a: Args) -> Result<()> {
    let cfg = train::TrainConfig::load(&a.run.join(train::run::CONFIG_FILE))
        .with_context(|| format!("{} is not a run folder", a.run.display()))?;
    let opts = EvalOptions {
        replicates: a.bootstrap,
        seed: a.seed,
        sensitivity: a.sensitivity,
        level: match a.level {
            LevelArg::Image => Level::Image,
            LevelArg::Breast => Level::Breast,
            LevelArg::Exam => Level::Exam,
        },
        reduce: match a.reduce {
            ReduceArg::Mean => Reduce::Mean,
            ReduceArg::Max => Reduce::Max,
        },
        tta: a.tta.unwrap_or_default(),
        contralateral: a.contralateral,
    };
    if opts.tta != train::infer::Tta::None || opts.contralateral != 0.0 {
        let compute = train::device::open(&a.device)?;
        let quiet = !std::io::IsTerminal::is_terminal(&std::io::stderr());
        if opts.tta != train::infer::Tta::None {
            let p = train::run::repredict(&a.run, opts.tta, &compute.device, !quiet)?;
            eprintln!("test-time augmented predictions: {}", p.display());
        }
        if opts.contralateral != 0.0 {
            let (p, n) = train::contralateral::predict_companions(
                &a.run,
                opts.tta,
                &compute.device,
                !quiet,
            )?;
            eprintln!(
                "other-breast images outside the predictions: {n}, in {}",
                p.display()
            );
        }
    }
    let m = evaluate(&a.run, cfg.scenario, &opts, &mut |w| {
        eprintln!("warning: {w}")
    })?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&m)?);
        return Ok(());
    }
    let f = |v: &serde_json::Value| {
        v.as_f64()
            .map(|x| format!("{x:.4}"))
            .unwrap_or_else(|| "n/a".into())
    };
    let ci = |v: &serde_json::Value| match v.as_array() {
        Some(a) if a.len() == 2 => format!("{}–{}", f(&a[0]), f(&a[1])),
        _ => "n/a".into(),
    };
    println!("{}: {}", a.run.display(), cfg.scenario);
    if cfg.scenario.positive_class().is_some() {
        println!(
            "  cases                 {} positive, {} negative",
            m["n_positive"], m["n_negative"]
        );
        println!("  AUC                   {}", f(&m["auc"]));
        println!("  DeLong 95% CI         {}", ci(&m["delong_ci95"]));
        println!(
            "  bootstrap 95% CI      {} ({} replicates)",
            ci(&m["bootstrap_ci95"]),
            a.bootstrap
        );
        let s = &m["specificity_at_sensitivity"];
        println!(
            "  specificity at sensitivity {}: {} (CI {}), interpolated {}",
            a.sensitivity,
            f(&s["specificity"]),
            ci(&s["specificity_ci95"]),
            f(&s["specificity_interpolated"])
        );
        println!(
            "  figure                {}",
            a.run
                .join(m["roc_figure"].as_str().unwrap_or("roc.svg"))
                .display()
        );
    } else {
        for p in m["pairwise"].as_array().into_iter().flatten() {
            println!(
                "  AUC {} vs {}: {}",
                p["classes"][0],
                p["classes"][1],
                f(&p["auc"])
            );
        }
        println!("  mean pairwise AUC     {}", f(&m["mean_pairwise_auc"]));
    }
    println!(
        "  metrics               {}",
        a.run
            .join(format!(
                "metrics{}.json",
                train::evaluate::output_suffix(&opts)
            ))
            .display()
    );
    Ok(())
}
