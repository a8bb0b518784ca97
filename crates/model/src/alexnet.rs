//! The study's AlexNet with torchvision's layer sizes, so that torchvision's ImageNet
//! state dict maps onto it one tensor for one tensor (see [`crate::weights`]).

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig, MaxPool2d, MaxPool2dConfig};
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

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
    Conv2dConfig::new([cin, cout], [kernel, kernel])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
        .init(device)
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
        Self {
            conv1: conv(device, in_channels, 64, 11, 4, 2),
            conv2: conv(device, 64, 192, 5, 1, 2),
            conv3: conv(device, 192, 384, 3, 1, 1),
            conv4: conv(device, 384, 256, 3, 1, 1),
            conv5: conv(device, 256, 256, 3, 1, 1),
            pool: MaxPool2dConfig::new([3, 3]).with_strides([2, 2]).init(),
            avgpool: AdaptiveAvgPool2dConfig::new([6, 6]).init(),
            dropout: DropoutConfig::new(0.5).init(),
            fc1: LinearConfig::new(256 * 6 * 6, 4096).init(device),
            fc2: LinearConfig::new(4096, 4096).init(device),
            fc3: LinearConfig::new(4096, num_classes).init(device),
        }
    }

    /// Class logits for an NCHW batch (softmax them for probabilities).
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let x = self.pool.forward(relu(self.conv1.forward(x)));
        let x = self.pool.forward(relu(self.conv2.forward(x)));
        let x = relu(self.conv3.forward(x));
        let x = relu(self.conv4.forward(x));
        let x = self.pool.forward(relu(self.conv5.forward(x)));
        let x = self.avgpool.forward(x).flatten::<2>(1, 3);
        let x = relu(self.fc1.forward(self.dropout.forward(x)));
        let x = relu(self.fc2.forward(self.dropout.forward(x)));
        self.fc3.forward(x)
    }
}
