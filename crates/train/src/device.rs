//! The compute device, chosen at run time and recorded in every run folder.

use burn::tensor::Device;

use crate::TrainError;

/// A device the training and inference code runs on.
#[derive(Debug, Clone)]
pub struct Compute {
    /// `cpu` or `cuda`.
    pub name: String,
    /// burn's backend behind it (recorded in run folders).
    pub backend: &'static str,
    /// The inference device (autodiff is added for training).
    pub device: Device,
}

/// Opens the device named `name` (`cpu`: burn's pure-Rust flex backend; `cuda`: needs a
/// build with the `cuda` feature and an NVIDIA driver).
pub fn open(name: &str) -> Result<Compute, TrainError> {
    match name {
        "cpu" => Ok(Compute {
            name: "cpu".into(),
            backend: "burn-flex",
            device: Device::flex(),
        }),
        "cuda" => open_cuda(),
        other => Err(TrainError::Device(format!(
            "unknown device '{other}' (expected cpu or cuda)"
        ))),
    }
}

#[cfg(feature = "cuda")]
fn open_cuda() -> Result<Compute, TrainError> {
    Ok(Compute {
        name: "cuda".into(),
        backend: "burn-cuda",
        device: Device::cuda(0usize),
    })
}

#[cfg(not(feature = "cuda"))]
fn open_cuda() -> Result<Compute, TrainError> {
    Err(TrainError::Device(
        "this build has no CUDA backend: build with `cargo build --release --features cuda` \
         (see README, GPU section)"
            .into(),
    ))
}

/// The version of burn this build uses.
pub const BURN_VERSION: &str = "0.22.1";
