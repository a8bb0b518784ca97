//! Networks for mammorecall on burn: the study's AlexNet and an ImageNet-pretrained
//! EfficientNet-Lite0, their configuration, input normalisation and weight import.
//!
//! Adding an architecture means one new module file and one arm in each enum of [`arch`].

pub mod alexnet;
pub mod arch;
pub mod depthwise;
pub mod efficientnet;
pub mod fastconv;
pub mod preprocess;
pub mod relu6;
pub mod relupool;
pub mod weights;

pub use arch::{Architecture, ModelConfig, Network};
pub use preprocess::Normalization;
pub use weights::LoadReport;

use std::path::PathBuf;

/// Errors of model construction, configuration files and weight import.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// An architecture name that is not known.
    #[error("unknown architecture {0:?} (known: alexnet, efficientnet-lite0)")]
    UnknownArchitecture(String),
    /// A configuration that cannot describe a network.
    #[error("invalid model configuration: {0}")]
    InvalidConfig(String),
    /// A weights file that could not be read or parsed.
    #[error("{path}: cannot read weights: {message}")]
    Weights {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A weights file whose tensors do not fit the network.
    #[error("{path}: weights do not fit {arch}: {message}")]
    Mismatch {
        /// The file.
        path: PathBuf,
        /// The architecture being loaded.
        arch: String,
        /// Missing, unused or mis-shaped tensors.
        message: String,
    },
    /// An input image whose size or channel count does not fit the network.
    #[error("invalid input: {0}")]
    Input(String),
    /// A configuration file that could not be read or parsed.
    #[error("{path}: {message}")]
    ConfigFile {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// Writing an artifact failed.
    #[error(transparent)]
    Store(#[from] store::StoreError),
}
