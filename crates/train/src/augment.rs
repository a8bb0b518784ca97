//! Training-time augmentation of preprocessed images: flips, small rotations and
//! intensity jitter. Off by default (the study used none). Draws come from the caller's
//! RNG, which the trainer seeds per iteration, so an augmented run is reproducible and
//! resumable.

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::TrainError;

/// Augmentation settings.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Augment {
    /// Mirror left–right with probability ½.
    pub hflip: bool,
    /// Mirror top–bottom with probability ½.
    pub vflip: bool,
    /// Rotate by a uniform angle in ±this many degrees (0: off; at most 45).
    pub rotate_degrees: f32,
    /// Intensity jitter: `v·(1+a) + 255·b`, `a`, `b` uniform in ±this (0: off; at most 0.5).
    pub intensity: f32,
}

impl Augment {
    /// Whether any augmentation is on.
    pub fn any(&self) -> bool {
        self.hflip || self.vflip || self.rotate_degrees > 0.0 || self.intensity > 0.0
    }

    /// Checks the ranges.
    pub fn check(&self) -> Result<(), TrainError> {
        if !(0.0..=45.0).contains(&self.rotate_degrees) {
            return Err(TrainError::Config(format!(
                "augment.rotate_degrees must be in [0, 45], got {}",
                self.rotate_degrees
            )));
        }
        if !(0.0..=0.5).contains(&self.intensity) {
            return Err(TrainError::Config(format!(
                "augment.intensity must be in [0, 0.5], got {}",
                self.intensity
            )));
        }
        Ok(())
    }

    /// Augments a `side`×`side` 8-bit image into `out` (0..255 scale floats).
    pub fn apply<R: Rng>(&self, img: &[u8], side: usize, rng: &mut R, out: &mut [f32]) {
        debug_assert_eq!(img.len(), side * side);
        let hflip = self.hflip && rng.random_bool(0.5);
        let vflip = self.vflip && rng.random_bool(0.5);
        let angle = if self.rotate_degrees > 0.0 {
            rng.random_range(-self.rotate_degrees..=self.rotate_degrees)
                .to_radians()
        } else {
            0.0
        };
        let (gain, offset) = if self.intensity > 0.0 {
            (
                1.0 + rng.random_range(-self.intensity..=self.intensity),
                255.0 * rng.random_range(-self.intensity..=self.intensity),
            )
        } else {
            (1.0, 0.0)
        };
        let (sin, cos) = angle.sin_cos();
        let c = (side as f32 - 1.0) / 2.0;
        for y in 0..side {
            for x in 0..side {
                // Inverse map: output pixel → source position.
                let (dx, dy) = (x as f32 - c, y as f32 - c);
                let mut sx = cos * dx + sin * dy + c;
                let mut sy = -sin * dx + cos * dy + c;
                if hflip {
                    sx = side as f32 - 1.0 - sx;
                }
                if vflip {
                    sy = side as f32 - 1.0 - sy;
                }
                let v = bilinear(img, side, sx, sy);
                out[y * side + x] = (v * gain + offset).clamp(0.0, 255.0);
            }
        }
    }
}

/// Bilinear sample with zero (background) outside the image.
fn bilinear(img: &[u8], side: usize, x: f32, y: f32) -> f32 {
    let x0 = x.floor();
    let y0 = y.floor();
    let (fx, fy) = (x - x0, y - y0);
    let at = |xi: f32, yi: f32| -> f32 {
        if xi < 0.0 || yi < 0.0 || xi >= side as f32 || yi >= side as f32 {
            0.0
        } else {
            f32::from(img[yi as usize * side + xi as usize])
        }
    };
    let top = at(x0, y0) * (1.0 - fx) + at(x0 + 1.0, y0) * fx;
    let bottom = at(x0, y0 + 1.0) * (1.0 - fx) + at(x0 + 1.0, y0 + 1.0) * fx;
    top * (1.0 - fy) + bottom * fy
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn off_is_identity_and_flip_mirrors() {
        let img: Vec<u8> = (0..16).map(|v| v as u8 * 10).collect();
        let mut out = vec![0.0; 16];
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        Augment::default().apply(&img, 4, &mut rng, &mut out);
        assert!(out.iter().zip(&img).all(|(a, &b)| *a == f32::from(b)));

        let flip = Augment {
            hflip: true,
            ..Augment::default()
        };
        let mut flipped = 0;
        for _ in 0..20 {
            flip.apply(&img, 4, &mut rng, &mut out);
            if out[0] == f32::from(img[3]) {
                flipped += 1;
                for y in 0..4 {
                    for x in 0..4 {
                        assert_eq!(out[y * 4 + x], f32::from(img[y * 4 + 3 - x]));
                    }
                }
            }
        }
        assert!((3..=17).contains(&flipped), "{flipped} of 20 flipped");
    }

    #[test]
    fn rotation_keeps_the_centre_and_ranges_are_checked() {
        let mut img = vec![0u8; 9 * 9];
        img[4 * 9 + 4] = 200;
        let rot = Augment {
            rotate_degrees: 10.0,
            ..Augment::default()
        };
        let mut out = vec![0.0; 81];
        rot.apply(&img, 9, &mut ChaCha8Rng::seed_from_u64(3), &mut out);
        assert_eq!(out[4 * 9 + 4], 200.0);
        assert!(Augment {
            rotate_degrees: 90.0,
            ..Augment::default()
        }
        .check()
        .is_err());
    }
}
