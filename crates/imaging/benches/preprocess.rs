//! Decode + the study's preprocessing on the real files of `../shared/data`, per image,
//! to compare with `shared/bench/preprocess_bench.py` (pydicom + OpenCV) on the same
//! files. Run single-threaded: `RAYON_NUM_THREADS=1 cargo bench -p imaging`.
//! Sources that are missing (or that this build cannot decode yet) are skipped with a
//! line on stderr.
use criterion::{criterion_group, criterion_main, Criterion};
use imaging::preprocess::{preprocess_pixels, PreprocessConfig};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `../shared` as the tests find it: `MAMMORECALL_SHARED`, else the first ancestor of
/// this crate whose parent holds `shared/data`.
fn shared() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("MAMMORECALL_SHARED") {
        return Some(PathBuf::from(p));
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|a| a.join("../shared"))
        .find(|s| s.join("data").is_dir())
}

/// Files of `dir` ending in `ext`, sorted, at most `limit`.
fn files(dir: &Path, ext: &str, limit: usize) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == ext))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v.truncate(limit);
    v
}

/// The png crate's decode of a file into its own buffer, nothing more.
fn raw_png(path: &Path) -> Vec<u8> {
    let bytes = std::fs::read(path).expect("reads");
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().expect("PNG header");
    let mut buf = vec![0u8; reader.output_buffer_size().expect("size")];
    reader.next_frame(&mut buf).expect("PNG data");
    buf
}

fn bench(c: &mut Criterion) {
    let Some(shared) = shared() else {
        eprintln!("skipped: ../shared/data not found");
        return;
    };
    let data = shared.join("data");
    // Same file sets as preprocess_bench.py.
    let sets = [
        (
            "dicom_rle16",
            files(&data.join("dicom-samples"), "dcm", usize::MAX),
        ),
        (
            "png8_mias1024",
            files(&data.join("mini-mias/images"), "png", 60),
        ),
        (
            "png16_cbis",
            files(&data.join("cbis-ddsm-sample/images"), "png", usize::MAX),
        ),
    ];
    let cfg = PreprocessConfig::default();
    let mut group = c.benchmark_group("decode_preprocess");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500));
    for (name, paths) in &sets {
        if paths.is_empty() {
            eprintln!("skipped {name}: no files");
            continue;
        }
        if let Err(e) = imaging::read_image(&paths[0]) {
            eprintln!("skipped {name}: {e}");
            continue;
        }
        // One iteration = one image, cycling through the set: the reported time is the
        // time per image (file read + decode + preprocess to 227x227), as the
        // preprocessing cache does it (full-depth pixels, no presentation image).
        let mut i = 0usize;
        group.bench_function(*name, |b| {
            b.iter(|| {
                let p = &paths[i % paths.len()];
                i += 1;
                let d = imaging::read_pixels(p).expect("decodes");
                black_box(preprocess_pixels(&d, &cfg).expect("preprocesses"))
            })
        });
        // Decoding alone: full-depth pixels (imaging::read_pixels), then with the 8-bit
        // presentation image too (imaging::read_image), and for PNG the png crate's own
        // decode into its buffer.
        let mut l = 0usize;
        group.bench_function(format!("{name}_pixels_only"), |b| {
            b.iter(|| {
                let p = &paths[l % paths.len()];
                l += 1;
                black_box(imaging::read_pixels(p).expect("decodes"))
            })
        });
        let mut j = 0usize;
        group.bench_function(format!("{name}_decode_only"), |b| {
            b.iter(|| {
                let p = &paths[j % paths.len()];
                j += 1;
                black_box(imaging::read_image(p).expect("decodes"))
            })
        });
        if name.starts_with("png") {
            let mut k = 0usize;
            group.bench_function(format!("{name}_png_crate_only"), |b| {
                b.iter(|| {
                    let p = &paths[k % paths.len()];
                    k += 1;
                    black_box(raw_png(p))
                })
            });
        }
        // The preprocessing alone, on an image decoded once.
        let decoded = imaging::read_pixels(&paths[0]).expect("decodes");
        group.bench_function(format!("{name}_preprocess_only"), |b| {
            b.iter(|| black_box(preprocess_pixels(&decoded, &cfg).expect("preprocesses")))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
