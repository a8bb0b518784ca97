//! `mammorecall study`: the whole study (experiments × scenarios × test fractions) in one
//! command, resumable and shardable; `study init` writes a config; `study collect` builds
//! the report from a (sharded) study folder.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use study::grid::Shard;
use study::runner::StudyEvent;
use study::StudyConfig;
use train::trainer::Event;

#[derive(clap::Args)]
#[command(
    args_conflicts_with_subcommands = true,
    after_help = "Without --config: the built-in synthetic study (two synthetic sites with a domain shift, \
the study's full grid, sized for two CPU cores). Re-running a study continues where it stopped; \
finished cells are never recomputed. On Slurm: scripts/slurm/study.sbatch."
)]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Study configuration (TOML; `mammorecall study init` writes a commented one).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Study folder (created; an existing one is continued).
    #[arg(short, long, value_name = "OUT_DIR")]
    pub output: Option<PathBuf>,
    /// Run only shard I of N (cells I, I+N, I+2N, …), e.g. $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT;
    /// the report is then built by `study collect`.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<Shard>,
    /// No progress bars; one line per cell.
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(clap::Subcommand)]
pub enum Command {
    /// Write a commented study configuration to start from.
    Init {
        /// Where to write it.
        #[arg(short, long, default_value = "study.toml")]
        output: PathBuf,
        /// Replace an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Build the report of a study folder from all its finished cells (after the shards).
    Collect {
        /// The study folder.
        dir: PathBuf,
    },
}

pub fn run(a: Args) -> Result<()> {
    match a.command {
        Some(Command::Init { output, force }) => {
            if output.exists() && !force {
                bail!("{} exists: use --force to replace it", output.display());
            }
            store::write_atomic(&output, study::config::TEMPLATE.as_bytes())
                .with_context(|| format!("writing {}", output.display()))?;
            println!(
                "wrote {}: edit the datasets, then `mammorecall study --config {} -o OUT_DIR`",
                output.display(),
                output.display()
            );
            Ok(())
        }
        Some(Command::Collect { dir }) => collect(&dir),
        None => run_study(a),
    }
}

fn collect(dir: &std::path::Path) -> Result<()> {
    let path = dir.join(study::runner::STUDY_FILE);
    let cfg = StudyConfig::load(&path)
        .with_context(|| format!("{} is not a study folder", dir.display()))?;
    let r = study::report::build(&cfg, dir)?;
    println!(
        "report: {} ({} of {} cells finished, {} figures)",
        r.path.display(),
        r.finished,
        r.total,
        r.figures
    );
    Ok(())
}

fn run_study(a: Args) -> Result<()> {
    let out = a.output.clone().context("-o OUT_DIR is required")?;
    let cfg = match &a.config {
        Some(p) => StudyConfig::load(p)?,
        None => {
            let existing = out.join(study::runner::STUDY_FILE);
            if existing.is_file() {
                // Continuing a study: its own configuration.
                StudyConfig::load(&existing)?
            } else {
                StudyConfig::default()
            }
        }
    };
    let shard = a.shard.unwrap_or(Shard::ALL);
    let quiet = a.quiet || !std::io::stderr().is_terminal();
    let multi = MultiProgress::new();
    let mut cells_bar: Option<ProgressBar> = None;
    let mut train_bar: Option<ProgressBar> = None;
    let style =
        |t: &str| ProgressStyle::with_template(t).unwrap_or_else(|_| ProgressStyle::default_bar());
    let mut observer = |e: StudyEvent| match e {
        StudyEvent::Planned { owned, total, done } => {
            eprintln!(
                "study: {} cells in the grid, {owned} in shard {shard}, {done} already finished",
                total
            );
            if !quiet {
                let b = multi.add(ProgressBar::new(owned as u64));
                b.set_style(style(
                    "cells    {bar:30} {pos}/{len} {elapsed_precise} (eta {eta}) {msg}",
                ));
                cells_bar = Some(b);
            }
        }
        StudyEvent::CellStarted { key, resumed } => {
            if quiet {
                eprintln!("{key}: {}", if resumed { "resuming" } else { "training" });
            } else if let Some(b) = &cells_bar {
                b.set_message(key.to_string());
            }
        }
        StudyEvent::Training(_, Event::Started { start, total }) => {
            if !quiet {
                let b = multi.add(ProgressBar::new(*total as u64));
                b.set_style(style("training {bar:30} {pos}/{len} {msg}"));
                b.set_position(*start as u64);
                if let Some(old) = train_bar.replace(b) {
                    old.finish_and_clear();
                }
            }
        }
        StudyEvent::Training(_, Event::Iteration(row)) => {
            if let Some(b) = &train_bar {
                b.set_position(row.iteration as u64);
                b.set_message(format!("loss {:.4}", row.loss));
            }
        }
        StudyEvent::Training(_, Event::Checkpoint(_)) => {}
        StudyEvent::CellFinished { record, computed } => {
            if let Some(b) = train_bar.take() {
                b.finish_and_clear();
            }
            if let Some(b) = &cells_bar {
                b.inc(1);
            }
            if computed && record.not_applicable.is_none() {
                let line = format!(
                    "{}: AUC {} [{:.1} s]",
                    record.key,
                    record.auc.map_or("n/a".into(), |v| format!("{v:.3}")),
                    record.seconds
                );
                if quiet {
                    eprintln!("{line}");
                } else {
                    let _ = multi.println(line);
                }
            }
        }
        StudyEvent::Warning(w) => {
            if quiet {
                eprintln!("warning: {w}");
            } else {
                let _ = multi.println(format!("warning: {w}"));
            }
        }
    };
    let args: Vec<String> = std::env::args().collect();
    let summary = study::runner::run(&cfg, &out, shard, &args, &mut observer)?;
    if let Some(b) = cells_bar {
        b.finish_and_clear();
    }
    println!(
        "study {}: {} cells computed, {} already finished (shard {shard} of a {}-cell grid)",
        out.display(),
        summary.computed,
        summary.skipped,
        summary.total
    );
    if shard.count == 1 {
        collect(&out)?;
    } else {
        println!(
            "when every shard is done: mammorecall study collect {}",
            out.display()
        );
    }
    Ok(())
}
