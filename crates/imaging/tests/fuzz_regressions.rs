//! Inputs the fuzzer once turned into a panic or a runaway allocation: each must now
//! be refused with an error, and without any single allocation larger than the
//! input could justify.
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Records the largest single allocation, so that "refused, not allocated" is tested.
struct Largest;
static LARGEST: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Largest {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Largest = Largest;

#[test]
fn fuzz_findings_are_errors_without_large_allocations() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/fuzz-regressions");
    let mut n = 0;
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    for path in paths {
        let bytes = std::fs::read(&path).unwrap();
        LARGEST.store(0, Ordering::Relaxed);
        let r = imaging::decode_bytes(&bytes);
        let largest = LARGEST.load(Ordering::Relaxed);
        assert!(r.is_err(), "{} decoded", path.display());
        // These inputs are a few kilobytes describing tiny images.
        assert!(
            largest < 16 << 20,
            "{}: allocated {largest} bytes at once",
            path.display()
        );
        n += 1;
    }
    assert!(n >= 4, "regression inputs missing");
}

#[test]
fn a_small_file_claiming_a_huge_image_allocates_nothing_large() {
    let mut pgm = b"P5 60000 60000 255\n".to_vec();
    pgm.resize(100, 0);
    LARGEST.store(0, Ordering::Relaxed);
    assert!(imaging::decode_bytes(&pgm).is_err());
    assert!(LARGEST.load(Ordering::Relaxed) < 1 << 20);
}
