//! Multi-class AUC: Hand & Till's pairwise AUCs and their mean (scikit-learn
//! `roc_auc_score(multi_class="ovo", average="macro")`), and one-vs-rest macro AUC.

use crate::roc::Ranked;
use crate::EvalError;

/// The symmetric AUC of one pair of classes.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct PairAuc {
    /// First class (column index).
    pub i: usize,
    /// Second class.
    pub j: usize,
    /// A(i|j): AUC of the probability of class i, separating i (positive) from j.
    pub auc_i_vs_j: f64,
    /// A(j|i): AUC of the probability of class j, separating j (positive) from i.
    pub auc_j_vs_i: f64,
    /// Hand & Till: (A(i|j) + A(j|i)) / 2.
    pub auc: f64,
}

/// Multi-class AUC summaries.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MulticlassAuc {
    /// Every pair i < j, in lexicographic order.
    pub pairwise: Vec<PairAuc>,
    /// Mean of the pairwise AUCs (Hand & Till's M; sklearn ovo macro).
    pub mean_pairwise: f64,
    /// AUC of class c's probability, c against all other classes.
    pub ovr: Vec<f64>,
    /// Mean of `ovr` (sklearn ovr macro).
    pub ovr_macro: f64,
}

/// Pairwise and one-vs-rest AUCs. `classes[s]` is the class (0..k) of case s and
/// `probs[c][s]` the score of class c for case s (k columns). Every class must occur.
pub fn hand_till(classes: &[usize], probs: &[Vec<f64>]) -> Result<MulticlassAuc, EvalError> {
    let k = probs.len();
    if k < 2 {
        return Err(EvalError::InvalidArgument(format!(
            "multi-class AUC needs at least 2 score columns, got {k}"
        )));
    }
    for col in probs {
        if col.len() != classes.len() {
            return Err(EvalError::LengthMismatch {
                what: "classes vs score column",
                left: classes.len(),
                right: col.len(),
            });
        }
    }
    if let Some(&c) = classes.iter().find(|&&c| c >= k) {
        return Err(EvalError::InvalidArgument(format!(
            "class index {c} has no score column ({k} columns)"
        )));
    }
    for (c, col) in probs.iter().enumerate() {
        if let Some(index) = col.iter().position(|v| v.is_nan()) {
            return Err(EvalError::InvalidArgument(format!(
                "score of class {c} for case {index} is NaN"
            )));
        }
    }
    let mut counts = vec![0usize; k];
    for &c in classes {
        counts[c] += 1;
    }
    if let Some(c) = counts.iter().position(|&n| n == 0) {
        return Err(EvalError::InvalidArgument(format!(
            "class {c} has no cases"
        )));
    }
    // AUC of column `col`, cases of class `pos` positive against those of `neg`.
    let pair = |col: usize, pos: usize, neg: usize| -> Result<f64, EvalError> {
        let mut p = Vec::with_capacity(counts[pos]);
        let mut q = Vec::with_capacity(counts[neg]);
        for (s, &c) in classes.iter().enumerate() {
            if c == pos {
                p.push(probs[col][s]);
            } else if c == neg {
                q.push(probs[col][s]);
            }
        }
        Ok(Ranked::from_split(&p, &q)?.auc())
    };
    let mut pairwise = Vec::with_capacity(k * (k - 1) / 2);
    for i in 0..k {
        for j in i + 1..k {
            let a = pair(i, i, j)?;
            let b = pair(j, j, i)?;
            pairwise.push(PairAuc {
                i,
                j,
                auc_i_vs_j: a,
                auc_j_vs_i: b,
                auc: (a + b) / 2.0,
            });
        }
    }
    let mean_pairwise = pairwise.iter().map(|p| p.auc).sum::<f64>() / pairwise.len() as f64;
    let mut ovr = Vec::with_capacity(k);
    for (c, col) in probs.iter().enumerate() {
        let labels: Vec<bool> = classes.iter().map(|&x| x == c).collect();
        ovr.push(Ranked::new(&labels, col)?.auc());
    }
    let ovr_macro = ovr.iter().sum::<f64>() / k as f64;
    Ok(MulticlassAuc {
        pairwise,
        mean_pairwise,
        ovr,
        ovr_macro,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perfect_three_class_scores() {
        let classes = [0, 1, 2, 0, 1, 2];
        let probs = vec![
            vec![0.8, 0.1, 0.1, 0.7, 0.2, 0.1],
            vec![0.1, 0.8, 0.1, 0.2, 0.7, 0.2],
            vec![0.1, 0.1, 0.8, 0.1, 0.1, 0.7],
        ];
        let r = hand_till(&classes, &probs).unwrap();
        assert_eq!(r.pairwise.len(), 3);
        assert!(r.pairwise.iter().all(|p| p.auc == 1.0));
        assert_eq!(r.mean_pairwise, 1.0);
        assert_eq!(r.ovr_macro, 1.0);
    }

    #[test]
    fn asymmetric_pair_is_averaged() {
        // Class 0 vs 1: column 0 separates perfectly, column 1 is uninformative (ties).
        let classes = [0, 0, 1, 1];
        let probs = vec![vec![0.9, 0.8, 0.1, 0.2], vec![0.5, 0.5, 0.5, 0.5]];
        let r = hand_till(&classes, &probs).unwrap();
        assert_eq!(r.pairwise[0].auc_i_vs_j, 1.0);
        assert_eq!(r.pairwise[0].auc_j_vs_i, 0.5);
        assert_eq!(r.pairwise[0].auc, 0.75);
    }

    #[test]
    fn missing_class_is_an_error() {
        let probs = vec![vec![0.5; 2], vec![0.5; 2], vec![0.0; 2]];
        assert!(hand_till(&[0, 1], &probs).is_err());
    }
}
