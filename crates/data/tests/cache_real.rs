//! The preprocessed cache on the real CBIS-DDSM sample of ../shared/data (skipped when
//! it is not there).
mod common;

use data::cache::Cache;
use data::Manifest;
use imaging::preprocess::{Flip, PreprocessConfig};

fn half_sums(img: &[u8], side: usize) -> (u64, u64) {
    let half = side / 2;
    let (mut l, mut r) = (0u64, 0u64);
    for row in img.chunks_exact(side) {
        l += row[..half].iter().map(|&v| v as u64).sum::<u64>();
        r += row[side - half..].iter().map(|&v| v as u64).sum::<u64>();
    }
    (l, r)
}

#[test]
fn cbis_sample_is_padded_away_from_the_chest_wall_and_flips_left() {
    let Some(data) = common::shared_data() else {
        return;
    };
    let m = Manifest::read(&data.join("cbis-ddsm-sample/labels.csv")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = PreprocessConfig::default();
    let c = Cache::open_or_build(&m, &cfg, dir.path(), false).unwrap();
    assert_eq!((c.len(), c.side()), (m.records.len(), 227));
    for (i, r) in m.records.iter().enumerate() {
        let img = c.image(i);
        let mean = img.iter().map(|&v| v as f64).sum::<f64>() / img.len() as f64;
        assert!((10.0..200.0).contains(&mean), "{}: mean {mean}", r.image);
        // Portrait films (about 1110x715) become 227 rows x ~146 columns; the ~80
        // padded columns are on the side away from the chest wall, which in CBIS-DDSM
        // is the left edge for L images and the right edge for R images.
        let pad: Vec<usize> = if r.laterality == "L" {
            (150..227).collect()
        } else {
            (0..77).collect()
        };
        for row in img.chunks_exact(227) {
            assert!(pad.iter().all(|&x| row[x] == 0), "{}: padding", r.image);
        }
    }
    // Flip by detection: every chest wall ends up on the left, and exactly the right
    // breasts were mirrored.
    let flip = PreprocessConfig {
        flip: Flip::Detect,
        crop: true,
        ..Default::default()
    };
    let f = Cache::open_or_build(&m, &flip, dir.path(), false).unwrap();
    assert_ne!(f.path(), c.path());
    for (i, r) in m.records.iter().enumerate() {
        let (l, rr) = half_sums(f.image(i), 227);
        assert!(l > rr, "{}: chest wall not on the left", r.image);
        assert_eq!(f.flipped(i), r.laterality == "R", "{}", r.image);
        let reg = f.region(i);
        assert!(reg.width > 0 && reg.height > 0);
    }
}
