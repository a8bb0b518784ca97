//! Property tests: invariances of the AUC, the fast DeLong variance against its
//! quadratic-time definition, and coverage sanity of the bootstrap CI.

use eval::bootstrap::{bootstrap_ci, BootstrapOptions};
use eval::{auc, delong, delong_paired_test, Ranked};
use proptest::prelude::*;

/// Labels with both classes and scores on a grid of eighths (ties likely).
fn cases(max: usize) -> impl Strategy<Value = (Vec<bool>, Vec<f64>)> {
    (2..max).prop_flat_map(|n| {
        (
            proptest::collection::vec(any::<bool>(), n),
            proptest::collection::vec(-400i32..400, n),
        )
            .prop_map(|(mut l, s)| {
                l[0] = true;
                l[1] = false;
                (l, s.into_iter().map(|v| v as f64 / 8.0).collect())
            })
    })
}

fn quadratic_variance(labels: &[bool], s: &[f64]) -> Option<f64> {
    let pos: Vec<f64> = labels
        .iter()
        .zip(s)
        .filter(|p| *p.0)
        .map(|p| *p.1)
        .collect();
    let neg: Vec<f64> = labels
        .iter()
        .zip(s)
        .filter(|p| !*p.0)
        .map(|p| *p.1)
        .collect();
    let (m, n) = (pos.len() as f64, neg.len() as f64);
    if pos.len() < 2 || neg.len() < 2 {
        return None;
    }
    let psi = |x: f64, y: f64| {
        if x > y {
            1.0
        } else if x == y {
            0.5
        } else {
            0.0
        }
    };
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
    Some(s10 / m + s01 / n)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn auc_is_invariant_under_monotone_transforms((labels, s) in cases(60)) {
        let a = auc(&labels, &s).unwrap();
        let affine: Vec<f64> = s.iter().map(|x| 3.0 * x + 7.0).collect();
        let exp: Vec<f64> = s.iter().map(|x| (x / 10.0).exp()).collect();
        let cube: Vec<f64> = s.iter().map(|x| x * x * x).collect();
        prop_assert_eq!(auc(&labels, &affine).unwrap(), a);
        prop_assert_eq!(auc(&labels, &exp).unwrap(), a);
        prop_assert_eq!(auc(&labels, &cube).unwrap(), a);
    }

    #[test]
    fn negated_scores_give_one_minus_auc((labels, s) in cases(60)) {
        let a = auc(&labels, &s).unwrap();
        let neg: Vec<f64> = s.iter().map(|x| -x).collect();
        prop_assert!((auc(&labels, &neg).unwrap() - (1.0 - a)).abs() < 1e-15);
        // Swapping the classes does the same.
        let flipped: Vec<bool> = labels.iter().map(|l| !l).collect();
        prop_assert!((auc(&flipped, &s).unwrap() - (1.0 - a)).abs() < 1e-15);
    }

    #[test]
    fn auc_equals_trapezoid_area((labels, s) in cases(60)) {
        let r = Ranked::new(&labels, &s).unwrap();
        prop_assert!((r.curve().trapezoid_auc() - r.auc()).abs() < 1e-12);
    }

    #[test]
    fn fast_delong_matches_definition((labels, s) in cases(40)) {
        let d = delong(&labels, &[&s]).unwrap();
        match (d.variance(0), quadratic_variance(&labels, &s)) {
            (Some(f), Some(q)) => prop_assert!((f - q).abs() <= 1e-12 * q.abs().max(1e-12)),
            (None, None) => {}
            (f, q) => prop_assert!(false, "fast {:?} vs quadratic {:?}", f, q),
        }
    }

    #[test]
    fn paired_test_is_antisymmetric((labels, s) in cases(40), shift in proptest::collection::vec(-8i32..8, 40)) {
        let b: Vec<f64> = s.iter().zip(shift.iter().cycle()).map(|(x, d)| x + *d as f64 / 4.0).collect();
        let ab = delong_paired_test(&labels, &s, &b).unwrap();
        let ba = delong_paired_test(&labels, &b, &s).unwrap();
        match (ab.z, ba.z) {
            (Some(x), Some(y)) if x.is_finite() => {
                prop_assert!((x + y).abs() < 1e-9);
                prop_assert!((ab.p.unwrap() - ba.p.unwrap()).abs() < 1e-12);
            }
            _ => {}
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// With ≥ 30 cases per class and continuous scores the bootstrap distribution is
    /// centred near the estimate, so the 95% percentile CI must contain it.
    #[test]
    fn bootstrap_ci_contains_auc(seed in any::<u64>(), m in 30usize..80, n in 30usize..120, shift in 0.0f64..1.5) {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        // Sum of uniforms: smooth, continuous scores.
        let mut draw = |mu: f64| mu + (0..6).map(|_| rng.random::<f64>()).sum::<f64>() - 3.0;
        let pos: Vec<f64> = (0..m).map(|_| draw(shift)).collect();
        let neg: Vec<f64> = (0..n).map(|_| draw(0.0)).collect();
        let r = Ranked::from_split(&pos, &neg).unwrap();
        let ci = bootstrap_ci(&r, &BootstrapOptions { replicates: 500, seed, level: 0.95 }).unwrap();
        let a = r.auc();
        prop_assert!(ci.lower <= a && a <= ci.upper, "AUC {} outside [{}, {}]", a, ci.lower, ci.upper);
        prop_assert!(ci.lower <= ci.median && ci.median <= ci.upper);
    }
}
