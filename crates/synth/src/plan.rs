//! What each synthetic patient is: label, breast density, breast shapes and the one
//! finding, drawn from a per-patient random stream so that every image of a patient can
//! be rendered independently (in parallel) and still agree with its siblings.

use crate::{mix, SynthConfig};
use data::Label;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Which breast.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Laterality {
    /// Left breast: chest wall at the image's left edge.
    L,
    /// Right breast: chest wall at the image's right edge.
    R,
}

/// Which projection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum View {
    /// Cranio-caudal.
    CC,
    /// Medio-lateral oblique (shows the pectoral muscle).
    MLO,
}

impl Laterality {
    /// Both, in file order.
    pub const BOTH: [Laterality; 2] = [Laterality::L, Laterality::R];
    /// `L` or `R`.
    pub fn as_str(self) -> &'static str {
        match self {
            Laterality::L => "L",
            Laterality::R => "R",
        }
    }
}

impl View {
    /// Both, in file order.
    pub const BOTH: [View; 2] = [View::CC, View::MLO];
    /// `CC` or `MLO`.
    pub fn as_str(self) -> &'static str {
        match self {
            View::CC => "CC",
            View::MLO => "MLO",
        }
    }
}

/// The kind of finding drawn into the affected breast.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Finding {
    /// No finding (negative patients, and the contralateral breast).
    None,
    /// Malignant: a mass with an irregular core and radiating spicules.
    SpiculatedMass,
    /// Malignant: an irregular mass with ill-defined margins.
    IrregularMass,
    /// Malignant: a tight cluster of small calcifications of varied shape (dots, rods,
    /// branches).
    PleomorphicCalcifications,
    /// Benign: a round or oval mass with a sharp margin.
    CircumscribedMass,
    /// Benign: a few large, smooth, dense calcifications scattered over a wide area.
    CoarseCalcifications,
    /// Benign: a broad, faint area of extra fibroglandular density without a margin.
    FocalAsymmetry,
}

impl Finding {
    /// The malignant kinds.
    pub const MALIGNANT: [Finding; 3] = [
        Finding::SpiculatedMass,
        Finding::IrregularMass,
        Finding::PleomorphicCalcifications,
    ];
    /// The recalled-benign kinds.
    pub const BENIGN: [Finding; 3] = [
        Finding::CircumscribedMass,
        Finding::CoarseCalcifications,
        Finding::FocalAsymmetry,
    ];

    /// Name as written in the `finding` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Finding::None => "none",
            Finding::SpiculatedMass => "spiculated_mass",
            Finding::IrregularMass => "irregular_mass",
            Finding::PleomorphicCalcifications => "pleomorphic_calcifications",
            Finding::CircumscribedMass => "circumscribed_mass",
            Finding::CoarseCalcifications => "coarse_calcifications",
            Finding::FocalAsymmetry => "focal_asymmetry",
        }
    }

    /// The reading category an image with this finding carries.
    pub fn label(self) -> Label {
        match self {
            Finding::None => Label::Negative,
            Finding::SpiculatedMass
            | Finding::IrregularMass
            | Finding::PleomorphicCalcifications => Label::Malignant,
            _ => Label::Benign,
        }
    }
}

/// Shape of one breast, shared by its two views (each view adds its own projection).
#[derive(Debug, Clone, PartialEq)]
pub struct BreastShape {
    /// Chest-wall-to-nipple depth in the CC view, as a fraction of the image width.
    pub depth: f64,
    /// Half the breast's extent along the chest wall in the CC view, fraction of height.
    pub half_height: f64,
    /// Superellipse exponent of the outline (2 = ellipse; larger = fuller).
    pub exponent: f64,
    /// Outline wobble: amplitude and phase of angular harmonics 2, 3, 4, 5.
    pub harmonics: [(f64, f64); 4],
}

/// The finding of an abnormal patient.
#[derive(Debug, Clone, PartialEq)]
pub struct LesionPlan {
    /// Kind of finding.
    pub finding: Finding,
    /// The breast it lives in.
    pub laterality: Laterality,
    /// Depth from the chest wall as a fraction of the breast depth (0..1).
    pub u: f64,
    /// Position across the breast, −1 (top) .. 1 (bottom), as a fraction of the half
    /// extent at that depth.
    pub v: f64,
    /// Characteristic radius in pixels (mass radius, cluster radius, …).
    pub radius: f64,
    /// Contrast in attenuation units (masses) or glandular fraction (asymmetry) or peak
    /// speck attenuation (calcifications).
    pub contrast: f64,
    /// Seed of the lesion's own shape, shared by its CC and MLO appearance.
    pub shape_seed: u64,
}

/// Everything random about one patient that all four images must agree on.
#[derive(Debug, Clone, PartialEq)]
pub struct PatientPlan {
    /// 0-based patient number.
    pub index: usize,
    /// `patient_id` column.
    pub id: String,
    /// The patient's reading category (the affected breast's images carry it).
    pub label: Label,
    /// Mean fibroglandular fraction of the breast core, 0.1 (fatty) .. 0.65 (dense).
    pub density: f64,
    /// Left and right breast shapes.
    pub breasts: [BreastShape; 2],
    /// The finding; `None` for negative patients.
    pub lesion: Option<LesionPlan>,
}

impl PatientPlan {
    /// The shape of one breast.
    pub fn breast(&self, lat: Laterality) -> &BreastShape {
        &self.breasts[lat as usize]
    }

    /// BI-RADS-like density letter (a fatty .. d extremely dense) of `density`.
    pub fn density_letter(&self) -> &'static str {
        match self.density {
            d if d < 0.22 => "a",
            d if d < 0.35 => "b",
            d if d < 0.5 => "c",
            _ => "d",
        }
    }
}

/// Patients per label, split by largest remainder so the counts sum to `patients` and
/// follow the (normalised) mix as closely as integers allow.
pub fn class_counts(patients: usize, mix: [f64; 3]) -> [usize; 3] {
    let total: f64 = mix.iter().sum();
    let ideal: Vec<f64> = mix.iter().map(|w| w / total * patients as f64).collect();
    let mut counts = [0usize; 3];
    for k in 0..3 {
        counts[k] = ideal[k].floor() as usize;
    }
    let mut order = [0usize, 1, 2];
    // Largest fractional part first; ties go to the earlier class.
    order.sort_by(|&a, &b| {
        let fa = ideal[a] - ideal[a].floor();
        let fb = ideal[b] - ideal[b].floor();
        fb.total_cmp(&fa).then(a.cmp(&b))
    });
    let mut left = patients - counts.iter().sum::<usize>();
    for &k in order.iter().cycle() {
        if left == 0 {
            break;
        }
        counts[k] += 1;
        left -= 1;
    }
    counts
}

fn lerp(a: f64, b: f64, t: f64) -> f64 {
    a + (b - a) * t
}

fn breast_shape(rng: &mut ChaCha8Rng) -> BreastShape {
    BreastShape {
        depth: rng.random_range(0.50..0.74),
        half_height: rng.random_range(0.33..0.43),
        exponent: rng.random_range(1.9..2.5),
        harmonics: std::array::from_fn(|k| {
            (
                rng.random_range(0.0..0.035) / (k as f64 + 1.0),
                rng.random_range(0.0..std::f64::consts::TAU),
            )
        }),
    }
}

/// The plans of every patient of a configuration (the configuration must be valid).
pub fn plan(cfg: &SynthConfig) -> Vec<PatientPlan> {
    let counts = class_counts(cfg.patients, cfg.class_mix);
    let mut labels: Vec<Label> = Label::ALL
        .iter()
        .zip(counts)
        .flat_map(|(&l, n)| std::iter::repeat_n(l, n))
        .collect();
    // Shuffled so that patient numbers say nothing about labels.
    let mut label_rng = ChaCha8Rng::seed_from_u64(mix(&[cfg.seed, cfg.site.stream_id(), 0x1abe1]));
    labels.shuffle(&mut label_rng);
    let width = cfg.width() as f64;
    let d = cfg.difficulty;
    labels
        .into_iter()
        .enumerate()
        .map(|(index, label)| {
            let mut rng = ChaCha8Rng::seed_from_u64(mix(&[
                cfg.seed,
                cfg.site.stream_id(),
                0x9a71e47,
                index as u64,
            ]));
            let density = rng.random_range(0.10..0.65);
            let left = breast_shape(&mut rng);
            // The two breasts of a woman are alike: the right one is the left one, a
            // little changed.
            let mut right = left.clone();
            right.depth *= rng.random_range(0.95..1.05);
            right.half_height *= rng.random_range(0.96..1.04);
            for h in &mut right.harmonics {
                h.1 += rng.random_range(-0.6..0.6);
            }
            let lesion = match label {
                Label::Negative => None,
                Label::Benign | Label::Malignant => {
                    let kinds = if label == Label::Malignant {
                        Finding::MALIGNANT
                    } else {
                        Finding::BENIGN
                    };
                    let finding = kinds[rng.random_range(0..3)];
                    let laterality = if rng.random_bool(0.5) {
                        Laterality::L
                    } else {
                        Laterality::R
                    };
                    // Lesions shrink and fade as the difficulty grows.
                    let radius = width
                        * lerp(0.085, 0.03, d)
                        * rng.random_range(0.85..1.15)
                        * cfg.lesion_scale;
                    let contrast = match finding {
                        Finding::PleomorphicCalcifications | Finding::CoarseCalcifications => {
                            lerp(0.85, 0.25, d)
                        }
                        Finding::FocalAsymmetry => lerp(0.45, 0.12, d),
                        // High density raises a mass's odds of malignancy (BI-RADS mass
                        // density); it also keeps the default set learnable at the small
                        // sizes quick CPU runs use.
                        Finding::SpiculatedMass | Finding::IrregularMass => lerp(0.50, 0.10, d),
                        _ => lerp(0.32, 0.07, d),
                    } * rng.random_range(0.85..1.15);
                    Some(LesionPlan {
                        finding,
                        laterality,
                        u: rng.random_range(0.25..0.7),
                        v: rng.random_range(-0.6..0.6),
                        radius: radius.max(3.0),
                        contrast,
                        shape_seed: rng.random(),
                    })
                }
            };
            PatientPlan {
                index,
                id: format!("{}-s{}-p{:04}", cfg.site.as_str(), cfg.seed, index + 1),
                label,
                density,
                breasts: [left, right],
                lesion,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_counts_follow_the_mix_and_sum_up() {
        assert_eq!(class_counts(60, [0.4, 0.3, 0.3]), [24, 18, 18]);
        assert_eq!(class_counts(10, [1.0, 1.0, 1.0]), [4, 3, 3]);
        assert_eq!(class_counts(7, [0.0, 0.0, 1.0]), [0, 0, 7]);
        assert_eq!(class_counts(5, [2.0, 1.0, 1.0]), [3, 1, 1]);
        for n in 1..50 {
            assert_eq!(class_counts(n, [0.17, 0.41, 0.42]).iter().sum::<usize>(), n);
        }
    }

    #[test]
    fn findings_map_to_their_labels() {
        assert!(Finding::MALIGNANT
            .iter()
            .all(|f| f.label() == Label::Malignant));
        assert!(Finding::BENIGN.iter().all(|f| f.label() == Label::Benign));
        assert_eq!(Finding::None.label(), Label::Negative);
    }

    #[test]
    fn plans_are_deterministic_and_carry_lesions_only_when_abnormal() {
        let cfg = SynthConfig {
            patients: 30,
            ..SynthConfig::default()
        };
        let a = plan(&cfg);
        assert_eq!(a, plan(&cfg));
        for p in &a {
            assert_eq!(p.lesion.is_some(), p.label != Label::Negative, "{}", p.id);
            if let Some(l) = &p.lesion {
                assert_eq!(l.finding.label(), p.label);
            }
        }
        let other = plan(&SynthConfig {
            seed: cfg.seed + 1,
            ..cfg.clone()
        });
        assert_ne!(a, other);
    }
}
