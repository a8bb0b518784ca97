//! `mammorecall info` (being written).

/// Arguments of `mammorecall info`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs `mammorecall info`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`info` is not built yet")
}
