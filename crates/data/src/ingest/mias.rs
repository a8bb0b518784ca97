//! mini-MIAS: `Info.txt` (or a labels.csv in the manifest schema).
//!
//! `Info.txt` rows are `mdbNNN TISSUE CLASS [SEVERITY [X Y RADIUS | *NOTE 3*]]`; an image
//! with several abnormalities has several rows. Rules:
//! - label: `malignant` if any row is M, `benign` if the rows are all B, `negative` for NORM;
//! - patient: films come in pairs (Info.txt note 1), so mdbNNN belongs to patient
//!   ceil(NNN/2), written `mias_pNNN`;
//! - view: `MLO` (MIAS holds only mediolateral-oblique films);
//! - laterality: left empty. Info.txt says even numbers are left, odd right, but film
//!   markers in several images disagree; the claim is kept in the extra column
//!   `laterality_per_infotxt_note`;
//! - image: `mdbNNN.pgm` or `mdbNNN.png`, next to Info.txt or in `images/` beside it;
//! - extras as in the shared labels.csv: `background_tissue`, `abnormality_class`,
//!   `severity`, `x`, `y_from_bottom`, `y_from_top` (= 1024 − y, the image row, since
//!   Info.txt's origin is bottom-left), `radius`, `n_abnormalities`, `note`; values of
//!   several abnormalities are joined with `;`.

use super::{io_err, parent_dir, relative_to, IngestOptions, Ingested};
use crate::validate::{Origin, Problem};
use crate::{DataError, Label, Manifest, Record};
use std::path::{Path, PathBuf};

/// The side of every mini-MIAS image, in pixels.
const SIDE: i64 = 1024;

const EXTRA_COLUMNS: [&str; 10] = [
    "laterality_per_infotxt_note",
    "background_tissue",
    "abnormality_class",
    "severity",
    "x",
    "y_from_bottom",
    "y_from_top",
    "radius",
    "n_abnormalities",
    "note",
];

/// One abnormality row of Info.txt.
#[derive(Debug, Clone, PartialEq)]
struct Row {
    number: u32,
    line: u64,
    tissue: String,
    class: String,
    severity: Option<char>,
    centre: Option<(i64, i64, i64)>,
    note: Option<String>,
}

pub(super) fn ingest(source: &Path, opts: &IngestOptions) -> Result<Ingested, DataError> {
    let is_csv = source
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    if is_csv {
        // A labels.csv already in the manifest schema: the generic reader does it.
        return super::table::ingest(source, opts);
    }
    let text = std::fs::read_to_string(source).map_err(|e| io_err(source, e))?;
    let (rows, mut problems) = parse_info(&text, source);
    if rows.is_empty() && problems.is_empty() {
        return Err(DataError::File {
            path: source.to_path_buf(),
            message: "no mdbNNN rows found: not a mini-MIAS Info.txt".into(),
        });
    }
    let dir = parent_dir(source);
    let mut records = Vec::new();
    let mut origins = Vec::new();
    let mut i = 0;
    while i < rows.len() {
        let mut j = i + 1;
        while j < rows.len() && rows[j].number == rows[i].number {
            j += 1;
        }
        let group = &rows[i..j];
        i = j;
        match build(group, &dir, &opts.out_dir) {
            Ok(r) => {
                origins.push(Origin {
                    file: source.to_path_buf(),
                    line: group[0].line,
                });
                records.push(r);
            }
            Err(reason) => problems.push(Problem {
                file: source.to_path_buf(),
                line: group[0].line,
                image: format!("mdb{:03}", group[0].number),
                patient_id: patient_of(group[0].number),
                label: String::new(),
                reason,
            }),
        }
    }
    Ok(Ingested {
        manifest: Manifest {
            root: opts.out_dir.clone(),
            extra_columns: EXTRA_COLUMNS.iter().map(|s| s.to_string()).collect(),
            records,
        },
        origins,
        problems,
        notes: vec![],
    })
}

fn patient_of(number: u32) -> String {
    format!("mias_p{:03}", number.div_ceil(2))
}

/// Parses the `mdbNNN …` rows; other lines (the prose header) are ignored.
fn parse_info(text: &str, source: &Path) -> (Vec<Row>, Vec<Problem>) {
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    for (k, raw) in text.lines().enumerate() {
        let line = k as u64 + 1;
        let t: Vec<&str> = raw.split_whitespace().collect();
        let Some(first) = t.first() else { continue };
        if !first.starts_with("mdb") {
            continue;
        }
        let problem = |reason: String| Problem {
            file: source.to_path_buf(),
            line,
            image: first.to_string(),
            patient_id: String::new(),
            label: String::new(),
            reason,
        };
        let Some(number) = first[3..].parse::<u32>().ok().filter(|&n| n > 0) else {
            problems.push(problem(format!("bad reference number '{first}'")));
            continue;
        };
        if t.len() < 3 {
            problems.push(problem(format!(
                "expected 'mdbNNN TISSUE CLASS …', found '{}'",
                raw.trim()
            )));
            continue;
        }
        let tissue = t[1].to_string();
        if !matches!(t[1], "F" | "G" | "D") {
            problems.push(problem(format!(
                "unknown background tissue '{}' (expected F, G or D)",
                t[1]
            )));
            continue;
        }
        let class = t[2].to_string();
        if !matches!(
            t[2],
            "CALC" | "CIRC" | "SPIC" | "MISC" | "ARCH" | "ASYM" | "NORM"
        ) {
            problems.push(problem(format!("unknown abnormality class '{}'", t[2])));
            continue;
        }
        let severity = match t.get(3) {
            None => None,
            Some(&"B") => Some('B'),
            Some(&"M") => Some('M'),
            Some(other) => {
                problems.push(problem(format!(
                    "unknown severity '{other}' (expected B or M)"
                )));
                continue;
            }
        };
        if (class == "NORM") != severity.is_none() {
            problems.push(problem(if class == "NORM" {
                "a NORM row has a severity".into()
            } else {
                format!("abnormality {class} has no severity (B or M)")
            }));
            continue;
        }
        let rest = &t[t.len().min(4)..];
        let (centre, note) = if rest.is_empty() {
            (None, None)
        } else if rest[0].starts_with('*') {
            let note = rest.join(" ");
            let why = if note.contains("NOTE 3") {
                " (calcifications widely distributed; no centre/radius given)"
            } else {
                ""
            };
            (None, Some(format!("Info.txt: {note}{why}")))
        } else {
            let nums: Vec<Option<i64>> = rest.iter().map(|s| s.parse::<i64>().ok()).collect();
            match nums.as_slice() {
                [Some(x), Some(y), Some(r)] if (0..=SIDE).contains(x) && (0..=SIDE).contains(y) => {
                    (Some((*x, *y, *r)), None)
                }
                _ => {
                    problems.push(problem(format!(
                        "expected 'X Y RADIUS' (0..{SIDE}), found '{}'",
                        rest.join(" ")
                    )));
                    continue;
                }
            }
        };
        if let Some(prev) = rows.last().map(|r: &Row| r.number) {
            if number < prev {
                problems.push(problem(format!(
                    "mdb{number:03} comes after mdb{prev:03}: rows must be in order"
                )));
                continue;
            }
        }
        rows.push(Row {
            number,
            line,
            tissue,
            class,
            severity,
            centre,
            note,
        });
    }
    (rows, problems)
}

/// One record from the rows of one image.
fn build(group: &[Row], dir: &Path, out_dir: &Path) -> Result<Record, String> {
    let number = group[0].number;
    let normal = group.iter().filter(|r| r.class == "NORM").count();
    if normal > 0 && normal < group.len() {
        return Err(format!(
            "mdb{number:03} is listed both as NORM and with an abnormality"
        ));
    }
    if normal > 1 {
        return Err(format!("mdb{number:03} is listed as NORM twice"));
    }
    let label = if group.iter().any(|r| r.severity == Some('M')) {
        Label::Malignant
    } else if group.iter().any(|r| r.severity == Some('B')) {
        Label::Benign
    } else {
        Label::Negative
    };
    let join = |f: &dyn Fn(&Row) -> String| {
        let v: Vec<String> = group.iter().map(f).collect();
        if v.iter().all(String::is_empty) {
            String::new()
        } else {
            v.join(";")
        }
    };
    let mut tissues: Vec<&str> = group.iter().map(|r| r.tissue.as_str()).collect();
    tissues.dedup();
    let n_abn = if normal > 0 { 0 } else { group.len() };
    let mut notes: Vec<String> = group.iter().filter_map(|r| r.note.clone()).collect();
    notes.dedup();
    if group.iter().any(|r| r.severity == Some('B')) && label == Label::Malignant {
        notes.push("benign and malignant abnormalities; image label = malignant".into());
    }
    let extra = vec![
        // Even numbers are left films (Info.txt note 1).
        if number & 1 == 0 { "L" } else { "R" }.to_string(),
        tissues.join(";"),
        join(&|r| r.class.clone()),
        join(&|r| r.severity.map(String::from).unwrap_or_default()),
        join(&|r| r.centre.map(|c| c.0.to_string()).unwrap_or_default()),
        join(&|r| r.centre.map(|c| c.1.to_string()).unwrap_or_default()),
        join(&|r| {
            r.centre
                .map(|c| (SIDE - c.1).to_string())
                .unwrap_or_default()
        }),
        join(&|r| r.centre.map(|c| c.2.to_string()).unwrap_or_default()),
        n_abn.to_string(),
        notes.join("; "),
    ];
    Ok(Record {
        image: relative_to(&find_image(dir, number), out_dir),
        patient_id: patient_of(number),
        laterality: String::new(),
        view: "MLO".into(),
        label,
        extra,
        line: 0,
    })
}

/// The image file of mdbNNN; when none exists, the distribution's own name
/// (`mdbNNN.pgm` next to Info.txt), which validation then reports as missing.
fn find_image(dir: &Path, number: u32) -> PathBuf {
    let stem = format!("mdb{number:03}");
    let candidates = [
        dir.join(format!("{stem}.pgm")),
        dir.join(format!("{stem}.png")),
        dir.join("images").join(format!("{stem}.pgm")),
        dir.join("images").join(format!("{stem}.png")),
    ];
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .unwrap_or_else(|| candidates[0].clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: &str = "header text\nmdb001 G CIRC B 535 425 197\nmdb002 G CIRC B 522 280 69\n\
        mdb003 D NORM \nmdb005 F CIRC B 477 133 30\nmdb005 F CIRC B 500 168 26\n\
        mdb059 F CIRC B\nmdb144 F MISC B 233 994 29\nmdb144 F MISC M 313 540 27\n\
        mdb216 D CALC M *NOTE 3* \nmdb300 X NORM\nmdb301 F CIRC\nmdb302 F CIRC B 1 2\n";

    #[test]
    fn parses_info_rows_and_problems() {
        let (rows, problems) = parse_info(INFO, Path::new("Info.txt"));
        assert_eq!(rows.len(), 9);
        assert_eq!(rows[0].centre, Some((535, 425, 197)));
        assert_eq!(rows[2].severity, None);
        assert_eq!(rows[5].centre, None);
        assert!(rows[8].note.as_deref().unwrap().contains("NOTE 3"));
        let p: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            p,
            vec![
                "Info.txt:11: unknown background tissue 'X' (expected F, G or D)",
                "Info.txt:12: abnormality CIRC has no severity (B or M)",
                "Info.txt:13: expected 'X Y RADIUS' (0..1024), found '1 2'",
            ]
        );
    }

    #[test]
    fn labels_patients_and_extras() {
        let (rows, _) = parse_info(INFO, Path::new("Info.txt"));
        let dir = Path::new("/m");
        let r005 = build(&rows[3..5], dir, dir).unwrap();
        assert_eq!(r005.label, Label::Benign);
        assert_eq!(r005.patient_id, "mias_p003");
        assert_eq!(r005.image, "mdb005.pgm");
        assert_eq!(r005.extra[0], "R");
        assert_eq!(r005.extra[4], "477;500");
        assert_eq!(r005.extra[6], "891;856");
        assert_eq!(r005.extra[8], "2");
        let r144 = build(&rows[6..8], dir, dir).unwrap();
        assert_eq!(r144.label, Label::Malignant);
        assert_eq!(r144.patient_id, "mias_p072");
        assert_eq!(r144.extra[3], "B;M");
        let r003 = build(&rows[2..3], dir, dir).unwrap();
        assert_eq!(r003.label, Label::Negative);
        assert_eq!(
            (r003.extra[2].as_str(), r003.extra[8].as_str()),
            ("NORM", "0")
        );
        let r059 = build(&rows[5..6], dir, dir).unwrap();
        assert_eq!(r059.extra[4], "");
        let mixed = [
            rows[2].clone(),
            Row {
                number: 3,
                ..rows[3].clone()
            },
        ];
        assert!(build(&mixed, dir, dir)
            .unwrap_err()
            .contains("both as NORM"));
    }
}
