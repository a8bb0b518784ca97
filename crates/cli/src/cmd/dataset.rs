//! `mammorecall dataset` (being written).

/// Subcommands of `mammorecall dataset`.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Placeholder while being written.
    Todo,
}

/// Runs `mammorecall dataset`.
pub fn run(_cmd: Command) -> anyhow::Result<()> {
    anyhow::bail!("`dataset` is not built yet")
}
