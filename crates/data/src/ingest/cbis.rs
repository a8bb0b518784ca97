//! CBIS-DDSM case-description CSVs (`mass_case_description_{train,test}_set.csv`,
//! `calc_case_description_{train,test}_set.csv`), one row per abnormality:
//!
//! `patient_id, breast_density (mass) | breast density (calc), left or right breast,
//! image view, abnormality id, abnormality type, mass shape, mass margins | calc type,
//! calc distribution, assessment, pathology, subtlety, image file path,
//! cropped image file path, ROI mask file path`
//!
//! SOURCE is one CSV or a folder (every `*.csv` in it with a `pathology` column).
//!
//! Labels: `MALIGNANT` → malignant, `BENIGN` → benign (recalled, then proven benign),
//! `BENIGN_WITHOUT_CALLBACK` → excluded by default (it was not recalled), or mapped with
//! [`BenignWithoutCallback`]. An image with several abnormalities gets the most severe
//! label of its rows (malignant if any is malignant).
//!
//! Image files, under `--images DIR` (default: the CSV's folder), first match wins:
//! 1. `DIR/<image file path>` as written in the CSV (the TCIA layout the CSV describes);
//! 2. a file whose name without extension is the series name — the first component of
//!    `image file path`, e.g. `Mass-Training_P_00001_LEFT_CC` — or ends with `_` + it
//!    (`CBIS-DDSM_Mass-Test_P_00820_LEFT_CC.dcm`);
//! 3. a folder named as the series holding exactly one file (NBIA downloads rename the
//!    folders below the series);
//! 4. a file named `<patient_id>_<LEFT|RIGHT>_<CC|MLO>` (any extension), e.g.
//!    `P_00820_LEFT_CC.png`, or ending with `_` + that.
//!
//! Several candidates at one step are an error (ambiguous), as is no match.

use super::{io_err, parent_dir, relative_to, IngestOptions, Ingested};
use crate::validate::{Origin, Problem};
use crate::{DataError, Label, Manifest, Record};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// What CBIS-DDSM's `BENIGN_WITHOUT_CALLBACK` (benign, not recalled) becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BenignWithoutCallback {
    /// Left out (the default: neither recalled-benign nor a negative screen).
    #[default]
    Exclude,
    /// Labelled negative (not recalled at screening).
    Negative,
    /// Labelled benign.
    Benign,
}

impl fmt::Display for BenignWithoutCallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BenignWithoutCallback::Exclude => "exclude",
            BenignWithoutCallback::Negative => "negative",
            BenignWithoutCallback::Benign => "benign",
        })
    }
}

impl FromStr for BenignWithoutCallback {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "exclude" => Ok(BenignWithoutCallback::Exclude),
            "negative" => Ok(BenignWithoutCallback::Negative),
            "benign" => Ok(BenignWithoutCallback::Benign),
            _ => Err(format!(
                "unknown value '{s}' (expected exclude, negative or benign)"
            )),
        }
    }
}

/// Columns copied per abnormality into `;`-joined extras: (CSV name, manifest name).
const PER_ABNORMALITY: [(&str, &str); 9] = [
    ("pathology", "cbis_pathology"),
    ("abnormality id", "abnormality_id"),
    ("abnormality type", "abnormality_type"),
    ("mass shape", "mass_shape"),
    ("mass margins", "mass_margins"),
    ("calc type", "calc_type"),
    ("calc distribution", "calc_distribution"),
    ("assessment", "birads_assessment"),
    ("subtlety", "subtlety"),
];

/// Column names compared without case, spaces or underscores.
fn key(name: &str) -> String {
    name.chars()
        .filter(|c| !c.is_whitespace() && *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

/// One abnormality row.
struct Row {
    file: PathBuf,
    line: u64,
    patient: String,
    side: String,
    view: String,
    label: Label,
    image_file_path: String,
    density: String,
    values: Vec<String>,
}

pub(super) fn ingest(source: &Path, opts: &IngestOptions) -> Result<Ingested, DataError> {
    let files = if source.is_dir() {
        let mut v: Vec<PathBuf> = std::fs::read_dir(source)
            .map_err(|e| io_err(source, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv")))
            .collect();
        v.sort();
        v
    } else {
        vec![source.to_path_buf()]
    };
    let mut out = Ingested {
        manifest: Manifest {
            root: opts.out_dir.clone(),
            extra_columns: vec![],
            records: vec![],
        },
        ..Ingested::default()
    };
    let mut rows = Vec::new();
    let mut excluded = 0usize;
    let mut read_any = false;
    for file in &files {
        match read_csv(file, opts.benign_without_callback, &mut out.problems)? {
            Some((r, ex)) => {
                read_any = true;
                rows.extend(r);
                excluded += ex;
            }
            None if source.is_dir() => continue,
            None => {
                return Err(DataError::Csv {
                    path: file.clone(),
                    line: 1,
                    message: "not a CBIS-DDSM case-description CSV (no 'pathology' and 'image file path' columns)".into(),
                })
            }
        }
    }
    if !read_any {
        return Err(DataError::File {
            path: source.to_path_buf(),
            message: "no CBIS-DDSM case-description CSV found".into(),
        });
    }
    if excluded > 0 {
        out.notes.push(format!(
            "{excluded} BENIGN_WITHOUT_CALLBACK abnormality rows excluded (see --benign-without-callback)"
        ));
    }

    let image_dir = opts.images.clone().unwrap_or_else(|| parent_dir(&files[0]));
    let index = FileIndex::build(&image_dir)?;

    // Group the abnormality rows by image file, keeping first-seen order.
    let mut order: Vec<PathBuf> = Vec::new();
    let mut groups: HashMap<PathBuf, Vec<Row>> = HashMap::new();
    for row in rows {
        match index.resolve(&image_dir, &row) {
            Ok(path) => {
                if !groups.contains_key(&path) {
                    order.push(path.clone());
                }
                groups.entry(path).or_default().push(row);
            }
            Err(reason) => out.problems.push(Problem {
                file: row.file.clone(),
                line: row.line,
                image: row.image_file_path.clone(),
                patient_id: row.patient.clone(),
                label: row.label.to_string(),
                reason,
            }),
        }
    }
    out.manifest.extra_columns = ["n_abnormalities", "breast_density"]
        .iter()
        .map(|s| s.to_string())
        .chain(PER_ABNORMALITY.iter().map(|(_, m)| m.to_string()))
        .chain(["cbis_series", "cbis_split", "cbis_image_file_path"].map(String::from))
        .collect();
    for path in order {
        let group = &groups[&path];
        let first = &group[0];
        let label = group
            .iter()
            .map(|r| r.label)
            .max()
            .unwrap_or(Label::Negative);
        // Breast density is one value per breast: written once when the rows agree.
        let densities: Vec<String> = group.iter().map(|r| r.density.clone()).collect();
        let density = if densities.iter().all(|d| d == &densities[0]) {
            densities[0].clone()
        } else {
            densities.join(";")
        };
        let series = series_of(&first.image_file_path);
        let split = if series.contains("Training") {
            "Training"
        } else if series.contains("Test") {
            "Test"
        } else {
            ""
        };
        let mut extra = vec![group.len().to_string(), density];
        for k in 0..PER_ABNORMALITY.len() {
            let v: Vec<String> = group.iter().map(|r| r.values[k].clone()).collect();
            extra.push(if v.iter().all(String::is_empty) {
                String::new()
            } else {
                v.join(";")
            });
        }
        extra.push(series.to_string());
        extra.push(split.to_string());
        extra.push(first.image_file_path.clone());
        out.manifest.records.push(Record {
            image: relative_to(&path, &opts.out_dir),
            patient_id: first.patient.clone(),
            laterality: first.side.clone(),
            view: first.view.clone(),
            label,
            extra,
            line: 0,
        });
        out.origins.push(Origin {
            file: first.file.clone(),
            line: first.line,
        });
    }
    Ok(out)
}

/// The series name: first component of `image file path`.
fn series_of(image_file_path: &str) -> &str {
    image_file_path
        .split(['/', '\\'])
        .find(|s| !s.is_empty())
        .unwrap_or("")
}

/// Reads one case-description CSV; `None` when it is not one.
fn read_csv(
    file: &Path,
    bwc: BenignWithoutCallback,
    problems: &mut Vec<Problem>,
) -> Result<Option<(Vec<Row>, usize)>, DataError> {
    let f = std::fs::File::open(file).map_err(|e| io_err(file, e))?;
    let mut rdr = csv::ReaderBuilder::new().flexible(true).from_reader(f);
    let headers = rdr
        .headers()
        .map_err(|e| DataError::Csv {
            path: file.to_path_buf(),
            line: 1,
            message: e.to_string(),
        })?
        .clone();
    let col = |name: &str| headers.iter().position(|h| key(h) == key(name));
    let (Some(pathology), Some(image_path)) = (col("pathology"), col("image file path")) else {
        return Ok(None);
    };
    let need = |name: &str| {
        col(name).ok_or_else(|| DataError::Csv {
            path: file.to_path_buf(),
            line: 1,
            message: format!("missing column '{name}'"),
        })
    };
    let patient = need("patient_id")?;
    let side = need("left or right breast")?;
    let view = need("image view")?;
    let density = col("breast density");
    let per: Vec<Option<usize>> = PER_ABNORMALITY.iter().map(|(c, _)| col(c)).collect();
    let mut rows = Vec::new();
    let mut excluded = 0;
    for rec in rdr.records() {
        let rec = rec.map_err(|e| DataError::Csv {
            path: file.to_path_buf(),
            line: e.position().map(|p| p.line()).unwrap_or(0),
            message: e.to_string(),
        })?;
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        // Some published CSVs carry stray newlines inside path cells: trim them.
        let get = |i: usize| rec.get(i).unwrap_or("").trim().to_string();
        let (p, s, v, path_text, path_val) = (
            get(patient),
            get(side),
            get(view),
            get(pathology),
            get(image_path),
        );
        let mut reasons = Vec::new();
        let label = match path_text.to_ascii_uppercase().as_str() {
            "MALIGNANT" => Some(Label::Malignant),
            "BENIGN" => Some(Label::Benign),
            "BENIGN_WITHOUT_CALLBACK" => match bwc {
                BenignWithoutCallback::Exclude => {
                    excluded += 1;
                    continue;
                }
                BenignWithoutCallback::Negative => Some(Label::Negative),
                BenignWithoutCallback::Benign => Some(Label::Benign),
            },
            other => {
                reasons.push(format!(
                    "unknown pathology '{other}' (expected MALIGNANT, BENIGN or BENIGN_WITHOUT_CALLBACK)"
                ));
                None
            }
        };
        let side_code = match s.to_ascii_uppercase().as_str() {
            "LEFT" | "L" => Some("L"),
            "RIGHT" | "R" => Some("R"),
            _ => {
                reasons.push(format!(
                    "unknown breast side '{s}' (expected LEFT or RIGHT)"
                ));
                None
            }
        };
        if p.is_empty() {
            reasons.push("empty 'patient_id'".into());
        }
        if path_val.is_empty() {
            reasons.push("empty 'image file path'".into());
        }
        if v.is_empty() {
            reasons.push("empty 'image view'".into());
        }
        if !reasons.is_empty() {
            problems.extend(reasons.into_iter().map(|reason| Problem {
                file: file.to_path_buf(),
                line,
                image: path_val.clone(),
                patient_id: p.clone(),
                label: path_text.clone(),
                reason,
            }));
            continue;
        }
        let (Some(label), Some(side_code)) = (label, side_code) else {
            continue;
        };
        rows.push(Row {
            file: file.to_path_buf(),
            line,
            patient: p,
            side: side_code.to_string(),
            view: v.to_ascii_uppercase(),
            label,
            image_file_path: path_val,
            density: density.map(get).unwrap_or_default(),
            values: per.iter().map(|c| c.map(get).unwrap_or_default()).collect(),
        });
    }
    Ok(Some((rows, excluded)))
}

/// Files and folders under the image folder, by name, for rules 2–4.
struct FileIndex {
    /// File stem → files.
    stems: BTreeMap<String, Vec<PathBuf>>,
    /// Folder name → files anywhere below it.
    dirs: HashMap<String, Vec<PathBuf>>,
}

impl FileIndex {
    fn build(root: &Path) -> Result<FileIndex, DataError> {
        let mut idx = FileIndex {
            stems: BTreeMap::new(),
            dirs: HashMap::new(),
        };
        if !root.is_dir() {
            return Err(DataError::File {
                path: root.to_path_buf(),
                message: "image folder not found".into(),
            });
        }
        let mut stack = vec![(root.to_path_buf(), Vec::<String>::new())];
        while let Some((dir, ancestors)) = stack.pop() {
            let entries = std::fs::read_dir(&dir).map_err(|e| io_err(&dir, e))?;
            for e in entries.flatten() {
                let path = e.path();
                let name = e.file_name().to_string_lossy().into_owned();
                let Ok(ft) = e.file_type() else { continue };
                if ft.is_dir() {
                    let mut a = ancestors.clone();
                    a.push(name);
                    stack.push((path, a));
                } else if ft.is_file() {
                    for a in &ancestors {
                        idx.dirs.entry(a.clone()).or_default().push(path.clone());
                    }
                    let stem = Path::new(&name)
                        .file_stem()
                        .map(|s| s.to_string_lossy().into_owned())
                        .unwrap_or(name);
                    idx.stems.entry(stem).or_default().push(path);
                }
            }
        }
        for v in idx.stems.values_mut().chain(idx.dirs.values_mut()) {
            v.sort();
        }
        Ok(idx)
    }

    /// Files whose stem is `name` or ends with `_name`.
    fn by_stem(&self, name: &str) -> Vec<PathBuf> {
        let suffix = format!("_{name}");
        self.stems
            .iter()
            .filter(|(s, _)| *s == name || s.ends_with(&suffix))
            .flat_map(|(_, v)| v.iter().cloned())
            .collect()
    }

    fn resolve(&self, dir: &Path, row: &Row) -> Result<PathBuf, String> {
        let direct = dir.join(row.image_file_path.replace('\\', "/"));
        if direct.is_file() {
            return Ok(direct);
        }
        let series = series_of(&row.image_file_path);
        let pick = |v: Vec<PathBuf>, rule: &str| -> Option<Result<PathBuf, String>> {
            match v.len() {
                0 => None,
                1 => Some(Ok(v[0].clone())),
                _ => Some(Err(format!(
                    "ambiguous image for '{}' ({rule}): {}",
                    row.image_file_path,
                    v.iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))),
            }
        };
        if !series.is_empty() {
            if let Some(r) = pick(self.by_stem(series), "series file name") {
                return r;
            }
            if let Some(files) = self.dirs.get(series) {
                if let Some(r) = pick(files.clone(), "series folder") {
                    return r;
                }
            }
        }
        let side = if row.side == "L" { "LEFT" } else { "RIGHT" };
        let short = format!("{}_{}_{}", row.patient, side, row.view);
        if let Some(r) = pick(self.by_stem(&short), "patient_side_view file name") {
            return r;
        }
        Err(format!(
            "image not found under {}: tried '{}', a file or folder named '{series}', and a file named '{short}'",
            dir.display(),
            row.image_file_path
        ))
    }
}
