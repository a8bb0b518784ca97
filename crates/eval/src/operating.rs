//! Operating points: the threshold for a target sensitivity, Youden's J, the
//! confusion matrix at a threshold, and the study's recall question.

use crate::coords::specificity_at_sensitivity;
use crate::roc::{split, Ranked, RocCurve, RocPoint};
use crate::EvalError;

/// Counts of a binary decision `score ≥ threshold → positive`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Confusion {
    /// Positives called positive.
    pub tp: u64,
    /// Negatives called positive.
    pub fp: u64,
    /// Negatives called negative.
    pub tn: u64,
    /// Positives called negative.
    pub fn_: u64,
}

impl Confusion {
    /// tp / (tp + fn).
    pub fn sensitivity(&self) -> f64 {
        self.tp as f64 / (self.tp + self.fn_) as f64
    }
    /// tn / (tn + fp).
    pub fn specificity(&self) -> f64 {
        self.tn as f64 / (self.tn + self.fp) as f64
    }
}

/// Confusion matrix at `threshold` (score ≥ threshold → positive).
pub fn confusion_at(
    labels: &[bool],
    scores: &[f64],
    threshold: f64,
) -> Result<Confusion, EvalError> {
    let (pos, neg) = split(labels, scores)?;
    let tp = pos.iter().filter(|&&s| s >= threshold).count() as u64;
    let fp = neg.iter().filter(|&&s| s >= threshold).count() as u64;
    Ok(Confusion {
        tp,
        fp,
        tn: neg.len() as u64 - fp,
        fn_: pos.len() as u64 - tp,
    })
}

/// The strictest (highest) threshold whose sensitivity is at least `target`; it has
/// the best specificity of all such thresholds.
pub fn threshold_for_sensitivity(curve: &RocCurve, target: f64) -> Result<RocPoint, EvalError> {
    let a = specificity_at_sensitivity(curve, target)?;
    let p = curve
        .points
        .iter()
        .find(|p| p.threshold == a.threshold)
        .copied()
        .ok_or_else(|| EvalError::InvalidArgument("threshold not on the curve".into()))?;
    Ok(p)
}

/// The point maximizing Youden's J = sensitivity + specificity − 1 (the strictest one
/// when several tie), with J.
pub fn youden(curve: &RocCurve) -> (RocPoint, f64) {
    let mut best = (curve.points[0], f64::NEG_INFINITY);
    for p in &curve.points {
        let j = p.sensitivity + p.specificity - 1.0;
        if j > best.1 {
            best = (*p, j);
        }
    }
    best
}

/// The study's recall question at one operating point.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct RecallSparing {
    /// Required sensitivity for malignancy.
    pub min_sensitivity: f64,
    /// Threshold used (score ≥ threshold → recalled): the strictest meeting the target.
    pub threshold: f64,
    /// Sensitivity for malignancy attained at that threshold.
    pub sensitivity: f64,
    /// Recalled-benign cases with score below the threshold (not recalled).
    pub benign_not_recalled: u64,
    /// Number of recalled-benign cases.
    pub n_benign: u64,
    /// `benign_not_recalled / n_benign`.
    pub fraction_benign_not_recalled: f64,
}

/// At the strictest threshold that keeps sensitivity for malignancy ≥ `min_sensitivity`,
/// what fraction of recalled-benign cases would not be recalled? `malignant` and
/// `benign` are the malignancy scores of the two groups.
pub fn recall_sparing(
    malignant: &[f64],
    benign: &[f64],
    min_sensitivity: f64,
) -> Result<RecallSparing, EvalError> {
    let curve = Ranked::from_split(malignant, benign)?.curve();
    let p = threshold_for_sensitivity(&curve, min_sensitivity)?;
    let n_benign = benign.len() as u64;
    Ok(RecallSparing {
        min_sensitivity,
        threshold: p.threshold,
        sensitivity: p.sensitivity,
        benign_not_recalled: n_benign - p.fp,
        n_benign,
        fraction_benign_not_recalled: (n_benign - p.fp) as f64 / n_benign as f64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confusion_and_threshold() {
        let labels = [true, true, true, false, false, false];
        let scores = [0.9, 0.6, 0.3, 0.5, 0.2, 0.1];
        let c = confusion_at(&labels, &scores, 0.5).unwrap();
        assert_eq!(
            c,
            Confusion {
                tp: 2,
                fp: 1,
                tn: 2,
                fn_: 1
            }
        );
        let curve = RocCurve::new(&labels, &scores).unwrap();
        let p = threshold_for_sensitivity(&curve, 0.9).unwrap();
        assert_eq!(p.threshold, 0.3);
        assert_eq!(p.sensitivity, 1.0);
        let (y, j) = youden(&curve);
        assert_eq!(y.threshold, 0.6);
        // J = 2/3 at 0.6 and again at 0.3; the strictest wins.
        assert!((j - 2.0 / 3.0).abs() < 1e-15);
    }

    #[test]
    fn recall_question() {
        // 10 malignant scores 10..19; benign 0..9 and 15: at sensitivity ≥ 0.8 the
        // threshold is 12, so the 10 benign below 12 are spared and 15 is recalled.
        let mal: Vec<f64> = (10..20).map(f64::from).collect();
        let mut ben: Vec<f64> = (0..10).map(f64::from).collect();
        ben.push(15.0);
        let r = recall_sparing(&mal, &ben, 0.8).unwrap();
        assert_eq!(r.threshold, 12.0);
        assert_eq!(r.benign_not_recalled, 10);
        assert!((r.fraction_benign_not_recalled - 10.0 / 11.0).abs() < 1e-15);
    }
}
