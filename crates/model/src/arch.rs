//! The architecture registry: the one place that dispatches over networks.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use burn::config::Config;
use burn::module::Module;
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::alexnet::{AlexNet, AlexNetFcn};
use crate::efficientnet::EfficientNetLite0;
use crate::preprocess::Normalization;
use crate::ModelError;

/// A network architecture known to the toolkit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Architecture {
    /// The study's AlexNet with torchvision's layer sizes.
    #[serde(rename = "alexnet")]
    AlexNet,
    /// The same AlexNet topology at a quarter of the width ([`crate::alexnet::Widths::SMALL`]):
    /// no pretrained weights, for quick CPU runs such as the synthetic study.
    #[serde(rename = "alexnet-small")]
    AlexNetSmall,
    /// EfficientNet-Lite0, ImageNet-pretrained weights available.
    #[serde(rename = "efficientnet-lite0")]
    EfficientNetLite0,
    /// alexnet-small's convolutions with global max pooling and a linear head
    /// ([`AlexNetFcn`]): any input size that is a multiple of 32, for lesion patches and
    /// high-resolution whole images.
    #[serde(rename = "alexnet-fcn")]
    AlexNetFcn,
}

impl Architecture {
    /// Every architecture, in the order they are listed to users.
    pub const ALL: [Architecture; 4] = [
        Architecture::AlexNet,
        Architecture::AlexNetSmall,
        Architecture::EfficientNetLite0,
        Architecture::AlexNetFcn,
    ];

    /// The name used on the command line and in configuration files.
    pub fn name(self) -> &'static str {
        match self {
            Architecture::AlexNet => "alexnet",
            Architecture::AlexNetSmall => "alexnet-small",
            Architecture::EfficientNetLite0 => "efficientnet-lite0",
            Architecture::AlexNetFcn => "alexnet-fcn",
        }
    }

    /// The input side length the network is used at by default.
    pub fn default_input_size(self) -> usize {
        match self {
            Architecture::AlexNet | Architecture::AlexNetSmall => crate::alexnet::INPUT_SIZE,
            Architecture::EfficientNetLite0 => 224,
            Architecture::AlexNetFcn => 512,
        }
    }

    /// Input channels the architecture accepts (pretrained weights need 3).
    pub fn supported_channels(self) -> &'static [usize] {
        match self {
            Architecture::AlexNet | Architecture::AlexNetSmall | Architecture::AlexNetFcn => {
                &[1, 3]
            }
            Architecture::EfficientNetLite0 => &[3],
        }
    }

    /// Whether the network slides over its input (any size, no position-dependent
    /// layer): such a network is fed a uniform mean, not a mean image, so the same tissue
    /// reads the same wherever it lies — in a lesion patch or in a whole image.
    pub fn fully_convolutional(self) -> bool {
        matches!(
            self,
            Architecture::EfficientNetLite0 | Architecture::AlexNetFcn
        )
    }

    /// The input normalisation of the weights this architecture is initialised from.
    pub fn normalization(self) -> Normalization {
        match self {
            Architecture::AlexNet | Architecture::AlexNetSmall | Architecture::AlexNetFcn => {
                Normalization::IMAGENET
            }
            Architecture::EfficientNetLite0 => Normalization::INCEPTION,
        }
    }
}

impl fmt::Display for Architecture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Architecture {
    type Err = ModelError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Architecture::ALL
            .into_iter()
            .find(|a| a.name() == s)
            .ok_or_else(|| ModelError::UnknownArchitecture(s.to_string()))
    }
}

/// Everything needed to rebuild a network; saved as JSON next to its weights.
#[derive(Config, Debug, PartialEq)]
pub struct ModelConfig {
    /// The architecture.
    pub arch: Architecture,
    /// Number of output classes (2 or 3 for the study's scenarios, 1000 for ImageNet).
    pub num_classes: usize,
    /// Input channels: 3 for pretrained weights (grayscale is replicated), 1 allowed for AlexNet.
    #[config(default = 3)]
    pub in_channels: usize,
    /// Side length of the square input images.
    pub input_size: usize,
    /// Input normalisation, following the convention of the weights the network started from.
    pub normalization: Normalization,
    /// EfficientNet only: classify every window of this many × this many feature-map
    /// cells (32 pixels each) and answer with the most abnormal one; 0 pools globally.
    #[config(default = 0)]
    pub window_cells: usize,
}

impl ModelConfig {
    /// The default configuration of `arch` for `num_classes` classes: RGB input at the
    /// architecture's own size with its weights' normalisation.
    pub fn for_arch(arch: Architecture, num_classes: usize) -> Self {
        Self::new(
            arch,
            num_classes,
            arch.default_input_size(),
            arch.normalization(),
        )
    }

    /// Checks that the configuration describes a buildable network.
    pub fn validate(&self) -> Result<(), ModelError> {
        if self.num_classes < 2 {
            return Err(ModelError::InvalidConfig(format!(
                "num_classes must be at least 2, got {}",
                self.num_classes
            )));
        }
        if !self.arch.supported_channels().contains(&self.in_channels) {
            return Err(ModelError::InvalidConfig(format!(
                "{} takes {:?} input channels, got {}",
                self.arch,
                self.arch.supported_channels(),
                self.in_channels
            )));
        }
        // AlexNet's stride-4 stem and three pools need at least 63 pixels; EfficientNet 32.
        let min = match self.arch {
            Architecture::AlexNet | Architecture::AlexNetSmall => 63,
            Architecture::EfficientNetLite0 => 32,
            Architecture::AlexNetFcn => 64,
        };
        if self.arch == Architecture::AlexNetFcn && !self.input_size.is_multiple_of(32) {
            return Err(ModelError::InvalidConfig(format!(
                "{} takes input sizes that are multiples of 32, got {}",
                self.arch, self.input_size
            )));
        }
        if self.window_cells > 0 && self.arch != Architecture::EfficientNetLite0 {
            return Err(ModelError::InvalidConfig(format!(
                "window pooling is for efficientnet-lite0, not {}",
                self.arch
            )));
        }
        if self.input_size < min {
            return Err(ModelError::InvalidConfig(format!(
                "{} needs inputs of at least {min}×{min}, got {}",
                self.arch, self.input_size
            )));
        }
        Ok(())
    }

    /// Builds a randomly initialised network on `device`.
    pub fn init(&self, device: &Device) -> Result<Network, ModelError> {
        self.validate()?;
        Ok(match self.arch {
            Architecture::AlexNet => {
                Network::AlexNet(AlexNet::new(device, self.in_channels, self.num_classes))
            }
            Architecture::AlexNetSmall => Network::AlexNet(AlexNet::with_widths(
                device,
                self.in_channels,
                self.num_classes,
                crate::alexnet::Widths::SMALL,
            )),
            Architecture::EfficientNetLite0 => Network::EfficientNetLite0(
                EfficientNetLite0::new(device, self.num_classes).with_window(self.window_cells),
            ),
            Architecture::AlexNetFcn => {
                Network::AlexNetFcn(AlexNetFcn::new(device, self.in_channels, self.num_classes))
            }
        })
    }

    /// Writes the configuration as JSON, atomically.
    pub fn save_json(&self, path: &Path) -> Result<(), ModelError> {
        let json = burn::config::config_to_json(self);
        store::write_atomic(path, json.as_bytes())?;
        Ok(())
    }

    /// Reads a configuration written by [`ModelConfig::save_json`] and validates it.
    pub fn load_json(path: &Path) -> Result<Self, ModelError> {
        let text = std::fs::read_to_string(path).map_err(|e| ModelError::ConfigFile {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let config: Self = serde_json::from_str(&text).map_err(|e| ModelError::ConfigFile {
            path: path.to_path_buf(),
            message: format!("line {}: {e}", e.line()),
        })?;
        config.validate().map_err(|e| ModelError::ConfigFile {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        Ok(config)
    }
}

/// A network of any known architecture.
// Built once per run and passed by reference, so the variants' size difference costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Network {
    /// See [`AlexNet`].
    AlexNet(AlexNet),
    /// See [`EfficientNetLite0`].
    EfficientNetLite0(EfficientNetLite0),
    /// See [`AlexNetFcn`].
    AlexNetFcn(AlexNetFcn),
}

impl Network {
    /// Class logits for a normalised NCHW batch.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        match self {
            Network::AlexNet(m) => m.forward(x),
            Network::EfficientNetLite0(m) => m.forward(x),
            Network::AlexNetFcn(m) => m.forward(x),
        }
    }

    /// Sets the running-statistics momentum of every batch-norm layer (none in AlexNet);
    /// `1/k` on the k-th of K forward passes makes the statistics the exact mean over them.
    pub fn set_batch_norm_momentum(&mut self, momentum: f64) {
        if let Network::EfficientNetLite0(m) = self {
            for bn in m.batch_norms_mut() {
                bn.momentum = momentum;
            }
        }
    }

    /// Whether the network has batch-norm layers.
    pub fn has_batch_norm(&self) -> bool {
        matches!(self, Network::EfficientNetLite0(_))
    }

    /// The running-statistics momentum of the first batch-norm layer, if any.
    pub fn batch_norm_momentum(&mut self) -> Option<f64> {
        match self {
            Network::EfficientNetLite0(m) => m.batch_norms_mut().first().map(|b| b.momentum),
            Network::AlexNet(_) | Network::AlexNetFcn(_) => None,
        }
    }

    /// The last convolutional activations (the map Grad-CAM weighs).
    pub fn feature_map(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            Network::AlexNet(m) => m.feature_map(x),
            Network::EfficientNetLite0(m) => m.feature_map(x),
            Network::AlexNetFcn(m) => m.feature_map(x),
        }
    }

    /// Class logits from [`Network::feature_map`]'s output: `forward(x)` is
    /// `head(feature_map(x))`.
    pub fn head(&self, x: Tensor<4>) -> Tensor<2> {
        match self {
            Network::AlexNet(m) => m.head(x),
            Network::EfficientNetLite0(m) => m.head(x),
            Network::AlexNetFcn(m) => m.head(x),
        }
    }

    /// Each window's abnormality over the window grid of a feature map
    /// (`[batch, rows, columns]`; see [`EfficientNetLite0::window_abnormality`]), for a
    /// network with window pooling; `None` otherwise.
    pub fn window_abnormality(&self, x: Tensor<4>) -> Option<Tensor<3>> {
        match self {
            Network::EfficientNetLite0(m) if m.window > 0 => Some(m.window_abnormality(x)),
            _ => None,
        }
    }

    /// The classifier head: its weight (`[features, classes]`, burn's layout) and bias.
    pub fn head_weights(&self) -> (Tensor<2>, Option<Tensor<1>>) {
        let l = self.head_linear();
        (l.weight.val(), l.bias.as_ref().map(|b| b.val()))
    }

    /// Replaces the classifier head's weight and bias (shapes as [`Network::head_weights`]).
    pub fn set_head_weights(&mut self, weight: Tensor<2>, bias: Option<Tensor<1>>) {
        let l = match self {
            Network::AlexNet(m) => &mut m.fc3,
            Network::EfficientNetLite0(m) => &mut m.fc,
            Network::AlexNetFcn(m) => &mut m.fc,
        };
        // Parameters must be leaves of the autodiff graph: cut any history.
        l.weight = burn::module::Param::from_tensor(weight.detach());
        l.bias = bias.map(|b| burn::module::Param::from_tensor(b.detach()));
    }

    fn head_linear(&self) -> &burn::nn::Linear {
        match self {
            Network::AlexNet(m) => &m.fc3,
            Network::EfficientNetLite0(m) => &m.fc,
            Network::AlexNetFcn(m) => &m.fc,
        }
    }

    /// Class probabilities (softmax of the logits) for a normalised NCHW batch.
    pub fn probabilities(&self, x: Tensor<4>) -> Tensor<2> {
        softmax(self.forward(x), 1)
    }
}
