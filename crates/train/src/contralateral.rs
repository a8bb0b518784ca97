//! Bilateral comparison: each image's score read against the same view of the patient's
//! other breast.
//!
//! Why: a radiologist reads a mammogram against the other breast, because cancer shows
//! as an asymmetry while dense or unusual tissue is usually present on both sides. A
//! network that scores one image at a time calls such a patient's two healthy breasts
//! suspicious alike. With weight α, an image's class probabilities become
//! `p_k · q_k^(−α)` renormalised, `q` the (geometric mean of the) partner images'
//! probabilities: for two classes the log-odds become `logit p − α · logit q`. α = 0 is
//! the image alone.
//!
//! Partners are images of the same patient and view on the other side (manifest
//! `laterality` L/R); when a patient has exactly two images of a view and neither has a
//! laterality (mini-MIAS's manifest), they are each other's partner. An image without a
//! predicted partner (CBIS-DDSM holds only the abnormal breast of most women) is read
//! against the mean over all scored images, so every score stays on one scale.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use data::cache::Cache;
use data::{Manifest, Record};

use crate::infer::Tta;
use crate::run::{
    cache_dir, load_run, predict_parts, read_predictions, tta_predictions_file, write_predictions,
    Prediction, PREDICTIONS_FILE,
};
use crate::TrainError;

/// Probabilities are clamped to this before taking logarithms.
const EPS: f32 = 1e-6;

/// For each record, the records of the same patient and view on the other side (see the
/// module doc for images without a laterality).
pub fn partners(records: &[Record]) -> Vec<Vec<usize>> {
    let side = |r: &Record| match r.laterality.trim().to_ascii_uppercase().as_str() {
        "L" => Some(0u8),
        "R" => Some(1u8),
        _ => None,
    };
    let mut groups: BTreeMap<(&str, String), Vec<usize>> = BTreeMap::new();
    for (i, r) in records.iter().enumerate() {
        let view = r.view.trim().to_ascii_uppercase();
        groups
            .entry((r.patient_id.as_str(), view))
            .or_default()
            .push(i);
    }
    let mut out = vec![Vec::new(); records.len()];
    for members in groups.values() {
        let unknown: Vec<usize> = members
            .iter()
            .copied()
            .filter(|&i| side(&records[i]).is_none())
            .collect();
        if unknown.len() == 2 && members.len() == 2 {
            out[members[0]].push(members[1]);
            out[members[1]].push(members[0]);
            continue;
        }
        for &i in members {
            if let Some(s) = side(&records[i]) {
                out[i] = members
                    .iter()
                    .copied()
                    .filter(|&j| side(&records[j]).is_some_and(|t| t != s))
                    .collect();
            }
        }
    }
    out
}

/// The file [`predict_companions`] writes: `companions.csv`, or
/// `companions-tta-MODE.csv` for test-time augmented predictions.
pub fn companions_file(tta: Tta) -> String {
    match tta {
        Tta::None => "companions.csv".into(),
        t => format!("companions-tta-{}.csv", t.as_str()),
    }
}

/// The predictions file that [`predict_companions`] and [`adjust_run`] pair with `tta`.
fn predictions_file(run: &Path, tta: Tta) -> PathBuf {
    match tta {
        Tta::None => run.join(PREDICTIONS_FILE),
        t => run.join(tta_predictions_file(t)),
    }
}

/// Predicts the partner images of a finished run's predicted images that it did not
/// predict itself (outside the scenario: e.g. the benign breast of a woman whose other
/// breast is negative), each with the model that predicted its partner — the same fold,
/// since a patient never spans two parts — with the same test-time augmentation as that
/// predictions file, into [`companions_file`] (same columns as
/// predictions.csv; `class` is the scenario's class where the label has one, else 0,
/// and is never scored). Returns the file and how many images it holds.
pub fn predict_companions(
    run: &Path,
    tta: Tta,
    device: &burn::tensor::Device,
    progress: bool,
) -> Result<(PathBuf, usize), TrainError> {
    let (cfg, models) = load_run(run, device)?;
    let (_, rows) = read_predictions(&predictions_file(run, tta))?;
    let manifest = Manifest::read(&cfg.data.manifest)?;
    let index: HashMap<&str, usize> = manifest
        .records
        .iter()
        .enumerate()
        .map(|(i, r)| (r.image.as_str(), i))
        .collect();
    let pairs = partners(&manifest.records);
    let predicted: HashSet<&str> = rows.iter().map(|r| r.image.as_str()).collect();
    let mut queued = HashSet::new();
    let mut items: Vec<(usize, &str)> = Vec::new();
    for r in &rows {
        let Some(&i) = index.get(r.image.as_str()) else {
            continue;
        };
        for &j in &pairs[i] {
            let img = manifest.records[j].image.as_str();
            if !predicted.contains(img) && queued.insert(j) {
                items.push((j, r.part.as_str()));
            }
        }
    }
    let probs = if items.is_empty() {
        Vec::new()
    } else {
        let cache = Cache::open_or_build(&manifest, &cfg.preprocess, &cache_dir(&cfg), progress)?;
        // predictions.csv was written with the run's own test-time augmentation.
        let views = match tta {
            Tta::None => cfg.tta,
            t => t,
        };
        predict_parts(run, &cfg, &models, &cache, &items, views, device)?
    };
    let out: Vec<Prediction> = items
        .iter()
        .zip(probs)
        .map(|(&(j, part), p)| {
            let r = &manifest.records[j];
            Prediction {
                image: r.image.clone(),
                patient_id: r.patient_id.clone(),
                label: r.label.as_str().to_string(),
                class: cfg.scenario.class_of(r.label).unwrap_or(0),
                part: part.to_string(),
                probs: p,
            }
        })
        .collect();
    let path = run.join(companions_file(tta));
    write_predictions(&path, cfg.scenario.class_names(), &out)?;
    Ok((path, out.len()))
}

/// Reads `rows` against their partners with weight `alpha` (module doc). `known` holds
/// the probabilities of every image that has them (the rows and their companions);
/// `partners_of` names an image's partners. Returns the adjusted rows and how many had
/// no predicted partner.
pub fn adjust(
    rows: &[Prediction],
    known: &HashMap<String, Vec<f32>>,
    partners_of: &dyn Fn(&str) -> Vec<String>,
    alpha: f32,
) -> (Vec<Prediction>, usize) {
    let k = rows.first().map_or(0, |r| r.probs.len());
    let ln = |p: &[f32]| -> Vec<f32> { p.iter().map(|v| v.max(EPS).ln()).collect() };
    // The population's mean log-probabilities stand in for a missing partner.
    let mut neutral = vec![0f32; k];
    for r in rows {
        for (acc, v) in neutral.iter_mut().zip(ln(&r.probs)) {
            *acc += v / rows.len() as f32;
        }
    }
    let mut alone = 0;
    let out = rows
        .iter()
        .map(|r| {
            let logs: Vec<Vec<f32>> = partners_of(&r.image)
                .iter()
                .filter_map(|p| known.get(p))
                .filter(|p| p.len() == k)
                .map(|p| ln(p))
                .collect();
            let q = if logs.is_empty() {
                alone += 1;
                neutral.clone()
            } else {
                (0..k)
                    .map(|c| logs.iter().map(|l| l[c]).sum::<f32>() / logs.len() as f32)
                    .collect()
            };
            let z: Vec<f32> = ln(&r.probs)
                .iter()
                .zip(&q)
                .map(|(l, q)| l - alpha * q)
                .collect();
            let m = z.iter().copied().fold(f32::MIN, f32::max);
            let e: Vec<f32> = z.iter().map(|v| (v - m).exp()).collect();
            let s: f32 = e.iter().sum();
            Prediction {
                probs: e.iter().map(|v| v / s).collect(),
                ..r.clone()
            }
        })
        .collect();
    (out, alone)
}

/// The rows of a run's predictions (of `tta`'s file) read against their partners with
/// weight `alpha`, partners' probabilities from the predictions and [`companions_file`]
/// (written by [`predict_companions`]; missing means none were needed). Returns the rows
/// and how many had no predicted partner.
pub fn adjust_run(
    run: &Path,
    rows: &[Prediction],
    manifest: &Manifest,
    tta: Tta,
    alpha: f32,
) -> Result<(Vec<Prediction>, usize), TrainError> {
    let mut known: HashMap<String, Vec<f32>> = rows
        .iter()
        .map(|r| (r.image.clone(), r.probs.clone()))
        .collect();
    let comp = run.join(companions_file(tta));
    if comp.is_file() {
        for r in read_predictions(&comp)?.1 {
            known.entry(r.image).or_insert(r.probs);
        }
    }
    let pairs = partners(&manifest.records);
    let index: HashMap<&str, usize> = manifest
        .records
        .iter()
        .enumerate()
        .map(|(i, r)| (r.image.as_str(), i))
        .collect();
    let partners_of = |img: &str| -> Vec<String> {
        index
            .get(img)
            .map(|&i| {
                pairs[i]
                    .iter()
                    .map(|&j| manifest.records[j].image.clone())
                    .collect()
            })
            .unwrap_or_default()
    };
    Ok(adjust(rows, &known, &partners_of, alpha))
}

#[cfg(test)]
mod tests {
    use super::*;
    use data::Label;

    fn rec(image: &str, patient: &str, side: &str, view: &str) -> Record {
        Record {
            image: image.into(),
            patient_id: patient.into(),
            laterality: side.into(),
            view: view.into(),
            label: Label::Negative,
            extra: Vec::new(),
            line: 0,
        }
    }

    #[test]
    fn partners_are_the_other_side_of_the_same_view() {
        let r = vec![
            rec("a_L_CC", "a", "L", "CC"),
            rec("a_R_CC", "a", "R", "cc"),
            rec("a_L_MLO", "a", "L", "MLO"),
            rec("a_R_MLO", "a", "R", "MLO"),
            rec("a_R_MLO2", "a", "R", "MLO"),
            rec("b_L_CC", "b", "L", "CC"),
            rec("c_1", "c", "", "MLO"),
            rec("c_2", "c", "", "MLO"),
            rec("d_1", "d", "", "MLO"),
            rec("d_2", "d", "", "MLO"),
            rec("d_3", "d", "", "MLO"),
        ];
        let p = partners(&r);
        assert_eq!(p[0], vec![1]);
        assert_eq!(p[1], vec![0]);
        assert_eq!(p[2], vec![3, 4]);
        assert_eq!(p[3], vec![2]);
        assert_eq!(p[4], vec![2]);
        // One breast only: no partner.
        assert!(p[5].is_empty());
        // Two images of a view, no laterality: each other's.
        assert_eq!((p[6].clone(), p[7].clone()), (vec![7], vec![6]));
        // Three without laterality: ambiguous, none.
        assert!(p[8].is_empty() && p[9].is_empty() && p[10].is_empty());
    }

    fn pred(image: &str, p1: f32) -> Prediction {
        Prediction {
            image: image.into(),
            patient_id: "x".into(),
            label: "negative".into(),
            class: 0,
            part: "test".into(),
            probs: vec![1.0 - p1, p1],
        }
    }

    #[test]
    fn two_class_log_odds_drop_by_alpha_times_the_partners() {
        let logit = |p: f32| (p / (1.0 - p)).ln();
        let rows = vec![pred("a", 0.8), pred("b", 0.3), pred("c", 0.6)];
        let mut known: HashMap<String, Vec<f32>> = rows
            .iter()
            .map(|r| (r.image.clone(), r.probs.clone()))
            .collect();
        known.insert("a2".into(), vec![0.9, 0.1]);
        let partners_of = |img: &str| -> Vec<String> {
            match img {
                "a" => vec!["a2".into()],
                "b" => vec!["a".into(), "c".into()],
                _ => vec!["missing".into()],
            }
        };
        let (out, alone) = adjust(&rows, &known, &partners_of, 0.5);
        assert_eq!(alone, 1);
        for r in &out {
            assert!((r.probs.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        }
        let a = logit(out[0].probs[1]);
        assert!((a - (logit(0.8) - 0.5 * logit(0.1))).abs() < 1e-4, "{a}");
        // Two partners: their geometric mean, i.e. the mean of their log-odds.
        let b = logit(out[1].probs[1]);
        let want = logit(0.3) - 0.5 * (logit(0.8) + logit(0.6)) / 2.0;
        assert!((b - want).abs() < 1e-4, "{b} vs {want}");
        // No predicted partner: the rows' mean log-probabilities.
        let mean0 = (0.2f32.ln() + 0.7f32.ln() + 0.4f32.ln()) / 3.0;
        let mean1 = (0.8f32.ln() + 0.3f32.ln() + 0.6f32.ln()) / 3.0;
        let c = logit(out[2].probs[1]);
        assert!((c - (logit(0.6) - 0.5 * (mean1 - mean0))).abs() < 1e-4);
        // α = 0: the image alone.
        let (same, _) = adjust(&rows, &known, &partners_of, 0.0);
        for (s, r) in same.iter().zip(&rows) {
            assert!((s.probs[1] - r.probs[1]).abs() < 1e-6);
        }
    }
}
