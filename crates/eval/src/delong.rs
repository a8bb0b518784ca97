//! DeLong's nonparametric (co)variance of correlated AUCs, by the fast algorithm of
//! Sun & Xu (2014): placement values from midranks, O(k·n log n) for k classifiers.
//!
//! With X the m positives and Y the n negatives of classifier r, Sun & Xu write the
//! placements as V10_i = (T_Z,i − T_X,i)/n and V01_j = 1 − (T_Z,j − T_Y,j)/m from the
//! midranks T of the pooled, positive-only and negative-only scores. Both differences
//! are "number of the other class below, ties counted ½", which one sort of the pooled
//! scores gives directly (see [`Ranked`]). The variances follow pROC exactly:
//! S = S10/m + S01/n with sample (n − 1) covariances around θ = mean(V10).

use crate::dist::{qnorm, two_sided_p_normal, two_sided_p_t};
use crate::roc::{split, Ranked};
use crate::EvalError;

/// Placement values of one classifier.
#[derive(Debug, Clone)]
pub struct Placements {
    /// The exact AUC (Mann–Whitney, from integer counts).
    pub auc: f64,
    /// θ = mean of the positives' placements (pROC's `theta`); equals `auc`.
    pub theta: f64,
    /// For each positive (input order): fraction of negatives below it, ties ½.
    pub v10: Vec<f64>,
    /// For each negative (input order): fraction of positives above it, ties ½.
    pub v01: Vec<f64>,
}

/// Per group: the positives' placement (negatives below, ties ½, over n) and the
/// negatives' placement (positives above, ties ½, over m).
fn group_placements(r: &Ranked) -> (Vec<f64>, Vec<f64>) {
    let (m, n) = (r.n_pos as f64, r.n_neg as f64);
    let groups = r.values.len();
    let mut x = Vec::with_capacity(groups);
    let mut y = Vec::with_capacity(groups);
    let (mut nb, mut pb) = (0u64, 0u64);
    for g in 0..groups {
        let (p, q) = (r.pos_count[g] as u64, r.neg_count[g] as u64);
        x.push((2 * nb + q) as f64 / (2.0 * n));
        y.push(1.0 - (2 * pb + p) as f64 / (2.0 * m));
        nb += q;
        pb += p;
    }
    (x, y)
}

/// Self-check: the mean placement of either class is the AUC. A failure would be a
/// bug here, not a property of the data.
fn self_check(theta: f64, theta_y: f64, auc: f64) -> Result<(), EvalError> {
    let tol = 1e-9;
    if (theta - auc).abs() > tol || (theta_y - auc).abs() > tol {
        return Err(EvalError::InvalidArgument(format!(
            "DeLong self-check failed: mean placements {theta}, {theta_y} differ from AUC {auc}"
        )));
    }
    Ok(())
}

impl Placements {
    /// Placements of each case, in the order of `pos` and `neg`, with the self-check
    /// mean(V10) = mean(V01) = AUC.
    pub fn new(pos: &[f64], neg: &[f64]) -> Result<Self, EvalError> {
        let r = Ranked::from_split(pos, neg)?;
        let (x, y) = group_placements(&r);
        let v10: Vec<f64> = r.groups_of(pos).iter().map(|&g| x[g as usize]).collect();
        let v01: Vec<f64> = r.groups_of(neg).iter().map(|&g| y[g as usize]).collect();
        let theta = v10.iter().sum::<f64>() / pos.len() as f64;
        let theta_y = v01.iter().sum::<f64>() / neg.len() as f64;
        let auc = r.auc();
        self_check(theta, theta_y, auc)?;
        Ok(Self {
            auc,
            theta,
            v10,
            v01,
        })
    }
}

/// DeLong AUC and variance of one classifier from its score groups alone: O(groups)
/// after the sort, no per-case placements (cases in a group share their placement).
/// The variance is `None` when m < 2 or n < 2.
pub fn delong_single(r: &Ranked) -> Result<(f64, Option<f64>), EvalError> {
    let (m, n) = (r.n_pos as f64, r.n_neg as f64);
    // Two passes over the groups (mean, then squared deviations), placements computed
    // on the fly: no per-case or per-group arrays.
    let placements = || {
        let (mut nb, mut pb) = (0u64, 0u64);
        r.pos_count.iter().zip(&r.neg_count).map(move |(&p, &q)| {
            let (p, q) = (p as u64, q as u64);
            let x = (2 * nb + q) as f64 / (2.0 * n);
            let y = 1.0 - (2 * pb + p) as f64 / (2.0 * m);
            nb += q;
            pb += p;
            (p as f64, x, q as f64, y)
        })
    };
    let (mut sx, mut sy) = (0.0, 0.0);
    for (p, x, q, y) in placements() {
        sx += p * x;
        sy += q * y;
    }
    let (theta, theta_y) = (sx / m, sy / n);
    self_check(theta, theta_y, r.auc())?;
    if r.n_pos < 2 || r.n_neg < 2 {
        return Ok((theta, None));
    }
    let (mut s10, mut s01) = (0.0, 0.0);
    for (p, x, q, y) in placements() {
        s10 += p * (x - theta) * (x - theta);
        s01 += q * (y - theta) * (y - theta);
    }
    let s10 = s10 / (m - 1.0);
    let s01 = s01 / (n - 1.0);
    Ok((theta, Some(s10 / m + s01 / n)))
}

/// DeLong estimates for k classifiers scored on the same cases.
#[derive(Debug, Clone)]
pub struct DeLong {
    /// Number of positive cases (m).
    pub n_pos: usize,
    /// Number of negative cases (n).
    pub n_neg: usize,
    /// AUC of each classifier.
    pub aucs: Vec<f64>,
    /// k×k covariance matrix of the AUCs, row-major; `None` when m < 2 or n < 2
    /// (the sample covariances divide by m − 1 and n − 1).
    pub covariance: Option<Vec<f64>>,
}

impl DeLong {
    /// Number of classifiers.
    pub fn k(&self) -> usize {
        self.aucs.len()
    }

    /// Variance of the AUC of classifier `i`; `None` when undefined.
    pub fn variance(&self, i: usize) -> Option<f64> {
        self.covariance.as_ref().map(|c| c[i * self.k() + i])
    }

    /// Covariance of the AUCs of classifiers `i` and `j`; `None` when undefined.
    pub fn covariance(&self, i: usize, j: usize) -> Option<f64> {
        self.covariance.as_ref().map(|c| c[i * self.k() + j])
    }

    /// Confidence interval of AUC `i` as pROC's `ci.auc(method = "delong")`: normal
    /// around the AUC with sd = √variance, clipped to [0, 1]; `None` when undefined.
    pub fn ci(&self, i: usize, level: f64) -> Option<[f64; 2]> {
        let var = self.variance(i)?;
        Some(normal_ci(self.aucs[i], var, level))
    }
}

/// `auc ± qnorm((1 ± level)/2)·sd`, computed as R's `qnorm(p, mean, sd)`, clipped to [0, 1].
pub(crate) fn normal_ci(auc: f64, var: f64, level: f64) -> [f64; 2] {
    let sd = var.max(0.0).sqrt();
    let lo = auc + sd * qnorm((1.0 - level) / 2.0);
    let hi = auc + sd * qnorm(1.0 - (1.0 - level) / 2.0);
    [lo.clamp(0.0, 1.0), hi.clamp(0.0, 1.0)]
}

/// Sample covariance Σ (a_i − θa)(b_i − θb) / (len − 1).
fn sample_cov(a: &[f64], ta: f64, b: &[f64], tb: f64) -> f64 {
    let s: f64 = a.iter().zip(b).map(|(x, y)| (x - ta) * (y - tb)).sum();
    s / (a.len() as f64 - 1.0)
}

/// DeLong AUCs and covariance matrix for classifiers `scores[r]` on the same cases.
pub fn delong(labels: &[bool], scores: &[&[f64]]) -> Result<DeLong, EvalError> {
    if scores.is_empty() {
        return Err(EvalError::InvalidArgument("no classifier given".into()));
    }
    if scores.len() == 1 {
        let r = Ranked::new(labels, scores[0])?;
        let (_, var) = delong_single(&r)?;
        return Ok(DeLong {
            n_pos: r.n_pos,
            n_neg: r.n_neg,
            aucs: vec![r.auc()],
            covariance: var.map(|v| vec![v]),
        });
    }
    let mut pl = Vec::with_capacity(scores.len());
    for s in scores {
        let (pos, neg) = split(labels, s)?;
        pl.push(Placements::new(&pos, &neg)?);
    }
    Ok(delong_from_placements(&pl))
}

/// DeLong estimates from precomputed placements (same cases, same order).
pub fn delong_from_placements(pl: &[Placements]) -> DeLong {
    let k = pl.len();
    let m = pl[0].v10.len();
    let n = pl[0].v01.len();
    let covariance = (m >= 2 && n >= 2).then(|| {
        let mut c = vec![0.0; k * k];
        for r in 0..k {
            for s in r..k {
                let s10 = sample_cov(&pl[r].v10, pl[r].theta, &pl[s].v10, pl[s].theta);
                let s01 = sample_cov(&pl[r].v01, pl[r].theta, &pl[s].v01, pl[s].theta);
                let v = s10 / m as f64 + s01 / n as f64;
                c[r * k + s] = v;
                c[s * k + r] = v;
            }
        }
        c
    });
    DeLong {
        n_pos: m,
        n_neg: n,
        aucs: pl.iter().map(|p| p.auc).collect(),
        covariance,
    }
}

/// Paired DeLong test of two classifiers on the same cases.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PairedTest {
    /// AUC of the first classifier.
    pub auc_a: f64,
    /// AUC of the second classifier.
    pub auc_b: f64,
    /// `auc_a − auc_b`.
    pub difference: f64,
    /// Var(A − B) = Var A + Var B − 2 Cov; `None` when m < 2 or n < 2.
    pub variance: Option<f64>,
    /// z = difference / √variance (0 when both are 0; ±∞ when only the variance is 0).
    pub z: Option<f64>,
    /// Two-sided p-value 2·Φ(−|z|).
    pub p: Option<f64>,
}

/// pROC `roc.test(method = "delong", paired = TRUE)`: z and two-sided p. When the
/// difference and its variance are both 0 (identical or same-ranking models), z = 0
/// and p = 1, as pROC does.
pub fn delong_paired_test(labels: &[bool], a: &[f64], b: &[f64]) -> Result<PairedTest, EvalError> {
    if a.len() != b.len() {
        return Err(EvalError::LengthMismatch {
            what: "classifier A vs classifier B",
            left: a.len(),
            right: b.len(),
        });
    }
    let d = delong(labels, &[a, b])?;
    let (auc_a, auc_b) = (d.aucs[0], d.aucs[1]);
    // pROC's statistic uses the θ's (mean placements); they equal the AUCs.
    let difference = auc_a - auc_b;
    let variance = d.covariance.as_ref().map(|c| c[0] + c[3] - 2.0 * c[1]);
    let z = variance.map(|v| {
        let sd = v.max(0.0).sqrt();
        let z = difference / sd;
        if z.is_nan() && difference == 0.0 {
            0.0
        } else {
            z
        }
    });
    Ok(PairedTest {
        auc_a,
        auc_b,
        difference,
        variance,
        z,
        p: z.map(two_sided_p_normal),
    })
}

/// Unpaired DeLong comparison of two AUCs from different test sets.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct UnpairedTest {
    /// AUC on the first test set.
    pub auc_a: f64,
    /// AUC on the second test set.
    pub auc_b: f64,
    /// `auc_a − auc_b`.
    pub difference: f64,
    /// Welch-type statistic (difference / √(Var A + Var B)); `None` when undefined.
    pub statistic: Option<f64>,
    /// Welch–Satterthwaite degrees of freedom; `None` when undefined.
    pub df: Option<f64>,
    /// Two-sided p-value from Student's t with `df` degrees of freedom.
    pub p: Option<f64>,
}

/// pROC `roc.test(method = "delong", paired = FALSE)`: t = (A − B)/√(S_A + S_B) with
/// df = (S_A + S_B)² / (S_A²/(N_A − 1) + S_B²/(N_B − 1)), N the number of cases of each set.
pub fn delong_unpaired_test(
    labels_a: &[bool],
    scores_a: &[f64],
    labels_b: &[bool],
    scores_b: &[f64],
) -> Result<UnpairedTest, EvalError> {
    let da = delong(labels_a, &[scores_a])?;
    let db = delong(labels_b, &[scores_b])?;
    let (auc_a, auc_b) = (da.aucs[0], db.aucs[0]);
    let difference = auc_a - auc_b;
    let (mut statistic, mut df, mut p) = (None, None, None);
    if let (Some(sa), Some(sb)) = (da.variance(0), db.variance(0)) {
        let na = (da.n_pos + da.n_neg) as f64;
        let nb = (db.n_pos + db.n_neg) as f64;
        let t = difference / (sa + sb).sqrt();
        let f = (sa + sb).powi(2) / (sa * sa / (na - 1.0) + sb * sb / (nb - 1.0));
        if t.is_finite() && f.is_finite() {
            statistic = Some(t);
            df = Some(f);
            p = Some(two_sided_p_t(t, f));
        }
    }
    Ok(UnpairedTest {
        auc_a,
        auc_b,
        difference,
        statistic,
        df,
        p,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Quadratic-time DeLong from the definition, to check the fast algorithm.
    fn naive_var(pos: &[f64], neg: &[f64]) -> f64 {
        let psi = |x: f64, y: f64| {
            if x > y {
                1.0
            } else if x == y {
                0.5
            } else {
                0.0
            }
        };
        let m = pos.len() as f64;
        let n = neg.len() as f64;
        let v10: Vec<f64> = pos
            .iter()
            .map(|&x| neg.iter().map(|&y| psi(x, y)).sum::<f64>() / n)
            .collect();
        let v01: Vec<f64> = neg
            .iter()
            .map(|&y| pos.iter().map(|&x| psi(x, y)).sum::<f64>() / m)
            .collect();
        let th = v10.iter().sum::<f64>() / m;
        let s10 = v10.iter().map(|v| (v - th).powi(2)).sum::<f64>() / (m - 1.0);
        let s01 = v01.iter().map(|v| (v - th).powi(2)).sum::<f64>() / (n - 1.0);
        s10 / m + s01 / n
    }

    #[test]
    fn fast_matches_quadratic_definition_with_ties() {
        let labels = [true, true, true, false, false, false, false, true, false];
        let scores = [3.0, 2.0, 2.0, 2.0, 1.0, 0.0, 3.0, 5.0, 1.0];
        let d = delong(&labels, &[&scores]).unwrap();
        let (pos, neg) = split(&labels, &scores).unwrap();
        let v = naive_var(&pos, &neg);
        assert!((d.variance(0).unwrap() - v).abs() < 1e-15);
    }

    #[test]
    fn identical_models_give_z_zero_p_one() {
        let labels = [true, false, true, false, true];
        let a = [0.9, 0.1, 0.4, 0.5, 0.7];
        // A monotone transform ranks the same: difference and variance both 0.
        let b: Vec<f64> = a.iter().map(|x: &f64| x.exp()).collect();
        let t = delong_paired_test(&labels, &a, &b).unwrap();
        assert_eq!(t.z, Some(0.0));
        assert_eq!(t.p, Some(1.0));
    }

    #[test]
    fn single_positive_has_no_variance() {
        let d = delong(&[true, false, false], &[&[1.0, 0.0, 0.5]]).unwrap();
        assert_eq!(d.aucs[0], 1.0);
        assert_eq!(d.variance(0), None);
        assert_eq!(d.ci(0, 0.95), None);
    }

    #[test]
    fn ci_is_clipped() {
        assert_eq!(normal_ci(0.99, 0.01, 0.95)[1], 1.0);
        assert_eq!(normal_ci(0.01, 0.01, 0.95)[0], 0.0);
    }
}
