//! The study's AlexNet with torchvision's layer sizes, so that torchvision's ImageNet
//! state dict maps onto it one tensor for one tensor (see [`crate::weights`]).

use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig, MaxPool2d, MaxPool2dConfig};
use burn::nn::Initializer;
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

use crate::{fastconv, relupool};

/// Input side length of the study (and of the original AlexNet paper's arithmetic).
pub const INPUT_SIZE: usize = 227;

/// torchvision state-dict prefix → field of [`AlexNet`], in layer order.
pub const TORCHVISION_NAMES: [(&str, &str); 8] = [
    ("features.0", "conv1"),
    ("features.3", "conv2"),
    ("features.6", "conv3"),
    ("features.8", "conv4"),
    ("features.10", "conv5"),
    ("classifier.1", "fc1"),
    ("classifier.4", "fc2"),
    ("classifier.6", "fc3"),
];

fn conv(
    device: &Device,
    cin: usize,
    cout: usize,
    kernel: usize,
    stride: usize,
    pad: usize,
) -> Conv2d {
    let mut c = Conv2dConfig::new([cin, cout], [kernel, kernel])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
        .with_initializer(he(2.0))
        .init(device);
    c.bias = Some(Param::from_tensor(Tensor::zeros([cout], device)));
    c
}

/// He (Kaiming normal, fan-in) initialisation with `gain²` = `gain2`. torchvision's default
/// (uniform, gain² = 1/3) shrinks the signal at every ReLU layer of a network without batch
/// norm, which leaves from-scratch AlexNet at chance for hundreds of iterations; He keeps
/// the activations' scale (gain² = 2 before a ReLU).
fn he(gain2: f64) -> Initializer {
    Initializer::KaimingNormal {
        gain: gain2.sqrt(),
        fan_out_only: false,
    }
}

fn linear(device: &Device, cin: usize, cout: usize, init: Initializer) -> Linear {
    let mut l = LinearConfig::new(cin, cout)
        .with_initializer(init)
        .init(device);
    l.bias = Some(Param::from_tensor(Tensor::zeros([cout], device)));
    l
}

/// A classifier head with N(0, 0.01) weights (Caffe's AlexNet): it starts at the uniform
/// prediction (loss ln k), with no early loss spike that can kill ReLUs.
fn small_head(device: &Device, cin: usize, classes: usize) -> Linear {
    linear(
        device,
        cin,
        classes,
        Initializer::Normal {
            mean: 0.0,
            std: 0.01,
        },
    )
}

/// Layer widths of an AlexNet: the five convolutions' output channels and the two hidden
/// fully connected layers' width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Widths {
    /// Output channels of conv1..conv5.
    pub conv: [usize; 5],
    /// Width of fc1 and fc2.
    pub fc: usize,
}

impl Widths {
    /// torchvision's (and the study's) widths.
    pub const FULL: Widths = Widths {
        conv: [64, 192, 384, 256, 256],
        fc: 4096,
    };
    /// A quarter of the convolution widths and an eighth of the hidden width: the same
    /// topology at about 1/40 of the parameters, for quick CPU runs (the synthetic study).
    pub const SMALL: Widths = Widths {
        conv: [16, 48, 96, 64, 64],
        fc: 512,
    };
}

/// AlexNet's five convolutions (11×11 stride 4, 5×5, then three 3×3) for `in_channels`
/// and the output widths `w`, with He initialisation and zero biases.
fn five_convs(device: &Device, in_channels: usize, w: [usize; 5]) -> [Conv2d; 5] {
    let [c1, c2, c3, c4, c5] = w;
    [
        conv(device, in_channels, c1, 11, 4, 2),
        conv(device, c1, c2, 5, 1, 2),
        conv(device, c2, c3, 3, 1, 1),
        conv(device, c3, c4, 3, 1, 1),
        conv(device, c4, c5, 3, 1, 1),
    ]
}

/// The 3×3 stride-2 max-pool used after conv1 and conv2 (and conv5 in AlexNet).
fn alexnet_pool() -> MaxPool2d {
    MaxPool2dConfig::new([3, 3]).with_strides([2, 2]).init()
}

/// The convolutional trunk: conv1 + pool, conv2 + pool, conv3, conv4, conv5, each with
/// ReLU (conv5's activations are what Grad-CAM weighs).
fn trunk(convs: [&Conv2d; 5], pool: &MaxPool2d, x: Tensor<4>) -> Tensor<4> {
    let [c1, c2, c3, c4, c5] = convs;
    let x = relupool::relu_max_pool(pool, fastconv::conv2d(c1, x));
    let x = relupool::relu_max_pool(pool, fastconv::conv2d(c2, x));
    let x = relu(fastconv::conv2d(c3, x));
    let x = relu(fastconv::conv2d(c4, x));
    relu(fastconv::conv2d(c5, x))
}

/// AlexNet as in torchvision: five convolutions, three overlapping max-pools, 6×6 adaptive
/// average pooling and three fully connected layers with dropout 0.5 before the first two.
#[derive(Module, Debug)]
pub struct AlexNet {
    /// 64@11×11, stride 4, padding 2 (`features.0`).
    pub conv1: Conv2d,
    /// 192@5×5, padding 2 (`features.3`).
    pub conv2: Conv2d,
    /// 384@3×3, padding 1 (`features.6`).
    pub conv3: Conv2d,
    /// 256@3×3, padding 1 (`features.8`).
    pub conv4: Conv2d,
    /// 256@3×3, padding 1 (`features.10`).
    pub conv5: Conv2d,
    /// 3×3 stride-2 max-pool used after conv1, conv2 and conv5.
    pub pool: MaxPool2d,
    /// Adaptive average pool to 6×6 (an identity at 227×227 and 224×224 inputs).
    pub avgpool: AdaptiveAvgPool2d,
    /// Dropout 0.5 in front of fc1 and fc2.
    pub dropout: Dropout,
    /// 9216 → 4096 (`classifier.1`).
    pub fc1: Linear,
    /// 4096 → 4096 (`classifier.4`).
    pub fc2: Linear,
    /// 4096 → classes (`classifier.6`).
    pub fc3: Linear,
}

impl AlexNet {
    /// A randomly initialised AlexNet for `in_channels` (1 or 3) and `num_classes` outputs.
    pub fn new(device: &Device, in_channels: usize, num_classes: usize) -> Self {
        Self::with_widths(device, in_channels, num_classes, Widths::FULL)
    }

    /// A randomly initialised AlexNet topology with other layer widths.
    pub fn with_widths(device: &Device, in_channels: usize, num_classes: usize, w: Widths) -> Self {
        let [conv1, conv2, conv3, conv4, conv5] = five_convs(device, in_channels, w.conv);
        let c5 = w.conv[4];
        Self {
            conv1,
            conv2,
            conv3,
            conv4,
            conv5,
            pool: alexnet_pool(),
            avgpool: AdaptiveAvgPool2dConfig::new([6, 6]).init(),
            dropout: DropoutConfig::new(0.5).init(),
            fc1: linear(device, c5 * 6 * 6, w.fc, he(2.0)),
            fc2: linear(device, w.fc, w.fc, he(2.0)),
            fc3: small_head(device, w.fc, num_classes),
        }
    }

    /// The last convolution's activations (conv5 + ReLU), where Grad-CAM looks.
    pub fn feature_map(&self, x: Tensor<4>) -> Tensor<4> {
        let convs = [
            &self.conv1,
            &self.conv2,
            &self.conv3,
            &self.conv4,
            &self.conv5,
        ];
        trunk(convs, &self.pool, x)
    }

    /// Class logits from [`AlexNet::feature_map`]'s output.
    pub fn head(&self, x: Tensor<4>) -> Tensor<2> {
        // `x` is already rectified: ReLU again changes nothing but saves a pass.
        let x = relupool::relu_max_pool(&self.pool, x);
        let x = self.avgpool.forward(x).flatten::<2>(1, 3);
        let x = relu(self.fc1.forward(self.dropout.forward(x)));
        let x = relu(self.fc2.forward(self.dropout.forward(x)));
        self.fc3.forward(x)
    }

    /// Class logits for an NCHW batch (softmax them for probabilities).
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.head(self.feature_map(x))
    }
}

/// alexnet-small's five convolutions as a fully convolutional classifier: global max
/// pooling over the last feature map, dropout 0.5 and one linear layer. It takes any
/// input size (a multiple of 32: the stem and two pools reduce by 16, and whole images
/// and patches then tile evenly), so a classifier trained on lesion patches applies
/// unchanged to whole images, as a sliding window whose strongest response is kept
/// (Shen et al. 2019's patch-to-whole-image transfer).
#[derive(Module, Debug)]
pub struct AlexNetFcn {
    /// 11×11 stride-4 stem.
    pub conv1: Conv2d,
    /// 5×5.
    pub conv2: Conv2d,
    /// 3×3.
    pub conv3: Conv2d,
    /// 3×3.
    pub conv4: Conv2d,
    /// 3×3.
    pub conv5: Conv2d,
    /// 3×3 stride-2 max-pool after conv1 and conv2.
    pub pool: MaxPool2d,
    /// Dropout 0.5 in front of the head.
    pub dropout: Dropout,
    /// conv5 channels → classes.
    pub fc: Linear,
}

impl AlexNetFcn {
    /// A randomly initialised network for `in_channels` (1 or 3) and `num_classes` outputs.
    pub fn new(device: &Device, in_channels: usize, num_classes: usize) -> Self {
        let [conv1, conv2, conv3, conv4, conv5] =
            five_convs(device, in_channels, Widths::SMALL.conv);
        let c5 = Widths::SMALL.conv[4];
        Self {
            conv1,
            conv2,
            conv3,
            conv4,
            conv5,
            pool: alexnet_pool(),
            dropout: DropoutConfig::new(0.5).init(),
            fc: small_head(device, c5, num_classes),
        }
    }

    /// The last convolution's activations (conv5 + ReLU), where Grad-CAM looks.
    pub fn feature_map(&self, x: Tensor<4>) -> Tensor<4> {
        let convs = [
            &self.conv1,
            &self.conv2,
            &self.conv3,
            &self.conv4,
            &self.conv5,
        ];
        trunk(convs, &self.pool, x)
    }

    /// Class logits from [`AlexNetFcn::feature_map`]'s output: the global maximum of each
    /// channel, then the linear head.
    pub fn head(&self, x: Tensor<4>) -> Tensor<2> {
        let x = x.max_dim(3).max_dim(2).flatten::<2>(1, 3);
        self.fc.forward(self.dropout.forward(x))
    }

    /// Class logits for an NCHW batch.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.head(self.feature_map(x))
    }
}
