//! EfficientNet-Lite0 (EfficientNet-B0 without squeeze-excite, ReLU6, fixed stem and head),
//! a port of the TensorFlow original through the ml-illustrated PyTorch conversion.
//!
//! Every convolution uses TensorFlow "SAME" padding: burn's [`PaddingConfig2d::Same`] computes
//! `total = max((ceil(in/s) - 1)·s + k - in, 0)` and puts `total/2` before and the rest after,
//! which is exactly TF's rule (the extra row/column goes bottom/right for stride 2).

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::PaddingConfig2d;
use burn::nn::{BatchNorm, BatchNormConfig, Dropout, DropoutConfig, Linear, LinearConfig};
use burn::tensor::module::avg_pool2d;
use burn::tensor::ops::AvgPoolOptions;
use burn::tensor::{Device, Tensor};

use crate::{depthwise, fastconv};

/// Batch-norm epsilon of the TF checkpoint (PyTorch's default 1e-5 would shift every output).
pub const BN_EPS: f64 = 1e-3;
/// Width of the pooled feature vector that feeds the classifier.
pub const FEATURES: usize = 1280;

/// One row of the MBConv block table: (in, out, expand ratio, depthwise kernel, stride).
const BLOCKS: [(usize, usize, usize, usize, usize); 16] = [
    (32, 16, 1, 3, 1),
    (16, 24, 6, 3, 2),
    (24, 24, 6, 3, 1),
    (24, 40, 6, 5, 2),
    (40, 40, 6, 5, 1),
    (40, 80, 6, 3, 2),
    (80, 80, 6, 3, 1),
    (80, 80, 6, 3, 1),
    (80, 112, 6, 5, 1),
    (112, 112, 6, 5, 1),
    (112, 112, 6, 5, 1),
    (112, 192, 6, 5, 2),
    (192, 192, 6, 5, 1),
    (192, 192, 6, 5, 1),
    (192, 192, 6, 5, 1),
    (192, 320, 6, 3, 1),
];

fn conv(
    device: &Device,
    channels: [usize; 2],
    kernel: usize,
    stride: usize,
    groups: usize,
) -> Conv2d {
    Conv2dConfig::new(channels, [kernel, kernel])
        .with_stride([stride, stride])
        .with_groups(groups)
        .with_padding(PaddingConfig2d::Same)
        .with_bias(false)
        .init(device)
}

fn bn(device: &Device, channels: usize) -> BatchNorm {
    // TF momentum 0.99 is PyTorch/burn momentum 0.01.
    BatchNormConfig::new(channels)
        .with_epsilon(BN_EPS)
        .with_momentum(0.01)
        .init(device)
}

/// Global average pooling of an NCHW map.
fn pool(x: Tensor<4>) -> Tensor<2> {
    let [batch, channels, h, w] = x.dims();
    x.reshape([batch, channels, h * w])
        .mean_dim(2)
        .reshape([batch, channels])
}

fn relu6<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    crate::relu6::relu6(x)
}

/// Mobile inverted bottleneck block without squeeze-excite.
#[derive(Module, Debug)]
pub struct MbConv {
    /// 1×1 expansion (absent when the expand ratio is 1).
    pub expand_conv: Option<Conv2d>,
    /// Batch norm after the expansion.
    pub bn0: Option<BatchNorm>,
    /// k×k depthwise convolution (groups = channels).
    pub depthwise_conv: Conv2d,
    /// Batch norm after the depthwise convolution.
    pub bn1: BatchNorm,
    /// 1×1 linear projection.
    pub project_conv: Conv2d,
    /// Batch norm after the projection.
    pub bn2: BatchNorm,
    /// Whether the block input is added to its output (stride 1 and equal widths).
    pub residual: bool,
}

impl MbConv {
    fn new(
        device: &Device,
        (cin, cout, expand, kernel, stride): (usize, usize, usize, usize, usize),
    ) -> Self {
        let hidden = cin * expand;
        let (expand_conv, bn0) = if expand != 1 {
            (
                Some(conv(device, [cin, hidden], 1, 1, 1)),
                Some(bn(device, hidden)),
            )
        } else {
            (None, None)
        };
        Self {
            expand_conv,
            bn0,
            depthwise_conv: conv(device, [hidden, hidden], kernel, stride, hidden),
            bn1: bn(device, hidden),
            project_conv: conv(device, [hidden, cout], 1, 1, 1),
            bn2: bn(device, cout),
            residual: stride == 1 && cin == cout,
        }
    }

    /// Applies the block to an NCHW tensor.
    pub fn forward(&self, input: Tensor<4>) -> Tensor<4> {
        let mut x = input.clone();
        if let (Some(conv), Some(bn)) = (&self.expand_conv, &self.bn0) {
            x = relu6(bn.forward(fastconv::conv2d(conv, x)));
        }
        x = relu6(
            self.bn1
                .forward(depthwise::depthwise_conv2d(&self.depthwise_conv, x)),
        );
        x = self.bn2.forward(fastconv::conv2d(&self.project_conv, x));
        // Drop-connect was a training-time regulariser of the original; it is not reproduced.
        if self.residual {
            x = x + input;
        }
        x
    }
}

/// EfficientNet-Lite0 with a classifier of `num_classes` outputs.
#[derive(Module, Debug)]
pub struct EfficientNetLite0 {
    /// 3×3 stride-2 stem convolution, 3 → 32 channels.
    pub conv_stem: Conv2d,
    /// Stem batch norm.
    pub bn0: BatchNorm,
    /// The 16 MBConv blocks.
    pub blocks: Vec<MbConv>,
    /// 1×1 head convolution, 320 → 1280 channels.
    pub conv_head: Conv2d,
    /// Head batch norm.
    pub bn1: BatchNorm,
    /// Dropout 0.2 before the classifier (active only when training).
    pub dropout: Dropout,
    /// Classifier, 1280 → classes.
    pub fc: Linear,
    /// Window pooling: 0 pools the whole feature map (the original network); k > 0 scores
    /// every k×k window of cells (32 pixels each, a lesion patch's footprint) with the
    /// classifier and answers with the window least like the first class, so a patch
    /// classifier scores a whole mammogram by its most abnormal patch.
    pub window: usize,
}

/// Log-odds of "any class but the first" of `[batch, windows, classes]` logits, as
/// `[batch, windows]`.
fn abnormality(logits: Tensor<3>) -> Tensor<2> {
    let classes = logits.dims()[2];
    let first = logits.clone().narrow(2, 0, 1);
    let rest = logits.narrow(2, 1, classes - 1);
    let top = rest.clone().max_dim(2).detach();
    let score = (rest - top.clone()).exp().sum_dim(2).log() + top - first;
    score.squeeze_dim(2)
}

impl EfficientNetLite0 {
    /// A randomly initialised network (burn's default initialisers) for `num_classes` classes.
    pub fn new(device: &Device, num_classes: usize) -> Self {
        Self {
            conv_stem: conv(device, [3, 32], 3, 2, 1),
            bn0: bn(device, 32),
            blocks: BLOCKS.iter().map(|&row| MbConv::new(device, row)).collect(),
            conv_head: conv(device, [320, FEATURES], 1, 1, 1),
            bn1: bn(device, FEATURES),
            dropout: DropoutConfig::new(0.2).init(),
            fc: LinearConfig::new(FEATURES, num_classes).init(device),
            window: 0,
        }
    }

    /// The same network with window pooling of `cells`×`cells` cells (0: global pooling).
    pub fn with_window(mut self, cells: usize) -> Self {
        self.window = cells;
        self
    }

    /// Every batch-norm layer, in forward order.
    pub fn batch_norms_mut(&mut self) -> Vec<&mut BatchNorm> {
        let mut v = vec![&mut self.bn0];
        for b in &mut self.blocks {
            if let Some(bn) = &mut b.bn0 {
                v.push(bn);
            }
            v.push(&mut b.bn1);
            v.push(&mut b.bn2);
        }
        v.push(&mut self.bn1);
        v
    }

    /// Stem convolution, batch norm and ReLU6 (exposed for conformance tests of the padding).
    pub fn stem(&self, x: Tensor<4>) -> Tensor<4> {
        relu6(self.bn0.forward(self.conv_stem.forward(x)))
    }

    /// The head convolution's 1280-channel activations, where Grad-CAM looks.
    pub fn feature_map(&self, x: Tensor<4>) -> Tensor<4> {
        let mut x = self.stem(x);
        for block in &self.blocks {
            x = block.forward(x);
        }
        relu6(self.bn1.forward(fastconv::conv2d(&self.conv_head, x)))
    }

    /// The pooled 1280-d feature vector, the transfer-learning representation.
    pub fn features(&self, x: Tensor<4>) -> Tensor<2> {
        pool(self.feature_map(x))
    }

    /// Class logits from [`EfficientNetLite0::feature_map`]'s output.
    pub fn head(&self, x: Tensor<4>) -> Tensor<2> {
        let [batch, _, h, w] = x.dims();
        let k = self.window;
        if k == 0 || (h <= k && w <= k) {
            return self.fc.forward(self.dropout.forward(pool(x)));
        }
        let (logits, _) = self.window_logits(x);
        let classes = logits.dims()[2];
        let score = abnormality(logits.clone());
        // The argmax carries no gradient; the chosen window's logits do (as in max pooling).
        let best = score
            .detach()
            .argmax(1)
            .unsqueeze_dim::<3>(2)
            .repeat_dim(2, classes);
        logits.gather(1, best).reshape([batch, classes])
    }

    /// Every window's class logits (`[batch, windows, classes]`, windows row-major) and
    /// the window grid (rows, columns), from a feature map; the whole map is one window
    /// when it is no larger than a window or window pooling is off.
    fn window_logits(&self, x: Tensor<4>) -> (Tensor<3>, [usize; 2]) {
        let [batch, channels, h, w] = x.dims();
        let k = if self.window == 0 {
            h.max(w)
        } else {
            self.window
        };
        // Every window's mean feature vector, classified on its own.
        let windows = avg_pool2d(
            x,
            AvgPoolOptions::new([k.min(h), k.min(w)]).with_stride([1, 1]),
        );
        let [_, _, wh, ww] = windows.dims();
        let feats = windows.reshape([batch, channels, wh * ww]).swap_dims(1, 2);
        (self.fc.forward(self.dropout.forward(feats)), [wh, ww])
    }

    /// Each window's abnormality — the log-odds of "any class but the first" — as a
    /// `[batch, rows, columns]` map over the window grid of a feature map (window
    /// (i, j) covers cells i..i+k, j..j+k): where hard negatives are mined.
    pub fn window_abnormality(&self, x: Tensor<4>) -> Tensor<3> {
        let batch = x.dims()[0];
        let (logits, [wh, ww]) = self.window_logits(x);
        abnormality(logits).reshape([batch, wh, ww])
    }

    /// Class logits for an NCHW batch of normalised RGB images.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.head(self.feature_map(x))
    }
}
