//! The whole study in one command: the grid of experiments × scenarios × test fractions ×
//! repeats (and cross-validation), each cell a `train` run folder; resumable and
//! shardable (Slurm job arrays); and the paper-grade report built from the cells.
//!
//! Layout of a study folder: `study.toml` (the resolved configuration), `data/` (generated
//! synthetic datasets, mixed manifests, splits), `cells/EXPERIMENT/SCENARIO/CELL/` (run
//! folders, `cell.json` marks a finished one), `logs/`, and the report (`report.html`,
//! `report.json`, `tables/`).

pub mod config;
pub mod grid;
pub mod prepare;
pub mod published;
pub mod report;
pub mod runner;
mod svg;

use std::path::{Path, PathBuf};

pub use config::StudyConfig;
pub use grid::{Cell, CellKind};

/// Why a study step failed.
#[derive(Debug, thiserror::Error)]
pub enum StudyError {
    /// A bad setting.
    #[error("study configuration: {0}")]
    Config(String),
    /// A file problem.
    #[error("{}: {message}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A cell's training or evaluation failed.
    #[error("cell {cell}: {source}")]
    Cell {
        /// The cell's key.
        cell: String,
        /// The training error.
        source: train::TrainError,
    },
    /// Data problems.
    #[error(transparent)]
    Data(#[from] data::DataError),
    /// Training problems outside a cell.
    #[error(transparent)]
    Train(#[from] train::TrainError),
    /// Statistics.
    #[error(transparent)]
    Eval(#[from] eval::EvalError),
    /// Output.
    #[error(transparent)]
    Store(#[from] store::StoreError),
}

impl StudyError {
    /// A problem with `path`.
    pub fn file(path: impl AsRef<Path>, message: impl std::fmt::Display) -> Self {
        StudyError::File {
            path: path.as_ref().to_path_buf(),
            message: message.to_string(),
        }
    }
}
