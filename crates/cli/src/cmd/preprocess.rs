//! `mammorecall preprocess` (being written).

/// Arguments of `mammorecall preprocess`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs `mammorecall preprocess`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`preprocess` is not built yet")
}
