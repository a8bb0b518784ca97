//! `mammorecall bench`: training and inference throughput (images/s, peak memory), to
//! compare with PyTorch back to back on the same machine (../shared/bench).

use anyhow::Result;
use model::Architecture;

/// Throughput benchmarks.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Forward + backward + SGD step on random batches.
    Train(Args),
    /// Forward passes (inference mode) on random batches.
    Infer(Args),
}

/// Settings of a benchmark.
#[derive(clap::Args)]
pub struct Args {
    /// Architecture.
    #[arg(long, default_value = "alexnet")]
    pub arch: Architecture,
    /// Images per step.
    #[arg(long, default_value_t = 50)]
    pub batch: usize,
    /// Timed steps (after one warm-up step).
    #[arg(long, default_value_t = 5)]
    pub steps: usize,
    /// Input side [default: the architecture's].
    #[arg(long)]
    pub input_size: Option<usize>,
    /// Input channels [default: 3; AlexNets also take 1].
    #[arg(long)]
    pub channels: Option<usize>,
    /// Device: cpu or cuda.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// One JSON object: {"images_per_second", "peak_rss_mb", "backend", …}.
    #[arg(long)]
    pub json: bool,
}

/// Runs `mammorecall bench`.
pub fn run(cmd: Command) -> Result<()> {
    let (a, train) = match cmd {
        Command::Train(a) => (a, true),
        Command::Infer(a) => (a, false),
    };
    let compute = train::device::open(&a.device)?;
    let r = train::bench::run(
        &compute,
        a.arch,
        train,
        a.batch,
        a.steps,
        a.input_size,
        a.channels,
    )?;
    if a.json {
        println!("{}", serde_json::to_string(&r)?);
    } else {
        println!(
            "{} {} batch {} at {}²: {:.2} images/s (median step {:.3} s, {} steps), peak RSS {} MiB, {} on {} ({} threads)",
            r.mode,
            r.arch,
            r.batch,
            r.input_size,
            r.images_per_second,
            r.median_step_seconds,
            r.steps,
            r.peak_rss_mb.map(|m| format!("{m:.0}")).unwrap_or_else(|| "n/a".into()),
            r.backend,
            r.device,
            r.threads
        );
    }
    Ok(())
}
