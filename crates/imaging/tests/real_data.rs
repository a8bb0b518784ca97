//! Decoding the real files in ../shared/data (skipped with a message when absent).
use std::path::{Path, PathBuf};

fn shared_data() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("MAMMORECALL_SHARED") {
        let d = PathBuf::from(p).join("data");
        return d.is_dir().then_some(d);
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|a| a.join("../shared/data"))
        .find(|d| d.is_dir())
}

macro_rules! shared_or_skip {
    () => {
        match shared_data() {
            Some(d) => d,
            None => {
                eprintln!("skipped: ../shared/data not found");
                return;
            }
        }
    };
}

#[test]
fn cbis_dicoms_decode_with_header_facts() {
    let data = shared_or_skip!();
    for (name, lat, rows, cols) in [
        ("CBIS-DDSM_Mass-Test_P_00820_LEFT_CC.dcm", "L", 4736, 2624),
        ("CBIS-DDSM_Mass-Test_P_00820_RIGHT_CC.dcm", "R", 4688, 2592),
    ] {
        let path = data.join("dicom-samples").join(name);
        let info = imaging::read_info(&path).unwrap();
        assert_eq!(info.transfer_syntax.as_deref(), Some("1.2.840.10008.1.2.5"));
        assert_eq!(info.laterality.as_deref(), Some(lat));
        assert_eq!(info.view.as_deref(), Some("CC"));
        assert_eq!((info.rows, info.columns), (rows, cols));
        assert_eq!(info.bits_stored, 16);
        assert_eq!(info.photometric.as_deref(), Some("MONOCHROME2"));
        assert_eq!(info.modality.as_deref(), Some("MG"));
        let d = imaging::read_image(&path).unwrap();
        assert_eq!((d.full.height, d.full.width), (rows, cols));
        assert_eq!(d.full.max_value, 65535);
        // README: pixel range 0..65535.
        assert_eq!(d.full.data.iter().min(), Some(&0));
        assert_eq!(d.full.data.iter().max(), Some(&65535));
        // No window in these files: min-max, so the extremes map to 0 and 255.
        assert_eq!(d.display.data.iter().min(), Some(&0));
        assert_eq!(d.display.data.iter().max(), Some(&255));
    }
}

/// The CBIS sample PNGs are 4x4 block means of the same DICOMs (README of
/// cbis-ddsm-sample): decoding the DICOM and block-averaging must give the PNG's
/// 16-bit values exactly (up to the rounding of the mean).
#[test]
fn cbis_png_equals_block_mean_of_dicom() {
    let data = shared_or_skip!();
    let dcm =
        imaging::read_image(&data.join("dicom-samples/CBIS-DDSM_Mass-Test_P_00820_LEFT_CC.dcm"))
            .unwrap();
    let png =
        imaging::read_image(&data.join("cbis-ddsm-sample/images/P_00820_LEFT_CC.png")).unwrap();
    assert_eq!(png.info.bits_stored, 16);
    assert_eq!((png.full.height, png.full.width), (4736 / 4, 2624 / 4));
    let mut worst = 0i64;
    for y in 0..png.full.height {
        for x in 0..png.full.width {
            let mut s = 0u64;
            for dy in 0..4 {
                for dx in 0..4 {
                    s += dcm.full.data[(4 * y + dy) * dcm.full.width + 4 * x + dx] as u64;
                }
            }
            let mean = s as f64 / 16.0;
            let got = png.full.data[y * png.full.width + x] as f64;
            worst = worst.max((got - mean).abs().ceil() as i64);
        }
    }
    assert!(
        worst <= 1,
        "PNG differs from the DICOM block mean by {worst}"
    );
}

#[test]
fn cbis_pngs_round_trip_through_our_writer() {
    let data = shared_or_skip!();
    let dir = tempfile::tempdir().unwrap();
    let folder = data.join("cbis-ddsm-sample/images");
    let mut n = 0;
    for entry in std::fs::read_dir(&folder).unwrap() {
        let p = entry.unwrap().path();
        let d = imaging::read_image(&p).unwrap();
        assert_eq!(d.info.bits_stored, 16, "{}", p.display());
        let out = dir.path().join("rt.png");
        imaging::pngio::write_png16(&out, &d.full).unwrap();
        assert_eq!(imaging::read_image(&out).unwrap().full, d.full);
        n += 1;
    }
    assert_eq!(n, 8);
}

#[test]
fn mini_mias_png_decodes_8bit() {
    let data = shared_or_skip!();
    let d = imaging::read_image(&data.join("mini-mias/images/mdb001.png")).unwrap();
    assert_eq!(
        (d.full.width, d.full.height, d.full.max_value),
        (1024, 1024, 255)
    );
    assert_eq!(d.display.data.len(), 1024 * 1024);
    // 8-bit presentation of an 8-bit image is the image itself.
    assert!(d
        .full
        .data
        .iter()
        .zip(&d.display.data)
        .all(|(a, b)| *a == *b as u16));
}
