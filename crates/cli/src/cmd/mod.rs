//! One module a subcommand.
pub mod convert;
pub mod dataset;
pub mod info;
pub mod ingest;
pub mod prepare;
pub mod preprocess;
pub mod split;
pub mod stats;
pub mod synth;
