//! `mammorecall stats` (being written).

/// Subcommands of `mammorecall stats`.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Placeholder while being written.
    Todo,
}

/// Runs `mammorecall stats`.
pub fn run(_cmd: Command) -> anyhow::Result<()> {
    anyhow::bail!("`stats` is not built yet")
}
