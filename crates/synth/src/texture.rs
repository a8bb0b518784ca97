//! Power-law (1/f^β) noise, the known second-order statistics of mammographic
//! backgrounds (β ≈ 3; Burgess et al. 2001), and the radially averaged spectrum slope
//! used to check it.

use crate::fft::{fft2, Complex};
use rand::Rng;
use rand_distr::StandardNormal;

/// Two independent power-law noise fields on a `width`×`height` grid, each with zero
/// mean and unit standard deviation and power ∝ f^-β.
///
/// White Gaussian noise is drawn directly in the Fourier domain of the enclosing
/// square power-of-two grid (the Fourier transform of spatial white Gaussian noise is
/// again white Gaussian noise, so this is the same as transforming white noise), filtered
/// by amplitude `(f² + f0²)^(-β/4)`, transformed back and cropped. Without Hermitian
/// symmetry the inverse transform is complex; its real and imaginary parts are two
/// independent realisations, which halves the work per field. `f0` (two cycles per
/// grid) keeps the lowest frequencies from dominating a small crop.
pub fn power_law_noise_pair<R: Rng>(
    rng: &mut R,
    width: usize,
    height: usize,
    beta: f64,
) -> (Vec<f32>, Vec<f32>) {
    let n = width.max(height).max(2).next_power_of_two();
    let f0 = 2.0 / n as f64;
    // The filter depends on |kx| and |ky| only: one table for a quadrant.
    let half = n / 2;
    let gain: Vec<f64> = (0..=half)
        .flat_map(|ky| {
            (0..=half).map(move |kx| {
                if kx == 0 && ky == 0 {
                    0.0
                } else {
                    let (fx, fy) = (kx as f64 / n as f64, ky as f64 / n as f64);
                    (fx * fx + fy * fy + f0 * f0).powf(-beta / 4.0)
                }
            })
        })
        .collect();
    let fold = |k: usize| if k <= half { k } else { n - k };
    let mut grid: Vec<Complex> = Vec::with_capacity(n * n);
    for ky in 0..n {
        for kx in 0..n {
            let g = gain[fold(ky) * (half + 1) + fold(kx)];
            let re: f64 = rng.sample(StandardNormal);
            let im: f64 = rng.sample(StandardNormal);
            grid.push(Complex::new(re * g, im * g));
        }
    }
    fft2(&mut grid, n, true);
    let standardise = |v: Vec<f64>| -> Vec<f32> {
        let len = v.len() as f64;
        let mean = v.iter().sum::<f64>() / len;
        let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / len;
        let sd = var.sqrt().max(1e-300);
        v.iter().map(|x| ((x - mean) / sd) as f32).collect()
    };
    let mut re = Vec::with_capacity(width * height);
    let mut im = Vec::with_capacity(width * height);
    for y in 0..height {
        for c in &grid[y * n..y * n + width] {
            re.push(c.re);
            im.push(c.im);
        }
    }
    (standardise(re), standardise(im))
}

/// One power-law noise field (the first of [`power_law_noise_pair`]).
pub fn power_law_noise<R: Rng>(rng: &mut R, width: usize, height: usize, beta: f64) -> Vec<f32> {
    power_law_noise_pair(rng, width, height, beta).0
}

/// Slope of log power against log frequency of the radially averaged power spectrum of
/// an `n`×`n` patch (`n` a power of two), fitted by least squares over radial
/// frequencies in `[f_min, f_max]` cycles per pixel. With `window` a 2-D Hann window
/// is applied first (needed for non-periodic patches cut from an image). A 1/f^β
/// texture gives ≈ −β.
pub fn spectrum_slope(patch: &[f32], n: usize, f_min: f64, f_max: f64, window: bool) -> f64 {
    assert_eq!(patch.len(), n * n, "patch is not {n}x{n}");
    let mean = patch.iter().map(|&v| v as f64).sum::<f64>() / (n * n) as f64;
    let hann = |i: usize| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n as f64).cos();
    let mut grid: Vec<Complex> = patch
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let w = if window {
                hann(i % n) * hann(i / n)
            } else {
                1.0
            };
            Complex::new((v as f64 - mean) * w, 0.0)
        })
        .collect();
    fft2(&mut grid, n, false);
    // Radial bins one frequency step wide.
    let bins = n / 2;
    let mut sum = vec![0.0; bins + 1];
    let mut count = vec![0usize; bins + 1];
    for ky in 0..n {
        let fy = if ky <= n / 2 {
            ky as f64
        } else {
            ky as f64 - n as f64
        };
        for kx in 0..n {
            let fx = if kx <= n / 2 {
                kx as f64
            } else {
                kx as f64 - n as f64
            };
            let r = (fx * fx + fy * fy).sqrt().round() as usize;
            if r >= 1 && r <= bins {
                sum[r] += grid[ky * n + kx].norm_sqr();
                count[r] += 1;
            }
        }
    }
    let pts: Vec<(f64, f64)> = (1..=bins)
        .filter(|&r| count[r] > 0)
        .map(|r| (r as f64 / n as f64, sum[r] / count[r] as f64))
        .filter(|&(f, p)| f >= f_min && f <= f_max && p > 0.0)
        .map(|(f, p)| (f.ln(), p.ln()))
        .collect();
    let m = pts.len() as f64;
    let (sx, sy) = pts
        .iter()
        .fold((0.0, 0.0), |(a, b), &(x, y)| (a + x, b + y));
    let (mx, my) = (sx / m, sy / m);
    let (cov, var) = pts.iter().fold((0.0, 0.0), |(c, v), &(x, y)| {
        (c + (x - mx) * (y - my), v + (x - mx) * (x - mx))
    });
    cov / var
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn noise_is_standardised_and_has_the_requested_slope() {
        for beta in [2.0, 3.0] {
            let mut rng = ChaCha8Rng::seed_from_u64(11);
            let n = 256;
            let v = power_law_noise(&mut rng, n, n, beta);
            let mean = v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64;
            let var = v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / v.len() as f64;
            assert!(mean.abs() < 1e-6 && (var - 1.0).abs() < 1e-6);
            // The full grid is periodic, so no window; fit above the f0 knee.
            let s = spectrum_slope(&v, n, 8.0 / n as f64, 0.5, false);
            assert!((s + beta).abs() < 0.15, "beta {beta}: slope {s}");
        }
    }

    #[test]
    fn white_noise_has_a_flat_spectrum() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let v: Vec<f32> = (0..128 * 128)
            .map(|_| rng.sample::<f32, _>(StandardNormal))
            .collect();
        let s = spectrum_slope(&v, 128, 0.02, 0.5, true);
        assert!(s.abs() < 0.2, "slope {s}");
    }

    #[test]
    fn the_two_fields_of_a_pair_are_uncorrelated() {
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        let (a, b) = power_law_noise_pair(&mut rng, 256, 256, 3.0);
        let r = a
            .iter()
            .zip(&b)
            .map(|(&x, &y)| x as f64 * y as f64)
            .sum::<f64>()
            / a.len() as f64;
        // Large-scale fields have few independent samples: allow sampling noise.
        assert!(r.abs() < 0.2, "correlation {r}");
        let s = spectrum_slope(&b, 256, 8.0 / 256.0, 0.5, false);
        assert!((s + 3.0).abs() < 0.15, "slope {s}");
    }

    #[test]
    fn cropping_keeps_the_requested_shape() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        assert_eq!(power_law_noise(&mut rng, 300, 170, 3.0).len(), 300 * 170);
    }
}
