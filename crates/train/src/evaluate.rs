//! `evaluate`: the statistics of a run's predictions (statistics crate only): AUC with
//! DeLong and bootstrap 95% CIs, specificity at the radiologists' 86.9% sensitivity,
//! Youden's point, three-class pairwise AUCs, and the ROC figure.

use std::path::Path;

use data::Scenario;
use eval::bootstrap::{bootstrap_ci, BootstrapOptions};
use eval::coords::{bootstrap_at_target, specificity_at_sensitivity, Fixed};
use eval::operating::youden;
use eval::plot::{write_roc, PlotCurve};
use eval::{delong, hand_till, Ranked};
use serde_json::{json, Value};

use crate::run::{read_predictions, Prediction, PREDICTIONS_FILE};
use crate::TrainError;

/// The radiologists' sensitivity in the study.
pub const RADIOLOGIST_SENSITIVITY: f64 = 0.869;

/// Settings of [`evaluate`].
#[derive(Debug, Clone, Copy)]
pub struct EvalOptions {
    /// Bootstrap replicates (0: no bootstrap).
    pub replicates: usize,
    /// Bootstrap seed.
    pub seed: u64,
    /// Sensitivity at which specificity is reported.
    pub sensitivity: f64,
    /// Unit that is scored: each image, each breast, or each exam (patient).
    pub level: Level,
    /// How the image scores of a breast or exam are combined.
    pub reduce: Reduce,
    /// Score the test-time augmented predictions ([`crate::run::repredict`]'s file)
    /// instead of predictions.csv; the outputs get a `-tta-MODE` suffix.
    pub tta: crate::infer::Tta,
    /// Weight of the bilateral comparison ([`crate::contralateral`]): each image's
    /// scores read against its other breast's before any aggregation; 0 = off. The
    /// partners' own predictions come from the run and its companions file; the outputs
    /// get a `-contra-ALPHA` suffix.
    pub contralateral: f32,
}

/// The unit a prediction is scored at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Every image on its own (the study).
    #[default]
    Image,
    /// The views of one breast (patient + laterality) together.
    Breast,
    /// All images of a patient together.
    Exam,
}

/// How the scores of a breast's or exam's images are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reduce {
    /// Mean of each class probability.
    #[default]
    Mean,
    /// Maximum of each class probability (one suspicious view suffices).
    Max,
}

impl Level {
    /// The name in files and configs.
    pub fn name(self) -> &'static str {
        match self {
            Level::Image => "image",
            Level::Breast => "breast",
            Level::Exam => "exam",
        }
    }
}

impl Reduce {
    /// Combines the class probabilities of a group's images, class by class.
    pub fn apply(self, rows: &[&[f32]]) -> Vec<f32> {
        let k = rows.first().map_or(0, |r| r.len());
        (0..k)
            .map(|c| {
                let v = rows.iter().map(|r| r[c]);
                match self {
                    Reduce::Mean => v.sum::<f32>() / rows.len() as f32,
                    Reduce::Max => v.fold(f32::MIN, f32::max),
                }
            })
            .collect()
    }

    /// The name in files and configs.
    pub fn name(self) -> &'static str {
        match self {
            Reduce::Mean => "mean",
            Reduce::Max => "max",
        }
    }
}

/// Combines image predictions into breast or exam predictions: the group takes its most
/// severe class (highest class index, e.g. the abnormal breast of an exam) and the mean or
/// maximum of each class probability. `laterality` maps an image to its side.
pub fn aggregate(
    rows: &[Prediction],
    level: Level,
    reduce: Reduce,
    laterality: &dyn Fn(&str) -> String,
) -> Vec<Prediction> {
    if level == Level::Image {
        return rows.to_vec();
    }
    let mut groups: std::collections::BTreeMap<String, Vec<&Prediction>> = Default::default();
    for r in rows {
        let key = match level {
            Level::Breast => {
                let side = laterality(&r.image);
                if side.is_empty() {
                    // Unknown side: the image stands alone rather than merging breasts.
                    format!("{}|{}", r.patient_id, r.image)
                } else {
                    format!("{}|{side}", r.patient_id)
                }
            }
            _ => r.patient_id.clone(),
        };
        groups.entry(key).or_default().push(r);
    }
    groups
        .into_iter()
        .map(|(key, g)| {
            let worst = g.iter().max_by_key(|r| r.class).copied().unwrap_or(g[0]);
            let members: Vec<&[f32]> = g.iter().map(|r| r.probs.as_slice()).collect();
            let probs = reduce.apply(&members);
            Prediction {
                image: key,
                patient_id: worst.patient_id.clone(),
                label: worst.label.clone(),
                class: worst.class,
                part: worst.part.clone(),
                probs,
            }
        })
        .collect()
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions {
            replicates: 2000,
            seed: 1,
            sensitivity: RADIOLOGIST_SENSITIVITY,
            level: Level::Image,
            reduce: Reduce::Mean,
            tta: crate::infer::Tta::None,
            contralateral: 0.0,
        }
    }
}

fn pair(c: Option<[f64; 2]>) -> Value {
    c.map(|c| json!([c[0], c[1]])).unwrap_or(Value::Null)
}

/// A run's prediction rows as `opts` scores them: read against the other breast when
/// `opts.contralateral` > 0, then combined at `opts.level` (breasts take their sides from
/// the run's manifest). Warnings go to `warn`.
pub fn scored_rows(
    run: &Path,
    rows: Vec<Prediction>,
    opts: &EvalOptions,
    warn: &mut dyn FnMut(&str),
) -> Result<Vec<Prediction>, TrainError> {
    let (level, reduce) = (opts.level, opts.reduce);
    if level != Level::Breast && opts.contralateral == 0.0 {
        return Ok(aggregate(&rows, level, reduce, &|_| String::new()));
    }
    let cfg = crate::config::TrainConfig::load(&run.join(crate::run::CONFIG_FILE))?;
    let m = data::Manifest::read(&cfg.data.manifest)?;
    let rows = if opts.contralateral != 0.0 {
        let (adjusted, alone) =
            crate::contralateral::adjust_run(run, &rows, &m, opts.tta, opts.contralateral)?;
        if alone > 0 {
            warn(&format!(
                "{alone} of {} images have no predicted other-breast image: read against the mean of all",
                rows.len()
            ));
        }
        adjusted
    } else {
        rows
    };
    let side: std::collections::HashMap<&str, &str> = m
        .records
        .iter()
        .map(|r| (r.image.as_str(), r.laterality.as_str()))
        .collect();
    Ok(aggregate(&rows, level, reduce, &|img| {
        side.get(img).copied().unwrap_or("").to_string()
    }))
}

/// The metrics file of a level: `metrics.json` for images, else `metrics-LEVEL-REDUCE.json`.
pub fn metrics_file(level: Level, reduce: Reduce) -> String {
    let opts = EvalOptions {
        level,
        reduce,
        ..EvalOptions::default()
    };
    format!("metrics{}.json", output_suffix(&opts))
}

/// The suffix of [`evaluate`]'s output files (`metrics{suffix}.json`, `roc{suffix}.svg`):
/// empty at image level without TTA or bilateral comparison, else `-LEVEL-REDUCE`,
/// `-tta-MODE` and/or `-contra-ALPHA`.
pub fn output_suffix(opts: &EvalOptions) -> String {
    let mut suffix = match opts.level {
        Level::Image => String::new(),
        l => format!("-{}-{}", l.name(), opts.reduce.name()),
    };
    if opts.tta != crate::infer::Tta::None {
        suffix.push_str(&format!("-tta-{}", opts.tta.as_str()));
    }
    if opts.contralateral != 0.0 {
        suffix.push_str(&format!("-contra-{}", opts.contralateral));
    }
    suffix
}

/// Computes `metrics.json` (returned and written atomically) and `roc.svg` for the run
/// folder `run`, from its predictions.csv. Warnings (undefined quantities) go to `warn`.
pub fn evaluate(
    run: &Path,
    scenario: Scenario,
    opts: &EvalOptions,
    warn: &mut dyn FnMut(&str),
) -> Result<Value, TrainError> {
    let path = match opts.tta {
        crate::infer::Tta::None => run.join(PREDICTIONS_FILE),
        t => run.join(crate::run::tta_predictions_file(t)),
    };
    let (names, rows) = read_predictions(&path)?;
    let suffix = output_suffix(opts);
    let rows = scored_rows(run, rows, opts, warn)?;
    let err = |e: eval::EvalError| TrainError::file(&path, e);
    let classes: Vec<usize> = rows.iter().map(|r| r.class).collect();
    let metrics = match scenario.positive_class() {
        Some(pos) => {
            let labels: Vec<bool> = classes.iter().map(|&c| c == pos).collect();
            let scores: Vec<f64> = rows.iter().map(|r| f64::from(r.probs[pos])).collect();
            let ranked = Ranked::new(&labels, &scores).map_err(err)?;
            let (m, n) = (ranked.n_pos, ranked.n_neg);
            let d = delong(&labels, &[&scores]).map_err(err)?;
            let auc = d.aucs[0];
            let ci = d.ci(0, 0.95);
            if ci.is_none() {
                warn("DeLong CI undefined (needs at least 2 cases of each class): null");
            }
            let curve = ranked.curve();
            let at = specificity_at_sensitivity(&curve, opts.sensitivity).map_err(err)?;
            let (yp, j) = youden(&curve);
            let bopts = BootstrapOptions {
                replicates: opts.replicates,
                seed: opts.seed,
                level: 0.95,
            };
            let (boot, boot_at) = if opts.replicates >= 2 && m >= 2 && n >= 2 {
                (
                    Some(bootstrap_ci(&ranked, &bopts).map_err(err)?),
                    Some(
                        bootstrap_at_target(&ranked, Fixed::Sensitivity, opts.sensitivity, &bopts)
                            .map_err(err)?,
                    ),
                )
            } else {
                warn("bootstrap CIs undefined (no replicates, or fewer than 2 cases of a class): null");
                (None, None)
            };
            let bci = boot.map(|b| [b.lower, b.upper]);
            let figure = run.join(format!("roc{suffix}.svg"));
            write_roc(
                &figure,
                &format!("{scenario}: {} vs {}", names[pos], names[1 - pos]),
                &[PlotCurve {
                    name: format!("{scenario} ({m} positive, {n} negative)"),
                    curve: &curve,
                    auc,
                    ci: bci.or(ci),
                }],
            )
            .map_err(|e| TrainError::file(&figure, e))?;
            json!({
                "scenario": scenario.as_str(),
                "positive_class": names[pos],
                "n_positive": m,
                "n_negative": n,
                "auc": auc,
                "delong_ci95": pair(ci),
                "delong_variance": d.variance(0),
                "bootstrap_ci95": pair(bci),
                "bootstrap_median": boot.map(|b| b.median),
                "bootstrap_replicates": opts.replicates,
                "bootstrap_seed": opts.seed,
                "specificity_at_sensitivity": {
                    "sensitivity": opts.sensitivity,
                    "specificity": at.best,
                    "specificity_interpolated": at.interpolated,
                    "threshold": at.threshold,
                    "specificity_ci95": pair(boot_at.and_then(|b| b.best).map(|c| [c.lower, c.upper])),
                    "specificity_interpolated_ci95": pair(boot_at.and_then(|b| b.interpolated).map(|c| [c.lower, c.upper])),
                },
                "youden": {"threshold": yp.threshold, "sensitivity": yp.sensitivity, "specificity": yp.specificity, "j": j},
                "roc_figure": format!("roc{suffix}.svg"),
                "level": opts.level.name(),
                "reduce": opts.reduce.name(),
                "contralateral": opts.contralateral,
            })
        }
        None => {
            let cols: Vec<Vec<f64>> = (0..names.len())
                .map(|c| rows.iter().map(|r| f64::from(r.probs[c])).collect())
                .collect();
            let mc = hand_till(&classes, &cols).map_err(err)?;
            let pairs: Vec<Value> = mc
                .pairwise
                .iter()
                .map(|p| {
                    json!({"classes": [names[p.i], names[p.j]], "auc": p.auc,
                    "auc_i_vs_j": p.auc_i_vs_j, "auc_j_vs_i": p.auc_j_vs_i})
                })
                .collect();
            let counts: Vec<usize> = (0..names.len())
                .map(|c| classes.iter().filter(|&&k| k == c).count())
                .collect();
            json!({
                "scenario": scenario.as_str(),
                "classes": names,
                "n_per_class": counts,
                "auc": mc.mean_pairwise,
                "pairwise": pairs,
                "mean_pairwise_auc": mc.mean_pairwise,
                "ovr_macro_auc": mc.ovr_macro,
                "level": opts.level.name(),
                "reduce": opts.reduce.name(),
                "contralateral": opts.contralateral,
            })
        }
    };
    let out = run.join(format!("metrics{suffix}.json"));
    let text = serde_json::to_vec_pretty(&metrics).map_err(|e| TrainError::file(&out, e))?;
    store::write_atomic(&out, &text)?;
    Ok(metrics)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(image: &str, patient: &str, class: usize, p1: f32) -> Prediction {
        Prediction {
            image: image.into(),
            patient_id: patient.into(),
            label: if class == 1 { "malignant" } else { "negative" }.into(),
            class,
            part: "test".into(),
            probs: vec![1.0 - p1, p1],
        }
    }

    #[test]
    fn breasts_and_exams_take_the_worst_class_and_combine_scores() {
        let rows = vec![
            row("p1_L_CC", "p1", 1, 0.9),
            row("p1_L_MLO", "p1", 1, 0.5),
            row("p1_R_CC", "p1", 0, 0.2),
            row("p2_L_CC", "p2", 0, 0.4),
            row("p2_x", "p2", 0, 0.6),
        ];
        let side = |img: &str| -> String {
            img.split('_')
                .nth(1)
                .filter(|s| *s == "L" || *s == "R")
                .unwrap_or("")
                .to_string()
        };
        let b = aggregate(&rows, Level::Breast, Reduce::Mean, &side);
        // p1 left, p1 right, p2 left, and p2's image of unknown side on its own.
        assert_eq!(b.len(), 4);
        let p1l = b.iter().find(|r| r.image == "p1|L").unwrap();
        assert_eq!(p1l.class, 1);
        assert!((p1l.probs[1] - 0.7).abs() < 1e-6);
        assert!(b.iter().any(|r| r.image == "p2|p2_x"));
        let e = aggregate(&rows, Level::Exam, Reduce::Max, &side);
        assert_eq!(e.len(), 2);
        let p1 = e.iter().find(|r| r.image == "p1").unwrap();
        assert_eq!((p1.class, p1.probs[1]), (1, 0.9));
        let p2 = e.iter().find(|r| r.image == "p2").unwrap();
        assert_eq!((p2.class, p2.probs[1]), (0, 0.6));
        assert_eq!(aggregate(&rows, Level::Image, Reduce::Max, &side), rows);
    }
}
