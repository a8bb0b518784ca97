//! Every DICOM transfer syntax mammograms use, decoded against pixel values that pydicom
//! (with libjpeg, CharLS, OpenJPEG) produced for the same files.
//!
//! The fixtures in `fixtures/dicom` are written by `fixtures/dicom/make_fixtures.py`:
//! for each `NAME.dcm` there is `NAME.expected.bin` (the stored values, i32 LE, row-major)
//! and `NAME.json` (size, bit depth, sign, photometric, transfer syntax, laterality, view,
//! lossy tolerance).

use imaging::{decode_bytes, info_bytes, read_image, read_info, ImageError};
use serde_json::Value;
use std::collections::BTreeSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/dicom");

/// Fixtures our decoder is known to get wrong, with the reason. A listed fixture
/// that starts passing fails the test so that the entry gets removed.
const KNOWN_FAILURES: &[(&str, &str)] = &[];

/// Transfer syntaxes that must each have at least one fixture, so that deleting
/// fixtures cannot make this test pass vacuously.
const REQUIRED_SYNTAXES: &[&str] = &[
    "1.2.840.10008.1.2",      // Implicit VR Little Endian
    "1.2.840.10008.1.2.1",    // Explicit VR Little Endian
    "1.2.840.10008.1.2.2",    // Explicit VR Big Endian (retired, still met)
    "1.2.840.10008.1.2.5",    // RLE Lossless
    "1.2.840.10008.1.2.4.50", // JPEG Baseline (process 1)
    "1.2.840.10008.1.2.4.51", // JPEG Extended (process 2 & 4), 12-bit
    "1.2.840.10008.1.2.4.57", // JPEG Lossless (process 14)
    "1.2.840.10008.1.2.4.70", // JPEG Lossless SV1
    "1.2.840.10008.1.2.4.80", // JPEG-LS Lossless
    "1.2.840.10008.1.2.4.81", // JPEG-LS Near-Lossless
    "1.2.840.10008.1.2.4.90", // JPEG 2000 Lossless
    "1.2.840.10008.1.2.4.91", // JPEG 2000
];

struct Fixture {
    name: String,
    dcm: PathBuf,
    meta: Value,
    /// Stored pixel values (signed ones negative), row-major.
    stored: Vec<i32>,
}

impl Fixture {
    fn str(&self, key: &str) -> Option<&str> {
        self.meta[key].as_str()
    }
    fn num(&self, key: &str) -> i64 {
        self.meta[key]
            .as_i64()
            .unwrap_or_else(|| panic!("{}: {key} missing in sidecar", self.name))
    }
    fn flag(&self, key: &str) -> bool {
        self.meta[key]
            .as_bool()
            .unwrap_or_else(|| panic!("{}: {key} missing in sidecar", self.name))
    }
    fn known_failure(&self) -> Option<&'static str> {
        KNOWN_FAILURES
            .iter()
            .find(|(n, _)| *n == self.name)
            .map(|(_, why)| *why)
    }
}

fn fixtures() -> Vec<Fixture> {
    let mut names: Vec<String> = std::fs::read_dir(DIR)
        .unwrap_or_else(|e| panic!("{DIR}: {e}"))
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".dcm").map(str::to_string)
        })
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let dir = Path::new(DIR);
            let meta_path = dir.join(format!("{name}.json"));
            let meta: Value = serde_json::from_slice(
                &std::fs::read(&meta_path).unwrap_or_else(|e| panic!("{meta_path:?}: {e}")),
            )
            .unwrap_or_else(|e| panic!("{meta_path:?}: {e}"));
            let bin_path = dir.join(format!("{name}.expected.bin"));
            let raw = std::fs::read(&bin_path).unwrap_or_else(|e| panic!("{bin_path:?}: {e}"));
            let stored = raw
                .chunks_exact(4)
                .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            Fixture {
                dcm: dir.join(format!("{name}.dcm")),
                name,
                meta,
                stored,
            }
        })
        .collect()
}

/// `Decoded.full` as `image.rs` defines it: stored values shifted by 2^(bits-1) when
/// signed, inverted when MONOCHROME1 (no rescale in these files).
fn expected_full(f: &Fixture) -> Vec<i64> {
    let bits = f.num("bits_stored") as u32;
    let max = (1i64 << bits) - 1;
    let offset = if f.flag("signed") {
        1i64 << (bits - 1)
    } else {
        0
    };
    let mono1 = f.str("photometric") == Some("MONOCHROME1");
    f.stored
        .iter()
        .map(|&v| {
            let u = v as i64 + offset;
            if mono1 {
                max - u
            } else {
                u
            }
        })
        .collect()
}

/// Decodes one fixture and compares it with its expectation; `Ok` holds the largest
/// difference seen (within tolerance), `Err` says what differs.
fn check_pixels(f: &Fixture) -> Result<i64, String> {
    let decoded = catch_unwind(AssertUnwindSafe(|| read_image(&f.dcm)))
        .map_err(|_| "decoder panicked".to_string())?
        .map_err(|e| format!("decode error: {e}"))?;
    let (rows, cols) = (f.num("rows") as usize, f.num("columns") as usize);
    let full = &decoded.full;
    if (full.width, full.height) != (cols, rows) {
        return Err(format!(
            "size {}x{}, expected {cols}x{rows}",
            full.width, full.height
        ));
    }
    let bits = f.num("bits_stored") as u32;
    if full.max_value as i64 != (1i64 << bits) - 1 {
        return Err(format!("max_value {} for {bits} bits", full.max_value));
    }
    if decoded.display.data.len() != rows * cols {
        return Err(format!("display has {} pixels", decoded.display.data.len()));
    }
    let want = expected_full(f);
    if want.len() != rows * cols || full.data.len() != want.len() {
        return Err(format!(
            "{} pixels decoded, {} expected",
            full.data.len(),
            want.len()
        ));
    }
    let tol = f.num("tolerance");
    let mut worst: Option<(usize, i64, i64)> = None;
    let mut wrong = 0usize;
    let mut largest = 0;
    for (i, (&got, &w)) in full.data.iter().zip(&want).enumerate() {
        let d = (got as i64 - w).abs();
        largest = largest.max(d);
        if d > tol {
            wrong += 1;
            if worst.is_none_or(|(_, g, ww)| d > (g - ww).abs()) {
                worst = Some((i, got as i64, w));
            }
        }
    }
    match worst {
        None => Ok(largest),
        Some((i, got, w)) => Err(format!(
            "{wrong} of {} pixels off by more than {tol}; worst at row {} col {}: got {got}, expected {w}",
            want.len(),
            i / cols,
            i % cols
        )),
    }
}

#[test]
fn fixtures_cover_every_required_transfer_syntax() {
    let all = fixtures();
    assert!(all.len() >= 40, "only {} fixtures in {DIR}", all.len());
    let have: BTreeSet<&str> = all
        .iter()
        .filter_map(|f| f.str("transfer_syntax"))
        .collect();
    for ts in REQUIRED_SYNTAXES {
        assert!(have.contains(ts), "no fixture for transfer syntax {ts}");
    }
    // Each bit depth, signed pixels and MONOCHROME1 appear among the compressed ones.
    let compressed = |f: &&Fixture| {
        f.str("transfer_syntax")
            .is_some_and(|t| t.contains(".4.") || t.ends_with(".5"))
    };
    for bits in [8, 12, 16] {
        assert!(all
            .iter()
            .filter(compressed)
            .any(|f| f.num("bits_stored") == bits));
    }
    assert!(all.iter().filter(compressed).any(|f| f.flag("signed")));
    assert!(all
        .iter()
        .filter(compressed)
        .any(|f| f.str("photometric") == Some("MONOCHROME1")));
    for f in &all {
        let n = (f.num("rows") * f.num("columns")) as usize;
        assert_eq!(f.stored.len(), n, "{}: expected.bin size", f.name);
    }
}

#[test]
fn every_transfer_syntax_decodes_to_the_expected_pixels() {
    let mut failures = Vec::new();
    let mut passed = 0;
    for f in fixtures() {
        let ts = f.str("transfer_syntax").unwrap_or("?").to_string();
        match (check_pixels(&f), f.known_failure()) {
            (Ok(largest), None) => {
                passed += 1;
                if f.flag("lossy") {
                    eprintln!(
                        "{} ({ts}): largest difference from pydicom {largest}",
                        f.name
                    );
                }
            }
            (Ok(_), Some(_)) => failures.push(format!(
                "{} ({ts}) now decodes correctly: remove it from KNOWN_FAILURES",
                f.name
            )),
            (Err(e), None) => failures.push(format!("{} ({ts}): {e}", f.name)),
            (Err(e), Some(why)) => {
                eprintln!("known failure {} ({ts}): {e} [{why}]", f.name)
            }
        }
    }
    eprintln!("{passed} fixtures decoded to the expected pixels");
    assert!(
        failures.is_empty(),
        "{} fixture(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn header_facts_match() {
    let mut failures = Vec::new();
    for f in fixtures() {
        let info = match read_info(&f.dcm) {
            Ok(i) => i,
            Err(e) => {
                failures.push(format!("{}: read_info: {e}", f.name));
                continue;
            }
        };
        let mut diff = |what: &str, got: String, want: String| {
            if got != want {
                failures.push(format!("{}: {what} is {got}, expected {want}", f.name));
            }
        };
        diff(
            "transfer_syntax",
            format!("{:?}", info.transfer_syntax.as_deref()),
            format!("{:?}", f.str("transfer_syntax")),
        );
        diff("rows", info.rows.to_string(), f.num("rows").to_string());
        diff(
            "columns",
            info.columns.to_string(),
            f.num("columns").to_string(),
        );
        diff(
            "bits_stored",
            info.bits_stored.to_string(),
            f.num("bits_stored").to_string(),
        );
        diff(
            "signed",
            info.signed.to_string(),
            f.flag("signed").to_string(),
        );
        diff(
            "photometric",
            format!("{:?}", info.photometric.as_deref()),
            format!("{:?}", f.str("photometric")),
        );
        diff(
            "laterality",
            format!("{:?}", info.laterality.as_deref()),
            format!("{:?}", f.str("laterality")),
        );
        diff(
            "view",
            format!("{:?}", info.view.as_deref()),
            format!("{:?}", f.str("view")),
        );
        diff(
            "modality",
            format!("{:?}", info.modality.as_deref()),
            "Some(\"MG\")".into(),
        );
        if info.transfer_syntax_name.is_none() {
            failures.push(format!("{}: transfer syntax has no name", f.name));
        }
        // Patient-identifying tags are kept apart and never serialised.
        let name = info.phi.iter().find(|(k, _)| k == "PatientName");
        if name.map(|(_, v)| v.as_str()) != Some("Fixture^Synthetic") {
            failures.push(format!(
                "{}: PatientName not in phi: {:?}",
                f.name, info.phi
            ));
        }
        let json = serde_json::to_string(&info).expect("ImageInfo serialises");
        for secret in ["Fixture^Synthetic", "FIXTURE-0001", "19700101", "FIXACC1"] {
            if json.contains(secret) {
                failures.push(format!("{}: serialised info leaks {secret}", f.name));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The header rules, spelled out for the files made to exercise them.
#[test]
fn laterality_and_view_rules() {
    let info = |name: &str| read_info(&Path::new(DIR).join(name)).expect(name);
    // ImageLaterality L wins over Laterality R.
    let i = info("ele_u16_b16.dcm");
    assert_eq!(
        (i.laterality.as_deref(), i.view.as_deref()),
        (Some("L"), Some("MLO"))
    );
    // Only a View Code Sequence (SNOMED CT 399368009).
    let i = info("ile_u16_b12.dcm");
    assert_eq!(
        (i.laterality.as_deref(), i.view.as_deref()),
        (Some("R"), Some("MLO"))
    );
    // Only Patient Orientation A\FR and series Laterality.
    let i = info("ele_u8_b8.dcm");
    assert_eq!(
        (i.laterality.as_deref(), i.view.as_deref()),
        (Some("L"), Some("MLO"))
    );
    // ViewPosition CC.
    let i = info("ebe_u16_b12.dcm");
    assert_eq!(
        (i.laterality.as_deref(), i.view.as_deref()),
        (Some("R"), Some("CC"))
    );
    // SNOMED-RT code of cranio-caudal.
    let i = info("ile_u16_b16_mono1.dcm");
    assert_eq!(
        (i.laterality.as_deref(), i.view.as_deref()),
        (Some("R"), Some("CC"))
    );
    // Nothing at all: unknown, not guessed.
    let i = info("ele_s16_b16.dcm");
    assert_eq!((i.laterality.as_deref(), i.view.as_deref()), (None, None));
}

/// Places to cut a file: inside the preamble, the meta header, the data set, the pixel
/// data, and one or two bytes short of the end.
fn cut_points(len: usize) -> Vec<usize> {
    let mut v = vec![
        0,
        1,
        64,
        128,
        131,
        132,
        140,
        200,
        300,
        400,
        len / 4,
        len / 3,
        len / 2,
        2 * len / 3,
        3 * len / 4,
        len - 12,
        len - 9,
        len - 8,
        len - 4,
        len - 2,
        len - 1,
    ];
    v.retain(|&c| c < len);
    v.sort_unstable();
    v.dedup();
    v
}

#[test]
fn truncated_files_are_errors_not_panics() {
    let mut failures = Vec::new();
    let mut cases = 0;
    for f in fixtures() {
        let bytes = std::fs::read(&f.dcm).expect("fixture readable");
        for cut in cut_points(bytes.len()) {
            cases += 1;
            let part = &bytes[..cut];
            match catch_unwind(|| decode_bytes(part)) {
                Err(_) => failures.push(format!("{} cut at {cut}: decode panicked", f.name)),
                Ok(Ok(_)) => failures.push(format!(
                    "{} cut at {cut} of {}: decoded without error",
                    f.name,
                    bytes.len()
                )),
                Ok(Err(_)) => {}
            }
            // The header alone may still be whole; it must just never panic.
            if catch_unwind(|| info_bytes(part)).is_err() {
                failures.push(format!("{} cut at {cut}: info panicked", f.name));
            }
        }
    }
    assert!(cases > 500, "only {cases} truncation cases");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn truncated_file_on_disk_names_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    for name in [
        "jpeg70_u16_b16",
        "j2k90_u16_b16",
        "ele_u16_b16",
        "rle_u16_b16",
    ] {
        let bytes = std::fs::read(Path::new(DIR).join(format!("{name}.dcm"))).expect(name);
        let path = dir.path().join(format!("{name}-cut.dcm"));
        std::fs::write(&path, &bytes[..bytes.len() * 2 / 3]).expect("write");
        let err = read_image(&path).expect_err(name);
        let msg = err.to_string();
        assert!(msg.contains(&format!("{name}-cut.dcm")), "{msg}");
        assert!(!msg.contains('\n'), "multi-line error: {msg}");
        assert!(
            matches!(err, ImageError::File { .. } | ImageError::Io { .. }),
            "{err:?}"
        );
    }
}
