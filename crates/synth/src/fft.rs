//! A small in-place radix-2 FFT (power-of-two sizes only) and its 2-D form.
//!
//! The texture generator only needs square power-of-two grids, so this keeps the crate
//! free of a heavier FFT dependency; it is checked against a direct DFT in the tests.

/// A complex number in single precision is too coarse for a 1/f^3 spectrum spanning
/// ~10 decades of power, so the FFT works in `f64`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Complex {
    /// Real part.
    pub re: f64,
    /// Imaginary part.
    pub im: f64,
}

impl Complex {
    /// A complex number from its parts.
    pub fn new(re: f64, im: f64) -> Self {
        Complex { re, im }
    }

    /// Squared magnitude.
    pub fn norm_sqr(self) -> f64 {
        self.re * self.re + self.im * self.im
    }

    fn mul(self, o: Complex) -> Complex {
        Complex::new(
            self.re * o.re - self.im * o.im,
            self.re * o.im + self.im * o.re,
        )
    }

    fn add(self, o: Complex) -> Complex {
        Complex::new(self.re + o.re, self.im + o.im)
    }

    fn sub(self, o: Complex) -> Complex {
        Complex::new(self.re - o.re, self.im - o.im)
    }
}

/// Twiddle factors `exp(∓2πik/n)` for `k < n/2`, shared by every stage and every row
/// of a 2-D transform.
fn twiddles(n: usize, inverse: bool) -> Vec<Complex> {
    let sign = if inverse { 1.0 } else { -1.0 };
    (0..n / 2)
        .map(|k| {
            let a = sign * 2.0 * std::f64::consts::PI * k as f64 / n as f64;
            Complex::new(a.cos(), a.sin())
        })
        .collect()
}

fn fft_with(buf: &mut [Complex], tw: &[Complex]) {
    let n = buf.len();
    if n < 2 {
        return;
    }
    // Bit-reversal permutation.
    let bits = n.trailing_zeros();
    for i in 0..n {
        let j = i.reverse_bits() >> (usize::BITS - bits);
        if j > i {
            buf.swap(i, j);
        }
    }
    let mut len = 2;
    while len <= n {
        let half = len / 2;
        let stride = n / len;
        for chunk in buf.chunks_mut(len) {
            let (lo, hi) = chunk.split_at_mut(half);
            for k in 0..half {
                let t = hi[k].mul(tw[k * stride]);
                hi[k] = lo[k].sub(t);
                lo[k] = lo[k].add(t);
            }
        }
        len <<= 1;
    }
}

/// In-place FFT of `buf` (length a power of two). `inverse` computes the unnormalised
/// inverse transform (the caller divides by the length).
///
/// # Panics
/// If the length is not a power of two; callers in this crate only pass such sizes.
pub fn fft(buf: &mut [Complex], inverse: bool) {
    let n = buf.len();
    assert!(n.is_power_of_two(), "FFT length {n} is not a power of two");
    fft_with(buf, &twiddles(n, inverse));
}

/// In-place 2-D FFT of an `n`×`n` row-major grid (`n` a power of two); the inverse is
/// unnormalised, as in [`fft`].
pub fn fft2(grid: &mut [Complex], n: usize, inverse: bool) {
    assert!(n.is_power_of_two(), "FFT size {n} is not a power of two");
    assert_eq!(grid.len(), n * n, "grid is not {n}x{n}");
    let tw = twiddles(n, inverse);
    for row in grid.chunks_mut(n) {
        fft_with(row, &tw);
    }
    let mut col = vec![Complex::default(); n];
    for x in 0..n {
        for y in 0..n {
            col[y] = grid[y * n + x];
        }
        fft_with(&mut col, &tw);
        for y in 0..n {
            grid[y * n + x] = col[y];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dft(x: &[Complex]) -> Vec<Complex> {
        let n = x.len();
        (0..n)
            .map(|k| {
                x.iter()
                    .enumerate()
                    .fold(Complex::default(), |acc, (j, v)| {
                        let a = -2.0 * std::f64::consts::PI * (j * k) as f64 / n as f64;
                        acc.add(v.mul(Complex::new(a.cos(), a.sin())))
                    })
            })
            .collect()
    }

    #[test]
    fn matches_direct_dft_and_inverts() {
        let x: Vec<Complex> = (0..64)
            .map(|i| Complex::new((i as f64 * 0.37).sin() + (i % 5) as f64, (i as f64).cos()))
            .collect();
        let mut y = x.clone();
        fft(&mut y, false);
        let want = dft(&x);
        for (a, b) in y.iter().zip(&want) {
            assert!((a.re - b.re).abs() < 1e-9 && (a.im - b.im).abs() < 1e-9);
        }
        fft(&mut y, true);
        for (a, b) in y.iter().zip(&x) {
            assert!((a.re / 64.0 - b.re).abs() < 1e-12 && (a.im / 64.0 - b.im).abs() < 1e-12);
        }
    }

    #[test]
    fn two_d_transform_of_a_plane_wave_is_one_peak() {
        let n = 16;
        let (kx, ky) = (3usize, 5usize);
        let mut g: Vec<Complex> = (0..n * n)
            .map(|i| {
                let (x, y) = ((i % n) as f64, (i / n) as f64);
                let a = 2.0 * std::f64::consts::PI * (kx as f64 * x + ky as f64 * y) / n as f64;
                Complex::new(a.cos(), a.sin())
            })
            .collect();
        fft2(&mut g, n, false);
        for (i, v) in g.iter().enumerate() {
            let want = if i == ky * n + kx {
                (n * n) as f64
            } else {
                0.0
            };
            assert!(
                (v.re - want).abs() < 1e-8 && v.im.abs() < 1e-8,
                "bin {i}: {v:?}"
            );
        }
    }
}
