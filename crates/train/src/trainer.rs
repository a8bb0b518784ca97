//! The training loop: the study's SGD recipe over deterministic class-balanced batches,
//! with checkpoints, exact resume, a guard against non-finite losses and optional
//! validation on a held-out fold.
//!
//! Reproducibility: batches come from [`Sampler`] (a function of seed and iteration);
//! dropout and augmentation are seeded per iteration; parameter ids — the keys of the
//! optimizer state — are numbered in module order instead of drawn at random. So a run
//! resumed from a checkpoint on the same device ends with the same weights as one that
//! never stopped. (burn flex's generator is process-wide: bit-exact runs assume one
//! training per process, as the CLI does.)

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use burn::module::{Module, ModuleMapper, Param, ParamId};
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{GradientsAccumulator, GradientsParams, ModuleOptimizer, SgdConfig};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Tensor, TensorData};
use model::Network;

use crate::checkpoint;
use crate::config::TrainConfig;
use crate::infer;
use crate::input::{ImageSource, Input};
use crate::sampler::Sampler;
use crate::TrainError;

/// File name of the training log in a run folder.
pub const LOG_FILE: &str = "train_log.csv";
const LOG_HEADER: &str = "iteration,loss,lr,images_per_second,val_auc\n";

/// The images one training run uses: `(image index in the source, class)` pairs.
pub struct TrainData<'a> {
    /// The preprocessed images.
    pub source: &'a dyn ImageSource,
    /// Training images.
    pub train: Vec<(usize, usize)>,
    /// Held-out images for the validation AUC (empty: none).
    pub validation: Vec<(usize, usize)>,
}

/// One row of the training log.
#[derive(Debug, Clone, PartialEq)]
pub struct LogRow {
    /// Iterations completed (1-based).
    pub iteration: usize,
    /// Mean cross-entropy of the batch.
    pub loss: f32,
    /// Learning rate used.
    pub lr: f64,
    /// Training throughput of this iteration.
    pub images_per_second: f64,
    /// Validation AUC, when computed at this iteration.
    pub val_auc: Option<f64>,
}

/// What the loop reports as it goes (for progress bars and logs).
#[derive(Debug, Clone)]
pub enum Event {
    /// Training starts (or resumes) at `start` of `total` iterations.
    Started {
        /// First iteration to run (0-based).
        start: usize,
        /// Total iterations.
        total: usize,
    },
    /// An iteration finished.
    Iteration(LogRow),
    /// A checkpoint was written after this many iterations.
    Checkpoint(usize),
}

/// Numbers every parameter in module order, so that ids (the optimizer state's keys) are
/// identical in every process that builds the same network.
struct StableIds(u64);

impl ModuleMapper for StableIds {
    fn map_float<const D: usize>(&mut self, mut param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        self.0 += 1;
        param.id = ParamId::from(0x6D61_6D6D_0000_0000 + self.0);
        param
    }
}

/// Gives `network` its stable parameter ids (see [`StableIds`]).
pub fn stable_ids(network: Network) -> Network {
    network.map(&mut StableIds(0))
}

/// The study's optimizer: SGD with (undampened) momentum and L2 weight decay.
pub fn optimizer(cfg: &TrainConfig) -> ModuleOptimizer {
    let mut sgd = SgdConfig::new();
    if cfg.momentum > 0.0 {
        sgd = sgd.with_momentum(Some(
            MomentumConfig::new()
                .with_momentum(cfg.momentum)
                .with_dampening(0.0),
        ));
    }
    if cfg.weight_decay > 0.0 {
        sgd = sgd.with_weight_decay(Some(WeightDecayConfig::new(cfg.weight_decay as f32)));
    }
    sgd.init()
}

/// Mean cross-entropy of `logits` against class indices.
pub fn cross_entropy(logits: Tensor<2>, classes: &[usize], device: &Device) -> Tensor<1> {
    let [n, k] = logits.dims();
    let mut onehot = vec![0f32; n * k];
    for (i, &c) in classes.iter().enumerate() {
        onehot[i * k + c] = 1.0;
    }
    let target = Tensor::<2>::from_data(TensorData::new(onehot, [n, k]), device);
    (log_softmax(logits, 1) * target)
        .sum_dim(1)
        .mean()
        .neg()
        .reshape([1])
}

/// Trains `network` (built on `device`, which must be an autodiff device) in run folder
/// `run`. With `resume`, continues from the run's latest checkpoint (rewriting the log to
/// it); otherwise starts a new log. Returns the trained network.
#[allow(clippy::too_many_arguments)]
pub fn fit(
    cfg: &TrainConfig,
    network: Network,
    input: &Input,
    data: &TrainData,
    device: &Device,
    run: &Path,
    resume: bool,
    observer: &mut dyn FnMut(&Event),
) -> Result<Network, TrainError> {
    let n_classes = cfg.scenario.n_classes();
    let mut sampler = Sampler::new(
        &data.train,
        n_classes,
        cfg.balance,
        cfg.batch_size,
        cfg.seed,
    )?;
    let mut network = stable_ids(network);
    let mut optim = optimizer(cfg);
    let log_path = run.join(LOG_FILE);
    let mut start = 0;
    if resume {
        if let Some(latest) = checkpoint::latest(run)? {
            optim = checkpoint::restore(run, &latest, &mut network, optim)?;
            network = stable_ids(network);
            start = latest.iteration;
            truncate_log(&log_path, start)?;
        }
    }
    if start == 0 {
        store::write_atomic(&log_path, LOG_HEADER.as_bytes())?;
    }
    let mut log = std::fs::OpenOptions::new()
        .append(true)
        .open(&log_path)
        .map_err(|e| TrainError::file(&log_path, e))?;
    let mut last_checkpoint = start;
    let micro_batch = crate::memory::micro_batch(cfg);
    observer(&Event::Started {
        start,
        total: cfg.iterations,
    });
    for it in start..cfg.iterations {
        let t = Instant::now();
        let batch = sampler.batch(it);
        let indices: Vec<usize> = batch.iter().map(|b| b.0).collect();
        let classes: Vec<usize> = batch.iter().map(|b| b.1).collect();
        let aug_seed = crate::mix_seed(cfg.seed, 0xA0_0000_0000 + it as u64);
        // Gradient accumulation: the batch is formed in micro-batches whose losses are
        // weighted by their share of the batch, so the summed gradient is the gradient
        // of the batch's mean loss whatever the split.
        let micro = micro_batch.min(indices.len()).max(1);
        let whole = micro == indices.len();
        let mut accumulator = GradientsAccumulator::<Network>::new();
        let mut single = None;
        let mut loss_value = 0f32;
        for (m, (idx, cls)) in indices.chunks(micro).zip(classes.chunks(micro)).enumerate() {
            let first = m * micro;
            let x = input.batch(
                data.source,
                idx,
                Some((&cfg.augment, aug_seed, first)),
                device,
            );
            // Dropout draws from the backend's generator: seeded per iteration for resume.
            let stream = 0xD0_0000_0000 + it as u64 + ((m as u64) << 40);
            device.seed(crate::mix_seed(cfg.seed, stream));
            let logits = network.forward(x);
            let share = idx.len() as f32 / indices.len() as f32;
            let loss = cross_entropy(logits, cls, device) * share;
            let value = loss.clone().into_scalar::<f32>();
            loss_value += value;
            if !value.is_finite() {
                return Err(TrainError::NonFinite {
                    loss: value,
                    iteration: it + 1,
                    checkpoint: last_checkpoint,
                });
            }
            let grads = GradientsParams::from_grads(loss.backward(), &network);
            if whole {
                // One pass holds the batch: no accumulation on the common path.
                single = Some(grads);
            } else {
                accumulator.accumulate(&network, grads);
            }
        }
        let grads = single.unwrap_or_else(|| accumulator.grads());
        let lr = cfg.lr_at(it);
        network = optim.step(lr, network, grads);
        let done = it + 1;
        let mut row = LogRow {
            iteration: done,
            loss: loss_value,
            lr,
            images_per_second: cfg.batch_size as f64 / t.elapsed().as_secs_f64().max(1e-9),
            val_auc: None,
        };
        let last = done == cfg.iterations;
        if last {
            network = refresh_batch_norm(cfg, network, input, data.source, &mut sampler, device)?;
        }
        let validate_now = !data.validation.is_empty()
            && (last || (cfg.validate_every > 0 && done % cfg.validate_every == 0));
        if validate_now {
            row.val_auc = validation_auc(cfg, &network, input, data)?;
        }
        writeln!(
            log,
            "{},{},{},{:.2},{}",
            row.iteration,
            row.loss,
            row.lr,
            row.images_per_second,
            row.val_auc.map(|a| format!("{a:.6}")).unwrap_or_default()
        )
        .map_err(|e| TrainError::file(&log_path, e))?;
        observer(&Event::Iteration(row));
        let checkpoint_now = done == cfg.iterations
            || (cfg.checkpoint_every > 0 && done % cfg.checkpoint_every == 0);
        if checkpoint_now {
            log.flush().map_err(|e| TrainError::file(&log_path, e))?;
            checkpoint::save(run, done, loss_value, &network, &optim)?;
            last_checkpoint = done;
            observer(&Event::Checkpoint(done));
        }
    }
    Ok(network)
}

/// Recomputes every batch-norm layer's running statistics as the exact mean over
/// `cfg.bn_refresh` training batches with the final weights ("precise BN"). The exponential
/// average kept during training lags behind weights that change quickly — short runs
/// from scratch, or fine-tuning with a high learning rate — and inference would then
/// normalise with stale statistics. Deterministic: the batches continue the sampler's
/// stream after the last iteration. No-op for networks without batch norm.
pub fn refresh_batch_norm(
    cfg: &TrainConfig,
    network: Network,
    input: &Input,
    source: &dyn ImageSource,
    sampler: &mut Sampler,
    device: &Device,
) -> Result<Network, TrainError> {
    let batches = cfg.bn_refresh;
    if !network.has_batch_norm() || batches == 0 {
        return Ok(network);
    }
    // Forward passes on the autodiff device with no backward keep their graphs alive
    // (the 5-fold EfficientNet lesion run grew by about 1 GB per batch of 160-px crops,
    // to 22 GB): refresh without gradient tracking; batch norm still updates.
    let mut network = network.no_grad();
    let configured = network.batch_norm_momentum().unwrap_or(0.1);
    for k in 0..batches {
        network.set_batch_norm_momentum(1.0 / (k + 1) as f64);
        let indices: Vec<usize> = sampler
            .batch(cfg.iterations + k)
            .iter()
            .map(|b| b.0)
            .collect();
        let x = input.batch(source, &indices, None, device);
        device.seed(crate::mix_seed(cfg.seed, 0xB0_0000_0000 + k as u64));
        let _ = network.forward(x.detach()).into_data();
    }
    network.set_batch_norm_momentum(configured);
    Ok(network.set_require_grad(true))
}

/// AUC of the held-out fold (binary: the positive class's probability; three-class: the
/// mean of the pairwise Hand & Till AUCs). `None` when it is undefined (one class only).
fn validation_auc(
    cfg: &TrainConfig,
    network: &Network,
    input: &Input,
    data: &TrainData,
) -> Result<Option<f64>, TrainError> {
    let valid = network.valid();
    let device = infer::network_device(&valid);
    let indices: Vec<usize> = data.validation.iter().map(|v| v.0).collect();
    let probs = infer::probabilities(
        &valid,
        input,
        data.source,
        &indices,
        cfg.batch_size,
        &device,
    );
    let classes: Vec<usize> = data.validation.iter().map(|v| v.1).collect();
    Ok(infer::auc(cfg.scenario, &classes, &probs))
}

/// Keeps the header and the rows up to `iteration` of a training log (after a resume).
fn truncate_log(path: &Path, iteration: usize) -> Result<(), TrainError> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut out = String::from(LOG_HEADER);
    for line in text.lines().skip(1) {
        let it: usize = line
            .split(',')
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or(usize::MAX);
        if it <= iteration {
            out.push_str(line);
            out.push('\n');
        }
    }
    store::write_atomic(path, out.as_bytes())?;
    Ok(())
}
