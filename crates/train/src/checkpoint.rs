//! Checkpoints: the weights and the optimizer state (momentum) at an iteration, each file
//! written to a temporary name and renamed, then a small `latest.json` pointer replaced
//! atomically. A crash at any moment leaves the previous checkpoint intact and named.

use std::path::{Path, PathBuf};

use burn::optim::ModuleOptimizer;
use burn::tensor::Bytes;
use model::Network;
use serde::{Deserialize, Serialize};

use crate::TrainError;

/// Folder of checkpoints inside a run folder.
pub const DIR: &str = "checkpoint";
const POINTER: &str = "latest.json";

/// The pointer to the newest complete checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Latest {
    /// Iterations completed when it was written.
    pub iteration: usize,
    /// Weights file (relative to the checkpoint folder).
    pub weights: String,
    /// Optimizer state file (relative to the checkpoint folder).
    pub optimizer: String,
    /// Training loss of the last iteration before it.
    pub loss: f32,
}

/// Writes a checkpoint of `iteration` completed iterations into `run/checkpoint/` and
/// removes the older one.
pub fn save(
    run: &Path,
    iteration: usize,
    loss: f32,
    network: &Network,
    optim: &ModuleOptimizer,
) -> Result<(), TrainError> {
    let dir = run.join(DIR);
    std::fs::create_dir_all(&dir).map_err(|e| TrainError::file(&dir, e))?;
    let previous = latest(run)?;
    let weights = format!("weights-{iteration:08}.safetensors");
    let optimizer = format!("optimizer-{iteration:08}.bpk");
    model::weights::save(network, &dir.join(&weights))?;
    let bytes = optim
        .into_bytes()
        .map_err(|e| TrainError::file(dir.join(&optimizer), e))?;
    store::write_atomic(&dir.join(&optimizer), &bytes)?;
    let pointer = Latest {
        iteration,
        weights,
        optimizer,
        loss,
    };
    let json = serde_json::to_vec_pretty(&pointer).map_err(|e| TrainError::file(&dir, e))?;
    store::write_atomic(&dir.join(POINTER), &json)?;
    if let Some(old) = previous {
        if old.weights != pointer.weights {
            let _ = std::fs::remove_file(dir.join(&old.weights));
            let _ = std::fs::remove_file(dir.join(&old.optimizer));
        }
    }
    Ok(())
}

/// The newest checkpoint of a run folder, if any.
pub fn latest(run: &Path) -> Result<Option<Latest>, TrainError> {
    let path = run.join(DIR).join(POINTER);
    if !path.exists() {
        return Ok(None);
    }
    let text = std::fs::read(&path).map_err(|e| TrainError::file(&path, e))?;
    let l: Latest = serde_json::from_slice(&text)
        .map_err(|e| TrainError::file(&path, format!("damaged checkpoint pointer: {e}")))?;
    Ok(Some(l))
}

/// Paths of a checkpoint's files.
pub fn files(run: &Path, l: &Latest) -> (PathBuf, PathBuf) {
    let dir = run.join(DIR);
    (dir.join(&l.weights), dir.join(&l.optimizer))
}

/// Restores the weights and optimizer state of checkpoint `l` of `run`.
pub fn restore(
    run: &Path,
    l: &Latest,
    network: &mut Network,
    optim: ModuleOptimizer,
) -> Result<ModuleOptimizer, TrainError> {
    let (w, o) = files(run, l);
    model::weights::load(network, &w)?;
    let bytes = std::fs::read(&o).map_err(|e| TrainError::file(&o, e))?;
    optim
        .from_bytes(Bytes::from_bytes_vec(bytes))
        .map_err(|e| TrainError::file(&o, format!("damaged optimizer state: {e}")))
}
