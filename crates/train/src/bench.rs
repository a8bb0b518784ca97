//! Throughput benchmarks of training and inference steps (what `mammorecall bench`
//! runs): images per second over N timed steps after one warm-up step, and the
//! process's peak resident memory.

use std::time::Instant;

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::{Distribution, Tensor};
use model::{Architecture, ModelConfig};
use serde::Serialize;

use crate::device::Compute;
use crate::trainer::{cross_entropy, optimizer};
use crate::{TrainConfig, TrainError};

/// What a benchmark measured.
#[derive(Debug, Clone, Serialize)]
pub struct BenchResult {
    /// `train` or `infer`.
    pub mode: &'static str,
    /// The architecture.
    pub arch: String,
    /// Images per step.
    pub batch: usize,
    /// Timed steps.
    pub steps: usize,
    /// Input side.
    pub input_size: usize,
    /// Images per second over the timed steps.
    pub images_per_second: f64,
    /// Median seconds per step.
    pub median_step_seconds: f64,
    /// Peak resident set size of the process, MiB.
    pub peak_rss_mb: Option<f64>,
    /// burn backend.
    pub backend: String,
    /// Device name.
    pub device: String,
    /// Worker threads of the CPU backend (rayon's pool).
    pub threads: usize,
}

/// Peak resident memory of this process in MiB (Linux `/proc/self/status` VmHWM).
pub fn peak_rss_mb() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Times `steps` forward + backward + SGD steps (`train`) or forward passes (`infer`,
/// probabilities read back) of `arch` on random batches of `batch` images.
pub fn run(
    compute: &Compute,
    arch: Architecture,
    train: bool,
    batch: usize,
    steps: usize,
    input_size: Option<usize>,
    channels: Option<usize>,
) -> Result<BenchResult, TrainError> {
    if batch == 0 || steps == 0 {
        return Err(TrainError::Config(
            "--batch and --steps must be at least 1".into(),
        ));
    }
    let mut mc = ModelConfig::for_arch(arch, 2);
    if let Some(s) = input_size {
        mc.input_size = s;
    }
    if let Some(c) = channels {
        mc.in_channels = c;
    }
    mc.validate()?;
    let size = mc.input_size;
    let device = if train {
        compute.device.clone().autodiff()
    } else {
        compute.device.clone()
    };
    device.seed(7);
    let mut net = mc.init(&device)?;
    let cfg = TrainConfig::study(data::Scenario::MalignantVsNegative, arch, "bench".into());
    let mut optim = optimizer(&cfg);
    let x = Tensor::<4>::random(
        [batch, mc.in_channels, size, size],
        Distribution::Normal(0.0, 1.0),
        &device,
    );
    let classes: Vec<usize> = (0..batch).map(|i| i % 2).collect();
    let mut times = Vec::with_capacity(steps);
    for step in 0..=steps {
        let t = Instant::now();
        if train {
            let loss = cross_entropy(net.forward(x.clone()), &classes, &device);
            let _ = loss.clone().into_scalar::<f32>();
            let grads = GradientsParams::from_grads(loss.backward(), &net);
            net = optim.step(0.001, net, grads);
            // Wait for the update to be computed (asynchronous backends).
            device
                .sync()
                .map_err(|e| TrainError::Device(format!("{e:?}")))?;
        } else {
            let p = net.valid().probabilities(x.clone());
            let _ = p.into_data();
        }
        if step > 0 {
            times.push(t.elapsed().as_secs_f64());
        }
    }
    let total: f64 = times.iter().sum();
    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    Ok(BenchResult {
        mode: if train { "train" } else { "infer" },
        arch: arch.to_string(),
        batch,
        steps,
        input_size: size,
        images_per_second: (batch * steps) as f64 / total,
        median_step_seconds: sorted[sorted.len() / 2],
        peak_rss_mb: peak_rss_mb(),
        backend: compute.backend.to_string(),
        device: compute.name.clone(),
        threads: data::cache::build_threads(),
    })
}
