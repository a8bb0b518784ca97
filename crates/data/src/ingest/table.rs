//! `csv`: any CSV with a column mapping (`--map image=COL,patient_id=COL,label=COL,…`)
//! and an optional label-value mapping (`--label-map 0=negative,1=benign,2=malignant`).
//!
//! Manifest columns not named in the map are looked up by their own name; `image`,
//! `patient_id` and `label` are required, `laterality` and `view` optional. Every other
//! source column is kept as an extra column. Image paths are resolved against
//! `--images DIR` (default: the CSV's folder) and stored relative to the manifest.
//! Laterality spellings `LEFT`/`RIGHT` become `L`/`R`; views are upper-cased.

use super::{io_err, map_label, norm_laterality, parent_dir, relative_to, IngestOptions, Ingested};
use crate::manifest::REQUIRED_COLUMNS;
use crate::validate::{Origin, Problem};
use crate::{DataError, Manifest, Record};
use std::path::Path;

pub(super) fn ingest(source: &Path, opts: &IngestOptions) -> Result<Ingested, DataError> {
    for (k, _) in &opts.map {
        if !REQUIRED_COLUMNS.contains(&k.as_str()) {
            return Err(DataError::Invalid(format!(
                "--map: unknown manifest column '{k}' (expected one of {})",
                REQUIRED_COLUMNS.join(", ")
            )));
        }
    }
    let file = std::fs::File::open(source).map_err(|e| io_err(source, e))?;
    let mut rdr = csv::ReaderBuilder::new().flexible(true).from_reader(file);
    let headers = rdr
        .headers()
        .map_err(|e| DataError::Csv {
            path: source.to_path_buf(),
            line: 1,
            message: e.to_string(),
        })?
        .clone();
    let find = |name: &str| headers.iter().position(|h| h.trim() == name);
    // index[k] = source column of manifest column k (None: optional and absent).
    let mut index: [Option<usize>; 5] = [None; 5];
    for (k, col) in REQUIRED_COLUMNS.iter().enumerate() {
        let source_name = opts
            .map
            .iter()
            .find(|(m, _)| m == col)
            .map(|(_, s)| s.as_str())
            .unwrap_or(col);
        index[k] = find(source_name);
        let required = matches!(*col, "image" | "patient_id" | "label");
        if index[k].is_none() && (required || source_name != *col) {
            return Err(DataError::Csv {
                path: source.to_path_buf(),
                line: 1,
                message: format!("missing column '{source_name}' (for manifest column '{col}')"),
            });
        }
    }
    let used: Vec<usize> = index.iter().flatten().copied().collect();
    let extra_idx: Vec<usize> = (0..headers.len()).filter(|i| !used.contains(i)).collect();
    let extra_columns = extra_idx
        .iter()
        .map(|&i| headers[i].trim().to_string())
        .collect();
    let image_dir = opts.images.clone().unwrap_or_else(|| parent_dir(source));

    let mut out = Ingested {
        manifest: Manifest {
            root: opts.out_dir.clone(),
            extra_columns,
            records: vec![],
        },
        ..Ingested::default()
    };
    for row in rdr.records() {
        let row = row.map_err(|e| DataError::Csv {
            path: source.to_path_buf(),
            line: e.position().map(|p| p.line()).unwrap_or(0),
            message: e.to_string(),
        })?;
        let line = row.position().map(|p| p.line()).unwrap_or(0);
        let get = |k: usize| {
            index[k]
                .and_then(|i| row.get(i))
                .unwrap_or("")
                .trim()
                .to_string()
        };
        let (image, patient_id, label_text) = (get(0), get(1), get(4));
        let problem = |reason: String| Problem {
            file: source.to_path_buf(),
            line,
            image: image.clone(),
            patient_id: patient_id.clone(),
            label: label_text.clone(),
            reason,
        };
        let mut reasons = Vec::new();
        if image.is_empty() {
            reasons.push("empty 'image'".to_string());
        }
        if patient_id.is_empty() {
            reasons.push("empty 'patient_id'".to_string());
        }
        let label = map_label(&label_text, &opts.label_map).map_err(|e| reasons.push(e));
        let (Ok(label), true) = (label, reasons.is_empty()) else {
            out.problems.extend(reasons.into_iter().map(problem));
            continue;
        };
        let path = Path::new(&image);
        let resolved = if path.is_absolute() {
            path.to_path_buf()
        } else {
            image_dir.join(path)
        };
        out.manifest.records.push(Record {
            image: relative_to(&resolved, &opts.out_dir),
            patient_id,
            laterality: norm_laterality(&get(2)),
            view: get(3).to_ascii_uppercase(),
            label,
            extra: extra_idx
                .iter()
                .map(|&i| row.get(i).unwrap_or("").trim().to_string())
                .collect(),
            line: 0,
        });
        out.origins.push(Origin {
            file: source.to_path_buf(),
            line,
        });
    }
    Ok(out)
}
