//! Weight import and export: the EfficientNet-Lite0 ImageNet safetensors file, torchvision
//! AlexNet state dicts (`.pth`), and the toolkit's own weight files.
//!
//! Foreign names are mapped onto the module fields by regular expressions; PyTorch's linear
//! weights (`[out, in]`) are transposed and batch-norm `weight`/`bias` become `gamma`/`beta`
//! by burn-store's PyTorch adapters. A load that leaves a tensor unset, leaves a stored tensor
//! unused or meets a shape it does not expect is an error, except for a classifier head whose
//! class count differs: that head is kept at its fresh initialisation (transfer learning).

use std::path::{Path, PathBuf};

use burn_store::{
    ApplyResult, BurnToPyTorchAdapter, ModuleSnapshot, ModuleStore, PyTorchToBurnAdapter,
    PytorchStore, SafetensorsStore,
};

use crate::alexnet::{AlexNet, TORCHVISION_NAMES};
use crate::arch::Network;
use crate::efficientnet::EfficientNetLite0;
use crate::ModelError;

/// File name of the converted EfficientNet-Lite0 ImageNet weights.
pub const EFFICIENTNET_LITE0_FILE: &str = "efficientnet_lite0_imagenet_f32.safetensors";
/// Environment variable naming a directory that holds pretrained weights.
pub const WEIGHTS_ENV: &str = "MAMMORECALL_WEIGHTS";

/// What a load did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadReport {
    /// Number of tensors set from the file.
    pub applied: usize,
    /// Whether the classifier head was left at its initialisation because its class count
    /// differs from the file's.
    pub head_replaced: bool,
}

/// Finds the EfficientNet-Lite0 ImageNet weights: `explicit` if given, else in the
/// `MAMMORECALL_WEIGHTS` directory (directly or in its `efficientnet-lite0/` folder).
pub fn efficientnet_lite0_path(explicit: Option<&Path>) -> Result<PathBuf, ModelError> {
    if let Some(p) = explicit {
        return Ok(p.to_path_buf());
    }
    let dir = std::env::var_os(WEIGHTS_ENV).ok_or_else(|| ModelError::Weights {
        path: PathBuf::from(EFFICIENTNET_LITE0_FILE),
        message: format!("no weights path given and {WEIGHTS_ENV} is not set"),
    })?;
    let dir = PathBuf::from(dir);
    let candidates = [
        dir.join("efficientnet-lite0").join(EFFICIENTNET_LITE0_FILE),
        dir.join(EFFICIENTNET_LITE0_FILE),
    ];
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or_else(|| ModelError::Weights {
            path: candidates[0].clone(),
            message: format!("not found (nor {})", candidates[1].display()),
        })
}

fn weights_err(path: &Path, e: impl std::fmt::Display) -> ModelError {
    ModelError::Weights {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// Turns an apply result into an error unless every module tensor was set from the file
/// (apart from a deliberately skipped head) and every file tensor was used.
fn check(
    result: &ApplyResult,
    path: &Path,
    arch: &str,
    head_prefix: Option<&str>,
) -> Result<(), ModelError> {
    let mut problems = Vec::new();
    if !result.errors.is_empty() {
        let errs: Vec<String> = result.errors.iter().map(|e| e.to_string()).collect();
        problems.push(errs.join("; "));
    }
    let missing: Vec<&str> = result
        .missing
        .iter()
        .map(|(p, _)| p.as_str())
        .filter(|p| head_prefix.is_none_or(|h| !p.starts_with(h)))
        .collect();
    if !missing.is_empty() {
        problems.push(format!("missing {}", missing.join(", ")));
    }
    let unused: Vec<&str> = result
        .unused
        .iter()
        .map(String::as_str)
        .filter(|p| head_prefix.is_none_or(|h| !p.starts_with(h)))
        .collect();
    if !unused.is_empty() {
        problems.push(format!("unused {}", unused.join(", ")));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ModelError::Mismatch {
            path: path.to_path_buf(),
            arch: arch.to_string(),
            message: problems.join("; "),
        })
    }
}

/// Output width of a stored `[out, in]` (PyTorch layout) classifier weight.
fn stored_classes<S: ModuleStore>(
    store: &mut S,
    name: &str,
    path: &Path,
) -> Result<usize, ModelError>
where
    S::Error: std::fmt::Display,
{
    let tensor = store
        .get_tensor(name)
        .map_err(|e| weights_err(path, e))?
        .ok_or_else(|| weights_err(path, format!("no tensor {name}")))?;
    tensor
        .shape
        .first()
        .copied()
        .ok_or_else(|| weights_err(path, format!("{name} is a scalar")))
}

fn not_fc(path: &str, _container: &str) -> bool {
    !path.starts_with("fc.")
}

fn not_fc3(path: &str, _container: &str) -> bool {
    !path.starts_with("fc3.")
}

/// Loads the EfficientNet-Lite0 ImageNet safetensors file (original PyTorch names such as
/// `_blocks.3._depthwise_conv.weight`) into `model`; a head of other than 1000 classes is
/// kept fresh.
pub fn load_efficientnet_lite0(
    model: &mut EfficientNetLite0,
    path: &Path,
) -> Result<LoadReport, ModelError> {
    if !path.is_file() {
        return Err(weights_err(path, "no such file"));
    }
    // `_conv_stem` → `conv_stem`, `_blocks.0._bn1` → `blocks.0.bn1`.
    let mut store = SafetensorsStore::from_file(path)
        .with_from_adapter(PyTorchToBurnAdapter)
        .with_key_remapping(r"(^|\.)_", "$1");
    let classes = stored_classes(&mut store, "fc.weight", path)?;
    let head_replaced = classes != model.fc.weight.dims()[1];
    if head_replaced {
        store = store.with_predicate(not_fc).allow_partial(true);
    }
    let result = model
        .load_from(&mut store)
        .map_err(|e| weights_err(path, e))?;
    check(
        &result,
        path,
        "efficientnet-lite0",
        head_replaced.then_some("fc."),
    )?;
    Ok(LoadReport {
        applied: result.applied.len(),
        head_replaced,
    })
}

fn torchvision_pytorch_store(path: &Path) -> PytorchStore {
    let mut store = PytorchStore::from_file(path).map_indices_contiguous(false);
    for (tv, ours) in TORCHVISION_NAMES {
        store = store.with_key_remapping(format!("^{}\\.", regex_escape(tv)), format!("{ours}."));
    }
    store
}

fn regex_escape(s: &str) -> String {
    s.replace('.', "\\.")
}

/// Loads a torchvision AlexNet state dict (`.pth`, names `features.0.weight` …
/// `classifier.6.bias`) into `model`; a head of a different class count is kept fresh.
pub fn load_torchvision_alexnet(
    model: &mut AlexNet,
    path: &Path,
) -> Result<LoadReport, ModelError> {
    if !path.is_file() {
        return Err(weights_err(path, "no such file"));
    }
    let mut store = torchvision_pytorch_store(path);
    let classes = stored_classes(&mut store, "fc3.weight", path)?;
    let head_replaced = classes != model.fc3.weight.dims()[1];
    if head_replaced {
        store = store.with_predicate(not_fc3).allow_partial(true);
    }
    let result = model
        .load_from(&mut store)
        .map_err(|e| weights_err(path, e))?;
    check(&result, path, "alexnet", head_replaced.then_some("fc3."))?;
    Ok(LoadReport {
        applied: result.applied.len(),
        head_replaced,
    })
}

/// Writes `model` as safetensors in torchvision's AlexNet layout (names and `[out, in]`
/// linear weights), atomically: the file loads in PyTorch with `safetensors.torch.load_file`.
pub fn save_torchvision_alexnet(model: &AlexNet, path: &Path) -> Result<(), ModelError> {
    let mut store = SafetensorsStore::from_bytes(None).with_to_adapter(BurnToPyTorchAdapter);
    for (tv, ours) in TORCHVISION_NAMES {
        store = store.with_key_remapping(format!("^{ours}\\."), format!("{tv}."));
    }
    model
        .save_into(&mut store)
        .map_err(|e| weights_err(path, e))?;
    let bytes = store.get_bytes().map_err(|e| weights_err(path, e))?;
    store::write_atomic(path, &bytes)?;
    Ok(())
}

/// Loads torchvision-layout AlexNet safetensors (as written by [`save_torchvision_alexnet`]).
pub fn load_torchvision_alexnet_safetensors(
    model: &mut AlexNet,
    path: &Path,
) -> Result<LoadReport, ModelError> {
    if !path.is_file() {
        return Err(weights_err(path, "no such file"));
    }
    let mut store = SafetensorsStore::from_file(path).with_from_adapter(PyTorchToBurnAdapter);
    for (tv, ours) in TORCHVISION_NAMES {
        store = store.with_key_remapping(format!("^{}\\.", regex_escape(tv)), format!("{ours}."));
    }
    let classes = stored_classes(&mut store, "fc3.weight", path)?;
    let head_replaced = classes != model.fc3.weight.dims()[1];
    if head_replaced {
        store = store.with_predicate(not_fc3).allow_partial(true);
    }
    let result = model
        .load_from(&mut store)
        .map_err(|e| weights_err(path, e))?;
    check(&result, path, "alexnet", head_replaced.then_some("fc3."))?;
    Ok(LoadReport {
        applied: result.applied.len(),
        head_replaced,
    })
}

/// Loads the ImageNet weights of `network`'s architecture from `path` (EfficientNet-Lite0
/// safetensors, or a torchvision AlexNet `.pth`).
pub fn load_imagenet(network: &mut Network, path: &Path) -> Result<LoadReport, ModelError> {
    match network {
        Network::AlexNet(m) => load_torchvision_alexnet(m, path),
        Network::EfficientNetLite0(m) => load_efficientnet_lite0(m, path),
        Network::AlexNetFcn(_) => Err(weights_err(
            path,
            "alexnet-fcn has no ImageNet weights (start it from scratch, a run, or lesion patches)",
        )),
    }
}

/// Saves a network's weights (burn names, safetensors), atomically. The file is
/// canonical: the same weights always give the same bytes (so runs can be compared by
/// checksum).
pub fn save(network: &Network, path: &Path) -> Result<(), ModelError> {
    let mut store = SafetensorsStore::from_bytes(None);
    network
        .save_into(&mut store)
        .map_err(|e| weights_err(path, e))?;
    let bytes = store.get_bytes().map_err(|e| weights_err(path, e))?;
    let bytes = canonical_safetensors(&bytes).map_err(|e| weights_err(path, e))?;
    store::write_atomic(path, &bytes)?;
    Ok(())
}

/// Rewrites a safetensors header with its keys (and metadata keys) sorted, padded with
/// spaces to a multiple of 8 bytes; the tensor data is unchanged. burn writes the
/// metadata from a hash map, whose order differs from process to process.
pub fn canonical_safetensors(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let n = bytes
        .get(..8)
        .map(|b| u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as usize)
        .ok_or("shorter than a safetensors header")?;
    let header = bytes
        .get(8..8 + n)
        .ok_or("header length beyond the end of the file")?;
    let value: serde_json::Value =
        serde_json::from_slice(header).map_err(|e| format!("bad header: {e}"))?;
    let sorted = sort_keys(value);
    let mut text = serde_json::to_vec(&sorted).map_err(|e| e.to_string())?;
    while text.len() % 8 != 0 {
        text.push(b' ');
    }
    let mut out = Vec::with_capacity(bytes.len() + 8);
    out.extend_from_slice(&(text.len() as u64).to_le_bytes());
    out.extend_from_slice(&text);
    out.extend_from_slice(&bytes[8 + n..]);
    Ok(out)
}

fn sort_keys(v: serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Object(m) => {
            let sorted: std::collections::BTreeMap<String, serde_json::Value> =
                m.into_iter().map(|(k, v)| (k, sort_keys(v))).collect();
            serde_json::Value::Object(sorted.into_iter().collect())
        }
        other => other,
    }
}

/// Loads weights written by [`save`] into a network built from the same configuration.
pub fn load(network: &mut Network, path: &Path) -> Result<LoadReport, ModelError> {
    if !path.is_file() {
        return Err(weights_err(path, "no such file"));
    }
    let mut store = SafetensorsStore::from_file(path);
    let result = network
        .load_from(&mut store)
        .map_err(|e| weights_err(path, e))?;
    let arch = match network {
        Network::AlexNet(_) => "alexnet",
        Network::EfficientNetLite0(_) => "efficientnet-lite0",
        Network::AlexNetFcn(_) => "alexnet-fcn",
    };
    check(&result, path, arch, None)?;
    Ok(LoadReport {
        applied: result.applied.len(),
        head_replaced: false,
    })
}

/// Name prefix of the classifier head of a network, as stored by [`save`] (the enum
/// variant first: `AlexNet.fc3.`, `EfficientNetLite0.fc.`).
pub fn head_prefix(network: &Network) -> &'static str {
    match network {
        Network::AlexNet(_) => "AlexNet.fc3.",
        Network::EfficientNetLite0(_) => "EfficientNetLite0.fc.",
        Network::AlexNetFcn(_) => "AlexNetFcn.fc.",
    }
}

fn not_alexnet_head(path: &str, _container: &str) -> bool {
    !path.starts_with("AlexNet.fc3.")
}

fn not_efficientnet_head(path: &str, _container: &str) -> bool {
    !path.starts_with("EfficientNetLite0.fc.")
}

fn not_fcn_head(path: &str, _container: &str) -> bool {
    !path.starts_with("AlexNetFcn.fc.")
}

/// Loads weights written by [`save`] for another task: every tensor is taken from the file,
/// except the classifier head when its class count differs, which keeps its fresh
/// initialisation (the study's incremental transfer, e.g. three classes → two).
pub fn load_transfer(network: &mut Network, path: &Path) -> Result<LoadReport, ModelError> {
    if !path.is_file() {
        return Err(weights_err(path, "no such file"));
    }
    let head = head_prefix(network);
    let (arch, keep): (&str, fn(&str, &str) -> bool) = match network {
        Network::AlexNet(_) => ("alexnet", not_alexnet_head),
        Network::EfficientNetLite0(_) => ("efficientnet-lite0", not_efficientnet_head),
        Network::AlexNetFcn(_) => ("alexnet-fcn", not_fcn_head),
    };
    let weight_name = format!("{head}weight");
    let mut store = SafetensorsStore::from_file(path);
    // burn stores linear weights as [in, out]: the class count is the second dimension.
    let stored = store
        .get_tensor(&weight_name)
        .map_err(|e| weights_err(path, e))?
        .ok_or_else(|| {
            weights_err(
                path,
                format!("no tensor {weight_name}: not {arch} weights saved by mammorecall"),
            )
        })?;
    let stored_classes = stored.shape.get(1).copied().unwrap_or(0);
    let ours = match network {
        Network::AlexNet(m) => m.fc3.weight.dims()[1],
        Network::EfficientNetLite0(m) => m.fc.weight.dims()[1],
        Network::AlexNetFcn(m) => m.fc.weight.dims()[1],
    };
    let head_replaced = stored_classes != ours;
    let mut store = SafetensorsStore::from_file(path);
    if head_replaced {
        store = store.with_predicate(keep).allow_partial(true);
    }
    let result = network
        .load_from(&mut store)
        .map_err(|e| weights_err(path, e))?;
    check(&result, path, arch, head_replaced.then_some(head))?;
    Ok(LoadReport {
        applied: result.applied.len(),
        head_replaced,
    })
}
