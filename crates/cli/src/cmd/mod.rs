//! One module a subcommand.
pub mod bench;
pub mod convert;
pub mod dataset;
pub mod evaluate;
pub mod explain;
pub mod info;
pub mod ingest;
pub mod predict;
pub mod prepare;
pub mod preprocess;
pub mod split;
pub mod stats;
pub mod study;
pub mod synth;
pub mod train;

/// A progress bar on stderr, hidden when stderr is not a terminal (logs, CI).
pub fn progress_bar(len: u64, what: &str) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    let template = format!("{what} {{bar:40}} {{pos}}/{{len}} {{elapsed_precise}} (eta {{eta}})");
    bar.set_style(
        indicatif::ProgressStyle::with_template(&template)
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar
}
