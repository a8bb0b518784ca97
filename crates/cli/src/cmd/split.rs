//! `mammorecall split MANIFEST --test-fraction F --folds K --seed S -o SPLIT.csv`:
//! patient-level, label-stratified test part and k-fold assignment.

use super::ingest::flat;
use anyhow::Context;
use data::{Label, Manifest, Part, Scenario, Split, SplitSettings};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// Arguments of `mammorecall split`.
#[derive(clap::Args)]
pub struct Args {
    /// The manifest (labels.csv schema).
    pub manifest: PathBuf,
    /// Fraction of patients in the independent test part (the study: 0.05, 0.10, 0.15).
    #[arg(long, default_value_t = 0.05)]
    pub test_fraction: f64,
    /// Number of cross-validation folds of the rest.
    #[arg(long, default_value_t = 6)]
    pub folds: usize,
    /// Repeated k-fold: number of fold assignments (columns part, part_2, …).
    #[arg(long, default_value_t = 1)]
    pub repeats: usize,
    /// Seed of every shuffle; the same seed gives the same split.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Split only the images this scenario uses (e.g. malignant-vs-negative).
    #[arg(long)]
    pub scenario: Option<Scenario>,
    /// The split CSV to write (image, patient_id, label, part).
    #[arg(short, long, value_name = "SPLIT.csv")]
    pub output: PathBuf,
}

/// Runs `mammorecall split`.
pub fn run(a: Args) -> anyhow::Result<()> {
    let m = Manifest::read(&a.manifest).map_err(flat)?;
    let subset: Option<Vec<usize>> = a.scenario.map(|s| {
        let labels: Vec<Label> = m.records.iter().map(|r| r.label).collect();
        s.select(&labels).into_iter().map(|(i, _)| i).collect()
    });
    let settings = SplitSettings {
        test_fraction: a.test_fraction,
        folds: a.folds,
        repeats: a.repeats,
        seed: a.seed,
    };
    let split = Split::make(&m, subset.as_deref(), settings)
        .map_err(flat)
        .with_context(|| format!("splitting {}", a.manifest.display()))?;
    split.write(&a.output).map_err(flat)?;

    // Per part (first repeat): images per label and patients.
    let mut table: BTreeMap<Part, ([usize; 3], BTreeSet<&str>)> = BTreeMap::new();
    for r in &split.rows {
        let e = table.entry(r.parts[0]).or_default();
        e.0[r.label as usize] += 1;
        e.1.insert(&r.patient_id);
    }
    println!(
        "wrote {}: {} images, seed {}, test fraction {}, {} folds{}",
        a.output.display(),
        split.rows.len(),
        a.seed,
        a.test_fraction,
        a.folds,
        if a.repeats > 1 {
            format!(", {} repeats (table: repeat 1)", a.repeats)
        } else {
            String::new()
        }
    );
    println!(
        "{:<8} {:>8} {:>9} {:>9} {:>7} {:>10}",
        "part", "patients", "images", "negative", "benign", "malignant"
    );
    for (part, (n, patients)) in &table {
        println!(
            "{:<8} {:>8} {:>9} {:>9} {:>7} {:>10}",
            part.to_string(),
            patients.len(),
            n.iter().sum::<usize>(),
            n[0],
            n[1],
            n[2]
        );
    }
    Ok(())
}
