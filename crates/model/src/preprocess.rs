//! Input normalisation: pixels (0..255 scale, interleaved) → normalised planar (CHW) floats,
//! replicating grayscale into the three channels RGB-pretrained weights expect.

use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::ModelError;

/// Per-channel `(x − mean) / std`, with `x`, `mean` and `std` in 0..255 pixel units.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Normalization {
    /// Channel means (R, G, B).
    pub mean: [f32; 3],
    /// Channel standard deviations (R, G, B).
    pub std: [f32; 3],
}

impl Normalization {
    /// torchvision's ImageNet statistics (mean 0.485/0.456/0.406, std 0.229/0.224/0.225 of 1).
    pub const IMAGENET: Normalization = Normalization {
        mean: [0.485 * 255.0, 0.456 * 255.0, 0.406 * 255.0],
        std: [0.229 * 255.0, 0.224 * 255.0, 0.225 * 255.0],
    };
    /// TensorFlow EfficientNet-Lite's "inception-style" `(x − 127) / 128`.
    pub const INCEPTION: Normalization = Normalization {
        mean: [127.0; 3],
        std: [128.0; 3],
    };

    /// Mean and std of output channel `c` of a `channels`-channel input; a single-channel
    /// network uses the average of the three RGB statistics.
    pub fn channel(&self, c: usize, channels: usize) -> (f32, f32) {
        if channels == 1 {
            (
                self.mean.iter().sum::<f32>() / 3.0,
                self.std.iter().sum::<f32>() / 3.0,
            )
        } else {
            (self.mean[c], self.std[c])
        }
    }
}

/// Normalises an interleaved (HWC) image of `in_channels` (1 or 3) channels, values on the
/// 0..255 scale, into a planar CHW buffer of `out_channels` (1 or 3). A grayscale image going
/// into a 3-channel network is replicated into R, G and B; colour into a 1-channel network is
/// refused rather than silently converted.
pub fn normalize(
    pixels: &[f32],
    in_channels: usize,
    height: usize,
    width: usize,
    out_channels: usize,
    norm: &Normalization,
) -> Result<Vec<f32>, ModelError> {
    let plane = height * width;
    if pixels.len() != plane * in_channels {
        return Err(ModelError::Input(format!(
            "{} values do not make a {height}×{width}×{in_channels} image",
            pixels.len()
        )));
    }
    if !matches!((in_channels, out_channels), (1, 1) | (1, 3) | (3, 3)) {
        return Err(ModelError::Input(format!(
            "cannot feed a {in_channels}-channel image to a {out_channels}-channel network"
        )));
    }
    let mut out = vec![0.0f32; plane * out_channels];
    for c in 0..out_channels {
        let (mean, std) = norm.channel(c, out_channels);
        let src = if in_channels == 1 { 0 } else { c };
        for (i, v) in out[c * plane..(c + 1) * plane].iter_mut().enumerate() {
            *v = (pixels[i * in_channels + src] - mean) / std;
        }
    }
    Ok(out)
}

/// [`normalize`] for 8-bit pixels.
pub fn normalize_u8(
    pixels: &[u8],
    in_channels: usize,
    height: usize,
    width: usize,
    out_channels: usize,
    norm: &Normalization,
) -> Result<Vec<f32>, ModelError> {
    let values: Vec<f32> = pixels.iter().map(|&p| f32::from(p)).collect();
    normalize(&values, in_channels, height, width, out_channels, norm)
}

/// Stacks normalised CHW images of identical shape into an NCHW tensor on `device`.
pub fn batch(
    images: &[Vec<f32>],
    channels: usize,
    height: usize,
    width: usize,
    device: &Device,
) -> Result<Tensor<4>, ModelError> {
    let size = channels * height * width;
    let mut data = Vec::with_capacity(images.len() * size);
    for (i, image) in images.iter().enumerate() {
        if image.len() != size {
            return Err(ModelError::Input(format!(
                "image {i} has {} values, expected {channels}×{height}×{width}",
                image.len()
            )));
        }
        data.extend_from_slice(image);
    }
    Ok(Tensor::from_data(
        TensorData::new(data, [images.len(), channels, height, width]),
        device,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gray_is_replicated_into_three_normalised_planes() {
        let px = [0.0, 127.0, 255.0, 63.5];
        let out = normalize(&px, 1, 2, 2, 3, &Normalization::INCEPTION).unwrap();
        assert_eq!(out.len(), 12);
        for c in 0..3 {
            assert_eq!(
                &out[c * 4..c * 4 + 4],
                &[-127.0 / 128.0, 0.0, 1.0, -63.5 / 128.0]
            );
        }
    }

    #[test]
    fn rgb_uses_per_channel_statistics_and_planar_order() {
        // One pixel (R, G, B) = (255, 0, 128).
        let out = normalize(&[255.0, 0.0, 128.0], 3, 1, 1, 3, &Normalization::IMAGENET).unwrap();
        let n = Normalization::IMAGENET;
        assert!((out[0] - (255.0 - n.mean[0]) / n.std[0]).abs() < 1e-6);
        assert!((out[1] - (0.0 - n.mean[1]) / n.std[1]).abs() < 1e-6);
        assert!((out[2] - (128.0 - n.mean[2]) / n.std[2]).abs() < 1e-6);
        assert!((out[0] - 2.2489).abs() < 1e-3, "{}", out[0]);
    }

    #[test]
    fn colour_into_gray_network_and_bad_sizes_are_refused() {
        assert!(normalize(&[0.0; 3], 3, 1, 1, 1, &Normalization::IMAGENET).is_err());
        assert!(normalize(&[0.0; 5], 1, 2, 2, 3, &Normalization::IMAGENET).is_err());
    }
}
