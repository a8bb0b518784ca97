//! Building a manifest from public dataset layouts: mini-MIAS (`mias`), CBIS-DDSM
//! case-description CSVs (`cbis-ddsm`), a folder of DICOMs with a label CSV
//! (`dicom-dir`) and any CSV with a column mapping (`csv`).
//!
//! Every reader returns an [`Ingested`]: the manifest (image paths relative to the
//! output manifest's folder), where each record came from, and the source rows that
//! could not become records. [`crate::validate`] then checks the result.

mod cbis;
mod dicom_dir;
mod mias;
mod table;

pub use cbis::BenignWithoutCallback;
pub use dicom_dir::{match_labels, DicomFile, KeyKind, LabelRow, Matched};

use crate::validate::{normalize, Origin, Problem};
use crate::{DataError, Label, Manifest};
use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::str::FromStr;

/// The source layouts `ingest` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// mini-MIAS `Info.txt` (or a labels.csv in the manifest schema).
    Mias,
    /// CBIS-DDSM case-description CSVs (a file, or a folder of them).
    CbisDdsm,
    /// A folder of DICOM files plus a label CSV keyed by file name or SOP Instance UID.
    DicomDir,
    /// Any CSV, with a column mapping and an optional label-value mapping.
    Csv,
}

impl Format {
    /// Every format, in the order the help lists them.
    pub const ALL: [Format; 4] = [
        Format::Mias,
        Format::CbisDdsm,
        Format::DicomDir,
        Format::Csv,
    ];

    /// The name on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Mias => "mias",
            Format::CbisDdsm => "cbis-ddsm",
            Format::DicomDir => "dicom-dir",
            Format::Csv => "csv",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| {
                format!("unknown format '{s}' (expected mias, cbis-ddsm, dicom-dir or csv)")
            })
    }
}

/// Settings of [`ingest`].
#[derive(Debug, Clone, Default)]
pub struct IngestOptions {
    /// Folder of the manifest that will be written; image paths are made relative to it.
    pub out_dir: PathBuf,
    /// Where images are looked for (`cbis-ddsm`, `csv`); defaults to the source's folder.
    pub images: Option<PathBuf>,
    /// The label CSV of `dicom-dir`.
    pub labels: Option<PathBuf>,
    /// `csv`: manifest column ← source column (`image`, `patient_id`, `label`,
    /// `laterality`, `view`); unmapped manifest columns are looked up by their own name.
    pub map: Vec<(String, String)>,
    /// `csv`, `dicom-dir`: source label value → label (e.g. `0` → negative). Values
    /// not in the map are parsed as label names.
    pub label_map: Vec<(String, Label)>,
    /// `cbis-ddsm`: what `BENIGN_WITHOUT_CALLBACK` becomes.
    pub benign_without_callback: BenignWithoutCallback,
}

/// The result of reading a source.
#[derive(Debug, Clone, Default)]
pub struct Ingested {
    /// The manifest (root = the output folder).
    pub manifest: Manifest,
    /// Where each record came from (same length as `manifest.records`).
    pub origins: Vec<Origin>,
    /// Source rows that could not become records.
    pub problems: Vec<Problem>,
    /// Notes for the user (rows excluded on purpose, files without labels, …).
    pub notes: Vec<String>,
}

/// Reads `source` in the given format.
pub fn ingest(format: Format, source: &Path, opts: &IngestOptions) -> Result<Ingested, DataError> {
    match format {
        Format::Mias => mias::ingest(source, opts),
        Format::CbisDdsm => cbis::ingest(source, opts),
        Format::DicomDir => dicom_dir::ingest(source, opts),
        Format::Csv => table::ingest(source, opts),
    }
}

/// Parses `a=b,c=d` into pairs (used by `--map` and `--label-map`).
pub fn parse_pairs(s: &str) -> Result<Vec<(String, String)>, DataError> {
    s.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            let (k, v) = p
                .split_once('=')
                .ok_or_else(|| DataError::Invalid(format!("'{p}' is not KEY=VALUE")))?;
            Ok((k.trim().to_string(), v.trim().to_string()))
        })
        .collect()
}

/// Parses a label map such as `0=negative,1=benign,2=malignant`.
pub fn parse_label_map(s: &str) -> Result<Vec<(String, Label)>, DataError> {
    parse_pairs(s)?
        .into_iter()
        .map(|(k, v)| {
            let l = v
                .parse::<Label>()
                .map_err(|e| DataError::Invalid(format!("label map '{k}={v}': {e}")))?;
            Ok((k, l))
        })
        .collect()
}

/// Maps a source label value through `map`, else parses it as a label name.
pub(crate) fn map_label(value: &str, map: &[(String, Label)]) -> Result<Label, String> {
    let v = value.trim();
    if let Some((_, l)) = map.iter().find(|(k, _)| k == v) {
        return Ok(*l);
    }
    v.parse::<Label>().map_err(|e| {
        if map.is_empty() {
            e
        } else {
            let keys: Vec<&str> = map.iter().map(|(k, _)| k.as_str()).collect();
            format!(
                "unknown label '{v}' (not in the label map: {})",
                keys.join(", ")
            )
        }
    })
}

/// `L`/`R` for left/right spellings, the input unchanged (trimmed) otherwise.
pub(crate) fn norm_laterality(s: &str) -> String {
    crate::validate::laterality_code(s)
        .map(str::to_string)
        .unwrap_or_else(|| s.trim().to_string())
}

/// An absolute, lexically normalised version of a path.
pub fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        normalize(path)
    } else {
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
        normalize(&cwd.join(path))
    }
}

/// `target` relative to the folder `base` (both made absolute first), with `/`
/// separators as manifests store them. Falls back to the absolute path when no relative
/// path exists (another drive on Windows).
pub fn relative_to(target: &Path, base: &Path) -> String {
    let t = absolute(target);
    let b = absolute(base);
    let tc: Vec<Component> = t.components().collect();
    let bc: Vec<Component> = b.components().collect();
    if tc.first() != bc.first() {
        return t.to_string_lossy().replace('\\', "/");
    }
    let common = tc.iter().zip(&bc).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".to_string(); bc.len() - common];
    parts.extend(
        tc[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    if parts.is_empty() {
        ".".into()
    } else {
        parts.join("/")
    }
}

/// The folder a source file lives in (`.` for a bare file name).
pub(crate) fn parent_dir(path: &Path) -> PathBuf {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

pub(crate) fn io_err(path: &Path, e: std::io::Error) -> DataError {
    DataError::Io {
        path: path.to_path_buf(),
        source: e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths() {
        assert_eq!(
            relative_to(Path::new("/a/b/img/x.png"), Path::new("/a/b")),
            "img/x.png"
        );
        assert_eq!(
            relative_to(Path::new("/data/m/x.png"), Path::new("/work/out")),
            "../../data/m/x.png"
        );
        assert_eq!(
            relative_to(Path::new("/a/./b/../c.png"), Path::new("/a")),
            "c.png"
        );
    }

    #[test]
    fn pairs_and_label_maps() {
        let m = parse_label_map("0=negative, 1=benign,2=MALIGNANT").unwrap();
        assert_eq!(map_label("1", &m), Ok(Label::Benign));
        assert_eq!(map_label("2", &m), Ok(Label::Malignant));
        assert_eq!(map_label("benign", &m), Ok(Label::Benign));
        assert!(map_label("3", &m)
            .unwrap_err()
            .contains("not in the label map"));
        assert!(parse_label_map("0=normal").is_err());
        assert!(parse_pairs("image").is_err());
        assert_eq!(
            parse_pairs("image=file,label=y").unwrap(),
            vec![
                ("image".into(), "file".into()),
                ("label".into(), "y".into())
            ]
        );
    }
}
