//! `dicom-dir`: a folder of DICOM files (searched recursively) plus `--labels CSV`.
//!
//! The label CSV has `patient_id` and `label` columns (other names through `--map`,
//! values through `--label-map`) and, per row, a key naming the image:
//! - `file` (or `file_name`, `filename`, `image`, `path`): the file's path relative to
//!   the folder, or its bare file name, or its name without extension — a bare name must
//!   be unique in the folder;
//! - `sop_instance_uid` (or `SOPInstanceUID`, `sop_instance`): the SOP Instance UID in the
//!   file's header.
//!
//! A row with a non-empty file key is matched by file, otherwise by UID. Laterality and
//! view come from the DICOM header ([`imaging::read_info`]); `laterality`/`view`
//! columns of the CSV fill in when the header has none, and a disagreement is a
//! problem. Other CSV columns are kept as extras. DICOM files no row names are left
//! out (reported as a note); files with a `.dcm` extension that cannot be read are
//! problems.

use super::{io_err, map_label, norm_laterality, relative_to, IngestOptions, Ingested};
use crate::validate::{Origin, Problem};
use crate::{DataError, Manifest, Record};
use rayon::prelude::*;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// A DICOM file found in the folder.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DicomFile {
    /// Its path relative to the folder, `/`-separated.
    pub rel: String,
    /// SOP Instance UID from the header.
    pub sop_instance: Option<String>,
    /// Laterality from the header.
    pub laterality: Option<String>,
    /// View from the header.
    pub view: Option<String>,
}

/// How a label row names its image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyKind {
    /// Relative path, file name, or file name without extension.
    File(String),
    /// SOP Instance UID.
    SopInstanceUid(String),
}

/// One row of the label CSV.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelRow {
    /// 1-based line in the CSV.
    pub line: u64,
    /// The key naming the image.
    pub key: KeyKind,
}

/// A row matched to a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Matched {
    /// Index into the rows.
    pub row: usize,
    /// Index into the files.
    pub file: usize,
}

/// Matches label rows to files. Returns the matches and, per unmatched row, its index
/// and the reason (no such file, ambiguous name, UID shared by several files).
pub fn match_labels(
    files: &[DicomFile],
    rows: &[LabelRow],
) -> (Vec<Matched>, Vec<(usize, String)>) {
    let mut by_rel: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut by_name: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut by_stem: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut by_uid: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, f) in files.iter().enumerate() {
        by_rel.entry(f.rel.as_str()).or_default().push(i);
        let name = f.rel.rsplit('/').next().unwrap_or(&f.rel);
        by_name.entry(name).or_default().push(i);
        let stem = name.rsplit_once('.').map(|(s, _)| s).unwrap_or(name);
        by_stem.entry(stem).or_default().push(i);
        if let Some(u) = &f.sop_instance {
            by_uid.entry(u.as_str()).or_default().push(i);
        }
    }
    let names = |v: &[usize]| {
        v.iter()
            .map(|&i| files[i].rel.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut matched = Vec::new();
    let mut failed = Vec::new();
    for (r, row) in rows.iter().enumerate() {
        let found: Result<usize, String> = match &row.key {
            KeyKind::File(k) => {
                let k = k.replace('\\', "/");
                let k = k.trim_start_matches("./");
                [&by_rel, &by_name, &by_stem]
                    .iter()
                    .find_map(|m| m.get(k))
                    .map(|v| {
                        if v.len() == 1 {
                            Ok(v[0])
                        } else {
                            Err(format!("file name '{k}' is ambiguous: {}", names(v)))
                        }
                    })
                    .unwrap_or_else(|| Err(format!("no DICOM file '{k}' in the folder")))
            }
            KeyKind::SopInstanceUid(u) => match by_uid.get(u.as_str()) {
                None => Err(format!("no DICOM file with SOP Instance UID {u}")),
                Some(v) if v.len() == 1 => Ok(v[0]),
                Some(v) => Err(format!(
                    "SOP Instance UID {u} is in several files: {}",
                    names(v)
                )),
            },
        };
        match found {
            Ok(file) => matched.push(Matched { row: r, file }),
            Err(m) => failed.push((r, m)),
        }
    }
    (matched, failed)
}

const FILE_KEYS: [&str; 5] = ["file", "file_name", "filename", "image", "path"];
const UID_KEYS: [&str; 3] = ["sop_instance_uid", "sopinstanceuid", "sop_instance"];

pub(super) fn ingest(source: &Path, opts: &IngestOptions) -> Result<Ingested, DataError> {
    let labels = opts.labels.as_deref().ok_or_else(|| {
        DataError::Invalid(
            "dicom-dir needs --labels CSV (file name or SOP Instance UID → label)".into(),
        )
    })?;
    if !source.is_dir() {
        return Err(DataError::File {
            path: source.to_path_buf(),
            message: "not a folder".into(),
        });
    }
    let mut problems = Vec::new();

    // The DICOM files and their headers.
    let mut paths = Vec::new();
    let mut stack = vec![source.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir)
            .map_err(|e| io_err(&dir, e))?
            .flatten()
        {
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(e.path()),
                Ok(t) if t.is_file() => paths.push(e.path()),
                _ => {}
            }
        }
    }
    paths.sort();
    let infos: Vec<(PathBuf, Result<imaging::ImageInfo, imaging::ImageError>)> = paths
        .into_par_iter()
        .map(|p| {
            let info = imaging::read_info(&p);
            (p, info)
        })
        .collect();
    let mut files = Vec::new();
    let mut full_paths = Vec::new();
    for (p, info) in infos {
        let is_dcm = p
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("dcm") || e.eq_ignore_ascii_case("dicom"));
        match info {
            Ok(i) if i.format == Some(imaging::Format::Dicom) => {
                files.push(DicomFile {
                    rel: relative_to(&p, source),
                    sop_instance: i.sop_instance.clone(),
                    laterality: i.laterality.clone(),
                    view: i.view.clone(),
                });
                full_paths.push(p);
            }
            Err(e) if is_dcm => problems.push(Problem {
                file: p.clone(),
                line: 0,
                image: p.display().to_string(),
                patient_id: String::new(),
                label: String::new(),
                reason: format!("unreadable DICOM: {e}"),
            }),
            _ => {}
        }
    }

    // The label rows.
    let f = std::fs::File::open(labels).map_err(|e| io_err(labels, e))?;
    let mut rdr = csv::ReaderBuilder::new().flexible(true).from_reader(f);
    let headers = rdr
        .headers()
        .map_err(|e| DataError::Csv {
            path: labels.to_path_buf(),
            line: 1,
            message: e.to_string(),
        })?
        .clone();
    let find = |names: &[&str]| {
        headers
            .iter()
            .position(|h| names.iter().any(|n| h.trim().eq_ignore_ascii_case(n)))
    };
    let mapped = |col: &str| {
        opts.map
            .iter()
            .find(|(m, _)| m == col)
            .map(|(_, s)| s.clone())
            .unwrap_or_else(|| col.to_string())
    };
    let need = |col: &str| {
        let name = mapped(col);
        find(&[name.as_str()]).ok_or_else(|| DataError::Csv {
            path: labels.to_path_buf(),
            line: 1,
            message: format!("missing column '{name}'"),
        })
    };
    let patient_col = need("patient_id")?;
    let label_col = need("label")?;
    let lat_col = find(&[mapped("laterality").as_str()]);
    let view_col = find(&[mapped("view").as_str()]);
    let file_col = find(&FILE_KEYS);
    let uid_col = find(&UID_KEYS);
    if file_col.is_none() && uid_col.is_none() {
        return Err(DataError::Csv {
            path: labels.to_path_buf(),
            line: 1,
            message: format!(
                "no key column: expected one of {} or {}",
                FILE_KEYS.join(", "),
                UID_KEYS.join(", ")
            ),
        });
    }
    let used: Vec<usize> = [
        Some(patient_col),
        Some(label_col),
        lat_col,
        view_col,
        file_col,
        uid_col,
    ]
    .into_iter()
    .flatten()
    .collect();
    let extra_idx: Vec<usize> = (0..headers.len()).filter(|i| !used.contains(i)).collect();
    let mut rows = Vec::new();
    let mut cells: Vec<csv::StringRecord> = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| DataError::Csv {
            path: labels.to_path_buf(),
            line: e.position().map(|p| p.line()).unwrap_or(0),
            message: e.to_string(),
        })?;
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        let cell = |c: Option<usize>| c.and_then(|i| rec.get(i)).unwrap_or("").trim().to_string();
        let key = match (cell(file_col), cell(uid_col)) {
            (f, _) if !f.is_empty() => KeyKind::File(f),
            (_, u) if !u.is_empty() => KeyKind::SopInstanceUid(u),
            _ => KeyKind::File(String::new()),
        };
        rows.push(LabelRow { line, key });
        cells.push(rec);
    }
    let (matched, failed) = match_labels(&files, &rows);
    let cell = |r: usize, c: Option<usize>| {
        c.and_then(|i| cells[r].get(i))
            .unwrap_or("")
            .trim()
            .to_string()
    };
    let row_problem = |r: usize, image: String, reason: String| Problem {
        file: labels.to_path_buf(),
        line: rows[r].line,
        image,
        patient_id: cell(r, Some(patient_col)),
        label: cell(r, Some(label_col)),
        reason,
    };
    for (r, reason) in failed {
        let key = match &rows[r].key {
            KeyKind::File(k) | KeyKind::SopInstanceUid(k) => k.clone(),
        };
        let reason = if key.is_empty() {
            "no file name or SOP Instance UID".to_string()
        } else {
            reason
        };
        problems.push(row_problem(r, key, reason));
    }
    let mut out = Ingested {
        manifest: Manifest {
            root: opts.out_dir.clone(),
            extra_columns: extra_idx
                .iter()
                .map(|&i| headers[i].trim().to_string())
                .collect(),
            records: vec![],
        },
        ..Ingested::default()
    };
    let mut labelled = vec![false; files.len()];
    for m in matched {
        labelled[m.file] = true;
        let f = &files[m.file];
        let image = relative_to(&full_paths[m.file], &opts.out_dir);
        let mut reasons = Vec::new();
        let label = map_label(&cell(m.row, Some(label_col)), &opts.label_map)
            .map_err(|e| reasons.push(e))
            .ok();
        let patient_id = cell(m.row, Some(patient_col));
        if patient_id.is_empty() {
            reasons.push("empty 'patient_id'".into());
        }
        let mut pick = |what: &str, header: Option<&str>, csv: String, norm: fn(&str) -> String| {
            let h = header.map(norm).filter(|s| !s.is_empty());
            let c = Some(norm(&csv)).filter(|s| !s.is_empty());
            match (h, c) {
                (Some(h), Some(c)) if h != c => {
                    reasons.push(format!(
                        "{what} {c} in the label CSV but {h} in the DICOM header of {}",
                        f.rel
                    ));
                    h
                }
                (Some(h), _) => h,
                (None, c) => c.unwrap_or_default(),
            }
        };
        let laterality = pick(
            "laterality",
            f.laterality.as_deref(),
            cell(m.row, lat_col),
            norm_laterality,
        );
        let view = pick("view", f.view.as_deref(), cell(m.row, view_col), |s| {
            s.trim().to_ascii_uppercase()
        });
        match label {
            Some(label) if reasons.is_empty() => {
                out.manifest.records.push(Record {
                    image,
                    patient_id,
                    laterality,
                    view,
                    label,
                    extra: extra_idx.iter().map(|&i| cell(m.row, Some(i))).collect(),
                    line: 0,
                });
                out.origins.push(Origin {
                    file: labels.to_path_buf(),
                    line: rows[m.row].line,
                });
            }
            _ => problems.extend(
                reasons
                    .into_iter()
                    .map(|r| row_problem(m.row, image.clone(), r)),
            ),
        }
    }
    let unlabelled = labelled.iter().filter(|l| !**l).count();
    if unlabelled > 0 {
        out.notes.push(format!(
            "{unlabelled} DICOM files in {} have no label row and were left out",
            source.display()
        ));
    }
    problems.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    out.problems = problems;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(rel: &str, uid: &str) -> DicomFile {
        DicomFile {
            rel: rel.into(),
            sop_instance: Some(uid.into()),
            ..DicomFile::default()
        }
    }

    fn row(line: u64, key: KeyKind) -> LabelRow {
        LabelRow { line, key }
    }

    #[test]
    fn keys_by_path_name_stem_and_uid() {
        let files = vec![
            file("a/x.dcm", "1.2.3"),
            file("b/x.dcm", "1.2.4"),
            file("b/y.dcm", "1.2.5"),
            file("c/z.dcm", "1.2.5"),
        ];
        let rows = vec![
            row(2, KeyKind::File("a/x.dcm".into())),
            row(3, KeyKind::File("y.dcm".into())),
            row(4, KeyKind::File("y".into())),
            row(5, KeyKind::SopInstanceUid("1.2.4".into())),
            row(6, KeyKind::File("x.dcm".into())),
            row(7, KeyKind::SopInstanceUid("1.2.5".into())),
            row(8, KeyKind::SopInstanceUid("9.9".into())),
            row(9, KeyKind::File("nothere.dcm".into())),
            row(10, KeyKind::File("./b\\x.dcm".into())),
        ];
        let (m, failed) = match_labels(&files, &rows);
        assert_eq!(
            m,
            vec![
                Matched { row: 0, file: 0 },
                Matched { row: 1, file: 2 },
                Matched { row: 2, file: 2 },
                Matched { row: 3, file: 1 },
                Matched { row: 8, file: 1 },
            ]
        );
        let f: Vec<(usize, &str)> = failed.iter().map(|(r, m)| (*r, m.as_str())).collect();
        assert_eq!(
            f,
            vec![
                (4, "file name 'x.dcm' is ambiguous: a/x.dcm, b/x.dcm"),
                (
                    5,
                    "SOP Instance UID 1.2.5 is in several files: b/y.dcm, c/z.dcm"
                ),
                (6, "no DICOM file with SOP Instance UID 9.9"),
                (7, "no DICOM file 'nothere.dcm' in the folder"),
            ]
        );
    }
}
