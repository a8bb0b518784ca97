//! Shared helpers of the integration tests (included with `mod common;`).
#![allow(dead_code)]

use std::path::PathBuf;

/// `../shared/data`: `MAMMORECALL_SHARED` if set, else found by walking up from the
/// crate to the ancestor `A` with `A/../shared/data`. `None` (and a note on stderr)
/// when absent, so the tests that need real data pass as skipped.
pub fn shared_data() -> Option<PathBuf> {
    if let Ok(s) = std::env::var("MAMMORECALL_SHARED") {
        let p = PathBuf::from(s);
        let data = if p.join("data").is_dir() {
            p.join("data")
        } else {
            p
        };
        if data.is_dir() {
            return Some(data);
        }
    }
    let mut dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    loop {
        let candidate = dir.join("../shared/data");
        if candidate.is_dir() {
            return Some(candidate);
        }
        if !dir.pop() {
            eprintln!("skipped: ../shared/data not found");
            return None;
        }
    }
}
