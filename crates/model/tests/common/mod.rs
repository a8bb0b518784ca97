//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// The shared folder (`MAMMORECALL_SHARED`, else the first `A/../shared` with a `weights`
/// folder, walking up from this crate), or `None` after printing the skip notice.
pub fn shared_weights() -> Option<PathBuf> {
    let found = match std::env::var_os("MAMMORECALL_SHARED") {
        Some(dir) => Some(PathBuf::from(dir)),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .ancestors()
            .map(|a| a.join("../shared"))
            .find(|s| s.join("weights").is_dir()),
    }
    .map(|s| s.join("weights"))
    .filter(|w| w.is_dir());
    if found.is_none() {
        eprintln!("skipped: ../shared/weights not found");
    }
    found
}

/// Largest absolute difference between two equally long slices.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Index of the largest value.
pub fn argmax(v: &[f32]) -> usize {
    v.iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |best, (i, &x)| {
            if x > best.1 {
                (i, x)
            } else {
                best
            }
        })
        .0
}
