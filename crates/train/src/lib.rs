//! Training and inference for mammorecall: the study's recipe (SGD with momentum, step
//! learning rate, class-balanced sampling), seeded and resumable from atomic checkpoints,
//! with every run kept in its own folder (config, seed, versions, weights, log, predictions).
//!
//! One file a stage, as in burn's examples: [`config`] (what a run is), [`input`] (cache
//! bytes → network tensors), [`sampler`] (which images each iteration sees), [`augment`],
//! [`checkpoint`], [`memory`] (micro-batches), [`trainer`] (the loop), [`patches`]
//! (lesion-patch pretraining), [`infer`] (probabilities, test-time augmentation),
//! [`run`] (the folder).

pub mod augment;
pub mod bench;
pub mod checkpoint;
pub mod config;
pub mod contralateral;
pub mod device;
pub mod evaluate;
pub mod explain;
pub mod infer;
pub mod input;
pub mod memory;
pub mod patches;
pub mod run;
pub mod sampler;
pub mod trainer;

pub use config::{Balance, Init, TrainConfig};
pub use input::{ImageSource, Input};

use std::path::PathBuf;

/// Errors of training, inference and run folders.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A setting out of range, or settings that contradict each other.
    #[error("invalid training setting: {0}")]
    Config(String),
    /// A run folder or file that is missing or damaged.
    #[error("{path}: {message}")]
    File {
        /// The file or folder.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// The loss became NaN or infinite.
    #[error("the loss became {loss} at iteration {iteration}; the last good checkpoint (iteration {checkpoint}) is kept — lower the learning rate and --resume, or start again")]
    NonFinite {
        /// The loss value.
        loss: f32,
        /// The iteration at which it happened.
        iteration: usize,
        /// The iteration of the last checkpoint written.
        checkpoint: usize,
    },
    /// The data cannot train or test this scenario.
    #[error("data: {0}")]
    Data(String),
    /// A model error (configuration, weights).
    #[error(transparent)]
    Model(#[from] model::ModelError),
    /// A dataset error.
    #[error(transparent)]
    Dataset(#[from] data::DataError),
    /// An image error.
    #[error(transparent)]
    Image(#[from] imaging::ImageError),
    /// Writing a file failed.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// The device cannot be used.
    #[error("device: {0}")]
    Device(String),
}

impl TrainError {
    /// An error about a file.
    pub fn file(path: impl Into<PathBuf>, message: impl std::fmt::Display) -> Self {
        TrainError::File {
            path: path.into(),
            message: message.to_string(),
        }
    }
}

/// Mixes a seed with a stream number (iteration, epoch, fold) into an independent seed
/// (SplitMix64), so every stream is reproducible on its own — the basis of exact resume.
pub fn mix_seed(seed: u64, stream: u64) -> u64 {
    let mut z = seed
        .wrapping_add(stream.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .wrapping_add(0x6A09_E667_F3BC_C909);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
