//! The study's preprocessing: histogram equalization on the full bit depth, bicubic
//! down-sampling to `size`x`size` (227 by default), and mean-image subtraction; plus
//! two options peers use, off by default: a breast-region crop and flipping every
//! image to one side.
//!
//! The pipeline of [`preprocess`], in order:
//! 1. **Crop** (optional, [`PreprocessConfig::crop`]): Otsu threshold of the full-depth
//!    histogram, largest 8-connected component of the thresholded image (computed on a
//!    block-reduced copy, long side ≤ 512), dilated by two blocks; the image is cut to
//!    its bounding box and everything outside the component is set to the background
//!    (the image minimum). Film labels and markers are separate components, so they
//!    are removed even inside the box, unless they touch the breast.
//! 2. **Histogram equalization** on the full bit depth ([`equalize_lut`]): the CDF of
//!    all values of the (cropped) image mapped to 0..=255, OpenCV's `equalizeHist`
//!    formula generalised to 16 bits. On 8-bit input it equals `cv2.equalizeHist`.
//! 3. **Bicubic resampling** ([`crate::resize`]): OpenCV `INTER_CUBIC` semantics by
//!    default (no antialiasing; [`PreprocessConfig::antialias`] widens the kernel).
//!    With [`Aspect::Pad`] the long side becomes `size` and the short side is rounded;
//!    with [`Aspect::Stretch`] both sides become `size`.
//! 4. **Flip** (optional, [`PreprocessConfig::flip`]): mirror so the chest wall is on
//!    the left.
//! 5. **Pad** to `size`x`size` with 0 (the equalized background value) on the side away
//!    from the chest wall (the chest wall is the brighter half); images wider than
//!    tall are centred vertically.
//! 6. **Round** to 8 bits (ties to even, clipped).
//!
//! The output is 8-bit, as the study's equalized images were: 51,529 bytes an image at
//! 227², so a cache of the whole DDSM fits in memory. Mean subtraction ([`MeanImage`])
//! happens when batches are formed, in f32, because its mean must come from the
//! training part only, which differs between folds.
use crate::resize::{resize_cubic_lut, CubicFilter};
use crate::{Decoded, Gray16, Gray8, ImageError};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::Path;

/// Version of the preprocessing's semantics. Caches hash it: bump it whenever a change
/// alters the output pixels for the same settings.
pub const PREPROCESS_VERSION: u32 = 2;

/// How a non-square image becomes square.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Aspect {
    /// Keep the aspect ratio: long side to `size`, then pad with 0 on the side away
    /// from the chest wall.
    #[default]
    Pad,
    /// Resample each axis to `size` independently (distorts the breast).
    Stretch,
}

/// Whether and how images are mirrored so that the chest wall is on the left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Flip {
    /// No flipping (the study's setting).
    #[default]
    Off,
    /// Detect the chest-wall side from the image (the brighter half) and flip when it
    /// is on the right. Works whatever the storage convention of a dataset.
    Detect,
    /// Use the laterality when known, assuming the convention of DICOM, CBIS-DDSM and
    /// mini-MIAS files (L: chest wall left, R: chest wall right); detect otherwise.
    /// Not every dataset follows it (the DDSM normals of ../shared are mostly stored
    /// mirrored), so [`Flip::Detect`] is the safer choice.
    Laterality,
}

/// Settings of the study's preprocessing. `Default` is the study: 227², histogram
/// equalization, pad to square, no crop, no flip.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PreprocessConfig {
    /// Side of the square output, in pixels.
    pub size: usize,
    /// Histogram equalization on the full bit depth (else linear min–max to 0..255).
    pub equalize: bool,
    /// How non-square images become square.
    pub aspect: Aspect,
    /// Crop to the breast region (Otsu + largest connected component) first.
    pub crop: bool,
    /// Mirror images so the chest wall is on the left.
    pub flip: Flip,
    /// Antialiased (kernel widened by the shrink factor) instead of OpenCV's 4-tap
    /// bicubic.
    pub antialias: bool,
}

impl Default for PreprocessConfig {
    fn default() -> Self {
        PreprocessConfig {
            size: 227,
            equalize: true,
            aspect: Aspect::Pad,
            crop: false,
            flip: Flip::Off,
            antialias: false,
        }
    }
}

/// A rectangle of an image, in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rect {
    /// Left column.
    pub x: usize,
    /// Top row.
    pub y: usize,
    /// Columns.
    pub width: usize,
    /// Rows.
    pub height: usize,
}

/// The laterality of a breast image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Side {
    /// Left breast.
    Left,
    /// Right breast.
    Right,
}

impl Side {
    /// Parses `L`/`R` (also `LEFT`/`RIGHT`, any case); anything else is unknown.
    pub fn parse(s: &str) -> Option<Side> {
        match s.trim().to_ascii_uppercase().as_str() {
            "L" | "LEFT" => Some(Side::Left),
            "R" | "RIGHT" => Some(Side::Right),
            _ => None,
        }
    }
}

/// A preprocessed image and what was done to it.
#[derive(Debug, Clone, PartialEq)]
pub struct Preprocessed {
    /// `size`x`size` 8-bit image.
    pub image: Gray8,
    /// The region of the input that was kept (the whole image without crop).
    pub region: Rect,
    /// Whether the image was mirrored.
    pub flipped: bool,
    /// Where `region` landed on the square output (after any mirroring), so that maps
    /// over the output can be carried back to the input's pixels.
    pub placed: Rect,
}

impl Preprocessed {
    /// Where input pixel (`x`, `y`) (column, row from the top) lands on the output, in
    /// output pixels; `None` when it lies outside the kept region.
    pub fn to_output(&self, x: f64, y: f64) -> Option<(f64, f64)> {
        let (r, p) = (self.region, self.placed);
        if r.width == 0 || r.height == 0 {
            return None;
        }
        let (rx, ry) = (x - r.x as f64, y - r.y as f64);
        if rx < 0.0 || ry < 0.0 || rx > r.width as f64 || ry > r.height as f64 {
            return None;
        }
        let mut u = rx * p.width as f64 / r.width as f64;
        if self.flipped {
            u = p.width as f64 - u;
        }
        let v = ry * p.height as f64 / r.height as f64;
        Some((p.x as f64 + u, p.y as f64 + v))
    }

    /// Output pixels per input pixel (the same on both axes unless stretched: their mean).
    pub fn scale(&self) -> f64 {
        let (r, p) = (self.region, self.placed);
        let sx = p.width as f64 / r.width.max(1) as f64;
        let sy = p.height as f64 / r.height.max(1) as f64;
        (sx + sy) / 2.0
    }
}

/// Preprocesses a decoded image, taking its laterality from the file's header.
pub fn preprocess_decoded(
    img: &Decoded,
    cfg: &PreprocessConfig,
) -> Result<Preprocessed, ImageError> {
    let side = img.info.laterality.as_deref().and_then(Side::parse);
    preprocess(&img.full, side, cfg)
}

/// Preprocesses decoded pixels, taking their laterality from the file's header.
pub fn preprocess_pixels(
    img: &crate::Pixels,
    cfg: &PreprocessConfig,
) -> Result<Preprocessed, ImageError> {
    let side = img.info.laterality.as_deref().and_then(Side::parse);
    preprocess(&img.full, side, cfg)
}

/// Runs the preprocessing pipeline (see the module documentation) on a full-depth
/// image. `laterality` is used only by [`Flip::Laterality`].
pub fn preprocess(
    img: &Gray16,
    laterality: Option<Side>,
    cfg: &PreprocessConfig,
) -> Result<Preprocessed, ImageError> {
    if cfg.size == 0 || cfg.size > 8192 {
        return Err(ImageError::Invalid(format!(
            "preprocess size {} is outside 1..=8192",
            cfg.size
        )));
    }
    if img.width == 0 || img.height == 0 || img.data.len() != img.width * img.height {
        return Err(ImageError::Invalid(format!(
            "image buffer holds {} samples, not {}x{}",
            img.data.len(),
            img.width,
            img.height
        )));
    }
    let masked;
    let (img, region, source_region) = if cfg.crop {
        match breast_mask(img) {
            Some(m) => {
                masked = m.apply(img);
                let r = m.region;
                (&masked, whole(&masked), r)
            }
            None => (img, whole(img), whole(img)),
        }
    } else {
        (img, whole(img), whole(img))
    };
    let lut = if cfg.equalize {
        equalize_lut(img, region)
    } else {
        min_max_lut(img, region)
    };
    let size = cfg.size;
    let (w, h) = match cfg.aspect {
        Aspect::Stretch => (size, size),
        Aspect::Pad => fit_within(region.width, region.height, size),
    };
    let filter = if cfg.antialias {
        CubicFilter::Antialiased
    } else {
        CubicFilter::OpenCv
    };
    let mut small = resize_cubic_lut(
        &img.data,
        img.width,
        (region.x, region.y),
        (region.width, region.height),
        &lut,
        (w, h),
        filter,
    );
    // Chest wall side of the resampled image: the brighter half holds the breast.
    let chest_left = brighter_left(&small, w, h);
    let flipped = match cfg.flip {
        Flip::Off => false,
        Flip::Detect => !chest_left,
        Flip::Laterality => match laterality {
            Some(Side::Left) => false,
            Some(Side::Right) => true,
            None => !chest_left,
        },
    };
    if flipped {
        for row in small.chunks_exact_mut(w) {
            row.reverse();
        }
    }
    let chest_left_now = chest_left != flipped;
    // Placement on the square canvas.
    let x0 = if w == size || chest_left_now {
        0
    } else {
        size - w
    };
    let y0 = (size - h) / 2;
    let mut data = vec![0u8; size * size];
    for (y, row) in small.chunks_exact(w).enumerate() {
        let out = &mut data[(y0 + y) * size + x0..][..w];
        for (d, &v) in out.iter_mut().zip(row) {
            *d = crate::resize::to_u8(v);
        }
    }
    Ok(Preprocessed {
        image: Gray8 {
            width: size,
            height: size,
            data,
        },
        region: source_region,
        flipped,
        placed: Rect {
            x: x0,
            y: y0,
            width: w,
            height: h,
        },
    })
}

/// The size of a `width`x`height` image scaled so its long side is `size` (the short
/// side rounded, at least 1).
fn fit_within(width: usize, height: usize, size: usize) -> (usize, usize) {
    let long = width.max(height) as f64;
    let scale = size as f64 / long;
    let w = ((width as f64 * scale).round() as usize).clamp(1, size);
    let h = ((height as f64 * scale).round() as usize).clamp(1, size);
    (w, h)
}

/// Whether the left half of a row-major image is at least as bright as the right half
/// (the middle column of an odd width counts for neither).
fn brighter_left(img: &[f32], w: usize, h: usize) -> bool {
    let half = w / 2;
    let (mut l, mut r) = (0f64, 0f64);
    for y in 0..h {
        let row = &img[y * w..(y + 1) * w];
        l += row[..half].iter().map(|&v| v as f64).sum::<f64>();
        r += row[w - half..].iter().map(|&v| v as f64).sum::<f64>();
    }
    l >= r
}

/// Histogram (`max_value + 1` bins) of a region of a full-depth image. Values above
/// `max_value` (a malformed file) are counted in the top bin.
fn histogram(img: &Gray16, region: Rect) -> Vec<u32> {
    let bins = img.max_value as usize + 1;
    let rows = (region.y..region.y + region.height)
        .map(|y| &img.data[y * img.width + region.x..][..region.width]);
    if bins <= 256 {
        // Four interleaved histograms hide the store-to-load latency of runs of one
        // value; at 8 bits they all sit in L1.
        let mut h = [[0u32; 256]; 4];
        for row in rows {
            let mut chunks = row.chunks_exact(4);
            for c in &mut chunks {
                h[0][c[0].min(255) as usize] += 1;
                h[1][c[1].min(255) as usize] += 1;
                h[2][c[2].min(255) as usize] += 1;
                h[3][c[3].min(255) as usize] += 1;
            }
            for &v in chunks.remainder() {
                h[0][v.min(255) as usize] += 1;
            }
        }
        let mut hist = vec![0u32; bins];
        for i in 0..256 {
            hist[i.min(bins - 1)] += h[0][i] + h[1][i] + h[2][i] + h[3][i];
        }
        return hist;
    }
    // Wide values: two interleaved 65,536-bin histograms (512 KiB, about L2), and
    // runs of one value (the background, often two thirds of a mammogram) counted
    // eight samples at a time.
    let mut h = vec![[0u32; 65536]; 2];
    let (ha, hb) = h.split_at_mut(1);
    let (ha, hb) = (&mut ha[0], &mut hb[0]);
    for row in rows {
        let mut chunks = row.chunks_exact(8);
        for c in &mut chunks {
            let v0 = c[0];
            if c.iter().all(|&v| v == v0) {
                ha[v0 as usize] += 8;
                continue;
            }
            ha[c[0] as usize] += 1;
            hb[c[1] as usize] += 1;
            ha[c[2] as usize] += 1;
            hb[c[3] as usize] += 1;
            ha[c[4] as usize] += 1;
            hb[c[5] as usize] += 1;
            ha[c[6] as usize] += 1;
            hb[c[7] as usize] += 1;
        }
        for &v in chunks.remainder() {
            ha[v as usize] += 1;
        }
    }
    let mut hist = vec![0u32; bins];
    for i in 0..65536 {
        hist[i.min(bins - 1)] += ha[i] + hb[i];
    }
    hist
}

/// The histogram-equalization look-up table of a region, indexed by pixel value
/// (65,536 entries), giving grey levels 0..=255 as f32.
///
/// The formula is OpenCV's `equalizeHist` over all distinct values of the full bit
/// depth: with `N` the pixel count, `v_min` the smallest value present and
/// `cdf(v)` the number of pixels ≤ `v`,
/// `lut[v] = round_half_even((cdf(v) - cdf(v_min)) * (255 / (N - cdf(v_min))))`,
/// computed in f32 like OpenCV (so on 8-bit input it equals `cv2.equalizeHist`
/// exactly). The darkest value maps to 0, the brightest to 255. A constant image maps
/// to `round(v * 255 / max_value)` (OpenCV keeps an 8-bit constant image as it is).
pub fn equalize_lut(img: &Gray16, region: Rect) -> Box<[f32; 65536]> {
    let hist = histogram(img, region);
    let total = region.width as u64 * region.height as u64;
    let mut lut = new_lut();
    let Some(first) = hist.iter().position(|&c| c > 0) else {
        return lut;
    };
    if hist[first] as u64 == total {
        let v = (first as f64 * 255.0 / img.max_value.max(1) as f64).round() as f32;
        lut.iter_mut().for_each(|x| *x = v);
        return lut;
    }
    let scale = 255.0f32 / (total - hist[first] as u64) as f32;
    let mut sum = 0u64;
    for (i, &c) in hist.iter().enumerate().skip(first + 1) {
        sum += c as u64;
        lut[i] = crate::resize::round_even_small((sum as f32 * scale).clamp(0.0, 255.0));
    }
    // Values above max_value (a malformed file) take the top level.
    let top = lut[hist.len() - 1];
    lut[hist.len()..].iter_mut().for_each(|x| *x = top);
    lut
}

/// Applies histogram equalization ([`equalize_lut`]) to a whole image, giving the
/// 8-bit equalized image at full resolution.
pub fn equalize(img: &Gray16) -> Gray8 {
    let all = Rect {
        x: 0,
        y: 0,
        width: img.width,
        height: img.height,
    };
    let lut = equalize_lut(img, all);
    Gray8 {
        width: img.width,
        height: img.height,
        data: img.data.iter().map(|&v| lut[v as usize] as u8).collect(),
    }
}

/// Linear map of the region's min..max to 0..255 (unrounded), used when equalization
/// is off.
fn min_max_lut(img: &Gray16, region: Rect) -> Box<[f32; 65536]> {
    let (mut lo, mut hi) = (u16::MAX, 0u16);
    for y in region.y..region.y + region.height {
        for &v in &img.data[y * img.width + region.x..][..region.width] {
            lo = lo.min(v);
            hi = hi.max(v);
        }
    }
    let span = (hi.saturating_sub(lo)).max(1) as f32;
    let mut lut = new_lut();
    for (v, x) in lut.iter_mut().enumerate() {
        *x = ((v as f32 - lo as f32) / span * 255.0).clamp(0.0, 255.0);
    }
    lut
}

/// A zeroed look-up table indexed by any 16-bit value (no bounds checks needed).
fn new_lut() -> Box<[f32; 65536]> {
    vec![0f32; 65536]
        .into_boxed_slice()
        .try_into()
        .expect("65536 entries")
}

/// Otsu's threshold on a histogram: the value `t` maximising the between-class
/// variance of `≤ t` and `> t`.
pub fn otsu_threshold(hist: &[u32]) -> usize {
    let total: f64 = hist.iter().map(|&c| c as f64).sum();
    let sum_all: f64 = hist
        .iter()
        .enumerate()
        .map(|(i, &c)| i as f64 * c as f64)
        .sum();
    let (mut w0, mut sum0) = (0f64, 0f64);
    let (mut best, mut best_t) = (-1f64, 0usize);
    for (t, &c) in hist.iter().enumerate() {
        w0 += c as f64;
        sum0 += t as f64 * c as f64;
        let w1 = total - w0;
        if w0 == 0.0 || w1 == 0.0 {
            continue;
        }
        let m0 = sum0 / w0;
        let m1 = (sum_all - sum0) / w1;
        let between = w0 * w1 * (m0 - m1) * (m0 - m1);
        if between > best {
            best = between;
            best_t = t;
        }
    }
    best_t
}

/// The whole of an image as a [`Rect`].
fn whole(img: &Gray16) -> Rect {
    Rect {
        x: 0,
        y: 0,
        width: img.width,
        height: img.height,
    }
}

/// Where the breast is: a block-level mask of the largest bright component and its
/// bounding box in pixels.
#[derive(Debug, Clone)]
pub struct BreastMask {
    /// Bounding box of the breast, in pixels (enlarged by the dilation).
    pub region: Rect,
    block: usize,
    bw: usize,
    keep: Vec<bool>,
}

impl BreastMask {
    /// The region of `img` with every pixel outside the breast component set to the
    /// image's minimum (the background, which equalization maps to 0): film labels
    /// and markers inside the bounding box are removed too.
    pub fn apply(&self, img: &Gray16) -> Gray16 {
        let r = self.region;
        let bg = img.data.iter().copied().min().unwrap_or(0);
        let mut data = Vec::with_capacity(r.width * r.height);
        for y in r.y..r.y + r.height {
            let row = &img.data[y * img.width + r.x..][..r.width];
            let keep_row = &self.keep[(y / self.block) * self.bw..][..self.bw];
            for (i, &v) in row.iter().enumerate() {
                data.push(if keep_row[(r.x + i) / self.block] {
                    v
                } else {
                    bg
                });
            }
        }
        Gray16 {
            width: r.width,
            height: r.height,
            max_value: img.max_value,
            data,
        }
    }
}

/// Blocks of dilation around the breast component, so that the skin line (darker
/// than the threshold in block means) is kept.
const MASK_DILATION: usize = 2;

/// Finds the breast: Otsu threshold of the full-depth histogram, then the largest
/// 8-connected component of `value > threshold`, dilated by two blocks. Computed on a
/// copy reduced by block means so the long side is at most 512 (labels and markers
/// are still separate components at that scale). `None` when nothing is above the
/// threshold.
pub fn breast_mask(img: &Gray16) -> Option<BreastMask> {
    let t = otsu_threshold(&histogram(img, whole(img)));
    let block = img.width.max(img.height).div_ceil(512).max(1);
    let (bw, bh) = (img.width.div_ceil(block), img.height.div_ceil(block));
    // Block means, then threshold.
    let mut sums = vec![0u64; bw * bh];
    let mut counts = vec![0u32; bw * bh];
    for y in 0..img.height {
        let row = &img.data[y * img.width..(y + 1) * img.width];
        let base = (y / block) * bw;
        for (x, &v) in row.iter().enumerate() {
            sums[base + x / block] += v as u64;
            counts[base + x / block] += 1;
        }
    }
    let mask: Vec<bool> = sums
        .iter()
        .zip(&counts)
        .map(|(&s, &c)| s as f64 / c.max(1) as f64 > t as f64)
        .collect();
    let comp = largest_component(&mask, bw, bh)?;
    // Dilate (square structuring element) and take the bounding box.
    let d = MASK_DILATION as isize;
    let mut keep = vec![false; bw * bh];
    let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
    for by in 0..bh {
        for bx in 0..bw {
            if !comp[by * bw + bx] {
                continue;
            }
            for ny in (by as isize - d).max(0)..=(by as isize + d).min(bh as isize - 1) {
                for nx in (bx as isize - d).max(0)..=(bx as isize + d).min(bw as isize - 1) {
                    let (nx, ny) = (nx as usize, ny as usize);
                    keep[ny * bw + nx] = true;
                    (x0, y0, x1, y1) = (x0.min(nx), y0.min(ny), x1.max(nx), y1.max(ny));
                }
            }
        }
    }
    let x = x0 * block;
    let y = y0 * block;
    let xe = ((x1 + 1) * block).min(img.width);
    let ye = ((y1 + 1) * block).min(img.height);
    Some(BreastMask {
        region: Rect {
            x,
            y,
            width: xe - x,
            height: ye - y,
        },
        block,
        bw,
        keep,
    })
}

/// The bounding box of the breast ([`breast_mask`]), or the whole image when no
/// breast is found.
pub fn breast_region(img: &Gray16) -> Rect {
    breast_mask(img).map_or_else(|| whole(img), |m| m.region)
}

/// Membership mask of the largest 8-connected `true` component (`None`: no `true`).
fn largest_component(mask: &[bool], w: usize, h: usize) -> Option<Vec<bool>> {
    let mut label = vec![0u32; mask.len()];
    let mut best: Option<(usize, u32)> = None;
    let mut stack = Vec::new();
    let mut next = 0u32;
    for start in 0..mask.len() {
        if !mask[start] || label[start] != 0 {
            continue;
        }
        next += 1;
        label[start] = next;
        stack.push(start);
        let mut n = 0usize;
        while let Some(p) = stack.pop() {
            n += 1;
            let (x, y) = (p % w, p / w);
            for dy in -1isize..=1 {
                for dx in -1isize..=1 {
                    let (nx, ny) = (x as isize + dx, y as isize + dy);
                    if nx < 0 || ny < 0 || nx >= w as isize || ny >= h as isize {
                        continue;
                    }
                    let q = ny as usize * w + nx as usize;
                    if mask[q] && label[q] == 0 {
                        label[q] = next;
                        stack.push(q);
                    }
                }
            }
        }
        if best.is_none_or(|(m, _)| n > m) {
            best = Some((n, next));
        }
    }
    let (_, id) = best?;
    Some(label.iter().map(|&l| l == id).collect())
}

/// The mean of a set of preprocessed images (the training part only: the caller
/// chooses which), subtracted from every image before it enters the network.
#[derive(Debug, Clone, PartialEq)]
pub struct MeanImage {
    /// Side of the square images.
    pub size: usize,
    /// Per-pixel mean, row-major, `size * size`.
    pub data: Vec<f32>,
}

const MEAN_MAGIC: &[u8; 8] = b"MRMEAN01";

impl MeanImage {
    /// The per-pixel mean of `images` (each `size * size` 8-bit samples). Sums are
    /// exact (integer), so the result does not depend on the order of the images.
    pub fn from_images<'a, I>(size: usize, images: I) -> Result<MeanImage, ImageError>
    where
        I: IntoIterator<Item = &'a [u8]>,
    {
        let mut sums = vec![0u64; size * size];
        let mut n = 0u64;
        for img in images {
            if img.len() != size * size {
                return Err(ImageError::Invalid(format!(
                    "mean image: an image has {} samples, expected {}",
                    img.len(),
                    size * size
                )));
            }
            for (s, &v) in sums.iter_mut().zip(img) {
                *s += v as u64;
            }
            n += 1;
        }
        if n == 0 {
            return Err(ImageError::Invalid("mean image of no images".into()));
        }
        Ok(MeanImage {
            size,
            data: sums.iter().map(|&s| (s as f64 / n as f64) as f32).collect(),
        })
    }

    /// `img - mean`, as f32 (the network input).
    pub fn subtract(&self, img: &[u8]) -> Result<Vec<f32>, ImageError> {
        let mut out = vec![0f32; self.data.len()];
        self.subtract_into(img, &mut out)?;
        Ok(out)
    }

    /// `img - mean` into a caller's buffer (batches reuse one).
    pub fn subtract_into(&self, img: &[u8], out: &mut [f32]) -> Result<(), ImageError> {
        if img.len() != self.data.len() || out.len() != self.data.len() {
            return Err(ImageError::Invalid(format!(
                "mean subtraction: image of {} samples, mean of {}",
                img.len(),
                self.data.len()
            )));
        }
        for ((o, &v), &m) in out.iter_mut().zip(img).zip(&self.data) {
            *o = v as f32 - m;
        }
        Ok(())
    }

    /// Saves atomically: `MRMEAN01`, size as u32 LE, then size² f32 LE.
    pub fn save(&self, path: &Path) -> Result<(), ImageError> {
        store::write_atomic_with(path, |w| {
            let io = |e| ImageError::Io {
                path: path.to_path_buf(),
                source: e,
            };
            w.write_all(MEAN_MAGIC).map_err(io)?;
            w.write_all(&(self.size as u32).to_le_bytes()).map_err(io)?;
            for v in &self.data {
                w.write_all(&v.to_le_bytes()).map_err(io)?;
            }
            Ok(())
        })
    }

    /// Loads a file written by [`MeanImage::save`].
    pub fn load(path: &Path) -> Result<MeanImage, ImageError> {
        let bytes = std::fs::read(path).map_err(|e| ImageError::io(path, e))?;
        let bad = |m: &str| ImageError::Invalid(m.to_string()).with_path(path);
        if bytes.len() < 12 || &bytes[..8] != MEAN_MAGIC {
            return Err(bad("not a mammorecall mean image"));
        }
        let size = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize;
        if size == 0 || size > 8192 || bytes.len() != 12 + 4 * size * size {
            return Err(bad("mean image size does not match its length"));
        }
        let data = bytes[12..]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        Ok(MeanImage { size, data })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/opencv")
            .join(name);
        std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    fn pgm(name: &str) -> Gray16 {
        crate::pgm::decode(&fixture(name)).unwrap().full
    }

    fn gray(width: usize, height: usize, max_value: u16, data: Vec<u16>) -> Gray16 {
        Gray16 {
            width,
            height,
            max_value,
            data,
        }
    }

    #[test]
    fn equalize_matches_opencv_equalize_hist_exactly() {
        let src = pgm("src_200x256.pgm");
        let want = pgm("equalized_200x256.pgm");
        assert_eq!(src.max_value, 255);
        let got = equalize(&src);
        let want8: Vec<u8> = want.data.iter().map(|&v| v as u8).collect();
        let diff = got.data.iter().zip(&want8).filter(|(a, b)| a != b).count();
        assert_eq!(diff, 0, "{diff} pixels differ from cv2.equalizeHist");
    }

    #[test]
    fn equalize_uses_the_full_bit_depth() {
        // Four 12-bit levels that an 8-bit reduction would merge (all < 16) stay apart.
        let img = gray(4, 1, 4095, vec![1, 2, 3, 4000]);
        let eq = equalize(&img);
        // cdf_min = 1, N = 4: (cdf - 1) * 255 / 3 = 0, 85, 170, 255.
        assert_eq!(eq.data, vec![0, 85, 170, 255]);
    }

    #[test]
    fn equalize_constant_image() {
        let img = gray(3, 3, 255, vec![77; 9]);
        assert_eq!(equalize(&img).data, vec![77; 9]);
        let img16 = gray(2, 2, 65535, vec![65535; 4]);
        assert_eq!(equalize(&img16).data, vec![255; 4]);
    }

    #[test]
    fn default_config_is_the_study() {
        let c = PreprocessConfig::default();
        assert_eq!(c.size, 227);
        assert!(c.equalize && !c.crop && !c.antialias);
        assert_eq!((c.aspect, c.flip), (Aspect::Pad, Flip::Off));
        let json = serde_json::to_string(&c).unwrap();
        let back: PreprocessConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn stretch_equals_opencv_pipeline_on_8bit() {
        // Equalize then cv2.resize(float32, INTER_CUBIC) then round: the Python
        // reference pipeline on 8-bit input.
        let src = pgm("src_200x256.pgm");
        let cfg = PreprocessConfig {
            aspect: Aspect::Stretch,
            ..Default::default()
        };
        let out = preprocess(&src, None, &cfg).unwrap();
        let eq = equalize(&src);
        let eqf: Vec<f32> = eq.data.iter().map(|&v| v as f32).collect();
        let want = crate::resize::resize_cubic_f32(&eqf, 200, 256, 227, 227, CubicFilter::OpenCv);
        let want: Vec<u8> = want.into_iter().map(crate::resize::to_u8).collect();
        assert_eq!(out.image.data, want);
        assert!(!out.flipped);
    }

    /// A synthetic "mammogram": a bright half-disc against one side, 16-bit.
    fn breast(width: usize, height: usize, chest_left: bool) -> Gray16 {
        let mut data = vec![0u16; width * height];
        for y in 0..height {
            for x in 0..width {
                let dx = if chest_left { x } else { width - 1 - x } as f64;
                let dy = y as f64 - height as f64 / 2.0;
                let r = (dx * dx + dy * dy).sqrt();
                if r < height as f64 * 0.4 {
                    data[y * width + x] = 20_000 + ((x * 7 + y * 13) % 5000) as u16;
                }
            }
        }
        gray(width, height, 65535, data)
    }

    fn column_mass(img: &Gray8) -> (u64, u64) {
        let half = img.width / 2;
        let mut l = 0u64;
        let mut r = 0u64;
        for row in img.data.chunks_exact(img.width) {
            l += row[..half].iter().map(|&v| v as u64).sum::<u64>();
            r += row[img.width - half..]
                .iter()
                .map(|&v| v as u64)
                .sum::<u64>();
        }
        (l, r)
    }

    #[test]
    fn pad_keeps_aspect_and_pads_away_from_chest_wall() {
        let cfg = PreprocessConfig {
            size: 64,
            ..Default::default()
        };
        for chest_left in [true, false] {
            let out = preprocess(&breast(300, 600, chest_left), None, &cfg).unwrap();
            let img = &out.image;
            assert_eq!((img.width, img.height), (64, 64));
            // 300x600 -> 32x64: 32 padded columns, all zero, away from the chest wall.
            let pad_cols: Vec<usize> = if chest_left { 32..64 } else { 0..32 }.collect();
            for row in img.data.chunks_exact(64) {
                assert!(pad_cols.iter().all(|&x| row[x] == 0));
            }
            let (l, r) = column_mass(img);
            assert_eq!(l > r, chest_left);
            assert!(!out.flipped);
        }
    }

    #[test]
    fn flip_detect_puts_chest_wall_left() {
        let cfg = PreprocessConfig {
            size: 48,
            flip: Flip::Detect,
            ..Default::default()
        };
        let right = preprocess(&breast(200, 400, false), None, &cfg).unwrap();
        let left = preprocess(&breast(200, 400, true), None, &cfg).unwrap();
        assert!(right.flipped && !left.flipped);
        let (l, r) = column_mass(&right.image);
        assert!(l > r);
        // Mirror symmetry of the synthetic breast (texture aside): same mass.
        let (l2, _) = column_mass(&left.image);
        assert!((l as f64 - l2 as f64).abs() / (l2 as f64) < 0.05);
    }

    #[test]
    fn flip_by_laterality_trusts_the_record() {
        let cfg = PreprocessConfig {
            size: 32,
            flip: Flip::Laterality,
            ..Default::default()
        };
        // A right breast is flipped even if the pixels say otherwise.
        let img = breast(100, 200, true);
        assert!(preprocess(&img, Some(Side::Right), &cfg).unwrap().flipped);
        assert!(!preprocess(&img, Some(Side::Left), &cfg).unwrap().flipped);
        assert!(!preprocess(&img, None, &cfg).unwrap().flipped);
        assert_eq!(Side::parse("left"), Some(Side::Left));
        assert_eq!(Side::parse(" R"), Some(Side::Right));
        assert_eq!(Side::parse(""), None);
    }

    #[test]
    fn crop_removes_a_film_label() {
        // Breast on the left, a bright label in the far right corner.
        let mut img = breast(600, 800, true);
        for y in 20..60 {
            for x in 540..590 {
                img.data[y * 600 + x] = 60_000;
            }
        }
        let r = breast_region(&img);
        // The breast spans x < 320 (radius 320); the label (x >= 540) is outside.
        assert!(r.x == 0 && r.x + r.width < 540, "{r:?}");
        assert!(r.width >= 320 && r.height >= 600, "{r:?}");
        let cfg = PreprocessConfig {
            size: 64,
            crop: true,
            ..Default::default()
        };
        let out = preprocess(&img, None, &cfg).unwrap();
        assert_eq!(out.region, r);
        // Without crop the label survives as a bright patch in the top-right corner.
        let plain = preprocess(
            &img,
            None,
            &PreprocessConfig {
                size: 64,
                ..Default::default()
            },
        )
        .unwrap();
        let corner = |g: &Gray8| g.data[3 * 64 + 44] as u32;
        assert!(corner(&plain.image) > 200);
        assert_eq!(corner(&out.image), 0);
    }

    #[test]
    fn crop_masks_a_marker_inside_the_bounding_box() {
        // Breast: half-disc of radius 320 centred on (0, 400). A marker at
        // x 270..300, y 130..160 lies inside the breast's bounding box but ~40 px
        // outside the breast itself.
        let mut img = breast(600, 800, true);
        for y in 130..160 {
            for x in 270..300 {
                img.data[y * 600 + x] = 60_000;
            }
        }
        let m = breast_mask(&img).unwrap();
        let r = m.region;
        assert!(r.x <= 270 && r.x + r.width >= 300 && r.y <= 130, "{r:?}");
        let cut = m.apply(&img);
        let at = |g: &Gray16, x: usize, y: usize| g.data[(y - r.y) * g.width + (x - r.x)];
        assert_eq!(at(&cut, 285, 145), 0, "marker kept");
        assert_eq!(
            at(&cut, 100, 400),
            img.data[400 * 600 + 100],
            "breast changed"
        );
        // Skin line: the breast's last pixels on the row through the centre survive.
        assert_eq!(at(&cut, 318, 400), img.data[400 * 600 + 318]);
    }

    #[test]
    fn otsu_splits_two_modes() {
        let mut hist = vec![0u32; 256];
        hist[10] = 100;
        hist[12] = 50;
        hist[200] = 80;
        hist[210] = 20;
        let t = otsu_threshold(&hist);
        assert!((12..200).contains(&t), "{t}");
    }

    #[test]
    fn mean_image_subtract_and_round_trip() {
        let a = vec![10u8, 20, 30, 40];
        let b = vec![30u8, 20, 10, 0];
        let m = MeanImage::from_images(2, [a.as_slice(), b.as_slice()]).unwrap();
        assert_eq!(m.data, vec![20.0, 20.0, 20.0, 20.0]);
        assert_eq!(m.subtract(&a).unwrap(), vec![-10.0, 0.0, 10.0, 20.0]);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("mean.bin");
        m.save(&p).unwrap();
        assert_eq!(MeanImage::load(&p).unwrap(), m);
        std::fs::write(&p, b"MRMEAN01\x02\0\0\0short").unwrap();
        assert!(MeanImage::load(&p).is_err());
        assert!(m.subtract(&[1, 2, 3]).is_err());
        assert!(MeanImage::from_images(2, [a.as_slice(), &[1u8][..]]).is_err());
    }

    #[test]
    fn refuses_bad_sizes() {
        let img = gray(2, 2, 255, vec![0, 1, 2, 3]);
        let cfg = PreprocessConfig {
            size: 0,
            ..Default::default()
        };
        assert!(preprocess(&img, None, &cfg).is_err());
        let broken = gray(3, 3, 255, vec![0; 4]);
        assert!(preprocess(&broken, None, &PreprocessConfig::default()).is_err());
    }
}
