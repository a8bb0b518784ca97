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

use crate::run::{read_predictions, PREDICTIONS_FILE};
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
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions {
            replicates: 2000,
            seed: 1,
            sensitivity: RADIOLOGIST_SENSITIVITY,
        }
    }
}

fn pair(c: Option<[f64; 2]>) -> Value {
    c.map(|c| json!([c[0], c[1]])).unwrap_or(Value::Null)
}

/// Computes `metrics.json` (returned and written atomically) and `roc.svg` for the run
/// folder `run`, from its predictions.csv. Warnings (undefined quantities) go to `warn`.
pub fn evaluate(
    run: &Path,
    scenario: Scenario,
    opts: &EvalOptions,
    warn: &mut dyn FnMut(&str),
) -> Result<Value, TrainError> {
    let path = run.join(PREDICTIONS_FILE);
    let (names, rows) = read_predictions(&path)?;
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
            let figure = run.join("roc.svg");
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
                "roc_figure": "roc.svg",
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
            })
        }
    };
    let out = run.join("metrics.json");
    let text = serde_json::to_vec_pretty(&metrics).map_err(|e| TrainError::file(&out, e))?;
    store::write_atomic(&out, &text)?;
    Ok(metrics)
}
