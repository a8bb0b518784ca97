//! The manifest: one row per image, in the `labels.csv` schema of `../shared/data`
//! (`image, patient_id, laterality, view, label` + any extra columns, kept as they are).

use crate::{DataError, Problem};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The study's three reading categories.
///
/// `Benign` is the study's *recalled-benign*: an image that was recalled after screening
/// and proven benign (CBIS-DDSM `BENIGN`; mini-MIAS abnormalities marked B).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Label {
    /// Read negative at screening and cancer-free on follow-up.
    Negative,
    /// Recalled, then proven benign.
    Benign,
    /// Pathology-proven cancer.
    Malignant,
}

impl Label {
    /// All labels in canonical order.
    pub const ALL: [Label; 3] = [Label::Negative, Label::Benign, Label::Malignant];

    /// The label as written in manifests.
    pub fn as_str(self) -> &'static str {
        match self {
            Label::Negative => "negative",
            Label::Benign => "benign",
            Label::Malignant => "malignant",
        }
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Label {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "negative" => Ok(Label::Negative),
            "benign" => Ok(Label::Benign),
            "malignant" => Ok(Label::Malignant),
            other => Err(format!(
                "unknown label '{other}' (expected negative, benign or malignant)"
            )),
        }
    }
}

/// One image of a manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Image path as written (relative to the manifest's folder, or absolute).
    pub image: String,
    /// Patient identifier; splits never put one patient in two parts.
    pub patient_id: String,
    /// `L`, `R`, or empty when unknown.
    pub laterality: String,
    /// `CC`, `MLO`, …, or empty when unknown.
    pub view: String,
    /// Reading category.
    pub label: Label,
    /// Values of the extra columns, in [`Manifest::extra_columns`] order.
    pub extra: Vec<String>,
    /// 1-based line in the manifest file it was read from (0 when built in memory).
    pub line: u64,
}

/// The five required columns, in order.
pub const REQUIRED_COLUMNS: [&str; 5] = ["image", "patient_id", "laterality", "view", "label"];

/// A dataset manifest.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Manifest {
    /// Folder that relative image paths are resolved against (the manifest's folder).
    pub root: PathBuf,
    /// Names of the extra columns, kept in file order.
    pub extra_columns: Vec<String>,
    /// The images.
    pub records: Vec<Record>,
}

impl Manifest {
    /// Reads a manifest CSV. Every row problem (missing field, unknown label) is
    /// collected and reported together as `file:line: problem` lines.
    pub fn read(path: &Path) -> Result<Manifest, DataError> {
        let (manifest, problems) = Manifest::read_lenient(path)?;
        if !problems.is_empty() {
            let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
            return Err(DataError::Invalid(lines.join("\n")));
        }
        Ok(manifest)
    }

    /// Reads a manifest CSV, keeping the rows that parse and returning a [`Problem`]
    /// for each row that does not (empty `image` or `patient_id`, unknown label).
    /// Rows with a problem are left out of the manifest. Errors only when the file
    /// cannot be read or is not CSV with the required columns.
    pub fn read_lenient(path: &Path) -> Result<(Manifest, Vec<Problem>), DataError> {
        let file = std::fs::File::open(path).map_err(|e| DataError::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        let mut rdr = csv::ReaderBuilder::new().flexible(true).from_reader(file);
        let csv_err = |line: u64, e: csv::Error| DataError::Csv {
            path: path.to_path_buf(),
            line,
            message: e.to_string(),
        };
        let headers = rdr.headers().map_err(|e| csv_err(1, e))?.clone();
        let mut index = [0usize; 5];
        for (slot, name) in index.iter_mut().zip(REQUIRED_COLUMNS) {
            *slot = headers
                .iter()
                .position(|h| h.trim() == name)
                .ok_or_else(|| DataError::Csv {
                    path: path.to_path_buf(),
                    line: 1,
                    message: format!("missing column '{name}'"),
                })?;
        }
        let extra_idx: Vec<usize> = (0..headers.len()).filter(|i| !index.contains(i)).collect();
        let extra_columns = extra_idx.iter().map(|&i| headers[i].to_string()).collect();
        let mut records = Vec::new();
        let mut problems = Vec::new();
        for row in rdr.records() {
            let row = row.map_err(|e| {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                csv_err(line, e)
            })?;
            let line = row.position().map(|p| p.line()).unwrap_or(0);
            let get = |i: usize| row.get(i).unwrap_or("").trim().to_string();
            let image = get(index[0]);
            let patient_id = get(index[1]);
            let label_text = get(index[4]);
            let problem = |reason: String| Problem {
                file: path.to_path_buf(),
                line,
                image: image.clone(),
                patient_id: patient_id.clone(),
                label: label_text.clone(),
                reason,
            };
            let mut bad = false;
            if image.is_empty() {
                problems.push(problem("empty 'image'".into()));
                bad = true;
            }
            if patient_id.is_empty() {
                problems.push(problem("empty 'patient_id'".into()));
                bad = true;
            }
            let label = match label_text.parse::<Label>() {
                Ok(l) => l,
                Err(m) => {
                    problems.push(problem(m));
                    continue;
                }
            };
            if bad {
                continue;
            }
            records.push(Record {
                image,
                patient_id,
                laterality: get(index[2]),
                view: get(index[3]),
                label,
                extra: extra_idx.iter().map(|&i| get(i)).collect(),
                line,
            });
        }
        let root = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        Ok((
            Manifest {
                root,
                extra_columns,
                records,
            },
            problems,
        ))
    }

    /// Writes the manifest as CSV, atomically.
    pub fn write(&self, path: &Path) -> Result<(), DataError> {
        store::write_atomic_with(path, |w| {
            let mut wtr = csv::Writer::from_writer(w);
            let to_err = |e: csv::Error| DataError::File {
                path: path.to_path_buf(),
                message: e.to_string(),
            };
            let header: Vec<&str> = REQUIRED_COLUMNS
                .iter()
                .copied()
                .chain(self.extra_columns.iter().map(String::as_str))
                .collect();
            wtr.write_record(&header).map_err(to_err)?;
            for r in &self.records {
                let mut row: Vec<&str> = vec![
                    &r.image,
                    &r.patient_id,
                    &r.laterality,
                    &r.view,
                    r.label.as_str(),
                ];
                row.extend(r.extra.iter().map(String::as_str));
                // Rows with fewer extras than columns are padded.
                row.resize(header.len(), "");
                wtr.write_record(&row).map_err(to_err)?;
            }
            wtr.flush().map_err(|e| DataError::Io {
                path: path.to_path_buf(),
                source: e,
            })
        })
    }

    /// The path of a record's image, resolved against the manifest's folder.
    pub fn image_path(&self, r: &Record) -> PathBuf {
        let p = Path::new(&r.image);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.root.join(p)
        }
    }

    /// The value of an extra column for a record, if the column exists.
    pub fn extra<'a>(&self, r: &'a Record, column: &str) -> Option<&'a str> {
        let i = self.extra_columns.iter().position(|c| c == column)?;
        r.extra.get(i).map(String::as_str)
    }
}
