//! The DICOM grayscale presentation pipeline (PS3.3 C.11): modality LUT, VOI
//! transform, polarity, and the final 8-bit quantisation.
use crate::{Gray16, Gray8};

/// Maps a full-depth image to 8 bits by its own minimum and maximum (the fallback
/// VOI when a file names none), rounding half up.
pub fn min_max_to_8bit(img: &Gray16) -> Gray8 {
    let (lo, hi) = img
        .data
        .iter()
        .fold((u16::MAX, 0u16), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    let data = if hi <= lo {
        vec![0u8; img.data.len()]
    } else {
        let span = (hi - lo) as f64;
        img.data
            .iter()
            .map(|&v| quantize((v - lo) as f64 / span * 255.0))
            .collect()
    };
    Gray8 {
        width: img.width,
        height: img.height,
        data,
    }
}

/// Rounds half up and clips to 0..=255.
pub fn quantize(x: f64) -> u8 {
    if x.is_nan() {
        return 0;
    }
    (x + 0.5).floor().clamp(0.0, 255.0) as u8
}
