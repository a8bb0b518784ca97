//! Synthetic screening mammograms: the embedded default dataset.
//!
//! [`generate`] writes `DIR/images/*.png` (16-bit grayscale, brighter = denser) and
//! `DIR/labels.csv` in the manifest schema (`image, patient_id, laterality, view,
//! label` plus `site, finding, density, x, y_from_top, radius`), and `DIR/synth.json`
//! with the settings that made them.
//!
//! Every patient has four images: CC and MLO of the left and right breast. A patient
//! is negative, recalled-benign or malignant (counts from [`SynthConfig::class_mix`]).
//! An abnormal patient's finding lives in one breast and shows in both its views;
//! those two images carry the patient's label and the finding's centre and radius,
//! the two images of the other breast are `negative` with finding `none` — as in a
//! screening study, where the label belongs to the breast that was worked up.
//!
//! Determinism: patient plans come from `(seed, site, patient)` streams and each
//! image from its own `(seed, site, patient, laterality, view)` ChaCha8 stream, so the
//! bytes written do not depend on the number of threads or the order of work. (They
//! are identical across runs and thread counts of one build on one platform; the last
//! bits of libm's `powf`/`exp` may differ between platforms.)
//!
//! Columns: `site` (`digital` or `film`), `finding` (`none`, `spiculated_mass`,
//! `irregular_mass`, `pleomorphic_calcifications`, `circumscribed_mass`,
//! `coarse_calcifications`, `focal_asymmetry`), `density` (BI-RADS-like letter a–d of
//! the patient's fibroglandular fraction), `x`, `y_from_top`, `radius` (pixels: centre
//! column, centre row from the top, radius of the region holding the finding; empty
//! for images without one).
//!
//! Orientation follows the film/DICOM convention of DDSM and most FFDM: the chest wall
//! is at the left edge for left breasts and at the right edge for right breasts; the
//! pectoral muscle of an MLO view sits in the upper chest-wall corner.

pub mod fft;
pub mod plan;
mod render;
pub mod site;
pub mod texture;

pub use plan::{Finding, Laterality, PatientPlan, View};
pub use render::{render, LesionSpot, SynthImage};
pub use site::{Site, SiteParams};

use data::{Label, Manifest, Record};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Exponent of the background texture's power spectrum (power ∝ 1/f^β).
pub const BETA: f64 = 3.0;

/// Extra manifest columns written after the five required ones.
pub const EXTRA_COLUMNS: [&str; 6] = ["site", "finding", "density", "x", "y_from_top", "radius"];

/// Why generation failed. Messages are one line and name the file where there is one.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    /// A setting is out of range.
    #[error("invalid synth setting: {0}")]
    Config(String),
    /// Writing an image failed.
    #[error(transparent)]
    Image(#[from] imaging::ImageError),
    /// Writing the manifest failed.
    #[error(transparent)]
    Data(#[from] data::DataError),
    /// Creating a folder or writing a file failed.
    #[error("{path}: {message}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

impl From<store::StoreError> for SynthError {
    fn from(e: store::StoreError) -> Self {
        SynthError::Io {
            path: e.path,
            message: e.source.to_string(),
        }
    }
}

/// Settings of a synthetic dataset. `Default` is the embedded default dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SynthConfig {
    /// Number of patients (four images each).
    pub patients: usize,
    /// Acquisition preset.
    pub site: Site,
    /// Seed of every random choice.
    pub seed: u64,
    /// 0 (large, high-contrast findings) .. 1 (small, faint ones).
    pub difficulty: f64,
    /// Long (vertical) side in pixels; the width is 0.8 of it.
    pub size: usize,
    /// Relative weights of negative, benign and malignant patients (normalised).
    pub class_mix: [f64; 3],
    /// Multiplies every finding's radius (1: the sizes `difficulty` sets). Larger findings
    /// stay visible at small network inputs (the quick synthetic study uses 2).
    #[serde(default = "one")]
    pub lesion_scale: f64,
}

fn one() -> f64 {
    1.0
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            patients: 60,
            site: Site::Digital,
            seed: 1,
            // The easiest findings (masses of ~8.5% of the image width, malignant ones
            // dense): the default is a demonstration that must be learnable in a few
            // CPU minutes (malignant vs negative above AUC 0.9 at 128 px); raise
            // `difficulty` for harder sets.
            difficulty: 0.0,
            size: 512,
            // Roughly the study's FFDM patient mix (552 / 376 / 375).
            class_mix: [0.4, 0.3, 0.3],
            lesion_scale: 1.0,
        }
    }
}

/// Smallest and largest accepted long side (the largest keeps the texture grid of one
/// image, 4096² complex values, at 256 MiB).
pub const SIZE_RANGE: (usize, usize) = (64, 4096);
/// Largest accepted number of patients.
pub const MAX_PATIENTS: usize = 1_000_000;

impl SynthConfig {
    /// Image width for the configured long side.
    pub fn width(&self) -> usize {
        ((self.size as f64) * 0.8).round() as usize
    }

    /// Checks every setting; the error names the first bad one.
    pub fn validate(&self) -> Result<(), SynthError> {
        let bad = |m: String| Err(SynthError::Config(m));
        if self.patients == 0 || self.patients > MAX_PATIENTS {
            return bad(format!(
                "patients must be 1..={MAX_PATIENTS}, got {}",
                self.patients
            ));
        }
        if !(self.difficulty.is_finite() && (0.0..=1.0).contains(&self.difficulty)) {
            return bad(format!(
                "difficulty must be in 0..1, got {}",
                self.difficulty
            ));
        }
        if self.size < SIZE_RANGE.0 || self.size > SIZE_RANGE.1 {
            return bad(format!(
                "size must be {}..={} pixels, got {}",
                SIZE_RANGE.0, SIZE_RANGE.1, self.size
            ));
        }
        if !(self.lesion_scale.is_finite() && (0.25..=4.0).contains(&self.lesion_scale)) {
            return bad(format!(
                "lesion_scale must be in 0.25..4, got {}",
                self.lesion_scale
            ));
        }
        if self.class_mix.iter().any(|w| !w.is_finite() || *w < 0.0)
            || self.class_mix.iter().sum::<f64>() <= 0.0
        {
            return bad(format!(
                "class mix must be three non-negative weights with a positive sum, got {:?}",
                self.class_mix
            ));
        }
        Ok(())
    }
}

/// Parses a class mix `neg,benign,malig` (weights, normalised later).
pub fn parse_class_mix(s: &str) -> Result<[f64; 3], String> {
    let parts: Vec<&str> = s.split(',').map(str::trim).collect();
    if parts.len() != 3 {
        return Err(format!(
            "class mix '{s}' must be three comma-separated numbers: negative,benign,malignant"
        ));
    }
    let mut out = [0.0; 3];
    for (o, p) in out.iter_mut().zip(&parts) {
        *o = p
            .parse::<f64>()
            .map_err(|_| format!("class mix '{s}': '{p}' is not a number"))?;
    }
    Ok(out)
}

/// What [`generate`] wrote.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// The manifest (`DIR/labels.csv`).
    pub manifest: PathBuf,
    /// Images written.
    pub images: usize,
    /// Patients per label: negative, benign, malignant.
    pub patients: [usize; 3],
    /// Images per label: negative, benign, malignant.
    pub image_labels: [usize; 3],
}

/// splitmix64 over a sequence of words: independent, well-mixed seeds for the
/// per-patient and per-image random streams.
pub(crate) fn mix(parts: &[u64]) -> u64 {
    let mut h: u64 = 0x9E37_79B9_7F4A_7C15;
    for &p in parts {
        h ^= p;
        h = h.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = h;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        h = z ^ (z >> 31);
    }
    h
}

/// The manifest row of a rendered image.
fn record(
    cfg: &SynthConfig,
    p: &PatientPlan,
    lat: Laterality,
    view: View,
    img: &SynthImage,
) -> Record {
    let affected = p.lesion.as_ref().filter(|l| l.laterality == lat);
    let (label, finding) = match affected {
        Some(l) => (l.finding.label(), l.finding),
        None => (Label::Negative, Finding::None),
    };
    let coords = match &img.lesion {
        Some(s) => [
            format!("{:.0}", s.x),
            format!("{:.0}", s.y_from_top),
            format!("{:.0}", s.radius.max(1.0)),
        ],
        None => Default::default(),
    };
    let [x, y, r] = coords;
    Record {
        image: image_name(p, lat, view),
        patient_id: p.id.clone(),
        laterality: lat.as_str().into(),
        view: view.as_str().into(),
        label,
        extra: vec![
            cfg.site.as_str().into(),
            finding.as_str().into(),
            p.density_letter().into(),
            x,
            y,
            r,
        ],
        line: 0,
    }
}

/// Path of an image relative to the output folder.
pub fn image_name(p: &PatientPlan, lat: Laterality, view: View) -> String {
    format!("images/{}_{}_{}.png", p.id, lat.as_str(), view.as_str())
}

/// Writes the dataset of `cfg` into `out_dir`: `images/*.png`, `labels.csv`,
/// `synth.json`. Images are rendered in parallel (rayon); `progress` is called with 1
/// after each image is written. Existing files of the same names are replaced.
pub fn generate(
    cfg: &SynthConfig,
    out_dir: &Path,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Summary, SynthError> {
    cfg.validate()?;
    let images_dir = out_dir.join("images");
    std::fs::create_dir_all(&images_dir).map_err(|e| SynthError::Io {
        path: images_dir.clone(),
        message: e.to_string(),
    })?;
    let plans = plan::plan(cfg);
    let jobs: Vec<(usize, Laterality, View)> = (0..plans.len())
        .flat_map(|i| {
            Laterality::BOTH
                .into_iter()
                .flat_map(move |l| View::BOTH.into_iter().map(move |v| (i, l, v)))
        })
        .collect();
    let records: Vec<Record> = jobs
        .par_iter()
        .map(|&(i, lat, view)| {
            let p = &plans[i];
            let img = render(cfg, p, lat, view);
            let rec = record(cfg, p, lat, view, &img);
            imaging::pngio::write_png16(&out_dir.join(&rec.image), &img.image)?;
            progress(1);
            Ok(rec)
        })
        .collect::<Result<_, SynthError>>()?;
    let manifest_path = out_dir.join("labels.csv");
    let manifest = Manifest {
        root: out_dir.to_path_buf(),
        extra_columns: EXTRA_COLUMNS.iter().map(|s| s.to_string()).collect(),
        records,
    };
    manifest.write(&manifest_path)?;
    let json = serde_json::to_vec_pretty(cfg).map_err(|e| SynthError::Io {
        path: out_dir.join("synth.json"),
        message: e.to_string(),
    })?;
    store::write_atomic(&out_dir.join("synth.json"), &json)?;
    let mut patients = [0; 3];
    for p in &plans {
        patients[p.label as usize] += 1;
    }
    let mut image_labels = [0; 3];
    for r in &manifest.records {
        image_labels[r.label as usize] += 1;
    }
    Ok(Summary {
        manifest: manifest_path,
        images: manifest.records.len(),
        patients,
        image_labels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_names_the_bad_setting() {
        let ok = SynthConfig::default();
        assert!(ok.validate().is_ok());
        let cases = [
            (
                SynthConfig {
                    patients: 0,
                    ..ok.clone()
                },
                "patients",
            ),
            (
                SynthConfig {
                    difficulty: 1.5,
                    ..ok.clone()
                },
                "difficulty",
            ),
            (
                SynthConfig {
                    difficulty: f64::NAN,
                    ..ok.clone()
                },
                "difficulty",
            ),
            (
                SynthConfig {
                    size: 10,
                    ..ok.clone()
                },
                "size",
            ),
            (
                SynthConfig {
                    class_mix: [0.0, 0.0, 0.0],
                    ..ok.clone()
                },
                "class mix",
            ),
            (
                SynthConfig {
                    class_mix: [-1.0, 1.0, 1.0],
                    ..ok.clone()
                },
                "class mix",
            ),
        ];
        for (cfg, word) in cases {
            let e = cfg.validate().unwrap_err().to_string();
            assert!(e.contains(word), "{e}");
        }
    }

    #[test]
    fn class_mix_parses() {
        assert_eq!(
            parse_class_mix("0.5, 0.25,0.25").unwrap(),
            [0.5, 0.25, 0.25]
        );
        assert!(parse_class_mix("1,2").unwrap_err().contains("three"));
        assert!(parse_class_mix("1,x,2").unwrap_err().contains("'x'"));
    }

    #[test]
    fn config_round_trips_through_json() {
        let cfg = SynthConfig {
            site: Site::Film,
            seed: 9,
            ..SynthConfig::default()
        };
        let s = serde_json::to_string(&cfg).unwrap();
        assert!(s.contains("\"film\""));
        assert_eq!(serde_json::from_str::<SynthConfig>(&s).unwrap(), cfg);
        let partial: SynthConfig = serde_json::from_str("{\"patients\": 5}").unwrap();
        assert_eq!(partial.patients, 5);
        assert_eq!(partial.size, SynthConfig::default().size);
    }

    #[test]
    fn mix_separates_streams() {
        assert_ne!(mix(&[1, 2]), mix(&[2, 1]));
        assert_ne!(mix(&[0]), mix(&[0, 0]));
    }
}
