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
