//! The study configuration (TOML): datasets, experiments, scenarios, test fractions,
//! folds, repeats and the training recipe. `StudyConfig::default()` is the built-in
//! synthetic study; [`TEMPLATE`] is the commented file `study init` writes.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use data::Scenario;
use imaging::preprocess::Flip;
use model::Architecture;
use serde::{Deserialize, Serialize};
use synth::{Site, SynthConfig};
use train::config::{Balance, Init, TrainConfig};
use train::infer::Tta;
use train::patches::PatchSettings;

use crate::StudyError;

/// Where a dataset's images come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetSpec {
    /// Name used by experiments and in the report (e.g. "FFDM", "DDSM").
    pub name: String,
    /// A manifest CSV (labels.csv schema; relative to the config file's folder).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest: Option<PathBuf>,
    /// Or a synthetic dataset that the study generates into `OUT/data/NAME`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synth: Option<SynthConfig>,
    /// For synthetic datasets: the fraction of malignant patients flagged as interval
    /// cancers (`interval_cancer` column; the ones with the smallest findings).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub interval_fraction: f64,
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

/// Which column of the study's results table an experiment corresponds to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Published {
    /// Experiment 1: FFDM only.
    FfdmOnly,
    /// Experiment 2: DDSM only.
    DdsmOnly,
    /// Experiment 3: FFDM + DDSM mixed.
    Mixed,
    /// Experiment 4: ImageNet → DDSM → FFDM.
    Incremental,
}

impl Published {
    /// The study's name of the column.
    pub fn label(self) -> &'static str {
        match self {
            Published::FfdmOnly => "FFDM only",
            Published::DdsmOnly => "DDSM only",
            Published::Mixed => "FFDM + DDSM",
            Published::Incremental => "ImageNet+DDSM → FFDM",
        }
    }
}

/// One experiment: train and test on the mixture of `datasets`, optionally after a
/// pretraining phase on all images of `pretrain` (the study's incremental transfer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentSpec {
    /// Name in the report.
    pub name: String,
    /// Datasets whose images are mixed, split by patient, trained and tested on.
    pub datasets: Vec<String>,
    /// Datasets to pretrain on first (all their images), then fine-tune on `datasets`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pretrain: Vec<String>,
    /// The study's column this experiment reproduces (published AUCs shown beside ours).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<Published>,
}

impl ExperimentSpec {
    /// A short folder-safe name: lowercase ASCII letters, digits and dashes.
    pub fn slug(&self) -> String {
        slug(&self.name)
    }
}

/// A folder-safe form of `s`.
pub fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

/// The training recipe of every cell (the study's by default).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainSettings {
    /// Architecture.
    pub arch: Architecture,
    /// Initial weights of every model (and of the pretraining phase).
    pub init: Init,
    /// Input side (the architecture's default when 0).
    pub input_size: usize,
    /// Input channels (3: gray replicated).
    pub in_channels: usize,
    /// Iterations of each training.
    pub iterations: usize,
    /// Iterations of the pretraining phase of incremental experiments (0: `iterations`).
    pub pretrain_iterations: usize,
    /// Images per mini-batch.
    pub batch_size: usize,
    /// Initial learning rate.
    pub learning_rate: f64,
    /// Step decay every this many iterations (0: none).
    pub lr_step: usize,
    /// Step factor.
    pub lr_gamma: f64,
    /// SGD momentum.
    pub momentum: f64,
    /// L2 weight decay.
    pub weight_decay: f64,
    /// Class balance.
    pub balance: Balance,
    /// Histogram equalization (the study's preprocessing).
    pub equalize: bool,
    /// Breast-region crop before resizing.
    pub crop: bool,
    /// Mirror images so the chest wall is on one side: off (the study), detect, laterality.
    pub flip: Flip,
    /// Backend: cpu or cuda.
    pub device: String,
    /// Checkpoint every N iterations (a killed study resumes a cell from there).
    pub checkpoint_every: usize,
    /// Keep every cell's weights (AlexNet: 228 MB each); pretraining weights are always kept.
    pub keep_weights: bool,
    /// Test-time augmentation of every cell's predictions: none (the study), flip, flip-shift.
    pub tta: Tta,
    /// Lesion-patch pretraining settings, used with `init = "patches"`.
    pub patches: PatchSettings,
}

impl Default for TrainSettings {
    fn default() -> Self {
        TrainSettings {
            arch: Architecture::AlexNet,
            init: Init::ImageNet(None),
            input_size: 0,
            in_channels: 3,
            iterations: 5000,
            pretrain_iterations: 0,
            batch_size: 50,
            learning_rate: 0.001,
            lr_step: 2500,
            lr_gamma: 0.1,
            momentum: 0.9,
            weight_decay: 0.001,
            balance: Balance::Downsample,
            equalize: true,
            crop: false,
            flip: Flip::Off,
            device: "cpu".into(),
            checkpoint_every: 500,
            keep_weights: false,
            tta: Tta::None,
            patches: PatchSettings::default(),
        }
    }
}

/// Evaluation settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EvalSettings {
    /// Bootstrap replicates of every CI.
    pub bootstrap: usize,
    /// Sensitivity at which specificity is reported (the study's radiologists: 0.869).
    pub sensitivity: f64,
    /// Unit the report scores: image (the study), breast or exam.
    pub level: train::evaluate::Level,
    /// How a breast's or exam's image scores are combined: mean or max.
    pub reduce: train::evaluate::Reduce,
    /// Weight of the bilateral comparison (each image read against the patient's other
    /// breast; `train::contralateral`); 0 = off (the study).
    pub contralateral: f32,
}

impl Default for EvalSettings {
    fn default() -> Self {
        EvalSettings {
            bootstrap: 2000,
            sensitivity: train::evaluate::RADIOLOGIST_SENSITIVITY,
            level: train::evaluate::Level::Image,
            reduce: train::evaluate::Reduce::Mean,
            contralateral: 0.0,
        }
    }
}

impl EvalSettings {
    /// The evaluation options the report scores its tables and figures with.
    pub fn scoring(&self) -> train::evaluate::EvalOptions {
        train::evaluate::EvalOptions {
            replicates: self.bootstrap,
            sensitivity: self.sensitivity,
            level: self.level,
            reduce: self.reduce,
            contralateral: self.contralateral,
            ..train::evaluate::EvalOptions::default()
        }
    }
}

/// A whole study.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StudyConfig {
    /// Title of the report.
    #[serde(default = "default_title")]
    pub title: String,
    /// Seed of splits, training and bootstrap (repeat r uses streams derived from it).
    #[serde(default = "one")]
    pub seed: u64,
    /// The datasets.
    pub datasets: Vec<DatasetSpec>,
    /// The experiments.
    pub experiments: Vec<ExperimentSpec>,
    /// Scenarios to run (all six by default).
    #[serde(default = "all_scenarios")]
    pub scenarios: Vec<Scenario>,
    /// Fractions of patients held out for testing.
    #[serde(default = "default_fractions")]
    pub test_fractions: Vec<f64>,
    /// Internal validation: k-fold cross-validation of the development part (0: none).
    #[serde(default = "six")]
    pub folds: usize,
    /// Repeats of the whole grid with other splits and seeds.
    #[serde(default = "one_usize")]
    pub repeats: usize,
    /// Training recipe.
    #[serde(default)]
    pub train: TrainSettings,
    /// Evaluation settings.
    #[serde(default)]
    pub evaluation: EvalSettings,
}

fn default_title() -> String {
    "mammorecall study".into()
}
fn one() -> u64 {
    1
}
fn one_usize() -> usize {
    1
}
fn six() -> usize {
    6
}
fn all_scenarios() -> Vec<Scenario> {
    Scenario::ALL.to_vec()
}
fn default_fractions() -> Vec<f64> {
    vec![0.05, 0.10, 0.15]
}

/// The study's four experiments over datasets `a` (the study's FFDM) and `b` (DDSM).
pub fn four_experiments(a: &str, b: &str) -> Vec<ExperimentSpec> {
    vec![
        ExperimentSpec {
            name: format!("{a} only"),
            datasets: vec![a.into()],
            pretrain: vec![],
            published: Some(Published::FfdmOnly),
        },
        ExperimentSpec {
            name: format!("{b} only"),
            datasets: vec![b.into()],
            pretrain: vec![],
            published: Some(Published::DdsmOnly),
        },
        ExperimentSpec {
            name: format!("{a} + {b}"),
            datasets: vec![a.into(), b.into()],
            pretrain: vec![],
            published: Some(Published::Mixed),
        },
        ExperimentSpec {
            name: format!("{b} → {a}"),
            datasets: vec![a.into()],
            pretrain: vec![b.into()],
            published: Some(Published::Incremental),
        },
    ]
}

impl Default for StudyConfig {
    /// The built-in synthetic study: two synthetic sites with a domain shift (digital
    /// "FFDM-like" site A, film "DDSM-like" site B), the study's full grid (four
    /// experiments × six scenarios × three test fractions), sized to finish on two CPU
    /// cores in minutes: the quarter-width AlexNet on 64×64 grey inputs, 80 iterations of
    /// 16 images per model.
    fn default() -> Self {
        let site = |name: &str, site: Site, seed: u64, interval_fraction: f64| DatasetSpec {
            name: name.into(),
            manifest: None,
            synth: Some(SynthConfig {
                patients: 200,
                site,
                seed,
                difficulty: 0.0,
                size: 256,
                lesion_scale: 2.0,
                ..SynthConfig::default()
            }),
            interval_fraction,
        };
        StudyConfig {
            title: "Synthetic two-site study (built-in default)".into(),
            seed: 1,
            datasets: vec![
                // Like the study: interval cancers flagged in the digital site only.
                site("site-A-digital", Site::Digital, 1, 0.15),
                site("site-B-film", Site::Film, 2, 0.0),
            ],
            experiments: four_experiments("site-A-digital", "site-B-film"),
            scenarios: all_scenarios(),
            test_fractions: default_fractions(),
            folds: 0,
            repeats: 1,
            train: TrainSettings {
                arch: Architecture::AlexNetSmall,
                init: Init::Scratch,
                input_size: 64,
                in_channels: 1,
                iterations: 80,
                pretrain_iterations: 80,
                batch_size: 16,
                learning_rate: 0.003,
                lr_step: 0,
                // Histogram equalization hands most of the grey range to the noisy
                // background and squeezes small bright findings into a few levels; the
                // tiny budget learns them far better from linear grey levels, and with
                // every chest wall on one side (measured: +0.1 to +0.15 AUC).
                equalize: false,
                flip: Flip::Detect,
                checkpoint_every: 20,
                ..TrainSettings::default()
            },
            evaluation: EvalSettings {
                bootstrap: 500,
                ..EvalSettings::default()
            },
        }
    }
}

impl StudyConfig {
    /// Reads a study configuration; relative manifest paths are resolved against the
    /// file's folder.
    pub fn load(path: &Path) -> Result<StudyConfig, StudyError> {
        let text = std::fs::read_to_string(path).map_err(|e| StudyError::file(path, e))?;
        let mut cfg: StudyConfig = toml::from_str(&text).map_err(|e| StudyError::file(path, e))?;
        let base = path.parent().unwrap_or(Path::new("."));
        for d in &mut cfg.datasets {
            if let Some(m) = &d.manifest {
                if m.is_relative() {
                    d.manifest = Some(
                        std::path::absolute(base.join(m)).map_err(|e| StudyError::file(m, e))?,
                    );
                }
            }
        }
        cfg.check().map_err(|e| StudyError::file(path, e))?;
        Ok(cfg)
    }

    /// The configuration as TOML.
    pub fn to_toml(&self) -> Result<String, StudyError> {
        toml::to_string_pretty(self).map_err(|e| StudyError::Config(format!("cannot encode: {e}")))
    }

    /// The dataset named `name`.
    pub fn dataset(&self, name: &str) -> Option<&DatasetSpec> {
        self.datasets.iter().find(|d| d.name == name)
    }

    /// Checks every setting; the message names the first bad one.
    pub fn check(&self) -> Result<(), StudyError> {
        let bad = |m: String| Err(StudyError::Config(m));
        if self.datasets.is_empty() {
            return bad("datasets: at least one is needed".into());
        }
        let mut names = BTreeSet::new();
        for d in &self.datasets {
            if d.name.trim().is_empty() || slug(&d.name).is_empty() {
                return bad(format!(
                    "datasets: name '{}' needs letters or digits",
                    d.name
                ));
            }
            if !names.insert(slug(&d.name)) {
                return bad(format!("datasets: two datasets named '{}'", d.name));
            }
            match (&d.manifest, &d.synth) {
                (Some(_), None) => {}
                (None, Some(s)) => s
                    .validate()
                    .map_err(|e| StudyError::Config(format!("datasets.{}.synth: {e}", d.name)))?,
                _ => {
                    return bad(format!(
                        "datasets.{}: give exactly one of `manifest` or `synth`",
                        d.name
                    ))
                }
            }
            if !(0.0..1.0).contains(&d.interval_fraction) {
                return bad(format!(
                    "datasets.{}.interval_fraction must be in [0, 1), got {}",
                    d.name, d.interval_fraction
                ));
            }
        }
        if self.experiments.is_empty() {
            return bad("experiments: at least one is needed".into());
        }
        let mut slugs = BTreeSet::new();
        for e in &self.experiments {
            if e.slug().is_empty() || !slugs.insert(e.slug()) {
                return bad(format!(
                    "experiments: name '{}' is empty or not distinct",
                    e.name
                ));
            }
            if e.datasets.is_empty() {
                return bad(format!("experiments.{}: datasets is empty", e.name));
            }
            for n in e.datasets.iter().chain(&e.pretrain) {
                if self.dataset(n).is_none() {
                    return bad(format!(
                        "experiments.{}: unknown dataset '{n}' (datasets: {})",
                        e.name,
                        self.datasets
                            .iter()
                            .map(|d| d.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
            }
        }
        if self.scenarios.is_empty() {
            return bad("scenarios: at least one is needed".into());
        }
        if self
            .scenarios
            .iter()
            .map(|s| s.as_str())
            .collect::<BTreeSet<_>>()
            .len()
            != self.scenarios.len()
        {
            return bad("scenarios: listed twice".into());
        }
        if self.test_fractions.is_empty() {
            return bad("test_fractions: at least one is needed".into());
        }
        for &f in &self.test_fractions {
            if !(f > 0.0 && f < 1.0) {
                return bad(format!("test_fractions must be in (0, 1), got {f}"));
            }
        }
        if self.folds == 1 {
            return bad("folds must be 0 (no cross-validation) or at least 2".into());
        }
        if self.repeats == 0 {
            return bad("repeats must be at least 1".into());
        }
        // The recipe is checked by the training configuration it becomes.
        let mut probe = self.train_config(Scenario::ThreeClass, PathBuf::from("m.csv"));
        probe.data.test_fraction = self.test_fractions[0];
        probe
            .check()
            .map_err(|e| StudyError::Config(format!("train: {e}")))?;
        if !(self.evaluation.sensitivity > 0.0 && self.evaluation.sensitivity < 1.0) {
            return bad(format!(
                "evaluation.sensitivity must be in (0, 1), got {}",
                self.evaluation.sensitivity
            ));
        }
        let a = self.evaluation.contralateral;
        if !(a.is_finite() && a >= 0.0) {
            return bad(format!(
                "evaluation.contralateral must be a weight ≥ 0, got {a}"
            ));
        }
        Ok(())
    }

    /// The training configuration of one model of `scenario` on `manifest`.
    pub fn train_config(&self, scenario: Scenario, manifest: PathBuf) -> TrainConfig {
        let t = &self.train;
        let mut c = TrainConfig::study(scenario, t.arch, manifest);
        c.init = t.init.clone();
        if t.input_size > 0 {
            c.input_size = t.input_size;
        }
        c.preprocess.size = c.input_size;
        c.preprocess.equalize = t.equalize;
        c.preprocess.crop = t.crop;
        c.preprocess.flip = t.flip;
        c.in_channels = t.in_channels;
        c.iterations = t.iterations;
        c.batch_size = t.batch_size;
        c.learning_rate = t.learning_rate;
        c.lr_step = t.lr_step;
        c.lr_gamma = t.lr_gamma;
        c.momentum = t.momentum;
        c.weight_decay = t.weight_decay;
        c.balance = t.balance;
        c.device = t.device.clone();
        c.checkpoint_every = t.checkpoint_every;
        c.tta = t.tta;
        c.patches = t.patches.clone();
        c.seed = self.seed;
        c.data.split_seed = self.seed;
        c
    }
}

/// The commented configuration `mammorecall study init` writes: the study's design on
/// two datasets given by manifests.
pub const TEMPLATE: &str = r#"# mammorecall study configuration.
# Run it with:   mammorecall study --config study.toml -o OUT_DIR
# On a Slurm cluster: see scripts/slurm/study.sbatch (--shard I/N, then `study collect`).

title = "Recall study"
# Seed of splits, training, dropout and bootstrap. Repeat r uses streams derived from it.
seed = 1

# Any subset of: malignant-vs-rest, malignant-vs-negative, malignant-vs-benign,
# negative-vs-benign, benign-vs-rest, three-class.
scenarios = ["malignant-vs-rest", "malignant-vs-negative", "malignant-vs-benign",
             "negative-vs-benign", "benign-vs-rest", "three-class"]
# Independent test sets (fraction of patients), the study's 5% and its 10%/15% repeats.
test_fractions = [0.05, 0.10, 0.15]
# Internal validation: k-fold cross-validation on the development part (0: none).
folds = 6
# Repeats of the whole grid with other splits and seeds.
repeats = 1

# Datasets by name, any number. `manifest` is a labels.csv (image, patient_id, laterality,
# view, label[, interval_cancer]) relative to this file. An `interval_cancer` column
# (true/1/yes) marks cancers missed at screening: those patients are held out of training
# and the report gives the fraction of their images the models call malignant.
# A synthetic site instead: synth = { site = "digital", patients = 200, seed = 1 }
[[datasets]]
name = "FFDM"
manifest = "ffdm/labels.csv"

[[datasets]]
name = "DDSM"
manifest = "ddsm/labels.csv"

# The study's four experiments. `datasets` are mixed, split by patient, trained and
# tested on; `pretrain` datasets are trained on first (incremental transfer);
# `published` puts the study's AUCs beside ours (ffdm-only, ddsm-only, mixed, incremental).
[[experiments]]
name = "FFDM only"
datasets = ["FFDM"]
published = "ffdm-only"

[[experiments]]
name = "DDSM only"
datasets = ["DDSM"]
published = "ddsm-only"

[[experiments]]
name = "FFDM + DDSM"
datasets = ["FFDM", "DDSM"]
published = "mixed"

[[experiments]]
name = "DDSM → FFDM"
datasets = ["FFDM"]
pretrain = ["DDSM"]
published = "incremental"

# The study's recipe: SGD, batch 50, momentum 0.9, weight decay 0.001, learning rate
# 0.001 divided by 10 every 2,500 iterations, 5,000 iterations, classes balanced by
# down-sampling, histogram equalization, bicubic 227×227, ImageNet initialisation.
[train]
arch = "alexnet"             # alexnet | alexnet-small | alexnet-fcn | efficientnet-lite0
init = "imagenet"            # scratch | imagenet | imagenet:PATH | weights file | run folder
                             # | patches (lesion-patch pretraining; needs x, y_from_top,
                             #   radius or roi_* columns; alexnet-fcn is built for it)
input_size = 0               # 0: the architecture's (227 for AlexNet)
in_channels = 3
iterations = 5000
pretrain_iterations = 0      # incremental experiments' first phase (0: = iterations)
batch_size = 50
learning_rate = 0.001
lr_step = 2500
lr_gamma = 0.1
momentum = 0.9
weight_decay = 0.001
balance = "downsample"       # downsample | oversample | none
equalize = true
crop = false
flip = "off"                 # off (the study) | detect (chest wall to the left) | laterality
device = "cpu"               # cpu | cuda
checkpoint_every = 500
keep_weights = false         # true keeps every cell's weights (AlexNet: 228 MB each)
tta = "none"                 # none (the study) | flip | flip-shift: test-time augmentation

# Lesion-patch pretraining, used with init = "patches" (Shen et al. 2019's first stage).
[train.patches]
size = 0                     # patch side; 0: 3/16 of input_size (96 at 512)
per_lesion = 16              # patches around each annotated lesion
per_image = 4                # normal-tissue patches from each image
iterations = 400
batch_size = 32
learning_rate = 0.003
init = "scratch"             # scratch | imagenet | imagenet:PATH | weights:PATH

[evaluation]
bootstrap = 2000             # replicates of every bootstrap CI
sensitivity = 0.869          # the radiologists' sensitivity in the study
level = "image"              # image (the study) | breast | exam: the unit that is scored
reduce = "mean"              # mean | max: how a breast's or exam's views are combined
contralateral = 0.0          # 0 (the study) | e.g. 0.5: each image read against the other breast
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_and_template_are_valid() {
        StudyConfig::default().check().unwrap();
        let t: StudyConfig = toml::from_str(TEMPLATE).unwrap();
        assert_eq!(t.experiments.len(), 4);
        assert_eq!(t.test_fractions, vec![0.05, 0.10, 0.15]);
        assert_eq!(t.folds, 6);
        assert_eq!(t.train.iterations, 5000);
        assert_eq!(t.train.init, Init::ImageNet(None));
        // The default survives a TOML round trip (what the study folder records).
        let d = StudyConfig::default();
        let back: StudyConfig = toml::from_str(&d.to_toml().unwrap()).unwrap();
        assert_eq!(back, d);
    }

    #[test]
    fn bad_settings_are_named() {
        let mut c = StudyConfig::default();
        c.experiments[0].datasets = vec!["nope".into()];
        assert!(c
            .check()
            .unwrap_err()
            .to_string()
            .contains("unknown dataset 'nope'"));
        let c = StudyConfig {
            test_fractions: vec![0.0],
            ..StudyConfig::default()
        };
        assert!(c
            .check()
            .unwrap_err()
            .to_string()
            .contains("test_fractions"));
        let mut c = StudyConfig::default();
        c.train.batch_size = 0;
        assert!(c.check().unwrap_err().to_string().contains("batch_size"));
        let c = StudyConfig {
            folds: 1,
            ..StudyConfig::default()
        };
        assert!(c.check().unwrap_err().to_string().contains("folds"));
        let mut c = StudyConfig::default();
        c.evaluation.contralateral = -0.5;
        assert!(c
            .check()
            .unwrap_err()
            .to_string()
            .contains("evaluation.contralateral"));
        c.evaluation.contralateral = 0.5;
        c.check().unwrap();
        assert_eq!(c.evaluation.scoring().contralateral, 0.5);
    }

    #[test]
    fn slugs_are_folder_safe() {
        assert_eq!(slug("DDSM → FFDM"), "ddsm-ffdm");
        assert_eq!(slug("site-A + site-B"), "site-a-site-b");
    }
}
