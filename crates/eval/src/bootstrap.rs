//! Stratified bootstrap of ROC statistics and a paired bootstrap test.
//!
//! Resampling: positives and negatives are resampled separately (stratified, as pROC
//! `boot.stratified = TRUE`), so every replicate has m positives and n negatives.
//!
//! Random numbers (documented so results can be reproduced elsewhere): one
//! `rand_chacha::ChaCha8Rng::seed_from_u64(seed)` stream; replicate b = 1..B draws, in
//! this order, m positive indices then n negative indices (positions in the class's
//! cases sorted by ascending score; input order for the paired test), each with
//! `Rng::random_range(0..len as u32)` (rand 0.9). Same seed, same data → same replicates.
//!
//! A replicate is represented by per-score-group counts, so the statistic costs
//! O(m + n + groups) with no re-sorting: the scores are sorted once.

use crate::dist::two_sided_p_normal;
use crate::roc::{auc_from_counts, split, Ranked, RocCurve};
use crate::EvalError;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Bootstrap settings.
#[derive(Debug, Clone, Copy)]
pub struct BootstrapOptions {
    /// Number of replicates B (default 2000).
    pub replicates: usize,
    /// Seed of the ChaCha8 stream (default 1).
    pub seed: u64,
    /// Confidence level of percentile intervals (default 0.95).
    pub level: f64,
}

impl Default for BootstrapOptions {
    fn default() -> Self {
        Self {
            replicates: 2000,
            seed: 1,
            level: 0.95,
        }
    }
}

impl BootstrapOptions {
    fn check(&self) -> Result<(), EvalError> {
        if self.replicates < 2 {
            return Err(EvalError::InvalidArgument(format!(
                "bootstrap needs at least 2 replicates, got {}",
                self.replicates
            )));
        }
        if !(self.level > 0.0 && self.level < 1.0) {
            return Err(EvalError::InvalidArgument(format!(
                "confidence level {} is not in (0, 1)",
                self.level
            )));
        }
        Ok(())
    }
}

/// A percentile interval with the bootstrap median.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct BootstrapCi {
    /// Lower percentile limit.
    pub lower: f64,
    /// Upper percentile limit.
    pub upper: f64,
    /// Median of the replicates.
    pub median: f64,
}

/// Quantile by R's default rule (type 7): h = (N − 1)p, linear between order
/// statistics ⌊h⌋ and ⌊h⌋ + 1. `sorted` must be ascending and non-empty.
pub fn quantile_type7(sorted: &[f64], p: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * p;
    let lo = h.floor();
    let i = lo as usize;
    if i + 1 >= sorted.len() {
        return sorted[sorted.len() - 1];
    }
    let frac = h - lo;
    // R: x[lo] + (h - lo) * (x[hi] - x[lo]); identical when the neighbours are equal.
    sorted[i] + frac * (sorted[i + 1] - sorted[i])
}

/// Percentile interval and median of replicate values (NaN replicates are dropped;
/// `None` if none remain).
pub fn percentile_ci(values: &[f64], level: f64) -> Option<BootstrapCi> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_unstable_by(f64::total_cmp);
    let a = (1.0 - level) / 2.0;
    Some(BootstrapCi {
        lower: quantile_type7(&v, a),
        upper: quantile_type7(&v, 1.0 - a),
        median: quantile_type7(&v, 0.5),
    })
}

/// Calls `stat(pos_counts, neg_counts)` on each stratified replicate of a ranked
/// classifier; the counts are per score group of `ranked` (ascending scores).
pub fn replicates<T>(
    ranked: &Ranked,
    opts: &BootstrapOptions,
    mut stat: impl FnMut(&[u32], &[u32]) -> T,
) -> Result<Vec<T>, EvalError> {
    opts.check()?;
    let groups = ranked.values.len();
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let mut cp = vec![0u32; groups];
    let mut cn = vec![0u32; groups];
    // Each class's cases as their groups, in ascending score order: a uniform draw of
    // a case is a uniform draw of a position here.
    let expand = |counts: &[u32]| -> Vec<u32> {
        let mut v = Vec::new();
        for (g, &c) in counts.iter().enumerate() {
            v.extend(std::iter::repeat_n(g as u32, c as usize));
        }
        v
    };
    let pos_group = expand(&ranked.pos_count);
    let neg_group = expand(&ranked.neg_count);
    let mut out = Vec::with_capacity(opts.replicates);
    // u32 ranges: half the random bits of usize ones (Ranked guarantees < 2^32 cases).
    let (m, n) = (ranked.n_pos as u32, ranked.n_neg as u32);
    for _ in 0..opts.replicates {
        cp.fill(0);
        cn.fill(0);
        for _ in 0..ranked.n_pos {
            cp[pos_group[rng.random_range(0..m) as usize] as usize] += 1;
        }
        for _ in 0..ranked.n_neg {
            cn[neg_group[rng.random_range(0..n) as usize] as usize] += 1;
        }
        out.push(stat(&cp, &cn));
    }
    Ok(out)
}

/// Stratified bootstrap percentile CI and median of the AUC.
pub fn bootstrap_ci(ranked: &Ranked, opts: &BootstrapOptions) -> Result<BootstrapCi, EvalError> {
    let (m, n) = (ranked.n_pos, ranked.n_neg);
    let aucs = replicates(ranked, opts, |p, q| auc_from_counts(p, q, m, n))?;
    percentile_ci(&aucs, opts.level)
        .ok_or_else(|| EvalError::InvalidArgument("no finite bootstrap replicate".into()))
}

/// Stratified bootstrap of any statistic of the replicate's ROC curve.
pub fn bootstrap_curve_statistic(
    ranked: &Ranked,
    opts: &BootstrapOptions,
    stat: impl Fn(&RocCurve) -> f64,
) -> Result<Vec<f64>, EvalError> {
    replicates(ranked, opts, |p, q| {
        stat(&RocCurve::from_counts(&ranked.values, p, q))
    })
}

/// Paired bootstrap test of the difference of two AUCs on the same cases.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BootstrapTest {
    /// AUC of the first classifier.
    pub auc_a: f64,
    /// AUC of the second classifier.
    pub auc_b: f64,
    /// `auc_a − auc_b`.
    pub difference: f64,
    /// Standard deviation of the replicate differences (n − 1 denominator).
    pub sd: f64,
    /// D = difference / sd (pROC `roc.test(method = "bootstrap")`); 0 when both are 0.
    pub z: Option<f64>,
    /// Two-sided p-value 2·Φ(−|D|).
    pub p: Option<f64>,
    /// Percentile interval of the difference.
    pub difference_ci: BootstrapCi,
}

/// Paired, stratified bootstrap test: each replicate resamples the cases once and
/// evaluates both classifiers on the same resample (same RNG scheme as
/// [`replicates`]; the drawn case indices are shared).
pub fn bootstrap_paired_test(
    labels: &[bool],
    a: &[f64],
    b: &[f64],
    opts: &BootstrapOptions,
) -> Result<BootstrapTest, EvalError> {
    opts.check()?;
    if a.len() != b.len() {
        return Err(EvalError::LengthMismatch {
            what: "classifier A vs classifier B",
            left: a.len(),
            right: b.len(),
        });
    }
    let (pa, na) = split(labels, a)?;
    let (pb, nb) = split(labels, b)?;
    let ra = Ranked::from_split(&pa, &na)?;
    let rb = Ranked::from_split(&pb, &nb)?;
    let (m, n) = (ra.n_pos, ra.n_neg);
    // Groups by case (input order), so that both classifiers see the same cases.
    let (gpa, gna) = (ra.groups_of(&pa), ra.groups_of(&na));
    let (gpb, gnb) = (rb.groups_of(&pb), rb.groups_of(&nb));
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let (mut cpa, mut cna) = (vec![0u32; ra.values.len()], vec![0u32; ra.values.len()]);
    let (mut cpb, mut cnb) = (vec![0u32; rb.values.len()], vec![0u32; rb.values.len()]);
    let mut diffs = Vec::with_capacity(opts.replicates);
    for _ in 0..opts.replicates {
        cpa.fill(0);
        cna.fill(0);
        cpb.fill(0);
        cnb.fill(0);
        for _ in 0..m {
            let i = rng.random_range(0..m as u32) as usize;
            cpa[gpa[i] as usize] += 1;
            cpb[gpb[i] as usize] += 1;
        }
        for _ in 0..n {
            let j = rng.random_range(0..n as u32) as usize;
            cna[gna[j] as usize] += 1;
            cnb[gnb[j] as usize] += 1;
        }
        diffs.push(auc_from_counts(&cpa, &cna, m, n) - auc_from_counts(&cpb, &cnb, m, n));
    }
    let (auc_a, auc_b) = (ra.auc(), rb.auc());
    let difference = auc_a - auc_b;
    let mean = diffs.iter().sum::<f64>() / diffs.len() as f64;
    let sd =
        (diffs.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / (diffs.len() as f64 - 1.0)).sqrt();
    let z = difference / sd;
    let z = if z.is_nan() {
        (difference == 0.0).then_some(0.0)
    } else {
        Some(z)
    };
    let difference_ci = percentile_ci(&diffs, opts.level)
        .ok_or_else(|| EvalError::InvalidArgument("no finite bootstrap replicate".into()))?;
    Ok(BootstrapTest {
        auc_a,
        auc_b,
        difference,
        sd,
        z,
        p: z.map(two_sided_p_normal),
        difference_ci,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type7_quantiles_match_r() {
        // R: quantile(c(1, 2, 3, 4, 10), c(0.025, 0.5, 0.975)) = 1.1, 3, 9.4
        let v = [1.0, 2.0, 3.0, 4.0, 10.0];
        assert!((quantile_type7(&v, 0.025) - 1.1).abs() < 1e-12);
        assert_eq!(quantile_type7(&v, 0.5), 3.0);
        assert!((quantile_type7(&v, 0.975) - 9.4).abs() < 1e-12);
        assert_eq!(quantile_type7(&v, 1.0), 10.0);
        assert_eq!(quantile_type7(&[7.0], 0.3), 7.0);
    }

    #[test]
    fn replicates_are_stratified_and_deterministic() {
        let labels: Vec<bool> = (0..30).map(|i| i % 3 == 0).collect();
        let scores: Vec<f64> = (0..30).map(|i| ((i * 7) % 11) as f64).collect();
        let r = Ranked::new(&labels, &scores).unwrap();
        let opts = BootstrapOptions {
            replicates: 50,
            ..Default::default()
        };
        let sizes = replicates(&r, &opts, |p, q| {
            (p.iter().sum::<u32>(), q.iter().sum::<u32>())
        })
        .unwrap();
        assert!(sizes.iter().all(|&(p, q)| p == 10 && q == 20));
        let a = bootstrap_ci(&r, &opts).unwrap();
        let b = bootstrap_ci(&r, &opts).unwrap();
        assert_eq!(a, b);
        let c = bootstrap_ci(&r, &BootstrapOptions { seed: 2, ..opts }).unwrap();
        assert_ne!(a, c);
    }

    #[test]
    fn paired_test_of_same_model_is_null() {
        let labels: Vec<bool> = (0..40).map(|i| i % 2 == 0).collect();
        let s: Vec<f64> = (0..40)
            .map(|i| (i % 7) as f64 + if i % 2 == 0 { 1.5 } else { 0.0 })
            .collect();
        let t = bootstrap_paired_test(&labels, &s, &s, &BootstrapOptions::default()).unwrap();
        assert_eq!(t.difference, 0.0);
        assert_eq!(t.z, Some(0.0));
        assert_eq!(t.p, Some(1.0));
    }
}
