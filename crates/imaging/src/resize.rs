//! Resampling: area-average shrinking (for `convert`) and bicubic resampling.
use crate::Gray8;

/// Shrinks an 8-bit image by area averaging so that its long side is `max_side`
/// (the short side rounded to the nearest pixel, at least 1). Images already within
/// `max_side` are returned unchanged: this never enlarges.
///
/// Each output pixel is the mean of the input area it covers, with fractional
/// coverage at the edges weighted exactly (box filter on the continuous grid), rounded
/// half up.
pub fn shrink_area(img: &Gray8, max_side: usize) -> Gray8 {
    let long = img.width.max(img.height);
    if max_side == 0 || long <= max_side {
        return img.clone();
    }
    let scale = max_side as f64 / long as f64;
    let out_w = ((img.width as f64 * scale).round() as usize).clamp(1, max_side);
    let out_h = ((img.height as f64 * scale).round() as usize).clamp(1, max_side);
    let xw = area_weights(img.width, out_w);
    let yw = area_weights(img.height, out_h);
    // Separable: rows first into f64, then columns.
    let mut tmp = vec![0f64; img.height * out_w];
    for y in 0..img.height {
        let row = &img.data[y * img.width..(y + 1) * img.width];
        for (ox, taps) in xw.iter().enumerate() {
            let mut s = 0.0;
            for &(ix, w) in taps {
                s += row[ix] as f64 * w;
            }
            tmp[y * out_w + ox] = s;
        }
    }
    let mut data = vec![0u8; out_w * out_h];
    for (oy, taps) in yw.iter().enumerate() {
        for ox in 0..out_w {
            let mut s = 0.0;
            for &(iy, w) in taps {
                s += tmp[iy * out_w + ox] * w;
            }
            data[oy * out_w + ox] = (s + 0.5).floor().clamp(0.0, 255.0) as u8;
        }
    }
    Gray8 {
        width: out_w,
        height: out_h,
        data,
    }
}

/// For each output sample, the input samples it covers and their normalised weights.
fn area_weights(n_in: usize, n_out: usize) -> Vec<Vec<(usize, f64)>> {
    let ratio = n_in as f64 / n_out as f64;
    (0..n_out)
        .map(|o| {
            let lo = o as f64 * ratio;
            let hi = ((o + 1) as f64 * ratio).min(n_in as f64);
            let mut taps = Vec::new();
            let mut i = lo.floor() as usize;
            while (i as f64) < hi && i < n_in {
                let a = (i as f64).max(lo);
                let b = ((i + 1) as f64).min(hi);
                if b > a {
                    taps.push((i, (b - a) / (hi - lo)));
                }
                i += 1;
            }
            taps
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn area_shrink_by_two_is_block_mean() {
        let img = Gray8 {
            width: 4,
            height: 2,
            data: vec![0, 10, 20, 30, 2, 12, 22, 33],
        };
        let out = shrink_area(&img, 2);
        assert_eq!((out.width, out.height), (2, 1));
        // (0+10+2+12)/4 = 6, (20+30+22+33)/4 = 26.25 -> 26
        assert_eq!(out.data, vec![6, 26]);
    }

    #[test]
    fn area_shrink_keeps_aspect_rounded() {
        let img = Gray8 {
            width: 1000,
            height: 333,
            data: vec![128; 333_000],
        };
        let out = shrink_area(&img, 100);
        assert_eq!((out.width, out.height), (100, 33));
        assert!(out.data.iter().all(|&v| v == 128));
    }

    #[test]
    fn never_enlarges() {
        let img = Gray8 {
            width: 3,
            height: 2,
            data: vec![1, 2, 3, 4, 5, 6],
        };
        assert_eq!(shrink_area(&img, 10), img);
    }
}

// ---------------------------------------------------------------------------------
// Bicubic resampling.
//
// Default semantics are OpenCV's `cv2.resize(src, (w, h), interpolation=INTER_CUBIC)`
// so that results compare with the Python reference: Keys cubic kernel with
// a = -0.75, half-pixel centres (`sx = (dx + 0.5) * in/out - 0.5`), four taps, border
// replicate, coefficients and sums in f32 in OpenCV's order. Like OpenCV this does not
// antialias when shrinking (each output pixel looks at 4x4 input pixels whatever the
// scale); [`CubicFilter::Antialiased`] widens the kernel by the shrink factor instead,
// as MATLAB `imresize` and PIL do.
// ---------------------------------------------------------------------------------

/// The bicubic kernel variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CubicFilter {
    /// OpenCV `INTER_CUBIC`: four taps whatever the scale (no antialiasing).
    #[default]
    OpenCv,
    /// Kernel stretched by the shrink factor (MATLAB `imresize` default, PIL
    /// `BICUBIC`): every input pixel contributes. Identical to `OpenCv` when enlarging.
    Antialiased,
}

/// OpenCV's cubic convolution coefficient constant.
const CUBIC_A: f32 = -0.75;

/// The four OpenCV cubic coefficients for a fractional offset `x` in [0, 1), computed
/// exactly as `interpolateCubic` in OpenCV's resize.cpp (f32).
fn opencv_cubic_coeffs(x: f32) -> [f32; 4] {
    let a = CUBIC_A;
    let c0 = ((a * (x + 1.0) - 5.0 * a) * (x + 1.0) + 8.0 * a) * (x + 1.0) - 4.0 * a;
    let c1 = ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
    let c2 = ((a + 2.0) * (1.0 - x) - (a + 3.0)) * (1.0 - x) * (1.0 - x) + 1.0;
    let c3 = 1.0 - c0 - c1 - c2;
    [c0, c1, c2, c3]
}

/// The Keys cubic kernel (a = -0.75) at distance `x`.
fn keys_cubic(x: f64) -> f64 {
    let a = CUBIC_A as f64;
    let x = x.abs();
    if x <= 1.0 {
        ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
    } else if x < 2.0 {
        ((a * x - 5.0 * a) * x + 8.0 * a) * x - 4.0 * a
    } else {
        0.0
    }
}

/// Resampling weights along one axis: for each output sample, `taps` (input index,
/// weight) pairs, indices already clamped to the border (replicate).
#[derive(Debug, Clone)]
struct Axis {
    taps: usize,
    index: Vec<usize>,
    weight: Vec<f32>,
}

impl Axis {
    fn new(n_in: usize, n_out: usize, filter: CubicFilter) -> Axis {
        if filter == CubicFilter::Antialiased && n_out < n_in {
            return Axis::antialiased(n_in, n_out);
        }
        // OpenCV: inv_scale = out/in (double), scale = 1/inv_scale; fx computed in
        // double then stored as float.
        let scale = 1.0 / (n_out as f64 / n_in as f64);
        let last = n_in as isize - 1;
        let mut index = Vec::with_capacity(n_out * 4);
        let mut weight = Vec::with_capacity(n_out * 4);
        for o in 0..n_out {
            let f = ((o as f64 + 0.5) * scale - 0.5) as f32;
            let s = f.floor();
            let c = opencv_cubic_coeffs(f - s);
            let s = s as isize;
            for (k, w) in c.iter().enumerate() {
                index.push((s - 1 + k as isize).clamp(0, last) as usize);
                weight.push(*w);
            }
        }
        Axis {
            taps: 4,
            index,
            weight,
        }
    }

    fn antialiased(n_in: usize, n_out: usize) -> Axis {
        let scale = n_out as f64 / n_in as f64; // < 1
        let support = 2.0 / scale;
        let taps = (2.0 * support).ceil() as usize + 1;
        let last = n_in as isize - 1;
        let mut index = Vec::with_capacity(n_out * taps);
        let mut weight = Vec::with_capacity(n_out * taps);
        for o in 0..n_out {
            let centre = (o as f64 + 0.5) / scale - 0.5;
            let first = (centre - support).floor() as isize + 1;
            let ws: Vec<f64> = (0..taps)
                .map(|k| keys_cubic((first + k as isize) as f64 - centre) * scale)
                .collect();
            let total: f64 = ws.iter().sum();
            for (k, w) in ws.iter().enumerate() {
                index.push((first + k as isize).clamp(0, last) as usize);
                weight.push((w / total) as f32);
            }
        }
        Axis {
            taps,
            index,
            weight,
        }
    }

    fn taps_of(&self, o: usize) -> (&[usize], &[f32]) {
        let r = o * self.taps..(o + 1) * self.taps;
        (&self.index[r.clone()], &self.weight[r])
    }
}

/// Bicubic resampling of a `width`x`height` image whose rows are produced on demand by
/// `row(y, buf)` (which fills `buf`, `width` long, with row `y` as f32). Only the rows
/// the vertical taps need are requested, once each, in increasing order: when
/// shrinking a 4000-row mammogram to 227 rows, most rows are never converted.
///
/// Returns `out_w * out_h` f32 samples, row-major, unrounded.
pub fn resize_cubic_rows<F>(
    width: usize,
    height: usize,
    out_w: usize,
    out_h: usize,
    filter: CubicFilter,
    mut row: F,
) -> Vec<f32>
where
    F: FnMut(usize, &mut [f32]),
{
    let mut src = vec![0f32; width];
    resample(width, height, out_w, out_h, filter, |y, xa, out| {
        row(y, &mut src);
        horizontal(xa, out, |i| src[i]);
    })
}

/// Bicubic resampling of a `width`x`height` window at (`x0`, `y0`) of a 16-bit image
/// (`stride` samples a row), each sample mapped through `lut` on the way. Only the
/// samples the taps touch are looked up (for a 4700x2600 mammogram shrunk to 227²,
/// about 2% of them), which is what makes equalize-then-resample cheap.
#[allow(clippy::too_many_arguments)]
pub fn resize_cubic_lut(
    src: &[u16],
    stride: usize,
    (x0, y0): (usize, usize),
    (width, height): (usize, usize),
    lut: &[f32; 65536],
    (out_w, out_h): (usize, usize),
    filter: CubicFilter,
) -> Vec<f32> {
    assert!(
        x0 + width <= stride && (y0 + height) * stride <= src.len(),
        "resize_cubic_lut: window outside the image"
    );
    resample(width, height, out_w, out_h, filter, |y, xa, out| {
        let row = &src[(y0 + y) * stride + x0..][..width];
        horizontal(xa, out, |i| lut[row[i] as usize]);
    })
}

/// One output row of the horizontal pass; `at(i)` is input sample `i` of the row.
/// Sums in tap order, as OpenCV does.
#[inline(always)]
fn horizontal(xa: &Axis, out: &mut [f32], at: impl Fn(usize) -> f32) {
    if xa.taps == 4 {
        for ((d, idx), w) in out
            .iter_mut()
            .zip(xa.index.chunks_exact(4))
            .zip(xa.weight.chunks_exact(4))
        {
            *d = at(idx[0]) * w[0] + at(idx[1]) * w[1] + at(idx[2]) * w[2] + at(idx[3]) * w[3];
        }
    } else {
        for (o, d) in out.iter_mut().enumerate() {
            let (idx, w) = xa.taps_of(o);
            let mut acc = at(idx[0]) * w[0];
            for k in 1..xa.taps {
                acc += at(idx[k]) * w[k];
            }
            *d = acc;
        }
    }
}

/// The separable resampler: `hpass(y, x_axis, out)` writes the horizontally
/// resampled source row `y` (`out_w` long) into `out`; it is called only for the rows
/// the vertical taps need, once each, in increasing order.
fn resample<H>(
    width: usize,
    height: usize,
    out_w: usize,
    out_h: usize,
    filter: CubicFilter,
    mut hpass: H,
) -> Vec<f32>
where
    H: FnMut(usize, &Axis, &mut [f32]),
{
    if width == 0 || height == 0 || out_w == 0 || out_h == 0 {
        return vec![0.0; out_w * out_h];
    }
    let xa = Axis::new(width, out_w, filter);
    let ya = Axis::new(height, out_h, filter);
    // Which source rows are needed, and where each lands in the compact buffer.
    let mut slot = vec![usize::MAX; height];
    for &y in &ya.index {
        slot[y] = 0;
    }
    let mut n_rows = 0;
    for s in slot.iter_mut().filter(|s| **s == 0) {
        *s = n_rows;
        n_rows += 1;
    }
    let mut tmp = vec![0f32; n_rows * out_w];
    for (y, &s) in slot.iter().enumerate() {
        if s != usize::MAX {
            hpass(y, &xa, &mut tmp[s * out_w..(s + 1) * out_w]);
        }
    }
    let mut dst = vec![0f32; out_w * out_h];
    for (oy, drow) in dst.chunks_exact_mut(out_w).enumerate() {
        let (idx, w) = ya.taps_of(oy);
        let r0 = &tmp[slot[idx[0]] * out_w..][..out_w];
        for (d, &v) in drow.iter_mut().zip(r0) {
            *d = v * w[0];
        }
        for k in 1..ya.taps {
            let rk = &tmp[slot[idx[k]] * out_w..][..out_w];
            let wk = w[k];
            for (d, &v) in drow.iter_mut().zip(rk) {
                *d += v * wk;
            }
        }
    }
    dst
}

/// Bicubic resampling of an f32 image (row-major, `width` x `height`) to
/// `out_w` x `out_h`; with [`CubicFilter::OpenCv`] this is
/// `cv2.resize(src, (out_w, out_h), interpolation=cv2.INTER_CUBIC)` on float32 input.
pub fn resize_cubic_f32(
    src: &[f32],
    width: usize,
    height: usize,
    out_w: usize,
    out_h: usize,
    filter: CubicFilter,
) -> Vec<f32> {
    assert_eq!(src.len(), width * height, "resize_cubic_f32: buffer size");
    resize_cubic_rows(width, height, out_w, out_h, filter, |y, buf| {
        buf.copy_from_slice(&src[y * width..(y + 1) * width])
    })
}

/// Rounds to the nearest integer, ties to even (OpenCV's `cvRound`, NumPy's `rint`),
/// and clips to 0..=255.
pub fn to_u8(v: f32) -> u8 {
    round_even_small(v.clamp(0.0, 255.0)) as u8
}

/// Round half to even of `x` in [0, 2^22], without a libm call (`round_ties_even`
/// compiles to `rintf` without SSE4.1, a measurable cost per pixel): adding 2^23
/// leaves no fraction bits, and IEEE addition rounds ties to even.
#[inline(always)]
pub(crate) fn round_even_small(x: f32) -> f32 {
    const MAGIC: f32 = 8_388_608.0; // 2^23
    (x + MAGIC) - MAGIC
}

/// Bicubic resampling of an 8-bit image, computed in f32 and rounded (ties to even)
/// and clipped. OpenCV's own 8-bit path uses 11-bit fixed-point coefficients and so
/// may differ from this by one grey level on some pixels.
pub fn resize_cubic_u8(img: &Gray8, out_w: usize, out_h: usize, filter: CubicFilter) -> Gray8 {
    let f = resize_cubic_rows(img.width, img.height, out_w, out_h, filter, |y, buf| {
        let row = &img.data[y * img.width..(y + 1) * img.width];
        for (d, &s) in buf.iter_mut().zip(row) {
            *d = s as f32;
        }
    });
    Gray8 {
        width: out_w,
        height: out_h,
        data: f.into_iter().map(to_u8).collect(),
    }
}

#[cfg(test)]
mod cubic_tests {
    use super::*;
    use std::path::Path;

    fn fixture(name: &str) -> Vec<u8> {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/opencv")
            .join(name);
        std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    fn source() -> Gray8 {
        crate::pgm::decode(&fixture("src_200x256.pgm"))
            .unwrap()
            .display
    }

    fn f32s(name: &str) -> Vec<f32> {
        fixture(name)
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    }

    #[test]
    fn float_path_matches_opencv_inter_cubic() {
        let src = source();
        assert_eq!((src.width, src.height), (200, 256));
        let f: Vec<f32> = src.data.iter().map(|&v| v as f32).collect();
        // Shrink (both axes), 227x227 (shrink + enlarge), extreme aspect change.
        for (w, h) in [(45, 57), (227, 227), (13, 300)] {
            let want = f32s(&format!("cubic_{w}x{h}.f32"));
            let got = resize_cubic_f32(&f, 200, 256, w, h, CubicFilter::OpenCv);
            assert_eq!(got.len(), want.len());
            let worst = got
                .iter()
                .zip(&want)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            // OpenCV's float path itself is ~1e-3 off exact arithmetic (a float64
            // evaluation of the same formula differs from it as much as we do); a
            // semantic difference (centres, kernel, border) shows as whole grey levels.
            assert!(worst < 2e-3, "{w}x{h}: max |diff| {worst}");
        }
    }

    #[test]
    fn u8_path_within_one_grey_level_of_opencv() {
        let src = source();
        let want = crate::pgm::decode(&fixture("cubic_u8_45x57.pgm"))
            .unwrap()
            .display;
        let got = resize_cubic_u8(&src, 45, 57, CubicFilter::OpenCv);
        let worst = got
            .data
            .iter()
            .zip(&want.data)
            .map(|(&a, &b)| (a as i32 - b as i32).abs())
            .max()
            .unwrap();
        assert!(worst <= 1, "max diff {worst} grey levels");
    }

    #[test]
    fn fast_rounding_is_ties_to_even() {
        for i in 0..=(255 * 64) {
            let x = i as f32 / 64.0;
            assert_eq!(round_even_small(x), x.round_ties_even(), "{x}");
        }
        assert_eq!(
            (to_u8(2.5), to_u8(3.5), to_u8(-4.0), to_u8(300.0)),
            (2, 4, 0, 255)
        );
        assert_eq!(to_u8(f32::NAN), 0);
    }

    #[test]
    fn constant_image_stays_constant() {
        for filter in [CubicFilter::OpenCv, CubicFilter::Antialiased] {
            let src = vec![100f32; 50 * 70];
            for (w, h) in [(7, 9), (50, 70), (120, 33)] {
                let out = resize_cubic_f32(&src, 50, 70, w, h, filter);
                assert!(out.iter().all(|&v| (v - 100.0).abs() < 1e-3), "{filter:?}");
            }
        }
    }

    #[test]
    fn antialiasing_suppresses_aliasing_of_fine_stripes() {
        // One-pixel stripes (0/255) shrunk 8x: OpenCV's 4 taps sample the stripes and
        // alias; the widened kernel averages them to mid-grey.
        let (w, h) = (256, 8);
        let src: Vec<f32> = (0..w * h)
            .map(|i| if (i % w) % 2 == 0 { 255.0 } else { 0.0 })
            .collect();
        let spread = |v: &[f32]| {
            let (lo, hi) = v
                .iter()
                .fold((f32::MAX, f32::MIN), |(a, b), &x| (a.min(x), b.max(x)));
            hi - lo
        };
        let aa = resize_cubic_f32(&src, w, h, 32, 1, CubicFilter::Antialiased);
        assert!(aa.iter().all(|&v| (v - 127.5).abs() < 2.0), "{aa:?}");
        let cv = resize_cubic_f32(&src, w, h, 31, 1, CubicFilter::OpenCv);
        assert!(spread(&cv) > 50.0, "{cv:?}");
    }

    #[test]
    fn only_needed_rows_are_read() {
        let mut asked = Vec::new();
        resize_cubic_rows(10, 1000, 5, 10, CubicFilter::OpenCv, |y, buf| {
            asked.push(y);
            buf.fill(1.0);
        });
        assert!(asked.len() <= 40, "{} rows read", asked.len());
        assert!(asked.windows(2).all(|p| p[0] < p[1]));
    }
}
