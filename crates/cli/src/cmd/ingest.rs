//! `mammorecall ingest` (being written).

/// Arguments of `mammorecall ingest`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs `mammorecall ingest`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`ingest` is not built yet")
}
