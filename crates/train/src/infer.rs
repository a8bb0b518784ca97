//! Inference: class probabilities for images of a source, batch by batch, and the AUC
//! of a set of predictions.

use burn::module::Module;
use burn::tensor::Device;
use data::Scenario;
use model::Network;

use crate::input::{ImageSource, Input, MemoryImages};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Test-time augmentation: the views of an image whose probabilities are averaged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Tta {
    /// The image only.
    #[default]
    None,
    /// The image and its mirror image.
    Flip,
    /// The image and its mirror, each also shifted by 1/64 of the side up, down, left and
    /// right (10 views; the uncovered border is background, 0).
    FlipShift,
}

impl Tta {
    /// The name on the command line and in files.
    pub fn as_str(self) -> &'static str {
        match self {
            Tta::None => "none",
            Tta::Flip => "flip",
            Tta::FlipShift => "flip-shift",
        }
    }

    /// Views per image.
    pub fn views(self) -> usize {
        match self {
            Tta::None => 1,
            Tta::Flip => 2,
            Tta::FlipShift => 10,
        }
    }

    /// The views of a `side`² image, the image itself first.
    pub fn apply(self, img: &[u8], side: usize) -> Vec<Vec<u8>> {
        let mut out = vec![img.to_vec()];
        if self == Tta::None {
            return out;
        }
        out.push(mirror(img, side));
        if self == Tta::FlipShift {
            let s = (side / 64).max(1) as isize;
            for base in 0..2 {
                for (dx, dy) in [(s, 0), (-s, 0), (0, s), (0, -s)] {
                    let v = shift(&out[base], side, dx, dy);
                    out.push(v);
                }
            }
        }
        out
    }
}

impl fmt::Display for Tta {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Tta {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "none" | "off" => Ok(Tta::None),
            "flip" => Ok(Tta::Flip),
            "flip-shift" => Ok(Tta::FlipShift),
            _ => Err(format!(
                "unknown test-time augmentation '{s}' (expected none, flip or flip-shift)"
            )),
        }
    }
}

/// The left–right mirror of a `side`² image.
pub fn mirror(img: &[u8], side: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(img.len());
    for row in img.chunks(side) {
        out.extend(row.iter().rev());
    }
    out
}

/// A `side`² image moved by (`dx`, `dy`) pixels; the uncovered border is 0.
fn shift(img: &[u8], side: usize, dx: isize, dy: isize) -> Vec<u8> {
    let mut out = vec![0u8; img.len()];
    let n = side as isize;
    for y in 0..n {
        let sy = y - dy;
        if !(0..n).contains(&sy) {
            continue;
        }
        for x in 0..n {
            let sx = x - dx;
            if (0..n).contains(&sx) {
                out[(y * n + x) as usize] = img[(sy * n + sx) as usize];
            }
        }
    }
    out
}

/// [`probabilities`] averaged over the test-time augmentation views of each image.
pub fn probabilities_tta(
    network: &Network,
    input: &Input,
    source: &dyn ImageSource,
    indices: &[usize],
    batch: usize,
    device: &Device,
    tta: Tta,
) -> Vec<Vec<f32>> {
    if tta == Tta::None {
        return probabilities(network, input, source, indices, batch, device);
    }
    let side = source.side();
    let v = tta.views();
    let mut out = Vec::with_capacity(indices.len());
    // A few images at a time, so the views of a large set are never all in memory.
    for chunk in indices.chunks(batch.max(1).div_ceil(v).max(1)) {
        let images: Vec<Vec<u8>> = chunk
            .iter()
            .flat_map(|&i| tta.apply(source.image(i), side))
            .collect();
        let views = MemoryImages { side, images };
        let all: Vec<usize> = (0..views.images.len()).collect();
        let p = probabilities(network, input, &views, &all, batch, device);
        for per in p.chunks(v) {
            let k = per[0].len();
            let mut mean = vec![0f32; k];
            for row in per {
                for (m, x) in mean.iter_mut().zip(row) {
                    *m += x / v as f32;
                }
            }
            out.push(mean);
        }
    }
    out
}

/// The device a network's parameters live on.
pub fn network_device(network: &Network) -> Device {
    network.devices().into_iter().next().unwrap_or_default()
}

/// Softmax probabilities (`[image][class]`) of images `indices` of `source`, in batches of
/// `batch` on `device`. `network` should be in inference mode ([`Module::valid`]).
pub fn probabilities(
    network: &Network,
    input: &Input,
    source: &dyn ImageSource,
    indices: &[usize],
    batch: usize,
    device: &Device,
) -> Vec<Vec<f32>> {
    let mut out = Vec::with_capacity(indices.len());
    for chunk in indices.chunks(batch.max(1)) {
        let x = input.batch(source, chunk, None, device);
        let p = network.probabilities(x);
        let [n, k] = p.dims();
        let values = p.into_data().try_to_vec::<f32>().unwrap_or_default();
        for i in 0..n {
            out.push(values[i * k..(i + 1) * k].to_vec());
        }
    }
    out
}

/// The scenario's AUC of predictions: binary, the positive class's probability ranked
/// against the reference class; three-class, the mean pairwise (Hand & Till) AUC. `None`
/// when a class is missing.
pub fn auc(scenario: Scenario, classes: &[usize], probs: &[Vec<f32>]) -> Option<f64> {
    match scenario.positive_class() {
        Some(pos) => {
            let labels: Vec<bool> = classes.iter().map(|&c| c == pos).collect();
            let scores: Vec<f64> = probs.iter().map(|p| f64::from(p[pos])).collect();
            eval::roc::auc(&labels, &scores).ok()
        }
        None => {
            let k = scenario.n_classes();
            let cols: Vec<Vec<f64>> = (0..k)
                .map(|c| probs.iter().map(|p| f64::from(p[c])).collect())
                .collect();
            eval::multiclass::hand_till(classes, &cols)
                .ok()
                .map(|m| m.mean_pairwise)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tta_views() {
        let img: Vec<u8> = (0..16).collect();
        assert_eq!(Tta::None.apply(&img, 4), vec![img.clone()]);
        let f = Tta::Flip.apply(&img, 4);
        assert_eq!(f[1][..4], [3, 2, 1, 0]);
        let fs = Tta::FlipShift.apply(&img, 4);
        assert_eq!(fs.len(), Tta::FlipShift.views());
        // Shifted right by one: column 0 is background, column 1 is the old column 0.
        assert_eq!(fs[2][..4], [0, 0, 1, 2]);
        assert_eq!(fs[3][..4], [1, 2, 3, 0]);
        assert_eq!("flip-shift".parse::<Tta>(), Ok(Tta::FlipShift));
        assert!("rotate".parse::<Tta>().is_err());
    }
}
