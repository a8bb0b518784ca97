//! The study's published AUCs (Aboutalib et al. 2018, on its own private FFDM data and
//! DDSM), shown beside ours and always labelled as the study's figures.

use data::Scenario;

use crate::config::Published;

/// A published AUC with its 95% CI where the paper gives one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PublishedAuc {
    /// The AUC.
    pub auc: f64,
    /// 95% CI.
    pub ci: Option<[f64; 2]>,
    /// DeLong p-value against the ImageNet-only FFDM model (incremental column only).
    pub p: Option<f64>,
}

const fn a(auc: f64, lo: f64, hi: f64) -> Option<PublishedAuc> {
    Some(PublishedAuc {
        auc,
        ci: Some([lo, hi]),
        p: None,
    })
}

const fn ap(auc: f64, ci: Option<[f64; 2]>, p: f64) -> Option<PublishedAuc> {
    Some(PublishedAuc {
        auc,
        ci,
        p: Some(p),
    })
}

const fn plain(auc: f64) -> Option<PublishedAuc> {
    Some(PublishedAuc {
        auc,
        ci: None,
        p: None,
    })
}

/// The study's AUC for `scenario` in column `column` (three-class: mean pairwise AUC).
pub fn auc(column: Published, scenario: Scenario) -> Option<PublishedAuc> {
    use Published::*;
    use Scenario::*;
    match (scenario, column) {
        (MalignantVsRest, FfdmOnly) => a(0.70, 0.60, 0.80),
        (MalignantVsRest, DdsmOnly) => a(0.77, 0.70, 0.84),
        (MalignantVsRest, Mixed) => a(0.76, 0.70, 0.82),
        (MalignantVsRest, Incremental) => ap(0.74, None, 0.15),
        (MalignantVsNegative, FfdmOnly) => a(0.75, 0.65, 0.84),
        (MalignantVsNegative, DdsmOnly) => a(0.93, 0.89, 0.97),
        (MalignantVsNegative, Mixed) => a(0.84, 0.79, 0.88),
        (MalignantVsNegative, Incremental) => ap(0.77, Some([0.68, 0.87]), 0.30),
        (MalignantVsBenign, FfdmOnly) => a(0.74, 0.65, 0.84),
        (MalignantVsBenign, DdsmOnly) => a(0.78, 0.71, 0.85),
        (MalignantVsBenign, Mixed) => a(0.76, 0.70, 0.82),
        (MalignantVsBenign, Incremental) => ap(0.80, Some([0.71, 0.88]), 0.10),
        (NegativeVsBenign, FfdmOnly) => a(0.81, 0.75, 0.88),
        (NegativeVsBenign, DdsmOnly) => a(0.96, 0.94, 0.98),
        (NegativeVsBenign, Mixed) => a(0.91, 0.89, 0.94),
        (NegativeVsBenign, Incremental) => ap(0.83, Some([0.76, 0.87]), 0.34),
        (BenignVsRest, FfdmOnly) => a(0.76, 0.67, 0.86),
        (BenignVsRest, DdsmOnly) => a(0.83, 0.77, 0.89),
        (BenignVsRest, Mixed) => a(0.78, 0.73, 0.83),
        (BenignVsRest, Incremental) => ap(0.79, Some([0.70, 0.87]), 0.31),
        (ThreeClass, FfdmOnly) => plain(0.66),
        (ThreeClass, DdsmOnly) => plain(0.85),
        (ThreeClass, Mixed) => plain(0.79),
        (ThreeClass, Incremental) => plain(0.68),
        // Not a scenario of the study.
        (AbnormalVsNegative, _) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_studys_table() {
        assert_eq!(
            auc(Published::DdsmOnly, Scenario::MalignantVsNegative)
                .unwrap()
                .auc,
            0.93
        );
        assert_eq!(
            auc(Published::Incremental, Scenario::MalignantVsBenign)
                .unwrap()
                .p,
            Some(0.10)
        );
        assert_eq!(
            auc(Published::Mixed, Scenario::ThreeClass).unwrap().ci,
            None
        );
    }
}
