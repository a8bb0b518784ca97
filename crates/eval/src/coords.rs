//! Specificity at a target sensitivity and sensitivity at a target specificity, in the
//! two conventions a reader meets: the best attainable value (a real operating point)
//! and pROC's linear interpolation (`coords(x = target, input = "sensitivity")`).

use crate::bootstrap::{percentile_ci, BootstrapCi, BootstrapOptions};
use crate::roc::{Ranked, RocCurve};
use crate::EvalError;

/// A rate read off the ROC curve at a target value of the other rate.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct AtTarget {
    /// The target (sensitivity or specificity) that was asked for.
    pub target: f64,
    /// Best attainable: the maximum of the other rate over ROC points meeting the target.
    pub best: f64,
    /// Threshold of that best point (score ≥ threshold → positive).
    pub threshold: f64,
    /// pROC's value: the other rate at the target itself, linear between the two
    /// neighbouring ROC points (exact when a point has the target value).
    pub interpolated: f64,
}

fn check_target(target: f64) -> Result<(), EvalError> {
    if (0.0..=1.0).contains(&target) {
        Ok(())
    } else {
        Err(EvalError::InvalidArgument(format!(
            "target rate {target} is not in [0, 1]"
        )))
    }
}

/// Specificity at a target sensitivity.
pub fn specificity_at_sensitivity(curve: &RocCurve, target: f64) -> Result<AtTarget, EvalError> {
    check_target(target)?;
    let p = &curve.points;
    // Sensitivity rises along the curve and the last point has sensitivity 1, so the
    // first point meeting the target exists and has the highest specificity of those.
    let k = p
        .iter()
        .position(|q| q.sensitivity >= target)
        .unwrap_or(p.len() - 1);
    let best = p[k].specificity;
    let interpolated = if p[k].sensitivity == target || k == 0 {
        // pROC takes, among equal sensitivities, the point of highest threshold.
        best
    } else {
        // pROC: next = the point below the target, next − 1 the one above it.
        let (next, prev) = (&p[k - 1], &p[k]);
        let proportion = (target - next.sensitivity) / (prev.sensitivity - next.sensitivity);
        next.specificity + proportion * (prev.specificity - next.specificity)
    };
    Ok(AtTarget {
        target,
        best,
        threshold: p[k].threshold,
        interpolated,
    })
}

/// Sensitivity at a target specificity.
pub fn sensitivity_at_specificity(curve: &RocCurve, target: f64) -> Result<AtTarget, EvalError> {
    check_target(target)?;
    let p = &curve.points;
    // Specificity falls along the curve; the last point meeting the target has the
    // highest sensitivity of those (the first point has specificity 1).
    let k = p.iter().rposition(|q| q.specificity >= target).unwrap_or(0);
    let best = p[k].sensitivity;
    let interpolated = if p[k].specificity == target || k + 1 == p.len() {
        best
    } else {
        let (next, prev) = (&p[k], &p[k + 1]);
        // pROC: next = first (ascending threshold order) point with specificity above the
        // target, next − 1 the one below it.
        let proportion = (target - next.specificity) / (prev.specificity - next.specificity);
        next.sensitivity + proportion * (prev.sensitivity - next.sensitivity)
    };
    Ok(AtTarget {
        target,
        best,
        threshold: p[k].threshold,
        interpolated,
    })
}

/// Bootstrap percentile CIs of both conventions of a rate at a target.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct AtTargetCi {
    /// CI of the best attainable value.
    pub best: Option<BootstrapCi>,
    /// CI of the interpolated value.
    pub interpolated: Option<BootstrapCi>,
}

/// Which rate is fixed at the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fixed {
    /// Sensitivity fixed; specificity read.
    Sensitivity,
    /// Specificity fixed; sensitivity read.
    Specificity,
}

/// Stratified bootstrap CIs (see [`crate::bootstrap`]) of [`specificity_at_sensitivity`]
/// or [`sensitivity_at_specificity`], both conventions from the same replicates.
pub fn bootstrap_at_target(
    ranked: &Ranked,
    fixed: Fixed,
    target: f64,
    opts: &BootstrapOptions,
) -> Result<AtTargetCi, EvalError> {
    check_target(target)?;
    let read = |c: &RocCurve| match fixed {
        Fixed::Sensitivity => specificity_at_sensitivity(c, target),
        Fixed::Specificity => sensitivity_at_specificity(c, target),
    };
    let mut best = Vec::with_capacity(opts.replicates);
    let mut interp = Vec::with_capacity(opts.replicates);
    crate::bootstrap::replicates(ranked, opts, |p, q| {
        let c = RocCurve::from_counts(&ranked.values, p, q);
        if let Ok(a) = read(&c) {
            best.push(a.best);
            interp.push(a.interpolated);
        }
    })?;
    Ok(AtTargetCi {
        best: percentile_ci(&best, opts.level),
        interpolated: percentile_ci(&interp, opts.level),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn curve() -> RocCurve {
        // Positives 4, 3, 2, 1; negatives 3.5, 2.5, 0.5, 0.
        let labels = [true, true, true, true, false, false, false, false];
        let scores = [4.0, 3.0, 2.0, 1.0, 3.5, 2.5, 0.5, 0.0];
        RocCurve::new(&labels, &scores).unwrap()
    }

    #[test]
    fn best_and_interpolated_specificity() {
        let c = curve();
        // Sensitivity 0.5 is reached at threshold 3 with specificity 0.75.
        let a = specificity_at_sensitivity(&c, 0.5).unwrap();
        assert_eq!((a.best, a.interpolated, a.threshold), (0.75, 0.75, 3.0));
        // Between se 0.5 and 0.75 the curve is flat at sp 0.5 (pROC interpolates
        // towards the point of the next group, here equal).
        let a = specificity_at_sensitivity(&c, 0.6).unwrap();
        assert_eq!((a.best, a.interpolated), (0.5, 0.5));
        // A tie across classes makes a diagonal segment: pos {2, 1}, neg {2, 0}.
        let d = RocCurve::new(&[true, true, false, false], &[2.0, 1.0, 2.0, 0.0]).unwrap();
        let a = specificity_at_sensitivity(&d, 0.25).unwrap();
        assert_eq!((a.best, a.interpolated), (0.5, 0.75));
        assert_eq!(specificity_at_sensitivity(&c, 1.0).unwrap().best, 0.5);
        assert!(specificity_at_sensitivity(&c, 1.1).is_err());
    }

    #[test]
    fn best_and_interpolated_sensitivity() {
        let c = curve();
        let a = sensitivity_at_specificity(&c, 0.6).unwrap();
        assert_eq!((a.best, a.interpolated), (0.5, 0.5));
        let d = RocCurve::new(&[true, true, false, false], &[2.0, 1.0, 2.0, 0.0]).unwrap();
        let a = sensitivity_at_specificity(&d, 0.75).unwrap();
        assert_eq!((a.best, a.interpolated), (0.0, 0.25));
        assert_eq!(sensitivity_at_specificity(&c, 0.0).unwrap().best, 1.0);
    }
}
