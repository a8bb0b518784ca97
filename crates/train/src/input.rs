//! From preprocessed 8-bit images to network input: the study's mean-image subtraction,
//! scaled by the standard deviation convention of the weights the network starts from,
//! and replicated into three channels for RGB-pretrained networks.
//!
//! `x_c = (pixel − mean_image[pixel]) / std_c`: the per-pixel training mean replaces the
//! per-channel ImageNet mean (it centres the data, which is what that mean was for), and
//! `std_c` keeps the input on the scale the pretrained filters expect.

use burn::tensor::{Device, Tensor, TensorData};
use imaging::preprocess::MeanImage;
use model::{ModelConfig, Normalization};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::augment::Augment;
use crate::TrainError;

/// Square 8-bit images by index (the preprocessed cache, or images in memory).
pub trait ImageSource: Sync {
    /// Side of every image.
    fn side(&self) -> usize;
    /// Number of images.
    fn len(&self) -> usize;
    /// Whether there are no images.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Image `i`: `side * side` samples, row-major.
    fn image(&self, i: usize) -> &[u8];
}

impl ImageSource for data::cache::Cache {
    fn side(&self) -> usize {
        data::cache::Cache::side(self)
    }
    fn len(&self) -> usize {
        data::cache::Cache::len(self)
    }
    fn image(&self, i: usize) -> &[u8] {
        data::cache::Cache::image(self, i)
    }
}

/// Images held in memory (tests, `predict`).
#[derive(Debug, Clone)]
pub struct MemoryImages {
    /// Side of every image.
    pub side: usize,
    /// The images, each `side * side`.
    pub images: Vec<Vec<u8>>,
}

impl ImageSource for MemoryImages {
    fn side(&self) -> usize {
        self.side
    }
    fn len(&self) -> usize {
        self.images.len()
    }
    fn image(&self, i: usize) -> &[u8] {
        &self.images[i]
    }
}

/// The input transform of one trained network.
#[derive(Debug, Clone)]
pub struct Input {
    /// The training mean image.
    pub mean: MeanImage,
    /// Per-channel scale convention.
    pub norm: Normalization,
    /// Network input channels.
    pub channels: usize,
}

impl Input {
    /// The transform for `model`: the mean image of the training images `indices` of
    /// `source`, or for a fully convolutional network its weights' constant mean.
    pub fn from_training(
        model: &ModelConfig,
        source: &dyn ImageSource,
        indices: &[usize],
    ) -> Result<Input, TrainError> {
        if source.side() != model.input_size {
            return Err(TrainError::Config(format!(
                "images are {0}×{0}, the network takes {1}×{1}",
                source.side(),
                model.input_size
            )));
        }
        let side = source.side();
        let mean = if model.arch.fully_convolutional() {
            // The weights' own constant: a sliding network must see the same tissue the
            // same way anywhere, and a lesion patch as it is seen inside a whole image
            // (a mean image of whole mammograms is bright where the breast usually is and
            // black elsewhere, a patch stage's mean nearly flat).
            let (m, _) = model.normalization.channel(0, model.in_channels);
            MeanImage {
                size: side,
                data: vec![m; side * side],
            }
        } else {
            MeanImage::from_images(side, indices.iter().map(|&i| source.image(i)))?
        };
        Ok(Input {
            mean,
            norm: model.normalization,
            channels: model.in_channels,
        })
    }

    /// Side of the images.
    pub fn side(&self) -> usize {
        self.mean.size
    }

    /// Writes one image (0..255 scale) as `channels` normalised planes into `out`.
    pub fn write(&self, pixels: &[f32], out: &mut [f32]) {
        let plane = pixels.len();
        for c in 0..self.channels {
            let (_, std) = self.norm.channel(c, self.channels);
            let inv = 1.0 / std;
            for ((o, &v), &m) in out[c * plane..(c + 1) * plane]
                .iter_mut()
                .zip(pixels)
                .zip(&self.mean.data)
            {
                *o = (v - m) * inv;
            }
        }
    }

    /// An NCHW batch of images `indices` of `source`; with `augment = (aug, seed, first)`,
    /// image `k` is augmented from stream `first + k` of `seed`, so a batch augments the
    /// same way whether it is formed whole or as micro-batches starting at `first`.
    pub fn batch(
        &self,
        source: &dyn ImageSource,
        indices: &[usize],
        augment: Option<(&Augment, u64, usize)>,
        device: &Device,
    ) -> Tensor<4> {
        let side = self.side();
        let plane = side * side;
        let per = plane * self.channels;
        let mut data = vec![0f32; indices.len() * per];
        let mut pixels = vec![0f32; plane];
        for (k, &i) in indices.iter().enumerate() {
            let img = source.image(i);
            match augment {
                Some((aug, seed, first)) if aug.any() => {
                    let stream = (first + k) as u64;
                    let mut rng = ChaCha8Rng::seed_from_u64(crate::mix_seed(seed, stream));
                    aug.apply(img, side, &mut rng, &mut pixels);
                }
                _ => {
                    for (p, &v) in pixels.iter_mut().zip(img) {
                        *p = f32::from(v);
                    }
                }
            }
            self.write(&pixels, &mut data[k * per..(k + 1) * per]);
        }
        Tensor::from_data(
            TensorData::new(data, [indices.len(), self.channels, side, side]),
            device,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_subtracted_and_replicated() {
        let src = MemoryImages {
            side: 2,
            images: vec![vec![0, 10, 20, 30], vec![20, 30, 40, 50]],
        };
        let input = Input {
            mean: MeanImage::from_images(2, src.images.iter().map(|v| v.as_slice())).unwrap(),
            norm: Normalization::INCEPTION,
            channels: 3,
        };
        assert_eq!(input.mean.data, vec![10.0, 20.0, 30.0, 40.0]);
        let t = input.batch(&src, &[1], None, &Device::default());
        assert_eq!(t.dims(), [1, 3, 2, 2]);
        let v = t.into_data().try_to_vec::<f32>().unwrap();
        for c in 0..3 {
            assert_eq!(&v[c * 4..c * 4 + 4], &[10.0 / 128.0; 4]);
        }
    }
}
