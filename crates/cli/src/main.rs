//! `mammorecall`: train, evaluate and apply networks that sort screening mammograms
//! into negative, recalled-benign and malignant. This file only parses the command
//! line and dispatches; each subcommand lives in `cmd/`.

use clap::{Parser, Subcommand};

mod cmd;

/// Sort screening mammograms into negative, recalled-benign and malignant.
#[derive(Parser)]
#[command(
    name = "mammorecall",
    version,
    about = "Sort screening mammograms into negative, recalled-benign and malignant: decode, curate, split, preprocess, train, evaluate, predict",
    propagate_version = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the data pipeline end to end (synthetic default when no data is given).
    Prepare(cmd::prepare::Args),
    /// Write the 8-bit presentation image of a DICOM/PNG/PGM file as PNG.
    Convert(cmd::convert::Args),
    /// Print the header facts of an image (no patient identifiers unless asked).
    Info(cmd::info::Args),
    /// Generate synthetic screening mammograms with labels.csv.
    Synth(cmd::synth::Args),
    /// Build a manifest (labels.csv schema) from a public dataset layout.
    Ingest(cmd::ingest::Args),
    /// Inspect a manifest.
    #[command(subcommand)]
    Dataset(cmd::dataset::Command),
    /// Patient-level, label-stratified test/fold assignment.
    Split(cmd::split::Args),
    /// Build the preprocessed cache of a manifest.
    Preprocess(cmd::preprocess::Args),
    /// ROC/AUC statistics on a CSV of labels and scores.
    #[command(subcommand)]
    Stats(cmd::stats::Command),
    /// Train a network on one scenario (the study's recipe by default).
    Train(Box<cmd::train::Args>),
    /// Statistics of a run's predictions: AUC, CIs, specificity at 86.9% sensitivity, ROC.
    Evaluate(cmd::evaluate::Args),
    /// Class probabilities for DICOM/PNG/PGM files with a trained run.
    Predict(cmd::predict::Args),
    /// Grad-CAM heatmaps of a trained run over images, at their original resolution.
    Explain(cmd::explain::Args),
    /// The whole study: experiments × scenarios × test fractions, and its report.
    Study(Box<cmd::study::Args>),
    /// Training and inference throughput (images/s, peak memory).
    #[command(subcommand)]
    Bench(cmd::bench::Command),
}

fn main() {
    train::memory::retain_freed_memory();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Prepare(a) => cmd::prepare::run(a),
        Command::Convert(a) => cmd::convert::run(a),
        Command::Info(a) => cmd::info::run(a),
        Command::Synth(a) => cmd::synth::run(a),
        Command::Ingest(a) => cmd::ingest::run(a),
        Command::Dataset(c) => cmd::dataset::run(c),
        Command::Split(a) => cmd::split::run(a),
        Command::Preprocess(a) => cmd::preprocess::run(a),
        Command::Stats(c) => cmd::stats::run(c),
        Command::Train(a) => cmd::train::run(*a),
        Command::Evaluate(a) => cmd::evaluate::run(a),
        Command::Predict(a) => cmd::predict::run(a),
        Command::Explain(a) => cmd::explain::run(a),
        Command::Study(a) => cmd::study::run(*a),
        Command::Bench(c) => cmd::bench::run(c),
    };
    if let Err(e) = result {
        // One line, naming the file and the reason: scripts read stderr.
        eprintln!("error: {}", one_line(&e));
        std::process::exit(1);
    }
}

/// The error and its causes on one line, `a: b: c`, leaving out a cause whose text
/// the message before it already ends with (library errors that name their file
/// print their I/O source too).
fn one_line(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.ends_with(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}
