//! `mammorecall prepare` (being written).

/// Arguments of `mammorecall prepare`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs `mammorecall prepare`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`prepare` is not built yet")
}
