//! Evaluation statistics: ROC, AUC, DeLong, bootstrap, multi-class AUC, operating points.
//!
//! Conventions, shared by every function here and matched against R's pROC and
//! scikit-learn (see `fixtures/`):
//! - a higher score means the positive class; there is no automatic flipping
//!   (pROC `direction = "<"`);
//! - `-0.0` and `0.0` are the same score; NaN scores are rejected; ±∞ are ordinary
//!   extreme scores;
//! - ties count ½ (midranks), so the AUC is the Mann–Whitney statistic.
//!
//! The statistics have no plotting or I/O dependency; figures live in [`plot`].

pub mod bootstrap;
pub mod coords;
pub mod delong;
pub mod dist;
pub mod multiclass;
pub mod operating;
pub mod plot;
pub mod roc;

pub use bootstrap::{bootstrap_ci, bootstrap_paired_test, BootstrapCi, BootstrapOptions};
pub use coords::{sensitivity_at_specificity, specificity_at_sensitivity, AtTarget};
pub use delong::{
    delong, delong_paired_test, delong_unpaired_test, DeLong, PairedTest, UnpairedTest,
};
pub use multiclass::{hand_till, MulticlassAuc, PairAuc};
pub use roc::{auc, Ranked, RocCurve, RocPoint};

/// Why a statistic could not be computed from the given input.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EvalError {
    /// Labels and scores (or two classifiers) do not have the same number of cases.
    #[error("length mismatch: {what} ({left} vs {right})")]
    LengthMismatch {
        /// What was compared.
        what: &'static str,
        /// First length.
        left: usize,
        /// Second length.
        right: usize,
    },
    /// A score is NaN; `index` is the 0-based case index.
    #[error("score of case {index} is NaN")]
    NanScore {
        /// 0-based index of the case.
        index: usize,
    },
    /// Only one of the two classes is present.
    #[error("only one class present ({n_positive} positive, {n_negative} negative cases)")]
    OneClass {
        /// Number of positive cases.
        n_positive: usize,
        /// Number of negative cases.
        n_negative: usize,
    },
    /// An argument is outside its domain (a target rate outside [0, 1], B = 0, …).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}
