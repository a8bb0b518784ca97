//! Patient-level, label-stratified splits: an independent test part, then k-fold
//! cross-validation of the rest, optionally repeated with fresh shuffles.
//!
//! Rules:
//! - **By patient.** Parts are assigned to patients, then every image takes its
//!   patient's part, so no patient is ever in two parts (and [`Split::check`] verifies
//!   it again wherever a split is made or read).
//! - **Stratified by the patient's most severe label** (malignant > benign > negative):
//!   a patient with a malignant and a negative image counts as malignant. Within each
//!   stratum, patients (sorted by id) are shuffled with ChaCha8 from the seed.
//! - **Test part**: round(fraction × patients) patients, spread over the strata by
//!   largest remainder so each stratum gives its share. The test part is the same in
//!   every repeat.
//! - **Folds**: the remaining patients of each stratum, shuffled again per repeat, are
//!   dealt to folds 1..K in turn, the turn carrying over from one stratum to the next,
//!   so fold sizes (in patients) differ by at most one overall and within each stratum.
//! - Deterministic: the same manifest, settings and seed give the same split.
//!
//! The CSV has the columns `image, patient_id, label, part` (`test` or `fold-N`, N from
//! 1) and, for repeated k-fold, `part_2`, …, `part_R` for repeats 2..R.

use crate::{DataError, Label, Manifest};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::Path;
use std::str::FromStr;

/// The part an image (and its patient) belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Part {
    /// The independent test set.
    Test,
    /// Cross-validation fold N (1-based).
    Fold(usize),
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Part::Test => f.write_str("test"),
            Part::Fold(n) => write!(f, "fold-{n}"),
        }
    }
}

impl FromStr for Part {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s == "test" {
            return Ok(Part::Test);
        }
        s.strip_prefix("fold-")
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|&n| n >= 1)
            .map(Part::Fold)
            .ok_or_else(|| format!("unknown part '{s}' (expected test or fold-N, N from 1)"))
    }
}

/// Settings of [`Split::make`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SplitSettings {
    /// Fraction of patients in the test part, in [0, 1).
    pub test_fraction: f64,
    /// Number of cross-validation folds (at least 2).
    pub folds: usize,
    /// Number of repeats of the k-fold assignment (at least 1).
    pub repeats: usize,
    /// Seed of every shuffle.
    pub seed: u64,
}

impl Default for SplitSettings {
    fn default() -> Self {
        SplitSettings {
            test_fraction: 0.05,
            folds: 6,
            repeats: 1,
            seed: 0,
        }
    }
}

/// One image of a split.
#[derive(Debug, Clone, PartialEq)]
pub struct SplitRow {
    /// Index of the image in the manifest.
    pub record: usize,
    /// The image as written in the manifest.
    pub image: String,
    /// Its patient.
    pub patient_id: String,
    /// Its label.
    pub label: Label,
    /// Its part in each repeat (`parts.len()` = repeats).
    pub parts: Vec<Part>,
}

/// A split of (part of) a manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    /// The images, in manifest order.
    pub rows: Vec<SplitRow>,
    /// Number of folds.
    pub folds: usize,
    /// Number of repeats.
    pub repeats: usize,
}

/// A patient's most severe label (the stratum of the patient).
fn strata<'a>(manifest: &'a Manifest, records: &[usize]) -> BTreeMap<&'a str, Label> {
    let mut worst: BTreeMap<&str, Label> = BTreeMap::new();
    for &i in records {
        let r = &manifest.records[i];
        let e = worst.entry(r.patient_id.as_str()).or_insert(r.label);
        *e = (*e).max(r.label);
    }
    worst
}

/// Splits `n` items over groups of sizes `sizes` in proportion `fraction`, by largest
/// remainder, so the total is round(fraction × Σ sizes).
fn largest_remainder(sizes: &[usize], fraction: f64) -> Vec<usize> {
    let total: usize = sizes.iter().sum();
    let want = ((fraction * total as f64).round() as usize).min(total);
    let exact: Vec<f64> = sizes.iter().map(|&n| fraction * n as f64).collect();
    let mut out: Vec<usize> = exact
        .iter()
        .zip(sizes)
        .map(|(e, &n)| (e.floor() as usize).min(n))
        .collect();
    let mut order: Vec<usize> = (0..sizes.len()).collect();
    // Largest fractional part first; ties to the earlier (more severe) stratum.
    order.sort_by(|&a, &b| {
        let fa = exact[a] - exact[a].floor();
        let fb = exact[b] - exact[b].floor();
        fb.total_cmp(&fa).then(a.cmp(&b))
    });
    let mut missing = want.saturating_sub(out.iter().sum());
    for &k in order.iter().cycle().take(order.len() * 2) {
        if missing == 0 {
            break;
        }
        if out[k] < sizes[k] {
            out[k] += 1;
            missing -= 1;
        }
    }
    out
}

/// A seed per repeat, well apart from each other and from the test shuffle's.
fn repeat_seed(seed: u64, repeat: usize) -> u64 {
    seed ^ (repeat as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

impl Split {
    /// Splits the images `records` of a manifest (all images when `None`, e.g. a
    /// scenario's subset otherwise).
    pub fn make(
        manifest: &Manifest,
        records: Option<&[usize]>,
        settings: SplitSettings,
    ) -> Result<Split, DataError> {
        if !(0.0..1.0).contains(&settings.test_fraction) {
            return Err(DataError::Invalid(format!(
                "test fraction {} is outside [0, 1)",
                settings.test_fraction
            )));
        }
        if settings.folds < 2 {
            return Err(DataError::Invalid(format!(
                "{} folds: k-fold cross-validation needs at least 2",
                settings.folds
            )));
        }
        if settings.repeats < 1 {
            return Err(DataError::Invalid("repeats must be at least 1".into()));
        }
        let all: Vec<usize>;
        let records = match records {
            Some(r) => r,
            None => {
                all = (0..manifest.records.len()).collect();
                &all
            }
        };
        let worst = strata(manifest, records);
        // Most severe stratum first: it is the rarest in screening data.
        let mut groups: Vec<Vec<&str>> = Label::ALL
            .iter()
            .rev()
            .map(|&l| {
                worst
                    .iter()
                    .filter(|(_, &w)| w == l)
                    .map(|(p, _)| *p)
                    .collect()
            })
            .collect();
        let mut rng = ChaCha8Rng::seed_from_u64(settings.seed);
        for g in &mut groups {
            g.shuffle(&mut rng);
        }
        let sizes: Vec<usize> = groups.iter().map(Vec::len).collect();
        let n_test = largest_remainder(&sizes, settings.test_fraction);

        // patient → part per repeat.
        let mut part_of: HashMap<&str, Vec<Part>> = HashMap::new();
        for (g, &t) in groups.iter().zip(&n_test) {
            for p in &g[..t] {
                part_of.insert(p, vec![Part::Test; settings.repeats]);
            }
        }
        for repeat in 0..settings.repeats {
            let mut rng = ChaCha8Rng::seed_from_u64(repeat_seed(settings.seed, repeat));
            let mut turn = 0usize;
            for (g, &t) in groups.iter().zip(&n_test) {
                let mut rest: Vec<&str> = g[t..].to_vec();
                rest.sort_unstable();
                rest.shuffle(&mut rng);
                for p in rest {
                    let parts = part_of
                        .entry(p)
                        .or_insert_with(|| Vec::with_capacity(settings.repeats));
                    parts.push(Part::Fold(turn % settings.folds + 1));
                    turn += 1;
                }
            }
        }
        let rows = records
            .iter()
            .map(|&i| {
                let r = &manifest.records[i];
                SplitRow {
                    record: i,
                    image: r.image.clone(),
                    patient_id: r.patient_id.clone(),
                    label: r.label,
                    parts: part_of[r.patient_id.as_str()].clone(),
                }
            })
            .collect();
        let split = Split {
            rows,
            folds: settings.folds,
            repeats: settings.repeats,
        };
        split.check()?;
        Ok(split)
    }

    /// Verifies that no patient is in two parts (in any repeat).
    pub fn check(&self) -> Result<(), DataError> {
        let mut seen: HashMap<&str, &[Part]> = HashMap::new();
        let mut problems = Vec::new();
        for r in &self.rows {
            match seen.get(r.patient_id.as_str()) {
                Some(parts) if *parts != r.parts.as_slice() => problems.push(format!(
                    "patient {} is in two parts: {} and {} (image {})",
                    r.patient_id,
                    fmt_parts(parts),
                    fmt_parts(&r.parts),
                    r.image
                )),
                Some(_) => {}
                None => {
                    seen.insert(&r.patient_id, &r.parts);
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(DataError::Invalid(problems.join("\n")))
        }
    }

    /// Manifest indices of the test images.
    pub fn test(&self) -> Vec<usize> {
        self.select(0, |p| p == Part::Test)
    }

    /// Manifest indices of every image outside the test part (training + validation).
    pub fn development(&self) -> Vec<usize> {
        self.select(0, |p| p != Part::Test)
    }

    /// Manifest indices of fold `fold` (1-based) in repeat `repeat` (0-based): the
    /// validation images of that fold.
    pub fn fold(&self, repeat: usize, fold: usize) -> Vec<usize> {
        self.select(repeat, |p| p == Part::Fold(fold))
    }

    /// Manifest indices of the training images when fold `fold` validates.
    pub fn train(&self, repeat: usize, fold: usize) -> Vec<usize> {
        self.select(repeat, |p| p != Part::Test && p != Part::Fold(fold))
    }

    fn select(&self, repeat: usize, keep: impl Fn(Part) -> bool) -> Vec<usize> {
        self.rows
            .iter()
            .filter(|r| r.parts.get(repeat).is_some_and(|&p| keep(p)))
            .map(|r| r.record)
            .collect()
    }

    /// The part column names: `part`, `part_2`, …
    fn part_columns(repeats: usize) -> Vec<String> {
        (1..=repeats)
            .map(|r| {
                if r == 1 {
                    "part".into()
                } else {
                    format!("part_{r}")
                }
            })
            .collect()
    }

    /// Writes the split as CSV, atomically.
    pub fn write(&self, path: &Path) -> Result<(), DataError> {
        store::write_atomic_with(path, |w| {
            let mut wtr = csv::Writer::from_writer(w);
            let to_err = |e: csv::Error| DataError::File {
                path: path.to_path_buf(),
                message: e.to_string(),
            };
            let mut header: Vec<String> = vec!["image".into(), "patient_id".into(), "label".into()];
            header.extend(Split::part_columns(self.repeats));
            wtr.write_record(&header).map_err(to_err)?;
            for r in &self.rows {
                let mut row = vec![r.image.clone(), r.patient_id.clone(), r.label.to_string()];
                row.extend(r.parts.iter().map(ToString::to_string));
                wtr.write_record(&row).map_err(to_err)?;
            }
            wtr.flush().map_err(|e| DataError::Io {
                path: path.to_path_buf(),
                source: e,
            })
        })
    }

    /// Reads a split CSV and checks it against the manifest it was made from: every row
    /// names a manifest image with the same patient and label, no image twice, no
    /// patient in two parts, and every manifest image whose label the split covers is
    /// in it. All problems are reported together as `file:line: problem`.
    pub fn read(path: &Path, manifest: &Manifest) -> Result<Split, DataError> {
        let file = std::fs::File::open(path).map_err(|e| DataError::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        let mut rdr = csv::ReaderBuilder::new().flexible(true).from_reader(file);
        let headers = rdr
            .headers()
            .map_err(|e| DataError::Csv {
                path: path.to_path_buf(),
                line: 1,
                message: e.to_string(),
            })?
            .clone();
        let col = |name: &str| {
            headers
                .iter()
                .position(|h| h.trim() == name)
                .ok_or_else(|| DataError::Csv {
                    path: path.to_path_buf(),
                    line: 1,
                    message: format!("missing column '{name}'"),
                })
        };
        let (ci, cp, cl) = (col("image")?, col("patient_id")?, col("label")?);
        let mut part_cols = vec![col("part")?];
        while let Ok(c) = col(&format!("part_{}", part_cols.len() + 1)) {
            part_cols.push(c);
        }
        let mut by_image: HashMap<&str, usize> = HashMap::new();
        for (i, r) in manifest.records.iter().enumerate() {
            by_image.entry(r.image.as_str()).or_insert(i);
        }
        let mut problems = Vec::new();
        let mut rows = Vec::new();
        let mut row_lines = Vec::new();
        let mut seen: HashMap<usize, u64> = HashMap::new();
        let mut folds = 0;
        for rec in rdr.records() {
            let rec = rec.map_err(|e| DataError::Csv {
                path: path.to_path_buf(),
                line: e.position().map(|p| p.line()).unwrap_or(0),
                message: e.to_string(),
            })?;
            let line = rec.position().map(|p| p.line()).unwrap_or(0);
            let get = |i: usize| rec.get(i).unwrap_or("").trim();
            let mut here = Vec::new();
            let image = get(ci);
            let record = by_image.get(image).copied();
            match record {
                None => here.push(format!("image '{image}' is not in the manifest")),
                Some(i) => {
                    let m = &manifest.records[i];
                    if m.patient_id != get(cp) {
                        here.push(format!(
                            "image '{image}': patient '{}' but the manifest says '{}'",
                            get(cp),
                            m.patient_id
                        ));
                    }
                    if m.label.as_str() != get(cl).to_ascii_lowercase() {
                        here.push(format!(
                            "image '{image}': label '{}' but the manifest says '{}'",
                            get(cl),
                            m.label
                        ));
                    }
                    if let Some(first) = seen.insert(i, line) {
                        here.push(format!(
                            "image '{image}' is listed twice (first at line {first})"
                        ));
                    }
                }
            }
            let mut parts = Vec::new();
            for &c in &part_cols {
                match get(c).parse::<Part>() {
                    Ok(p) => {
                        if let Part::Fold(n) = p {
                            folds = folds.max(n);
                        }
                        parts.push(p);
                    }
                    Err(e) => here.push(e),
                }
            }
            let ok = here.is_empty();
            problems.extend(
                here.into_iter()
                    .map(|m| format!("{}:{line}: {m}", path.display())),
            );
            if let (true, Some(i)) = (ok, record) {
                row_lines.push(line);
                let m = &manifest.records[i];
                rows.push(SplitRow {
                    record: i,
                    image: m.image.clone(),
                    patient_id: m.patient_id.clone(),
                    label: m.label,
                    parts,
                });
            }
        }
        let covered: Vec<Label> = Label::ALL
            .into_iter()
            .filter(|l| rows.iter().any(|r| r.label == *l))
            .collect();
        for (i, r) in manifest.records.iter().enumerate() {
            if covered.contains(&r.label) && !seen.contains_key(&i) {
                problems.push(format!(
                    "{}: manifest image '{}' ({}) is missing from the split",
                    path.display(),
                    r.image,
                    r.label
                ));
            }
        }
        // No patient in two parts, located at the line that breaks it.
        let mut first: HashMap<&str, (&[Part], u64)> = HashMap::new();
        for (r, &line) in rows.iter().zip(&row_lines) {
            match first.get(r.patient_id.as_str()) {
                Some((parts, at)) if *parts != r.parts.as_slice() => problems.push(format!(
                    "{}:{line}: patient {} is in two parts: {} here, {} at line {at}",
                    path.display(),
                    r.patient_id,
                    fmt_parts(&r.parts),
                    fmt_parts(parts)
                )),
                Some(_) => {}
                None => {
                    first.insert(&r.patient_id, (&r.parts, line));
                }
            }
        }
        drop(first);
        let mut split = Split {
            rows,
            folds,
            repeats: part_cols.len(),
        };
        if !problems.is_empty() {
            return Err(DataError::Invalid(problems.join("\n")));
        }
        split.rows.sort_by_key(|r| r.record);
        Ok(split)
    }
}

fn fmt_parts(parts: &[Part]) -> String {
    parts
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_parse() {
        assert_eq!("test".parse::<Part>(), Ok(Part::Test));
        assert_eq!("fold-3".parse::<Part>(), Ok(Part::Fold(3)));
        assert!("fold-0".parse::<Part>().is_err());
        assert!("train".parse::<Part>().is_err());
        assert_eq!(Part::Fold(12).to_string(), "fold-12");
    }

    #[test]
    fn largest_remainder_hits_the_total() {
        assert_eq!(largest_remainder(&[10, 10, 10], 0.1), vec![1, 1, 1]);
        assert_eq!(largest_remainder(&[5, 5, 10], 0.1), vec![1, 0, 1]);
        assert_eq!(largest_remainder(&[0, 0, 0], 0.5), vec![0, 0, 0]);
        assert_eq!(largest_remainder(&[3, 0, 1], 0.0), vec![0, 0, 0]);
        assert_eq!(
            largest_remainder(&[52, 63, 207], 0.15)
                .iter()
                .sum::<usize>(),
            48
        );
    }
}
