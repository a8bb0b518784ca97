//! Memory-adaptive batches: how many images one forward/backward pass may hold, so that
//! a configured batch that does not fit is formed by gradient accumulation instead of
//! running the machine out of memory.
//!
//! The activation memory of a training step grows linearly with the images in it. The
//! per-pixel costs below were measured with `mammorecall bench train --input-size 512
//! --steps 1 --json` on burn flex: (peak RSS at batch 8 − peak RSS at batch 2) / 6 images
//! / 512² pixels — 66 (1 channel) and 144 (3 channels) bytes a pixel for alexnet-fcn, 76
//! and 149 for alexnet-small, 98 and 116 for alexnet; EfficientNet-Lite0 (3 channels),
//! (peak at batch 8 − 40 MB) / 8, 1,308 — each rounded up by a third: the estimate must
//! err on the safe side.

use model::Architecture;

use crate::config::TrainConfig;

/// Keeps freed memory in the process for the next training step instead of handing it
/// back to the kernel at once (glibc on Linux; elsewhere it does nothing). glibc serves a
/// block over its mmap threshold (32 MiB at most) from a fresh mapping and unmaps it when
/// freed, and a step's activations are larger — AlexNet's first convolution output alone
/// is 39 MB at batch 50 — so every step page-faulted and zeroed them anew: a quarter of a
/// step's time in `perf`. Served from the heap and kept there, AlexNet trains 1.5× faster
/// (26.4 → 40.7 images/s at batch 50 on 2 cores) for a sixth more resident memory
/// (1,085 → 1,274 MiB). Call it first thing, before other threads start.
pub fn retain_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; it runs before any other thread.
    unsafe {
        libc::mallopt(libc::M_MMAP_MAX, 0);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
    }
}

/// Estimated training memory of one image, in bytes, for `arch` at `side`² with
/// `channels` input channels.
pub fn bytes_per_image(arch: Architecture, side: usize, channels: usize) -> u64 {
    let px = (side * side) as u64;
    // Bytes per input pixel for 1 channel, plus the extra of 3 channels (the stem's input
    // and its gradient).
    let (one, extra3) = match arch {
        Architecture::AlexNetFcn => (88, 104),
        Architecture::AlexNetSmall => (101, 98),
        Architecture::AlexNet => (131, 24),
        Architecture::EfficientNetLite0 => (1744, 0),
    };
    px * if channels >= 3 { one + extra3 } else { one }
}

/// Memory this process may use for activations: half of what the system reports
/// available (Linux `MemAvailable`), or 4 GiB where that is unknown.
pub fn activation_budget() -> u64 {
    let avail = std::fs::read_to_string("/proc/meminfo").ok().and_then(|t| {
        t.lines()
            .find(|l| l.starts_with("MemAvailable:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .map(|kb| kb * 1024)
    });
    avail.map(|b| b / 2).unwrap_or(4 << 30)
}

/// The images per forward/backward pass of a run: `micro_batch` when set, else (0) the
/// largest count whose estimated memory fits [`activation_budget`] on the CPU, never
/// more than the batch and never less than one. On a GPU the batch is used whole unless
/// `micro_batch` is set (device memory is not visible here).
pub fn micro_batch(cfg: &TrainConfig) -> usize {
    if cfg.micro_batch > 0 {
        return cfg.micro_batch.min(cfg.batch_size);
    }
    if cfg.device != "cpu" {
        return cfg.batch_size;
    }
    let per = bytes_per_image(cfg.arch, cfg.input_size, cfg.in_channels).max(1);
    fit(cfg.batch_size, per, activation_budget())
}

/// The largest micro-batch of at most `batch` images of `per` bytes within `budget`.
pub fn fit(batch: usize, per: u64, budget: u64) -> usize {
    ((budget / per) as usize).clamp(1, batch.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_the_budget() {
        // 50 images of 100 MB in 1 GB: 10 per pass; always at least one.
        assert_eq!(fit(50, 100 << 20, 1 << 30), 10);
        assert_eq!(fit(50, 100 << 20, 1 << 40), 50);
        assert_eq!(fit(50, 100 << 20, 1), 1);
        // A 1024² EfficientNet image costs more than a 512² one, and 3 channels more than 1.
        let e = Architecture::EfficientNetLite0;
        assert!(bytes_per_image(e, 1024, 3) == 4 * bytes_per_image(e, 512, 3));
        let f = Architecture::AlexNetFcn;
        assert!(bytes_per_image(f, 512, 3) > bytes_per_image(f, 512, 1));
        assert!(activation_budget() > 0);
    }
}
