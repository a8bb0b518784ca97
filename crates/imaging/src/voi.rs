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
        // One table entry per value in range: the per-pixel work is a lookup.
        let span = (hi - lo) as f64;
        let table: Vec<u8> = (0..=(hi - lo) as u32)
            .map(|k| quantize(k as f64 / span * 255.0))
            .collect();
        img.data.iter().map(|&v| table[(v - lo) as usize]).collect()
    };
    Gray8 {
        width: img.width,
        height: img.height,
        data,
    }
}

/// Rounds half up and clips to 0..=255. A value within 1e-9 below a half is taken
/// as the half: the VOI formulas reach exact halves (127.5, 178.5) through sums whose
/// binary rounding can land a hair under them.
pub fn quantize(x: f64) -> u8 {
    if x.is_nan() {
        return 0;
    }
    (x + 0.5 + 1e-9).floor().clamp(0.0, 255.0) as u8
}

/// The VOI LUT Function of a window (PS3.3 C.11.2.1.2–3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VoiFunction {
    /// `LINEAR` (the default): the classic window with its half-pixel offsets.
    Linear,
    /// `LINEAR_EXACT`: a window without offsets.
    LinearExact,
    /// `SIGMOID`: a logistic curve centred on the window centre.
    Sigmoid,
}

/// A VOI lookup table (item 0 of the VOI LUT Sequence).
#[derive(Debug, Clone, PartialEq)]
pub struct VoiLut {
    /// The input value mapped by the first entry (LUT Descriptor, value 2).
    pub first: i64,
    /// Bits per entry (LUT Descriptor, value 3): entries span 0..2^bits-1.
    pub bits: u32,
    /// The table.
    pub entries: Vec<u16>,
}

/// The VOI transform to apply to modality values.
#[derive(Debug, Clone, PartialEq)]
pub enum Voi {
    /// A lookup table.
    Lut(VoiLut),
    /// A window centre/width with its function.
    Window {
        /// Window Center.
        center: f64,
        /// Window Width.
        width: f64,
        /// VOI LUT Function.
        function: VoiFunction,
    },
    /// No VOI in the file: the image's own minimum and maximum span the output.
    MinMax,
}

impl Voi {
    /// Maps one modality value to the output range 0..=255 (not yet rounded).
    /// `min`/`max` are the image's modality extremes (used by [`Voi::MinMax`]).
    pub fn apply(&self, x: f64, min: f64, max: f64) -> f64 {
        const YMAX: f64 = 255.0;
        match self {
            Voi::Lut(lut) => {
                let n = lut.entries.len() as i64;
                let idx = ((x.round() as i64) - lut.first).clamp(0, n - 1) as usize;
                let top = ((1u64 << lut.bits) - 1) as f64;
                lut.entries[idx] as f64 / top * YMAX
            }
            Voi::Window {
                center: c,
                width: w,
                function,
            } => match function {
                VoiFunction::Linear => {
                    if x <= c - 0.5 - (w - 1.0) / 2.0 {
                        0.0
                    } else if x > c - 0.5 + (w - 1.0) / 2.0 {
                        YMAX
                    } else {
                        ((x - (c - 0.5)) / (w - 1.0) + 0.5) * YMAX
                    }
                }
                VoiFunction::LinearExact => {
                    if x <= c - w / 2.0 {
                        0.0
                    } else if x > c + w / 2.0 {
                        YMAX
                    } else {
                        ((x - c) / w + 0.5) * YMAX
                    }
                }
                VoiFunction::Sigmoid => YMAX / (1.0 + (-4.0 * (x - c) / w).exp()),
            },
            Voi::MinMax => {
                if max > min {
                    (x - min) / (max - min) * YMAX
                } else {
                    0.0
                }
            }
        }
    }
}

/// The presentation pipeline on stored values: modality LUT (`slope`, `intercept`) →
/// VOI → MONOCHROME1 inversion → 8 bits rounded half up and clipped.
///
/// Computed once per distinct stored value through a table, so a 12-megapixel
/// 16-bit mammogram costs one table of at most 65536 entries plus one lookup a pixel.
pub fn present(
    stored: &[i32],
    width: usize,
    height: usize,
    slope: f64,
    intercept: f64,
    voi: &Voi,
    monochrome1: bool,
) -> Gray8 {
    let (lo, hi) = stored
        .iter()
        .fold((i32::MAX, i32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    if stored.is_empty() {
        return Gray8 {
            width,
            height,
            data: Vec::new(),
        };
    }
    let modality = |v: i32| v as f64 * slope + intercept;
    let (m0, m1) = (modality(lo), modality(hi));
    let (mmin, mmax) = (m0.min(m1), m0.max(m1));
    let map = |v: i32| {
        let y = voi.apply(modality(v), mmin, mmax);
        quantize(if monochrome1 { 255.0 - y } else { y })
    };
    let span = (hi as i64 - lo as i64) as usize;
    let data = if span <= 1 << 20 {
        let table: Vec<u8> = (0..=span).map(|k| map(lo + k as i32)).collect();
        stored.iter().map(|&v| table[(v - lo) as usize]).collect()
    } else {
        stored.iter().map(|&v| map(v)).collect()
    };
    Gray8 {
        width,
        height,
        data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(voi: &Voi, x: f64) -> u8 {
        quantize(voi.apply(x, 0.0, 4095.0))
    }

    #[test]
    fn linear_window_matches_ps33() {
        // c=2048, w=4096: x <= 2047.5-2047.5=0 -> 0; x > 4095 -> 255.
        let v = Voi::Window {
            center: 2048.0,
            width: 4096.0,
            function: VoiFunction::Linear,
        };
        assert_eq!(one(&v, 0.0), 0);
        assert_eq!(one(&v, 4096.0), 255);
        // x=2047.5 -> ((2047.5-2047.5)/4095 + 0.5)*255 = 127.5 -> 128 (half up)
        assert_eq!(one(&v, 2047.5), 128);
        // Narrow window: c=100, w=1: x <= 99.5-0 -> 0, x > 99.5 -> 255.
        let v = Voi::Window {
            center: 100.0,
            width: 1.0,
            function: VoiFunction::Linear,
        };
        assert_eq!(one(&v, 99.0), 0);
        assert_eq!(one(&v, 100.0), 255);
    }

    #[test]
    fn linear_exact_and_sigmoid() {
        let e = Voi::Window {
            center: 100.0,
            width: 50.0,
            function: VoiFunction::LinearExact,
        };
        assert_eq!(one(&e, 75.0), 0);
        assert_eq!(one(&e, 100.0), 128); // 127.5 rounds up
        assert_eq!(one(&e, 110.0), 179); // (0.2+0.5)*255 = 178.5, half up
    }

    #[test]
    fn sigmoid_centre_is_half() {
        let s = Voi::Window {
            center: 500.0,
            width: 200.0,
            function: VoiFunction::Sigmoid,
        };
        assert_eq!(one(&s, 500.0), 128);
        // 255/(1+exp(-4*100/200)) = 255/(1+e^-2) = 224.60 -> 225
        assert_eq!(one(&s, 600.0), 225);
    }

    #[test]
    fn monochrome1_inverts_before_rounding() {
        let img = present(&[0, 1, 2], 3, 1, 1.0, 0.0, &Voi::MinMax, true);
        // min-max: 0, 127.5, 255 -> inverted 255, 127.5, 0 -> 255, 128, 0
        assert_eq!(img.data, vec![255, 128, 0]);
    }
}
