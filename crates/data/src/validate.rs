//! Validation of a manifest: every problem is found and reported as `file:line: problem`,
//! never only the first one.
//!
//! What is checked:
//! - the image exists and its header can be read ([`imaging::read_info`], in parallel);
//! - the image is listed once: a repeated row with the same label is a *duplicate*; a
//!   repeated row with another label is *one image with two labels*;
//! - labels are known (checked while reading, see [`crate::Manifest::read_lenient`]);
//! - **breast consistency**: the images of one breast (same `patient_id`, same known
//!   laterality) must not mix `negative` with `benign` or `malignant`. A manifest
//!   describes one screening exam per patient; a breast that was recalled (benign) or
//!   holds a cancer (malignant) cannot also have been read negative in that exam, so
//!   such a breast is mislabelled somewhere. `benign` together with `malignant` on one
//!   breast is allowed: a breast can hold a benign and a malignant finding, and
//!   different views show different findings. Images of unknown laterality are not
//!   checked (mini-MIAS leaves laterality empty on purpose).
//!
//! In `--skip-bad` mode ([`drop_bad`]) the records named by problems are removed:
//! a missing image's row, the repeats of a duplicate (the first row is kept), every
//! row of an image with two labels, and every image of a contradictory breast.

use crate::{Manifest, Record};
use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::{Component, Path, PathBuf};

/// One problem with one row of a source file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file the row comes from (a manifest, Info.txt, a case-description CSV, …).
    pub file: PathBuf,
    /// 1-based line of the row in that file (0 when there is no line).
    pub line: u64,
    /// The row's image, as written or resolved (may be empty).
    pub image: String,
    /// The row's patient (may be empty).
    pub patient_id: String,
    /// The row's label text (may be an unknown label).
    pub label: String,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file.display(), self.reason)
        } else {
            write!(f, "{}:{}: {}", self.file.display(), self.line, self.reason)
        }
    }
}

/// Where a record came from: the file and line its label was read at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// Source file.
    pub file: PathBuf,
    /// 1-based line in it.
    pub line: u64,
}

/// The origins of a manifest read from `path`: each record's own line in that file.
pub fn origins_of(manifest: &Manifest, path: &Path) -> Vec<Origin> {
    manifest
        .records
        .iter()
        .map(|r| Origin {
            file: path.to_path_buf(),
            line: r.line,
        })
        .collect()
}

/// Settings of [`validate`].
#[derive(Debug, Clone, Copy)]
pub struct ValidateOptions {
    /// Open every image's header (missing/unreadable images). On by default.
    pub check_images: bool,
}

impl Default for ValidateOptions {
    fn default() -> Self {
        ValidateOptions { check_images: true }
    }
}

/// A problem tied to the record (index into `manifest.records`) it condemns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordProblem {
    /// Index of the record in the manifest.
    pub record: usize,
    /// The problem, located at the record's origin.
    pub problem: Problem,
}

/// Checks a manifest; `origins[i]` locates `manifest.records[i]`. Returns every problem,
/// sorted by file and line.
///
/// # Panics
/// If `origins` and the records differ in length (a programming error).
pub fn validate(
    manifest: &Manifest,
    origins: &[Origin],
    opts: ValidateOptions,
) -> Vec<RecordProblem> {
    assert_eq!(
        manifest.records.len(),
        origins.len(),
        "one origin per record"
    );
    let mut out = Vec::new();
    let make = |i: usize, reason: String| {
        let r = &manifest.records[i];
        RecordProblem {
            record: i,
            problem: Problem {
                file: origins[i].file.clone(),
                line: origins[i].line,
                image: r.image.clone(),
                patient_id: r.patient_id.clone(),
                label: r.label.to_string(),
                reason,
            },
        }
    };
    let place = |i: usize| {
        let o = &origins[i];
        if o.file == origins[0].file {
            format!("line {}", o.line)
        } else {
            format!("{}:{}", o.file.display(), o.line)
        }
    };

    // Images: exist and readable. In parallel: headers of thousands of files.
    if opts.check_images {
        let failures: Vec<(usize, String)> = manifest
            .records
            .par_iter()
            .enumerate()
            .filter_map(|(i, r)| {
                // Lexically absolute: the output folder of an ingest may not exist
                // yet, and `out/../x` only resolves through an existing `out`.
                let path = crate::ingest::absolute(&manifest.image_path(r));
                if !path.exists() {
                    return Some((i, format!("missing image '{}'", path.display())));
                }
                imaging::read_info(&path)
                    .err()
                    .map(|e| (i, format!("unreadable image: {e}")))
            })
            .collect();
        out.extend(failures.into_iter().map(|(i, m)| make(i, m)));
    }

    // Repeated images, keyed by the normalised resolved path.
    let mut first_of: HashMap<PathBuf, Vec<usize>> = HashMap::new();
    for (i, r) in manifest.records.iter().enumerate() {
        first_of
            .entry(crate::ingest::absolute(&manifest.image_path(r)))
            .or_default()
            .push(i);
    }
    let mut groups: Vec<&Vec<usize>> = first_of.values().filter(|v| v.len() > 1).collect();
    groups.sort();
    for rows in groups {
        let labels: BTreeSet<_> = rows.iter().map(|&i| manifest.records[i].label).collect();
        if labels.len() > 1 {
            for &i in rows {
                let others: Vec<String> = rows
                    .iter()
                    .filter(|&&j| j != i && manifest.records[j].label != manifest.records[i].label)
                    .map(|&j| format!("{} at {}", manifest.records[j].label, place(j)))
                    .collect();
                out.push(make(
                    i,
                    format!(
                        "image '{}' has two labels: {} here, {}",
                        manifest.records[i].image,
                        manifest.records[i].label,
                        others.join(", ")
                    ),
                ));
            }
        } else {
            for &i in &rows[1..] {
                out.push(make(
                    i,
                    format!(
                        "duplicate row for image '{}' (first at {})",
                        manifest.records[i].image,
                        place(rows[0])
                    ),
                ));
            }
        }
    }

    // Breast consistency.
    let mut breasts: BTreeMap<(&str, &'static str), Vec<usize>> = BTreeMap::new();
    for (i, r) in manifest.records.iter().enumerate() {
        if let Some(side) = laterality_code(&r.laterality) {
            breasts.entry((&r.patient_id, side)).or_default().push(i);
        }
    }
    for ((patient, side), rows) in breasts {
        let negative: Vec<usize> = rows
            .iter()
            .copied()
            .filter(|&i| manifest.records[i].label == crate::Label::Negative)
            .collect();
        let recalled: Vec<usize> = rows
            .iter()
            .copied()
            .filter(|&i| manifest.records[i].label != crate::Label::Negative)
            .collect();
        if negative.is_empty() || recalled.is_empty() {
            continue;
        }
        for &i in &rows {
            let against = if manifest.records[i].label == crate::Label::Negative {
                &recalled
            } else {
                &negative
            };
            let against: Vec<String> = against
                .iter()
                .map(|&j| format!("{} at {}", manifest.records[j].label, place(j)))
                .collect();
            out.push(make(
                i,
                format!(
                    "contradictory labels on patient {patient} breast {side}: {} here, {}",
                    manifest.records[i].label,
                    against.join(", ")
                ),
            ));
        }
    }

    out.sort_by(|a, b| {
        (&a.problem.file, a.problem.line, a.record).cmp(&(
            &b.problem.file,
            b.problem.line,
            b.record,
        ))
    });
    out
}

/// `L`/`R` for the spellings in use (`L`, `LEFT`, `R`, `RIGHT`, any case); `None` when
/// unknown or empty.
pub fn laterality_code(s: &str) -> Option<&'static str> {
    match s.trim().to_ascii_uppercase().as_str() {
        "L" | "LEFT" => Some("L"),
        "R" | "RIGHT" => Some("R"),
        _ => None,
    }
}

/// Removes the records that problems condemn; returns the kept manifest and, for the
/// dropped-rows report, the problems (one per dropped record and reason).
pub fn drop_bad(manifest: &Manifest, problems: &[RecordProblem]) -> Manifest {
    let bad: BTreeSet<usize> = problems.iter().map(|p| p.record).collect();
    let records: Vec<Record> = manifest
        .records
        .iter()
        .enumerate()
        .filter(|(i, _)| !bad.contains(i))
        .map(|(_, r)| r.clone())
        .collect();
    Manifest {
        root: manifest.root.clone(),
        extra_columns: manifest.extra_columns.clone(),
        records,
    }
}

/// Writes the dropped rows as CSV (`file, line, image, patient_id, label, reason`),
/// atomically.
pub fn write_dropped(path: &Path, problems: &[Problem]) -> Result<(), crate::DataError> {
    store::write_atomic_with(path, |w| {
        let mut wtr = csv::Writer::from_writer(w);
        let to_err = |e: csv::Error| crate::DataError::File {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        wtr.write_record(["file", "line", "image", "patient_id", "label", "reason"])
            .map_err(to_err)?;
        for p in problems {
            wtr.write_record([
                p.file.display().to_string(),
                p.line.to_string(),
                p.image.clone(),
                p.patient_id.clone(),
                p.label.clone(),
                p.reason.clone(),
            ])
            .map_err(to_err)?;
        }
        wtr.flush().map_err(|e| crate::DataError::Io {
            path: path.to_path_buf(),
            source: e,
        })
    })
}

/// The dropped-rows report path next to a manifest: `X.csv` → `X.dropped.csv`.
pub fn dropped_path(manifest: &Path) -> PathBuf {
    let stem = manifest
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "manifest".into());
    manifest.with_file_name(format!("{stem}.dropped.csv"))
}

/// Lexical normalisation (`a/./b/../c` → `a/c`), without touching the file system.
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Label;

    fn rec(image: &str, patient: &str, lat: &str, label: Label, line: u64) -> Record {
        Record {
            image: image.into(),
            patient_id: patient.into(),
            laterality: lat.into(),
            view: "CC".into(),
            label,
            extra: vec![],
            line,
        }
    }

    fn check(records: Vec<Record>) -> Vec<String> {
        let m = Manifest {
            root: PathBuf::from("/nowhere"),
            extra_columns: vec![],
            records,
        };
        let o = origins_of(&m, Path::new("m.csv"));
        validate(
            &m,
            &o,
            ValidateOptions {
                check_images: false,
            },
        )
        .into_iter()
        .map(|p| p.problem.to_string())
        .collect()
    }

    #[test]
    fn duplicates_and_two_labels() {
        let p = check(vec![
            rec("a.png", "p1", "L", Label::Benign, 2),
            rec("./a.png", "p1", "L", Label::Benign, 3),
            rec("b.png", "p2", "", Label::Negative, 4),
            rec("b.png", "p2", "", Label::Malignant, 5),
        ]);
        assert_eq!(
            p,
            vec![
                "m.csv:3: duplicate row for image './a.png' (first at line 2)",
                "m.csv:4: image 'b.png' has two labels: negative here, malignant at line 5",
                "m.csv:5: image 'b.png' has two labels: malignant here, negative at line 4",
            ]
        );
    }

    #[test]
    fn breast_rule() {
        let p = check(vec![
            rec("a.png", "p1", "L", Label::Malignant, 2),
            rec("b.png", "p1", "LEFT", Label::Negative, 3),
            rec("c.png", "p1", "R", Label::Negative, 4),
            rec("d.png", "p2", "R", Label::Benign, 5),
            rec("e.png", "p2", "R", Label::Malignant, 6),
            rec("f.png", "p3", "", Label::Negative, 7),
            rec("g.png", "p3", "", Label::Malignant, 8),
        ]);
        assert_eq!(
            p,
            vec![
                "m.csv:2: contradictory labels on patient p1 breast L: malignant here, negative at line 3",
                "m.csv:3: contradictory labels on patient p1 breast L: negative here, malignant at line 2",
            ]
        );
    }

    #[test]
    fn drop_bad_keeps_first_duplicate() {
        let m = Manifest {
            root: PathBuf::from("/nowhere"),
            extra_columns: vec![],
            records: vec![
                rec("a.png", "p1", "L", Label::Benign, 2),
                rec("a.png", "p1", "L", Label::Benign, 3),
            ],
        };
        let o = origins_of(&m, Path::new("m.csv"));
        let p = validate(
            &m,
            &o,
            ValidateOptions {
                check_images: false,
            },
        );
        let kept = drop_bad(&m, &p);
        assert_eq!(kept.records.len(), 1);
        assert_eq!(kept.records[0].line, 2);
    }

    #[test]
    fn normalize_paths() {
        assert_eq!(normalize(Path::new("a/./b/../c")), PathBuf::from("a/c"));
        assert_eq!(normalize(Path::new("../x")), PathBuf::from("../x"));
    }
}
