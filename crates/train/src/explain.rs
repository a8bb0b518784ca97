//! Grad-CAM (Selvaraju et al. 2017): where in the image the evidence for a class lies.
//! The last convolutional map is weighted by the spatial mean of the class score's
//! gradient with respect to it, summed over channels and rectified.

use burn::module::Module;
use burn::tensor::activation::softmax;
use burn::tensor::Device;
use model::Network;

use crate::input::{Input, MemoryImages};
use crate::TrainError;

/// A class-activation map over the network's input.
#[derive(Debug, Clone, PartialEq)]
pub struct Cam {
    /// Columns of the map (the last convolution's grid).
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// Row-major values, rectified and scaled to a maximum of 1 (all 0 when no pixel
    /// speaks for the class).
    pub values: Vec<f32>,
    /// The network's class probabilities for the image.
    pub probabilities: Vec<f32>,
}

/// Grad-CAM of `class` for one preprocessed `side`×`side` image. `network` is in inference
/// mode ([`Module::valid`]): dropout off, batch norm on its running statistics.
pub fn grad_cam(
    network: &Network,
    input: &Input,
    image: &[u8],
    side: usize,
    class: usize,
    device: &Device,
) -> Result<Cam, TrainError> {
    let ad = device.clone().autodiff();
    // Moved to the autodiff device, the inference-mode network keeps its validation flags.
    let net = network.clone().to_device(&ad);
    let source = MemoryImages {
        side,
        images: vec![image.to_vec()],
    };
    let x = input.batch(&source, &[0], None, &ad);
    let map = net.feature_map(x).detach().require_grad();
    let logits = net.head(map.clone());
    let [_, classes] = logits.dims();
    if class >= classes {
        return Err(TrainError::Config(format!(
            "class {class} of a {classes}-class network"
        )));
    }
    let probabilities = softmax(logits.clone().detach(), 1)
        .into_data()
        .try_to_vec::<f32>()
        .unwrap_or_default();
    let score = logits.narrow(1, class, 1).sum();
    let grads = score.backward();
    let grad = map
        .grad(&grads)
        .ok_or_else(|| TrainError::Data("Grad-CAM: no gradient reached the feature map".into()))?;
    let [_, channels, h, w] = grad.dims();
    let g = grad.into_data().try_to_vec::<f32>().unwrap_or_default();
    let a = map
        .detach()
        .into_data()
        .try_to_vec::<f32>()
        .unwrap_or_default();
    let plane = h * w;
    let mut values = vec![0f32; plane];
    for c in 0..channels {
        let gc = &g[c * plane..(c + 1) * plane];
        let alpha = gc.iter().sum::<f32>() / plane as f32;
        for (v, &x) in values.iter_mut().zip(&a[c * plane..(c + 1) * plane]) {
            *v += alpha * x;
        }
    }
    let max = values.iter().fold(0f32, |m, &v| m.max(v));
    for v in &mut values {
        *v = if max > 0.0 { v.max(0.0) / max } else { 0.0 };
    }
    Ok(Cam {
        width: w,
        height: h,
        values,
        probabilities,
    })
}

impl Cam {
    /// The map bilinearly resampled to `side`×`side` (the network input's grid), cell
    /// centres aligned.
    pub fn upsample(&self, side: usize) -> Vec<f32> {
        let (w, h) = (self.width, self.height);
        let at = |x: usize, y: usize| self.values[y.min(h - 1) * w + x.min(w - 1)];
        let mut out = Vec::with_capacity(side * side);
        for oy in 0..side {
            let fy = ((oy as f32 + 0.5) * h as f32 / side as f32 - 0.5).max(0.0);
            let (y0, ty) = (fy.floor() as usize, fy.fract());
            for ox in 0..side {
                let fx = ((ox as f32 + 0.5) * w as f32 / side as f32 - 0.5).max(0.0);
                let (x0, tx) = (fx.floor() as usize, fx.fract());
                let top = at(x0, y0) * (1.0 - tx) + at(x0 + 1, y0) * tx;
                let bottom = at(x0, y0 + 1) * (1.0 - tx) + at(x0 + 1, y0 + 1) * tx;
                out.push(top * (1.0 - ty) + bottom * ty);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upsampling_keeps_corners_and_interpolates() {
        let cam = Cam {
            width: 2,
            height: 1,
            values: vec![0.0, 1.0],
            probabilities: vec![],
        };
        let up = cam.upsample(4);
        assert_eq!(up.len(), 16);
        assert_eq!(up[0], 0.0);
        assert_eq!(up[3], 1.0);
        assert!(up[1] > 0.0 && up[1] < up[2] && up[2] < 1.0);
    }
}
