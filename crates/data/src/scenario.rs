//! The study's six classification scenarios, each a mapping from labels to classes.
//!
//! Binary scenarios have two classes: index 0 is the reference class, index 1 the
//! **positive** class (the one a score is the probability of, and the one an ROC curve
//! ranks first). The positive class is the first-named group, except in
//! `negative-vs-benign` (the study's scenario 4, "negative vs recalled-benign"), where
//! it is recalled-benign: the question there is "would this negative-looking image be
//! recalled", so benign is the finding to detect, as in `benign-vs-rest`.
//!
//! Balancing ([`balance`]) down-samples every class to the size of the smallest one,
//! at random from a seed, as the study's Table 1 ("classes are balanced per category").

use crate::Label;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// One of the six scenarios.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// 1. malignant vs (recalled-benign + negative).
    MalignantVsRest,
    /// 2. malignant vs negative.
    MalignantVsNegative,
    /// 3. malignant vs recalled-benign.
    MalignantVsBenign,
    /// 4. negative vs recalled-benign (positive: recalled-benign).
    NegativeVsBenign,
    /// 5. recalled-benign vs (malignant + negative).
    BenignVsRest,
    /// 6. negative vs recalled-benign vs malignant.
    ThreeClass,
    /// Not one of the study's six: abnormal (recalled-benign + malignant) vs negative,
    /// the screening question "is there any finding" (positive: abnormal).
    AbnormalVsNegative,
}

impl Scenario {
    /// All six, in the study's order.
    pub const ALL: [Scenario; 6] = [
        Scenario::MalignantVsRest,
        Scenario::MalignantVsNegative,
        Scenario::MalignantVsBenign,
        Scenario::NegativeVsBenign,
        Scenario::BenignVsRest,
        Scenario::ThreeClass,
    ];

    /// Every scenario the tool knows: the study's six, then the extra ones.
    pub const KNOWN: [Scenario; 7] = [
        Scenario::MalignantVsRest,
        Scenario::MalignantVsNegative,
        Scenario::MalignantVsBenign,
        Scenario::NegativeVsBenign,
        Scenario::BenignVsRest,
        Scenario::ThreeClass,
        Scenario::AbnormalVsNegative,
    ];

    /// The name used on the command line and in files.
    pub fn as_str(self) -> &'static str {
        match self {
            Scenario::MalignantVsRest => "malignant-vs-rest",
            Scenario::MalignantVsNegative => "malignant-vs-negative",
            Scenario::MalignantVsBenign => "malignant-vs-benign",
            Scenario::NegativeVsBenign => "negative-vs-benign",
            Scenario::BenignVsRest => "benign-vs-rest",
            Scenario::ThreeClass => "three-class",
            Scenario::AbnormalVsNegative => "abnormal-vs-negative",
        }
    }

    /// The class names, by class index.
    pub fn class_names(self) -> &'static [&'static str] {
        match self {
            Scenario::MalignantVsRest => &["benign+negative", "malignant"],
            Scenario::MalignantVsNegative => &["negative", "malignant"],
            Scenario::MalignantVsBenign => &["benign", "malignant"],
            Scenario::NegativeVsBenign => &["negative", "benign"],
            Scenario::BenignVsRest => &["malignant+negative", "benign"],
            Scenario::ThreeClass => &["negative", "benign", "malignant"],
            Scenario::AbnormalVsNegative => &["negative", "abnormal"],
        }
    }

    /// Number of classes.
    pub fn n_classes(self) -> usize {
        self.class_names().len()
    }

    /// The positive class of a binary scenario (always 1); `None` for three-class.
    pub fn positive_class(self) -> Option<usize> {
        (self != Scenario::ThreeClass).then_some(1)
    }

    /// The class of a label, or `None` when the scenario leaves the label out.
    pub fn class_of(self, label: Label) -> Option<usize> {
        use Label::*;
        match (self, label) {
            (Scenario::MalignantVsRest, Malignant) => Some(1),
            (Scenario::MalignantVsRest, _) => Some(0),
            (Scenario::MalignantVsNegative, Malignant) => Some(1),
            (Scenario::MalignantVsNegative, Negative) => Some(0),
            (Scenario::MalignantVsBenign, Malignant) => Some(1),
            (Scenario::MalignantVsBenign, Benign) => Some(0),
            (Scenario::NegativeVsBenign, Benign) => Some(1),
            (Scenario::NegativeVsBenign, Negative) => Some(0),
            (Scenario::BenignVsRest, Benign) => Some(1),
            (Scenario::BenignVsRest, _) => Some(0),
            (Scenario::ThreeClass, l) => Some(l as usize),
            (Scenario::AbnormalVsNegative, Negative) => Some(0),
            (Scenario::AbnormalVsNegative, _) => Some(1),
            _ => None,
        }
    }

    /// The classes of a list of labels: `(index into labels, class)` for the labels the
    /// scenario keeps, in input order.
    pub fn select(self, labels: &[Label]) -> Vec<(usize, usize)> {
        labels
            .iter()
            .enumerate()
            .filter_map(|(i, &l)| self.class_of(l).map(|c| (i, c)))
            .collect()
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scenario {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scenario::KNOWN
            .into_iter()
            .find(|x| x.as_str() == s.trim())
            .ok_or_else(|| {
                let names: Vec<&str> = Scenario::KNOWN.iter().map(|x| x.as_str()).collect();
                format!(
                    "unknown scenario '{s}' (expected one of {})",
                    names.join(", ")
                )
            })
    }
}

/// Down-samples `items` (`(item, class)` pairs) so every class of `0..n_classes` that is
/// present keeps as many items as the smallest present class; which ones is drawn from
/// `seed`. The result keeps the input order.
pub fn balance(items: &[(usize, usize)], n_classes: usize, seed: u64) -> Vec<(usize, usize)> {
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); n_classes];
    for (pos, &(_, c)) in items.iter().enumerate() {
        if c < n_classes {
            by_class[c].push(pos);
        }
    }
    let Some(keep) = by_class.iter().map(Vec::len).filter(|&n| n > 0).min() else {
        return Vec::new();
    };
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut chosen: Vec<usize> = Vec::new();
    for positions in &mut by_class {
        positions.shuffle(&mut rng);
        chosen.extend(positions.iter().take(keep));
    }
    chosen.sort_unstable();
    chosen.into_iter().map(|p| items[p]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in Scenario::KNOWN {
            assert_eq!(s.as_str().parse::<Scenario>(), Ok(s));
            assert_eq!(s.to_string(), s.as_str());
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
            assert_eq!(serde_json::from_str::<Scenario>(&json).unwrap(), s);
        }
        assert!("malignant-vs-all".parse::<Scenario>().is_err());
    }

    #[test]
    fn mappings() {
        use Label::*;
        let table = [
            (Scenario::MalignantVsRest, [Some(0), Some(0), Some(1)]),
            (Scenario::MalignantVsNegative, [Some(0), None, Some(1)]),
            (Scenario::MalignantVsBenign, [None, Some(0), Some(1)]),
            (Scenario::NegativeVsBenign, [Some(0), Some(1), None]),
            (Scenario::BenignVsRest, [Some(0), Some(1), Some(0)]),
            (Scenario::ThreeClass, [Some(0), Some(1), Some(2)]),
            (Scenario::AbnormalVsNegative, [Some(0), Some(1), Some(1)]),
        ];
        for (s, want) in table {
            let got: Vec<Option<usize>> = [Negative, Benign, Malignant]
                .iter()
                .map(|&l| s.class_of(l))
                .collect();
            assert_eq!(got, want, "{s}");
            for c in got.into_iter().flatten() {
                assert!(c < s.n_classes());
            }
        }
        assert_eq!(Scenario::NegativeVsBenign.class_names()[1], "benign");
        assert_eq!(Scenario::MalignantVsRest.class_names()[1], "malignant");
        assert_eq!(Scenario::ThreeClass.positive_class(), None);
        assert_eq!(
            Scenario::MalignantVsBenign.select(&[Negative, Malignant, Benign]),
            vec![(1, 1), (2, 0)]
        );
    }

    #[test]
    fn balancing_is_per_class_and_seeded() {
        let items: Vec<(usize, usize)> = (0..100).map(|i| (i, usize::from(i % 10 == 0))).collect();
        let b = balance(&items, 2, 7);
        assert_eq!(b.len(), 20);
        assert_eq!(b.iter().filter(|x| x.1 == 1).count(), 10);
        assert!(b.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(b, balance(&items, 2, 7));
        assert_ne!(b, balance(&items, 2, 8));
        // A missing class does not empty the others.
        let only0: Vec<(usize, usize)> = (0..5).map(|i| (i, 0)).collect();
        assert_eq!(balance(&only0, 2, 1).len(), 5);
    }
}
