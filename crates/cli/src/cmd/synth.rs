//! `mammorecall synth` (being written).

/// Arguments of `mammorecall synth`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs `mammorecall synth`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`synth` is not built yet")
}
