//! `mammorecall convert` (being written).

/// Arguments of `mammorecall convert`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs `mammorecall convert`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`convert` is not built yet")
}
