//! ROC curve and AUC (Mann–Whitney with midranks) from one sort of the scores.

use crate::EvalError;

/// Scores of one classifier, sorted once and grouped into distinct values: everything
/// the ROC curve, the AUC, the DeLong placements and the bootstrap need.
#[derive(Debug, Clone)]
pub struct Ranked {
    /// Number of positive cases (m).
    pub n_pos: usize,
    /// Number of negative cases (n).
    pub n_neg: usize,
    /// Distinct scores, ascending (`-0.0` folded into `0.0`).
    pub values: Vec<f64>,
    /// Positives per distinct score.
    pub pos_count: Vec<u32>,
    /// Negatives per distinct score.
    pub neg_count: Vec<u32>,
    /// Group (index into `values`) of each positive, in input order.
    pub pos_group: Vec<u32>,
    /// Group of each negative, in input order.
    pub neg_group: Vec<u32>,
}

/// Rejects NaN scores and a mismatch of lengths; returns positives and negatives.
pub fn split(labels: &[bool], scores: &[f64]) -> Result<(Vec<f64>, Vec<f64>), EvalError> {
    if labels.len() != scores.len() {
        return Err(EvalError::LengthMismatch {
            what: "labels vs scores",
            left: labels.len(),
            right: scores.len(),
        });
    }
    let mut pos = Vec::new();
    let mut neg = Vec::new();
    for (index, (&l, &s)) in labels.iter().zip(scores).enumerate() {
        if s.is_nan() {
            return Err(EvalError::NanScore { index });
        }
        if l {
            pos.push(s);
        } else {
            neg.push(s);
        }
    }
    Ok((pos, neg))
}

impl Ranked {
    /// Ranks cases given as labels (true = positive) and scores.
    pub fn new(labels: &[bool], scores: &[f64]) -> Result<Self, EvalError> {
        let (pos, neg) = split(labels, scores)?;
        Self::from_split(&pos, &neg)
    }

    /// Ranks cases given as the positives' and the negatives' scores.
    pub fn from_split(pos: &[f64], neg: &[f64]) -> Result<Self, EvalError> {
        if pos.is_empty() || neg.is_empty() {
            return Err(EvalError::OneClass {
                n_positive: pos.len(),
                n_negative: neg.len(),
            });
        }
        if let Some(i) = pos.iter().chain(neg).position(|s| s.is_nan()) {
            return Err(EvalError::NanScore { index: i });
        }
        let m = pos.len();
        let total = m + neg.len();
        if total > u32::MAX as usize {
            return Err(EvalError::InvalidArgument(format!(
                "{total} cases exceed the supported 2^32 − 1"
            )));
        }
        // Adding 0.0 turns -0.0 into 0.0, so total_cmp (fast, NaN-free here) sees one value.
        let mut keyed: Vec<(f64, u32)> = pos
            .iter()
            .chain(neg)
            .enumerate()
            .map(|(i, &s)| (s + 0.0, i as u32))
            .collect();
        keyed.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
        let mut values = Vec::new();
        let mut pos_count = Vec::new();
        let mut neg_count = Vec::new();
        let mut pos_group = vec![0u32; m];
        let mut neg_group = vec![0u32; neg.len()];
        let mut i = 0;
        while i < keyed.len() {
            let v = keyed[i].0;
            let g = values.len() as u32;
            let (mut cp, mut cn) = (0u32, 0u32);
            while i < keyed.len() && keyed[i].0 == v {
                let idx = keyed[i].1 as usize;
                if idx < m {
                    pos_group[idx] = g;
                    cp += 1;
                } else {
                    neg_group[idx - m] = g;
                    cn += 1;
                }
                i += 1;
            }
            values.push(v);
            pos_count.push(cp);
            neg_count.push(cn);
        }
        Ok(Self {
            n_pos: m,
            n_neg: neg.len(),
            values,
            pos_count,
            neg_count,
            pos_group,
            neg_group,
        })
    }

    /// The AUC: P[score(pos) > score(neg)] + ½ P[tie], from exact integer counts.
    pub fn auc(&self) -> f64 {
        auc_from_counts(&self.pos_count, &self.neg_count, self.n_pos, self.n_neg)
    }

    /// The ROC curve (every distinct threshold, ties merged into one point).
    pub fn curve(&self) -> RocCurve {
        RocCurve::from_counts(&self.values, &self.pos_count, &self.neg_count)
    }
}

/// AUC from per-group counts (groups ascending by score); the numerator
/// Σ p_g (2·negatives below + n_g) is an exact integer, divided once.
pub(crate) fn auc_from_counts(pos: &[u32], neg: &[u32], m: usize, n: usize) -> f64 {
    let mut below: u64 = 0;
    let mut num: u128 = 0;
    for (&p, &q) in pos.iter().zip(neg) {
        num += p as u128 * (2 * below + q as u64) as u128;
        below += q as u64;
    }
    num as f64 / (2.0 * m as f64 * n as f64)
}

/// AUC of scores with labels (true = positive); higher score = positive.
pub fn auc(labels: &[bool], scores: &[f64]) -> Result<f64, EvalError> {
    Ok(Ranked::new(labels, scores)?.auc())
}

/// One point of a ROC curve: cases with score ≥ `threshold` are called positive.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct RocPoint {
    /// Decision threshold (score ≥ threshold → positive); +∞ for the (0, 1) corner.
    pub threshold: f64,
    /// True-positive rate.
    pub sensitivity: f64,
    /// True-negative rate.
    pub specificity: f64,
    /// True positives at this threshold.
    pub tp: u64,
    /// False positives at this threshold.
    pub fp: u64,
}

/// A ROC curve, from the strictest threshold (+∞: nothing positive) to the loosest
/// (the lowest score: everything positive). Sensitivity never decreases along it and
/// specificity never increases.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RocCurve {
    /// Number of positive cases.
    pub n_pos: usize,
    /// Number of negative cases.
    pub n_neg: usize,
    /// The points, strictest threshold first.
    pub points: Vec<RocPoint>,
}

impl RocCurve {
    /// Builds the curve from distinct ascending values and their class counts.
    pub(crate) fn from_counts(values: &[f64], pos: &[u32], neg: &[u32]) -> Self {
        let m: u64 = pos.iter().map(|&c| c as u64).sum();
        let n: u64 = neg.iter().map(|&c| c as u64).sum();
        let mut points = Vec::with_capacity(values.len() + 1);
        points.push(RocPoint {
            threshold: f64::INFINITY,
            sensitivity: 0.0,
            specificity: 1.0,
            tp: 0,
            fp: 0,
        });
        let (mut tp, mut fp) = (0u64, 0u64);
        for g in (0..values.len()).rev() {
            tp += pos[g] as u64;
            fp += neg[g] as u64;
            points.push(RocPoint {
                threshold: values[g],
                sensitivity: tp as f64 / m as f64,
                specificity: (n - fp) as f64 / n as f64,
                tp,
                fp,
            });
        }
        Self {
            n_pos: m as usize,
            n_neg: n as usize,
            points,
        }
    }

    /// Builds the curve of scores with labels (true = positive).
    pub fn new(labels: &[bool], scores: &[f64]) -> Result<Self, EvalError> {
        Ok(Ranked::new(labels, scores)?.curve())
    }

    /// Area under the curve by the trapezoid rule (equals the Mann–Whitney AUC).
    pub fn trapezoid_auc(&self) -> f64 {
        self.points
            .windows(2)
            .map(|w| {
                let dx = w[0].specificity - w[1].specificity;
                dx * (w[0].sensitivity + w[1].sensitivity) / 2.0
            })
            .sum()
    }
}

/// Midranks (1-based; tied values share the mean of their ranks), O(n log n).
pub fn midranks(x: &[f64]) -> Result<Vec<f64>, EvalError> {
    if let Some(index) = x.iter().position(|v| v.is_nan()) {
        return Err(EvalError::NanScore { index });
    }
    let mut idx: Vec<usize> = (0..x.len()).collect();
    idx.sort_unstable_by(|&a, &b| (x[a] + 0.0).total_cmp(&(x[b] + 0.0)));
    let mut ranks = vec![0.0; x.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i + 1;
        while j < idx.len() && x[idx[j]] == x[idx[i]] {
            j += 1;
        }
        // Ranks i+1 ..= j share their mean.
        let r = (i + 1 + j) as f64 / 2.0;
        for &k in &idx[i..j] {
            ranks[k] = r;
        }
        i = j;
    }
    Ok(ranks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_counts_ties_half() {
        // pos {1, 2}, neg {1, 0}: pairs (1,1)=½ (1,0)=1 (2,1)=1 (2,0)=1 → 3.5/4.
        let a = auc(&[true, true, false, false], &[1.0, 2.0, 1.0, 0.0]).unwrap();
        assert_eq!(a, 0.875);
    }

    #[test]
    fn negative_zero_equals_zero() {
        let a = auc(&[true, false], &[-0.0, 0.0]).unwrap();
        assert_eq!(a, 0.5);
        let r = Ranked::new(&[true, false], &[-0.0, 0.0]).unwrap();
        assert_eq!(r.values.len(), 1);
    }

    #[test]
    fn one_class_and_nan_are_errors() {
        assert!(matches!(
            auc(&[true, true], &[1.0, 2.0]),
            Err(EvalError::OneClass { .. })
        ));
        assert_eq!(
            auc(&[true, false, true], &[1.0, f64::NAN, 0.0]),
            Err(EvalError::NanScore { index: 1 })
        );
    }

    #[test]
    fn curve_merges_ties_and_matches_trapezoid() {
        let labels = [true, false, true, false, true, false];
        let scores = [3.0, 3.0, 2.0, 1.0, 5.0, 0.0];
        let c = RocCurve::new(&labels, &scores).unwrap();
        // +∞ and 5 distinct values.
        assert_eq!(c.points.len(), 6);
        assert_eq!(c.points[2].threshold, 3.0);
        assert_eq!((c.points[2].tp, c.points[2].fp), (2, 1));
        let a = auc(&labels, &scores).unwrap();
        assert!((c.trapezoid_auc() - a).abs() < 1e-15);
        assert_eq!(c.points.last().unwrap().sensitivity, 1.0);
        assert_eq!(c.points.last().unwrap().specificity, 0.0);
    }

    #[test]
    fn midranks_average_ties() {
        assert_eq!(
            midranks(&[3.0, 1.0, 3.0, 2.0]).unwrap(),
            vec![3.5, 1.0, 3.5, 2.0]
        );
    }
}
