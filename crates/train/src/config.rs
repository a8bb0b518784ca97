//! What a training run is: every setting, checked before any work starts (as linfa checks
//! hyper-parameters), saved as TOML in the run folder and read back by `--resume`.
//!
//! Defaults are the study's recipe: SGD with momentum 0.9, weight decay 0.001, batch 50,
//! learning rate 0.001 divided by 10 every 2,500 iterations, classes balanced by
//! down-sampling (Table 1), no augmentation.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use data::Scenario;
use imaging::preprocess::PreprocessConfig;
use model::{Architecture, ModelConfig};
use serde::{Deserialize, Serialize};

use crate::augment::Augment;
use crate::infer::Tta;
use crate::patches::PatchSettings;
use crate::TrainError;

/// Where the network's weights start from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Init {
    /// Random initialisation (seeded).
    Scratch,
    /// The architecture's ImageNet weights: EfficientNet-Lite0 from `MAMMORECALL_WEIGHTS`
    /// or the path given; AlexNet from a torchvision `.pth` path (or
    /// `MAMMORECALL_WEIGHTS/alexnet.pth`).
    ImageNet(Option<PathBuf>),
    /// A weights file: torchvision AlexNet `.pth`, EfficientNet-Lite0 ImageNet safetensors,
    /// or a mammorecall `weights.safetensors`.
    Weights(PathBuf),
    /// Another run's final weights (the study's incremental transfer); the head is
    /// replaced when the class count differs.
    Run(PathBuf),
    /// Lesion-patch pretraining ([`crate::patches`]): `None` trains the patch classifier
    /// of each model first, inside the run; `Some(run)` takes it from another run that
    /// trained one on the same split (the same fold's, with cross-validation).
    Patches(Option<PathBuf>),
}

impl fmt::Display for Init {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Init::Scratch => f.write_str("scratch"),
            Init::ImageNet(None) => f.write_str("imagenet"),
            Init::ImageNet(Some(p)) => write!(f, "imagenet:{}", p.display()),
            Init::Weights(p) => write!(f, "weights:{}", p.display()),
            Init::Run(p) => write!(f, "run:{}", p.display()),
            Init::Patches(None) => f.write_str("patches"),
            Init::Patches(Some(p)) => write!(f, "patches:{}", p.display()),
        }
    }
}

impl FromStr for Init {
    type Err = String;
    /// `scratch`, `imagenet`, `imagenet:PATH`, `weights:PATH`, `run:DIR`, `patches`,
    /// `patches:RUN_DIR`, or a bare path (a folder is a run, a file is weights).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        Ok(match s {
            "" => return Err("empty --init".into()),
            "scratch" | "random" => Init::Scratch,
            "imagenet" => Init::ImageNet(None),
            "patches" => Init::Patches(None),
            _ => {
                if let Some(p) = s.strip_prefix("imagenet:") {
                    Init::ImageNet(Some(PathBuf::from(p)))
                } else if let Some(p) = s.strip_prefix("weights:") {
                    Init::Weights(PathBuf::from(p))
                } else if let Some(p) = s.strip_prefix("run:") {
                    Init::Run(PathBuf::from(p))
                } else if let Some(p) = s.strip_prefix("patches:") {
                    Init::Patches(Some(PathBuf::from(p)))
                } else {
                    let p = PathBuf::from(s);
                    if p.is_dir() {
                        Init::Run(p)
                    } else if p.is_file() {
                        Init::Weights(p)
                    } else {
                        return Err(format!(
                            "--init {s}: not scratch, imagenet, a weights file or a run folder"
                        ));
                    }
                }
            }
        })
    }
}

impl Serialize for Init {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Init {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        // Stored configs carry explicit prefixes, so no filesystem probing is needed.
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// How the training images are balanced between classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Balance {
    /// Every class down-sampled to the smallest (the study's Table 1).
    Downsample,
    /// Every class drawn equally often; small classes are repeated (keeps all data).
    Oversample,
    /// All images, natural class frequencies.
    None,
}

impl FromStr for Balance {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "downsample" => Ok(Balance::Downsample),
            "oversample" => Ok(Balance::Oversample),
            "none" => Ok(Balance::None),
            _ => Err(format!(
                "unknown balance '{s}' (expected downsample, oversample or none)"
            )),
        }
    }
}

/// A named starting recipe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Preset {
    /// The published protocol ([`TrainConfig::study`]).
    Study,
    /// High resolution, breast crop, lesion-patch pretraining and flip TTA
    /// ([`TrainConfig::lesion`]).
    Lesion,
}

impl FromStr for Preset {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "study" => Ok(Preset::Study),
            "lesion" => Ok(Preset::Lesion),
            _ => Err(format!("unknown preset '{s}' (expected study or lesion)")),
        }
    }
}

/// Where the images and the split come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// The manifest (labels.csv schema).
    pub manifest: PathBuf,
    /// A split CSV to use; when absent the split is made from the settings below and saved
    /// in the run folder as `split.csv`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split: Option<PathBuf>,
    /// Fraction of patients held out for testing when the split is made here.
    #[serde(default = "default_test_fraction")]
    pub test_fraction: f64,
    /// Cross-validation folds (0 or 1: no cross-validation, train on every development image).
    #[serde(default)]
    pub folds: usize,
    /// Seed of the split.
    #[serde(default)]
    pub split_seed: u64,
    /// Folder of preprocessed caches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_dir: Option<PathBuf>,
}

fn default_bn_refresh() -> usize {
    20
}

fn default_test_fraction() -> f64 {
    0.05
}

/// Every setting of a training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// The classification scenario.
    pub scenario: Scenario,
    /// The architecture.
    pub arch: Architecture,
    /// Where the weights start from.
    pub init: Init,
    /// Input side in pixels (the preprocessing size).
    pub input_size: usize,
    /// Input channels (3 for pretrained weights: gray is replicated; AlexNet also takes 1).
    pub in_channels: usize,
    /// Training iterations (mini-batches).
    pub iterations: usize,
    /// When set, overrides `iterations`: this many passes over the (balanced) training
    /// images, rounded up to whole batches, resolved for each model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epochs: Option<usize>,
    /// Images per mini-batch (the effective batch of every SGD step).
    pub batch_size: usize,
    /// Images per forward/backward pass: the batch is formed from micro-batches of this
    /// size by gradient accumulation (0: adapt to the machine's memory, see
    /// [`crate::memory::micro_batch`]).
    #[serde(default)]
    pub micro_batch: usize,
    /// Initial learning rate.
    pub learning_rate: f64,
    /// The learning rate is multiplied by `lr_gamma` every `lr_step` iterations (0: never).
    pub lr_step: usize,
    /// Step factor of the learning rate.
    pub lr_gamma: f64,
    /// SGD momentum (dampening 0, as Caffe and PyTorch).
    pub momentum: f64,
    /// L2 weight decay.
    pub weight_decay: f64,
    /// Class balancing of the training images.
    pub balance: Balance,
    /// Training-time augmentation (off by default, as the study).
    pub augment: Augment,
    /// Test-time augmentation of the run's own predictions (none by default, as the study).
    #[serde(default)]
    pub tta: Tta,
    /// Lesion-patch pretraining settings (used with `init = "patches"`).
    #[serde(default)]
    pub patches: PatchSettings,
    /// EfficientNet: score an image by its most abnormal patch-sized window (the side of
    /// `patches.size`) instead of its globally pooled features, so a lesion-patch
    /// classifier reads whole mammograms as it read patches.
    #[serde(default)]
    pub window_pooling: bool,
    /// Seed of initialisation, sampling, dropout and augmentation.
    pub seed: u64,
    /// Checkpoint every this many iterations (0: only at the end).
    pub checkpoint_every: usize,
    /// Validation AUC on the held-out fold every this many iterations (0: at the end only).
    pub validate_every: usize,
    /// Batches over which batch-norm statistics are recomputed with the final weights
    /// (precise BN; networks with batch norm only; 0: keep the running averages).
    #[serde(default = "default_bn_refresh")]
    pub bn_refresh: usize,
    /// Backend: `cpu` (burn flex) or `cuda`.
    pub device: String,
    /// The images.
    pub data: DataConfig,
    /// Preprocessing (its `size` is `input_size`).
    pub preprocess: PreprocessConfig,
}

impl TrainConfig {
    /// The study's recipe for `scenario` and `arch` on `manifest`.
    pub fn study(scenario: Scenario, arch: Architecture, manifest: PathBuf) -> Self {
        let size = arch.default_input_size();
        TrainConfig {
            scenario,
            arch,
            init: Init::Scratch,
            input_size: size,
            in_channels: 3,
            iterations: 5000,
            epochs: None,
            batch_size: 50,
            micro_batch: 0,
            learning_rate: 0.001,
            lr_step: 2500,
            lr_gamma: 0.1,
            momentum: 0.9,
            weight_decay: 0.001,
            balance: Balance::Downsample,
            augment: Augment::default(),
            tta: Tta::None,
            patches: PatchSettings::default(),
            window_pooling: false,
            seed: 1,
            checkpoint_every: 500,
            validate_every: 0,
            bn_refresh: default_bn_refresh(),
            device: "cpu".into(),
            data: DataConfig {
                manifest,
                split: None,
                test_fraction: default_test_fraction(),
                folds: 0,
                split_seed: 1,
                cache_dir: None,
            },
            preprocess: PreprocessConfig {
                size,
                ..PreprocessConfig::default()
            },
        }
    }

    /// The recipe that sees small lesions (after Shen et al. 2019), for `arch`:
    ///
    /// - `efficientnet-lite0` (the preset's default): a lesion-patch classifier started
    ///   from ImageNet weights (96-pixel patches in 160-pixel context crops, flips,
    ///   200 iterations of 32, then 100 more with 4 hard negatives mined from each
    ///   training image) reads 512² whole images by its most abnormal window
    ///   ([`TrainConfig::window_pooling`]), with no whole-image training;
    /// - any other architecture (`alexnet-fcn`, weights-free): 512² single-channel inputs,
    ///   the backbone pretrained on lesion patches from scratch, then 300 whole-image
    ///   iterations of 16 at learning rate 0.003, divided by 10 after 200.
    ///
    /// Both: cropped to the breast, chest wall to the left, linear grey levels
    /// (equalization hands most grey levels to the background and squeezes small bright
    /// findings), classes balanced by over-sampling (every negative is used), flip
    /// test-time augmentation.
    pub fn lesion(scenario: Scenario, arch: Architecture, manifest: PathBuf) -> Self {
        let mut c = TrainConfig::study(scenario, arch, manifest);
        c.input_size = 512;
        c.in_channels = 1;
        c.init = Init::Patches(None);
        c.iterations = 300;
        c.batch_size = 16;
        c.learning_rate = 0.003;
        c.lr_step = 200;
        c.balance = Balance::Oversample;
        c.tta = Tta::Flip;
        c.checkpoint_every = 100;
        c.preprocess = PreprocessConfig {
            size: 512,
            equalize: false,
            crop: true,
            flip: imaging::preprocess::Flip::Detect,
            ..PreprocessConfig::default()
        };
        if arch == Architecture::EfficientNetLite0 {
            c.in_channels = 3;
            c.iterations = 0;
            c.window_pooling = true;
            c.patches.init = Init::ImageNet(None);
            c.patches.iterations = 200;
            c.patches.hard_negatives = 4;
            c.patches.mining_iterations = 100;
            c.augment.hflip = true;
            c.augment.vflip = true;
        }
        c
    }

    /// The recipe of `preset`.
    pub fn preset(
        preset: Preset,
        scenario: Scenario,
        arch: Architecture,
        manifest: PathBuf,
    ) -> Self {
        match preset {
            Preset::Study => TrainConfig::study(scenario, arch, manifest),
            Preset::Lesion => TrainConfig::lesion(scenario, arch, manifest),
        }
    }

    /// Checks every setting; the message names the setting and the allowed range.
    pub fn check(&self) -> Result<(), TrainError> {
        let bad = |m: String| Err(TrainError::Config(m));
        // With lesion-patch initialisation, 0 whole-image iterations is meaningful: the
        // patch classifier itself scores whole images (through window pooling).
        let patch_init = matches!(self.init, Init::Patches(_));
        if self.iterations == 0 && self.epochs.is_none() && !patch_init {
            return bad("iterations must be at least 1 (0 only with init = patches)".into());
        }
        if self.epochs == Some(0) {
            return bad("epochs must be at least 1".into());
        }
        if self.batch_size == 0 {
            return bad("batch_size must be at least 1".into());
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return bad(format!(
                "learning_rate must be positive, got {}",
                self.learning_rate
            ));
        }
        if !(self.lr_gamma.is_finite() && self.lr_gamma > 0.0 && self.lr_gamma <= 1.0) {
            return bad(format!("lr_gamma must be in (0, 1], got {}", self.lr_gamma));
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return bad(format!("momentum must be in [0, 1), got {}", self.momentum));
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return bad(format!(
                "weight_decay must be non-negative, got {}",
                self.weight_decay
            ));
        }
        if !(0.0..1.0).contains(&self.data.test_fraction) {
            return bad(format!(
                "test_fraction must be in [0, 1), got {}",
                self.data.test_fraction
            ));
        }
        if self.preprocess.size != self.input_size {
            return bad(format!(
                "preprocess.size ({}) must equal input_size ({})",
                self.preprocess.size, self.input_size
            ));
        }
        if !matches!(self.device.as_str(), "cpu" | "cuda") {
            return bad(format!("device must be cpu or cuda, got '{}'", self.device));
        }
        self.augment.check()?;
        if matches!(self.init, Init::Patches(_)) {
            self.patches.check(self.input_size)?;
            if self.patches.mines() && !self.window_pooling {
                return bad(
                    "patches.hard_negatives needs window pooling (the windows a whole image is read by)"
                        .into(),
                );
            }
        }
        self.model_config().validate()?;
        Ok(())
    }

    /// The network this run trains.
    pub fn model_config(&self) -> ModelConfig {
        ModelConfig {
            arch: self.arch,
            num_classes: self.scenario.n_classes(),
            in_channels: self.in_channels,
            input_size: self.input_size,
            normalization: self.arch.normalization(),
            window_cells: if self.window_pooling {
                self.patches.side(self.input_size).div_ceil(32)
            } else {
                0
            },
        }
    }

    /// This configuration with `epochs` turned into iterations for `epoch_len` images.
    pub fn resolved(&self, epoch_len: usize) -> TrainConfig {
        let mut c = self.clone();
        if let Some(e) = self.epochs {
            c.iterations = (e * epoch_len).div_ceil(self.batch_size).max(1);
        }
        c
    }

    /// The learning rate at iteration `it` (0-based): step decay.
    pub fn lr_at(&self, it: usize) -> f64 {
        let steps = it.checked_div(self.lr_step).unwrap_or(0);
        self.learning_rate * self.lr_gamma.powi(steps as i32)
    }

    /// Writes the configuration as TOML, atomically.
    pub fn save(&self, path: &Path) -> Result<(), TrainError> {
        let text = toml::to_string_pretty(self)
            .map_err(|e| TrainError::file(path, format!("cannot encode config: {e}")))?;
        let header = "# mammorecall training run: the resolved configuration.\n\
                      # `mammorecall train --config THIS_FILE -o NEW_DIR` repeats the run.\n\n";
        store::write_atomic(path, format!("{header}{text}").as_bytes())?;
        Ok(())
    }

    /// Reads a configuration written by [`TrainConfig::save`] and checks it.
    pub fn load(path: &Path) -> Result<Self, TrainError> {
        let text = std::fs::read_to_string(path).map_err(|e| TrainError::file(path, e))?;
        let cfg: TrainConfig =
            toml::from_str(&text).map_err(|e| TrainError::file(path, e.to_string().trim()))?;
        cfg.check()
            .map_err(|e| TrainError::file(path, e.to_string()))?;
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> TrainConfig {
        TrainConfig::study(
            Scenario::MalignantVsNegative,
            Architecture::AlexNet,
            "labels.csv".into(),
        )
    }

    #[test]
    fn study_defaults_and_step_schedule() {
        let c = cfg();
        c.check().unwrap();
        assert_eq!(c.batch_size, 50);
        assert_eq!(c.input_size, 227);
        assert!((c.lr_at(0) - 0.001).abs() < 1e-15);
        assert!((c.lr_at(2499) - 0.001).abs() < 1e-15);
        assert!((c.lr_at(2500) - 0.0001).abs() < 1e-15);
        assert!((c.lr_at(5000) - 0.00001).abs() < 1e-15);
    }

    #[test]
    fn lesion_preset_is_valid_and_differs_where_documented() {
        for arch in [Architecture::EfficientNetLite0, Architecture::AlexNetFcn] {
            let l = TrainConfig::lesion(Scenario::MalignantVsNegative, arch, "labels.csv".into());
            l.check().unwrap();
            assert!(l.input_size.is_multiple_of(32));
            assert!(l.preprocess.crop && !l.preprocess.equalize);
            assert_eq!(l.init, Init::Patches(None));
            assert_eq!(l.tta, Tta::Flip);
            let efficientnet = arch == Architecture::EfficientNetLite0;
            assert_eq!(l.window_pooling, efficientnet);
            assert_eq!(l.iterations == 0, efficientnet);
            // Hard negatives: the EfficientNet recipe's; they need window pooling, and a
            // count and a round length together.
            assert_eq!(l.patches.mines(), efficientnet);
            let mut m = l.clone();
            m.patches.hard_negatives = 2;
            m.patches.mining_iterations = 10;
            assert_eq!(m.check().is_ok(), efficientnet);
            m.patches.mining_iterations = 0;
            assert!(m.check().is_err());
            // Window pooling is EfficientNet's (refused by the model configuration).
            let mut w = l.clone();
            w.window_pooling = true;
            assert_eq!(w.check().is_ok(), efficientnet);
        }
        // The study preset is the published pipeline, untouched.
        let s = TrainConfig::preset(
            Preset::Study,
            Scenario::MalignantVsNegative,
            Architecture::AlexNet,
            "labels.csv".into(),
        );
        assert_eq!(s, cfg());
        assert_eq!(s.preprocess, PreprocessConfig::default());
        assert_eq!(s.tta, Tta::None);
    }

    #[test]
    fn toml_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.toml");
        let mut c = cfg();
        c.init = Init::Run(PathBuf::from("/runs/a"));
        c.augment.hflip = true;
        c.save(&p).unwrap();
        assert_eq!(TrainConfig::load(&p).unwrap(), c);
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.contains("init = \"run:/runs/a\""), "{text}");
    }

    #[test]
    fn bad_settings_are_named() {
        let mut c = cfg();
        c.momentum = 1.5;
        assert!(c.check().unwrap_err().to_string().contains("momentum"));
        let mut c = cfg();
        c.input_size = 100;
        assert!(c
            .check()
            .unwrap_err()
            .to_string()
            .contains("preprocess.size"));
        let mut c = cfg();
        c.device = "tpu".into();
        assert!(c.check().unwrap_err().to_string().contains("device"));
    }

    #[test]
    fn init_parses() {
        assert_eq!("scratch".parse::<Init>().unwrap(), Init::Scratch);
        assert_eq!("imagenet".parse::<Init>().unwrap(), Init::ImageNet(None));
        assert_eq!(
            "run:/x".parse::<Init>().unwrap(),
            Init::Run(PathBuf::from("/x"))
        );
        assert!("/definitely/not/here".parse::<Init>().is_err());
        assert_eq!("patches".parse::<Init>().unwrap(), Init::Patches(None));
        let p = Init::Patches(Some(PathBuf::from("/runs/p")));
        assert_eq!(p.to_string().parse::<Init>().unwrap(), p);
    }
}
