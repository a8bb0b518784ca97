//! `mammorecall dataset summary|validate MANIFEST`: the dataset table, and the checks
//! `ingest` runs, on an existing manifest.

use super::ingest::flat;
use data::validate::{self, ValidateOptions};
use data::{Manifest, Summary};
use std::path::PathBuf;

/// Subcommands of `mammorecall dataset`.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Images and patients per label, views and laterality: the study's dataset table.
    Summary(SummaryArgs),
    /// Check a manifest (images readable, labels known, no duplicates, no image with
    /// two labels, no breast both negative and recalled); lists every problem.
    Validate(ValidateArgs),
}

/// Arguments of `mammorecall dataset summary`.
#[derive(clap::Args)]
pub struct SummaryArgs {
    /// The manifest (labels.csv schema).
    pub manifest: PathBuf,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `mammorecall dataset validate`.
#[derive(clap::Args)]
pub struct ValidateArgs {
    /// The manifest (labels.csv schema).
    pub manifest: PathBuf,
    /// Do not open the images (only the table's own consistency is checked).
    #[arg(long)]
    pub no_images: bool,
}

/// Runs `mammorecall dataset`.
pub fn run(cmd: Command) -> anyhow::Result<()> {
    match cmd {
        Command::Summary(a) => summary(a),
        Command::Validate(a) => validate(a),
    }
}

fn summary(a: SummaryArgs) -> anyhow::Result<()> {
    let m = Manifest::read(&a.manifest).map_err(flat)?;
    let s = Summary::of(&m);
    if a.json {
        println!("{}", serde_json::to_string_pretty(&s)?);
    } else {
        print!("{}", s.table());
    }
    Ok(())
}

fn validate(a: ValidateArgs) -> anyhow::Result<()> {
    let m = load_validated(&a.manifest, !a.no_images)?;
    println!(
        "{}: {} images, no problems",
        a.manifest.display(),
        m.records.len()
    );
    Ok(())
}

/// Reads a manifest and validates it (images opened unless `check_images` is off);
/// any problem fails with every problem listed as `file:line: problem` on stderr.
pub fn load_validated(path: &std::path::Path, check_images: bool) -> anyhow::Result<Manifest> {
    let (m, mut problems) = Manifest::read_lenient(path).map_err(flat)?;
    let origins = validate::origins_of(&m, path);
    problems.extend(
        validate::validate(&m, &origins, ValidateOptions { check_images })
            .into_iter()
            .map(|p| p.problem),
    );
    if problems.is_empty() {
        return Ok(m);
    }
    problems.sort_by_key(|p| p.line);
    for p in &problems {
        eprintln!("{p}");
    }
    anyhow::bail!("{}: {} problem(s)", path.display(), problems.len())
}
