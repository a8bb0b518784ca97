//! `mammorecall ingest FORMAT SOURCE -o MANIFEST.csv`: build a manifest from a public
//! dataset layout, validate it, and write it (or refuse, listing every problem).

use anyhow::Context;
use data::ingest::{self, BenignWithoutCallback, Format, IngestOptions};
use data::validate::{self, ValidateOptions};
use data::{Problem, Summary};
use std::path::PathBuf;

/// Arguments of `mammorecall ingest`.
#[derive(clap::Args)]
pub struct Args {
    /// Source layout: `mias` (Info.txt or a labels.csv), `cbis-ddsm` (case-description
    /// CSV or a folder of them), `dicom-dir` (a folder of DICOMs, with --labels), `csv`
    /// (any CSV, with --map and --label-map).
    pub format: Format,
    /// The source file or folder.
    pub source: PathBuf,
    /// The manifest to write; image paths are stored relative to its folder.
    #[arg(short, long, value_name = "MANIFEST.csv")]
    pub output: PathBuf,
    /// Folder the images are looked for in (cbis-ddsm, csv); default: the source's folder.
    #[arg(long, value_name = "DIR")]
    pub images: Option<PathBuf>,
    /// dicom-dir: CSV with patient_id, label and a `file` or `sop_instance_uid` column.
    #[arg(long, value_name = "CSV")]
    pub labels: Option<PathBuf>,
    /// csv, dicom-dir: manifest column = source column, e.g.
    /// `image=path,patient_id=subject,label=y,laterality=side,view=view`.
    #[arg(long, value_name = "COL=SRC,...")]
    pub map: Option<String>,
    /// csv, dicom-dir: source label value = label, e.g. `0=negative,1=benign,2=malignant`.
    #[arg(long, value_name = "VALUE=LABEL,...")]
    pub label_map: Option<String>,
    /// cbis-ddsm: what BENIGN_WITHOUT_CALLBACK becomes: exclude, negative or benign.
    #[arg(
        long,
        default_value = "exclude",
        value_name = "exclude|negative|benign"
    )]
    pub benign_without_callback: BenignWithoutCallback,
    /// Drop the bad rows instead of refusing; they are written to MANIFEST.dropped.csv.
    #[arg(long)]
    pub skip_bad: bool,
}

/// A data-layer error as one flat message: it already names the file (and line), and
/// chaining its I/O source would print the reason twice.
pub(crate) fn flat(e: data::DataError) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

/// Runs `mammorecall ingest`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let out_dir = args
        .output
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    let opts = IngestOptions {
        out_dir,
        images: args.images.clone(),
        labels: args.labels.clone(),
        map: match &args.map {
            Some(m) => ingest::parse_pairs(m).context("--map")?,
            None => vec![],
        },
        label_map: match &args.label_map {
            Some(m) => ingest::parse_label_map(m).context("--label-map")?,
            None => vec![],
        },
        benign_without_callback: args.benign_without_callback,
    };
    let got = ingest::ingest(args.format, &args.source, &opts).map_err(flat)?;
    for n in &got.notes {
        eprintln!("note: {n}");
    }
    let checked = validate::validate(&got.manifest, &got.origins, ValidateOptions::default());
    let mut problems: Vec<Problem> = got.problems.clone();
    problems.extend(checked.iter().map(|p| p.problem.clone()));
    problems.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));

    if !problems.is_empty() && !args.skip_bad {
        for p in &problems {
            eprintln!("{p}");
        }
        anyhow::bail!(
            "{}: {} problem(s); nothing written (fix them, or drop them with --skip-bad)",
            args.source.display(),
            problems.len()
        );
    }
    let kept = validate::drop_bad(&got.manifest, &checked);
    if args.skip_bad {
        // Written first, so the user learns why even when nothing is left.
        let dropped = validate::dropped_path(&args.output);
        validate::write_dropped(&dropped, &problems).map_err(flat)?;
        eprintln!(
            "dropped {} problem row(s), listed in {}",
            problems.len(),
            dropped.display()
        );
    }
    if kept.records.is_empty() {
        anyhow::bail!(
            "{}: no valid images; manifest not written",
            args.source.display()
        );
    }
    kept.write(&args.output).map_err(flat)?;
    let s = Summary::of(&kept);
    let counts: Vec<String> = s
        .labels
        .iter()
        .map(|(l, c)| format!("{l} {}", c.images))
        .collect();
    println!(
        "wrote {}: {} images, {} patient(s) ({})",
        args.output.display(),
        s.images,
        s.patients,
        counts.join(", ")
    );
    Ok(())
}
