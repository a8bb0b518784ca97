//! `mammorecall split` (being written).

/// Arguments of `mammorecall split`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs `mammorecall split`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`split` is not built yet")
}
