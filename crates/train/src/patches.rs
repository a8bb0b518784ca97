//! Lesion-patch pretraining, the first stage of Shen et al. 2019: a classifier of small
//! patches (normal tissue / benign lesion / malignant lesion) is trained first, where
//! the finding fills the input, and the whole-image network then starts from it — the
//! same backbone under global pooling, so at the start it scores a mammogram by its
//! most lesion-like patch.
//!
//! Patches are cut from the preprocessed whole images (the run's own crop, flip and
//! resolution), so a lesion has the same size in pixels in both stages. Lesion patches
//! are centred near an annotated lesion; normal patches come from the breast (the
//! foreground of the preprocessed image) at least a radius plus half a patch away from
//! every lesion of the image. Only the images of the model's own training part give
//! training patches, and only those of its held-out fold give validation patches, so
//! no patch ever crosses a split part; abnormal images without an annotation give none
//! (where their finding is is unknown).
//!
//! Annotation columns of the manifest, in pixels of the stored image:
//! `x`, `y_from_top`, `radius` (mini-MIAS, synthetic), or `roi_x`, `roi_y`,
//! `roi_width`, `roi_height` (a box: its centre and half its longer side). Several rows
//! for one image give several lesions.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use data::{Label, Manifest, Scenario};
use imaging::preprocess::PreprocessConfig;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use burn::module::Module;
use burn::tensor::Device;
use model::Network;

use crate::config::{Balance, Init, TrainConfig};
use crate::device::Compute;
use crate::infer::Tta;
use crate::input::{ImageSource, Input, MemoryImages};
use crate::run;
use crate::trainer::{self, Event, TrainData};
use crate::TrainError;

/// Settings of the patch stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PatchSettings {
    /// Patch side in pixels of the preprocessed image; 0: 3/16 of the input size rounded
    /// to a multiple of 32 (96 at 512, 192 at 1024), at least 64.
    pub size: usize,
    /// Patches drawn around each annotated lesion.
    pub per_lesion: usize,
    /// Normal-tissue patches drawn from each image.
    pub per_image: usize,
    /// Training iterations of the patch classifier.
    pub iterations: usize,
    /// Patches per mini-batch.
    pub batch_size: usize,
    /// Learning rate (the rest of the recipe is the run's).
    pub learning_rate: f64,
    /// Where the patch classifier starts: `scratch`, `imagenet[:PATH]` or `weights:PATH`
    /// (a lesion patch is a small natural-looking picture, where ImageNet features help
    /// most; whole-image runs cannot start from ImageNet and patches at once otherwise).
    pub init: Init,
    /// Hard negatives mined from each training image (window pooling only; 0: none):
    /// after `iterations`, the classifier reads every training image whole, and its
    /// most abnormal windows clear of every lesion become normal patches for
    /// `mining_iterations` more. They are what a whole image is misread by — the chest
    /// wall edge, the pectoral muscle, the breast outline — which random normal patches
    /// rarely show.
    pub hard_negatives: usize,
    /// Iterations of the second round, on the first round's patches and the mined ones.
    pub mining_iterations: usize,
}

impl Default for PatchSettings {
    fn default() -> Self {
        PatchSettings {
            size: 0,
            per_lesion: 16,
            per_image: 4,
            iterations: 400,
            batch_size: 32,
            learning_rate: 0.003,
            init: Init::Scratch,
            hard_negatives: 0,
            mining_iterations: 0,
        }
    }
}

impl PatchSettings {
    /// Whether the stage mines hard negatives for a second round.
    pub fn mines(&self) -> bool {
        self.hard_negatives > 0 && self.mining_iterations > 0
    }

    /// The patch side for whole images of `input_size`.
    pub fn side(&self, input_size: usize) -> usize {
        if self.size > 0 {
            return self.size;
        }
        ((input_size * 3 / 16).div_ceil(32) * 32).max(64)
    }

    /// Checks the settings for whole images of `input_size`.
    pub fn check(&self, input_size: usize) -> Result<(), TrainError> {
        let bad = |m: String| Err(TrainError::Config(m));
        let side = self.side(input_size);
        if side > input_size {
            return bad(format!(
                "patches.size ({side}) must not exceed the input size ({input_size})"
            ));
        }
        if self.per_lesion == 0 || self.iterations == 0 || self.batch_size == 0 {
            return bad("patches.per_lesion, iterations and batch_size must be at least 1".into());
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return bad(format!(
                "patches.learning_rate must be positive, got {}",
                self.learning_rate
            ));
        }
        if (self.hard_negatives == 0) != (self.mining_iterations == 0) {
            return bad(format!(
                "patches.hard_negatives ({}) and patches.mining_iterations ({}) go together: both 0 or both at least 1",
                self.hard_negatives, self.mining_iterations
            ));
        }
        if matches!(self.init, Init::Run(_) | Init::Patches(_)) {
            return bad(format!(
                "patches.init must be scratch, imagenet[:PATH] or weights:PATH, got {}",
                self.init
            ));
        }
        Ok(())
    }
}

/// An annotated lesion, in pixels of the stored image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lesion {
    /// Centre column.
    pub x: f64,
    /// Centre row, from the top.
    pub y: f64,
    /// Radius.
    pub radius: f64,
}

/// What is known of where an image's findings are.
#[derive(Debug, Clone, PartialEq)]
pub enum Findings {
    /// A negative image: no finding anywhere.
    None,
    /// An abnormal image with annotated lesions.
    At(Vec<Lesion>),
    /// An abnormal image without an annotation: its finding could be anywhere.
    Unknown,
}

/// The findings of every record of `manifest` (by record index) from its annotation
/// columns; rows repeating an image add lesions to it.
pub fn findings(manifest: &Manifest) -> Vec<Findings> {
    let num = |r: &data::Record, c: &str| -> Option<f64> {
        manifest
            .extra(r, c)
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|v| v.is_finite())
    };
    let mut by_image: HashMap<&str, Vec<Lesion>> = HashMap::new();
    for r in &manifest.records {
        let circle = match (num(r, "x"), num(r, "y_from_top"), num(r, "radius")) {
            (Some(x), Some(y), Some(radius)) if radius > 0.0 => Some(Lesion { x, y, radius }),
            _ => None,
        };
        let boxed = match (
            num(r, "roi_x"),
            num(r, "roi_y"),
            num(r, "roi_width"),
            num(r, "roi_height"),
        ) {
            (Some(x), Some(y), Some(w), Some(h)) if w > 0.0 && h > 0.0 => Some(Lesion {
                x: x + w / 2.0,
                y: y + h / 2.0,
                radius: w.max(h) / 2.0,
            }),
            _ => None,
        };
        if let Some(l) = circle.or(boxed) {
            by_image.entry(r.image.as_str()).or_default().push(l);
        }
    }
    manifest
        .records
        .iter()
        .map(|r| {
            if r.label == Label::Negative {
                Findings::None
            } else {
                match by_image.get(r.image.as_str()) {
                    Some(v) => Findings::At(v.clone()),
                    None => Findings::Unknown,
                }
            }
        })
        .collect()
}

/// A lesion on the preprocessed image: centre and radius in output pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Placed {
    /// Centre column.
    pub x: f64,
    /// Centre row.
    pub y: f64,
    /// Radius.
    pub radius: f64,
}

/// Where the findings lie on the preprocessed images (by record index): each annotated
/// image is preprocessed again to learn its geometry (crop, flip, scale). Lesions outside
/// the kept region are dropped.
pub fn place(
    manifest: &Manifest,
    found: &[Findings],
    pre: &PreprocessConfig,
) -> Result<Vec<Option<Vec<Placed>>>, TrainError> {
    let mut out = Vec::with_capacity(found.len());
    for (r, f) in manifest.records.iter().zip(found) {
        out.push(match f {
            Findings::None => Some(Vec::new()),
            Findings::Unknown => None,
            Findings::At(lesions) => {
                let p = data::cache::preprocess_record(manifest, r, pre)?;
                let s = p.scale();
                Some(
                    lesions
                        .iter()
                        .filter_map(|l| {
                            p.to_output(l.x, l.y).map(|(x, y)| Placed {
                                x,
                                y,
                                radius: l.radius * s,
                            })
                        })
                        .collect(),
                )
            }
        });
    }
    Ok(out)
}

/// The classes of a patch classifier, as a scenario: normal tissue is `negative`, and the
/// lesion labels are those with at least one annotated lesion among `images`. For an
/// abnormal-vs-negative whole-image run, benign and malignant lesions are one class, so
/// the patch head is the whole-image head (carried over row for row).
pub fn scenario_for(
    manifest: &Manifest,
    placed: &[Option<Vec<Placed>>],
    images: &[usize],
    whole_image: Scenario,
) -> Result<Scenario, TrainError> {
    let has = |label: Label| {
        images.iter().any(|&i| {
            manifest.records[i].label == label && placed[i].as_ref().is_some_and(|v| !v.is_empty())
        })
    };
    match (has(Label::Benign), has(Label::Malignant)) {
        (true, _) | (_, true) if whole_image == Scenario::AbnormalVsNegative => {
            Ok(Scenario::AbnormalVsNegative)
        }
        (true, true) => Ok(Scenario::ThreeClass),
        (false, true) => Ok(Scenario::MalignantVsNegative),
        (true, false) => Ok(Scenario::NegativeVsBenign),
        (false, false) => Err(TrainError::Data(format!(
            "patch pretraining needs lesion annotations (columns x, y_from_top, radius, or \
             roi_x, roi_y, roi_width, roi_height): none among the {} training images of {}",
            images.len(),
            manifest.root.display()
        ))),
    }
}

/// One patch: where it was cut and its class.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchRow {
    /// Record index of the image.
    pub record: usize,
    /// Patch centre column on the preprocessed image.
    pub x: usize,
    /// Patch centre row.
    pub y: usize,
    /// Class in the patch scenario.
    pub class: usize,
}

/// Patches of one split part.
#[derive(Debug, Clone)]
pub struct PatchSet {
    /// The patch pixels.
    pub images: MemoryImages,
    /// Where each came from (same order).
    pub rows: Vec<PatchRow>,
}

impl PatchSet {
    /// `(patch index, class)` pairs, as the trainer takes them.
    pub fn items(&self) -> Vec<(usize, usize)> {
        self.rows
            .iter()
            .enumerate()
            .map(|(i, r)| (i, r.class))
            .collect()
    }
}

/// Tissue around a patch, on each side, when whole images are read by windows: the
/// patch classifier then sees every window with the context it has in a whole image
/// (features near a crop's edge depend on the padding), and is trained with the same
/// most-abnormal-window rule.
pub const WINDOW_CONTEXT: usize = 32;

/// The side of the crops the patch classifier of `cfg` trains on.
pub fn crop_side(cfg: &TrainConfig) -> usize {
    let p = cfg.patches.side(cfg.input_size);
    if cfg.window_pooling {
        (p + 2 * WINDOW_CONTEXT).min(cfg.input_size)
    } else {
        p
    }
}

/// Cuts the patches of `images` (record indices) from `source` (the preprocessed
/// images, by record index): `per_lesion` around each placed lesion and `per_image` of
/// normal breast tissue from each image whose findings are known, each `crop_side`
/// pixels square (the patch and its context; clear of every lesion when normal).
/// Reproducible from `seed`; each image draws from its own stream.
#[allow(clippy::too_many_arguments)]
pub fn cut(
    source: &dyn ImageSource,
    manifest: &Manifest,
    placed: &[Option<Vec<Placed>>],
    images: &[usize],
    scenario: Scenario,
    settings: &PatchSettings,
    crop_side: usize,
    seed: u64,
) -> PatchSet {
    let side = source.side();
    let p = settings.side(side).min(side);
    let c = crop_side.clamp(p, side);
    let mut patches = Vec::new();
    let mut rows = Vec::new();
    for &i in images {
        let Some(lesions) = &placed[i] else { continue };
        let img = source.image(i);
        let mut rng = ChaCha8Rng::seed_from_u64(crate::mix_seed(seed, i as u64));
        if let Some(class) = scenario.class_of(manifest.records[i].label) {
            if class != 0 {
                for l in lesions {
                    // Jitter within a quarter patch: the lesion stays well inside every
                    // patch, and is seen off-centre by at least half a 32-pixel cell, as
                    // it falls between the windows a whole image is read with.
                    let j = p as f64 / 4.0;
                    for _ in 0..settings.per_lesion {
                        let (dx, dy) = disc(&mut rng, j);
                        let (x, y) = clamp_centre(l.x + dx, l.y + dy, c, side);
                        patches.push(crop(img, side, x, y, c));
                        rows.push(PatchRow {
                            record: i,
                            x,
                            y,
                            class,
                        });
                    }
                }
            }
        }
        // Normal tissue: inside the breast and clear of every lesion.
        let mut taken = 0;
        for _ in 0..settings.per_image * 50 {
            if taken == settings.per_image {
                break;
            }
            // Drawn over the whole image and pulled inside as lesion patches are, so a
            // normal crop shows the image edge as often as a lesion crop does (drawn
            // inside only, the edge would mark lesions near the chest wall).
            let (x, y) = clamp_centre(
                rng.random_range(0.0..side as f64),
                rng.random_range(0.0..side as f64),
                c,
                side,
            );
            let clear = lesions.iter().all(|l| {
                let d = ((x as f64 - l.x).powi(2) + (y as f64 - l.y).powi(2)).sqrt();
                d > l.radius + c as f64 / 2.0
            });
            if !clear || img[y * side + x] == 0 {
                continue;
            }
            let patch = crop(img, side, x, y, c);
            let breast = patch.iter().filter(|&&v| v > 0).count();
            if breast * 2 < patch.len() {
                continue;
            }
            patches.push(patch);
            rows.push(PatchRow {
                record: i,
                x,
                y,
                class: 0,
            });
            taken += 1;
        }
    }
    PatchSet {
        images: MemoryImages {
            side: c,
            images: patches,
        },
        rows,
    }
}

/// A uniform point of the disc of radius `r`.
fn disc(rng: &mut ChaCha8Rng, r: f64) -> (f64, f64) {
    if r <= 0.0 {
        return (0.0, 0.0);
    }
    let rho = r * rng.random::<f64>().sqrt();
    let theta = std::f64::consts::TAU * rng.random::<f64>();
    (rho * theta.cos(), rho * theta.sin())
}

/// The nearest centre whose `p`-pixel patch lies inside a `side`² image.
fn clamp_centre(x: f64, y: f64, p: usize, side: usize) -> (usize, usize) {
    let lo = (p / 2) as f64;
    let hi = (side - p.div_ceil(2)) as f64;
    (
        x.round().clamp(lo, hi) as usize,
        y.round().clamp(lo, hi) as usize,
    )
}

/// The `p`² patch centred at (`x`, `y`) (its top-left corner at `x − p/2`, `y − p/2`).
fn crop(img: &[u8], side: usize, x: usize, y: usize, p: usize) -> Vec<u8> {
    let (x0, y0) = (x - p / 2, y - p / 2);
    let mut out = Vec::with_capacity(p * p);
    for row in y0..y0 + p {
        out.extend_from_slice(&img[row * side + x0..row * side + x0 + p]);
    }
    out
}

/// Writes where the patches came from (`image, part, class, x, y`), atomically.
pub fn write_rows(
    path: &Path,
    manifest: &Manifest,
    scenario: Scenario,
    parts: &[(&str, &PatchSet)],
) -> Result<(), TrainError> {
    let mut text = String::from("image,part,class,x,y\n");
    let names = scenario.class_names();
    for (part, set) in parts {
        for r in &set.rows {
            let image = &manifest.records[r.record].image;
            let quoted = if image.contains([',', '"']) {
                format!("\"{}\"", image.replace('"', "\"\""))
            } else {
                image.clone()
            };
            text.push_str(&format!(
                "{quoted},{part},{},{},{}\n",
                names[r.class], r.x, r.y
            ));
        }
    }
    store::write_atomic(path, text.as_bytes())?;
    Ok(())
}

/// The patch stage of one model: the images of its training part and held-out fold.
pub struct Stage<'a> {
    /// The whole-image run's configuration (its `patches` settings and recipe).
    pub cfg: &'a TrainConfig,
    /// Where to train.
    pub compute: &'a Compute,
    /// The manifest.
    pub manifest: &'a Manifest,
    /// The preprocessed whole images, by record index.
    pub source: &'a dyn ImageSource,
    /// Lesions on the preprocessed images ([`place`]).
    pub placed: &'a [Option<Vec<Placed>>],
    /// Record indices of the training part.
    pub train: &'a [usize],
    /// Record indices of the held-out fold (validation patches; may be empty).
    pub validation: &'a [usize],
}

/// What `patches.json` records.
#[derive(Debug, Serialize)]
struct StageRecord {
    classes: Vec<String>,
    patch_size: usize,
    /// The patch and its context (equal to `patch_size` without window pooling).
    crop_size: usize,
    cut_from: usize,
    train_per_class: Vec<usize>,
    validation_per_class: Vec<usize>,
    validation_auc: Option<f64>,
}

impl Stage<'_> {
    /// The patch classifier's own configuration: the run's recipe and architecture at
    /// the patch size, with the patch settings' iterations, batch and learning rate;
    /// classes balanced by over-sampling (normal patches outnumber lesion patches).
    pub fn config(&self, scenario: Scenario) -> TrainConfig {
        let mut c = self.cfg.clone();
        let side = crop_side(self.cfg);
        c.scenario = scenario;
        c.init = self.cfg.patches.init.clone();
        // With window pooling the classifier reads the patch's windows in their context,
        // exactly as it will read a whole image.
        c.patches.size = self.cfg.patches.side(self.cfg.input_size);
        c.input_size = side;
        c.preprocess.size = side;
        c.iterations = self.cfg.patches.iterations;
        c.epochs = None;
        c.batch_size = self.cfg.patches.batch_size;
        c.learning_rate = self.cfg.patches.learning_rate;
        c.lr_step = 0;
        c.balance = Balance::Oversample;
        c.tta = Tta::None;
        c.data.split = None;
        c.data.folds = 0;
        c
    }

    /// Trains the patch classifier into `model_dir/patches/` — and, when it mines hard
    /// negatives, its second round into `patches/mined/` — reusing a finished round when
    /// `resume` finds one, and returns the folder of the final classifier.
    pub fn train(
        &self,
        model_dir: &Path,
        resume: bool,
        observer: &mut dyn FnMut(&Event),
    ) -> Result<PathBuf, TrainError> {
        let dir = dir_of(model_dir);
        let settings = &self.cfg.patches;
        let last = if settings.mines() {
            dir.join(MINED_DIR)
        } else {
            dir.clone()
        };
        if resume && last.join(run::WEIGHTS_FILE).is_file() {
            return Ok(last);
        }
        std::fs::create_dir_all(&dir).map_err(|e| TrainError::file(&dir, e))?;
        let scenario = scenario_for(self.manifest, self.placed, self.train, self.cfg.scenario)?;
        let seed = crate::mix_seed(self.cfg.seed, 0x9A7C);
        let side = crop_side(self.cfg);
        let train = cut(
            self.source,
            self.manifest,
            self.placed,
            self.train,
            scenario,
            settings,
            side,
            seed,
        );
        let held = cut(
            self.source,
            self.manifest,
            self.placed,
            self.validation,
            scenario,
            settings,
            side,
            crate::mix_seed(seed, 1),
        );
        let cfg = self.config(scenario);
        let weights = dir.join(run::WEIGHTS_FILE);
        let first = if resume && weights.is_file() {
            let mut net = cfg.model_config().init(&self.compute.device)?;
            model::weights::load(&mut net, &weights)?;
            net
        } else {
            self.round(&dir, &cfg, scenario, &train, &held, resume, observer)?
        };
        if !settings.mines() {
            return Ok(dir);
        }
        // Round two: the first round's classifier reads the training images whole; its
        // most abnormal windows away from every lesion join the normal patches.
        let whole = self.cfg.model_config();
        let input = Input::from_training(&whole, self.source, self.train)?;
        let mined = mine(
            &first,
            &input,
            self.source,
            self.placed,
            self.train,
            settings.hard_negatives,
            settings.side(self.cfg.input_size),
            side,
            &self.compute.device,
        )?;
        let mut both = train;
        both.rows.extend(mined.rows);
        both.images.images.extend(mined.images.images);
        let mut second = cfg.clone();
        second.iterations = settings.mining_iterations;
        second.init = Init::Weights(weights);
        self.round(&last, &second, scenario, &both, &held, resume, observer)?;
        Ok(last)
    }

    /// One round of patch training into `dir`: configuration, patch list, mean, model
    /// description, training, validation AUC (`patches.json`), then the weights, whose
    /// presence marks the round finished. Returns the trained network (no autodiff).
    #[allow(clippy::too_many_arguments)]
    fn round(
        &self,
        dir: &Path,
        cfg: &TrainConfig,
        scenario: Scenario,
        train: &PatchSet,
        held: &PatchSet,
        resume: bool,
        observer: &mut dyn FnMut(&Event),
    ) -> Result<Network, TrainError> {
        std::fs::create_dir_all(dir).map_err(|e| TrainError::file(dir, e))?;
        cfg.check()?;
        cfg.save(&dir.join(run::CONFIG_FILE))?;
        write_rows(
            &dir.join("patches.csv"),
            self.manifest,
            scenario,
            &[("train", train), ("validation", held)],
        )?;
        // One source: the training patches, then the validation patches.
        let n_train = train.rows.len();
        let train_items = train.items();
        let val_items: Vec<(usize, usize)> = held
            .items()
            .into_iter()
            .map(|(i, c)| (n_train + i, c))
            .collect();
        let mut images = train.images.clone();
        images.images.extend(held.images.images.iter().cloned());
        let mc = cfg.model_config();
        let idx: Vec<usize> = (0..n_train).collect();
        let input = Input::from_training(&mc, &images, &idx)?;
        input.mean.save(&dir.join(run::MEAN_FILE))?;
        mc.save_json(&dir.join(run::MODEL_FILE))?;
        let ad = self.compute.device.clone().autodiff();
        let net = run::init_network(cfg, &ad)?;
        let data = TrainData {
            source: &images,
            train: train_items.clone(),
            validation: val_items.clone(),
        };
        let trained = trainer::fit(cfg, net, &input, &data, &ad, dir, resume, observer)?;
        let valid = trained.valid();
        let count = |items: &[(usize, usize)]| {
            let mut v = vec![0; scenario.n_classes()];
            for &(_, c) in items {
                v[c] += 1;
            }
            v
        };
        let validation_auc = if val_items.is_empty() {
            None
        } else {
            let vi: Vec<usize> = val_items.iter().map(|v| v.0).collect();
            let classes: Vec<usize> = val_items.iter().map(|v| v.1).collect();
            let probs = crate::infer::probabilities(
                &valid,
                &input,
                &images,
                &vi,
                cfg.batch_size,
                &self.compute.device,
            );
            crate::infer::auc(scenario, &classes, &probs)
        };
        let record = StageRecord {
            classes: scenario
                .class_names()
                .iter()
                .map(|s| s.to_string())
                .collect(),
            patch_size: cfg.patches.size,
            crop_size: cfg.input_size,
            cut_from: self.cfg.input_size,
            train_per_class: count(&train_items),
            validation_per_class: count(&val_items),
            validation_auc,
        };
        let json = serde_json::to_vec_pretty(&record).map_err(|e| TrainError::file(dir, e))?;
        store::write_atomic(&dir.join("patches.json"), &json)?;
        // Weights last: their presence marks the round finished.
        model::weights::save(&valid, &dir.join(run::WEIGHTS_FILE))?;
        Ok(valid)
    }
}

/// Where the second, hard-negative round of the patch stage is trained (inside the
/// patch folder).
pub const MINED_DIR: &str = "mined";

/// Hard negatives: each image of `images` (record indices of `source`) is read whole by
/// `network` (the patch classifier with window pooling, `input` its whole-image
/// transform), and its `per_image` most abnormal windows that lie clear of every lesion
/// — none overlapping another — are cut as `crop_side` crops centred on them (normal
/// class). Images whose findings are unknown give none.
#[allow(clippy::too_many_arguments)]
pub fn mine(
    network: &Network,
    input: &Input,
    source: &dyn ImageSource,
    placed: &[Option<Vec<Placed>>],
    images: &[usize],
    per_image: usize,
    patch: usize,
    crop_side: usize,
    device: &Device,
) -> Result<PatchSet, TrainError> {
    let side = source.side();
    let c = crop_side.clamp(patch, side);
    let cells = patch.div_ceil(32);
    let known: Vec<usize> = images
        .iter()
        .copied()
        .filter(|&i| placed[i].is_some())
        .collect();
    let mut patches = Vec::new();
    let mut rows = Vec::new();
    for chunk in known.chunks(MINING_BATCH) {
        let x = input.batch(source, chunk, None, device);
        let map = network
            .window_abnormality(network.feature_map(x))
            .ok_or_else(|| {
                TrainError::Config("hard negatives need a network with window pooling".into())
            })?;
        let [_, gh, gw] = map.dims();
        let scores: Vec<f32> = map
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .map_err(|e| TrainError::Config(format!("window scores: {e:?}")))?;
        for (k, &i) in chunk.iter().enumerate() {
            let lesions = placed[i].as_deref().unwrap_or_default();
            let s = &scores[k * gh * gw..(k + 1) * gh * gw];
            let mut order: Vec<usize> = (0..s.len()).collect();
            order.sort_by(|&a, &b| s[b].total_cmp(&s[a]));
            let mut taken: Vec<(usize, usize)> = Vec::new();
            for w in order {
                if taken.len() == per_image {
                    break;
                }
                let (r, col) = (w / gw, w % gw);
                if taken
                    .iter()
                    .any(|&(tr, tc)| tr.abs_diff(r) < cells && tc.abs_diff(col) < cells)
                {
                    continue;
                }
                // The window's centre in pixels: cells of 32, `cells` wide.
                let half = (cells * 32) as f64 / 2.0;
                let (x, y) =
                    clamp_centre((col * 32) as f64 + half, (r * 32) as f64 + half, c, side);
                let clear = lesions.iter().all(|l| {
                    let d = ((x as f64 - l.x).powi(2) + (y as f64 - l.y).powi(2)).sqrt();
                    d > l.radius + c as f64 / 2.0
                });
                if !clear {
                    continue;
                }
                taken.push((r, col));
                patches.push(crop(source.image(i), side, x, y, c));
                rows.push(PatchRow {
                    record: i,
                    x,
                    y,
                    class: 0,
                });
            }
        }
    }
    Ok(PatchSet {
        images: MemoryImages {
            side: c,
            images: patches,
        },
        rows,
    })
}

/// Whole images per forward pass while mining (inference only: memory stays small).
const MINING_BATCH: usize = 4;

/// The patch classifier folder of the model trained in `model_dir`.
pub fn dir_of(model_dir: &Path) -> PathBuf {
    model_dir.join("patches")
}

/// The folder of the finished patch classifier of the model trained in `model_dir`:
/// the hard-negative round's when it was trained, else the first round's.
pub fn classifier_of(model_dir: &Path) -> PathBuf {
    let mined = dir_of(model_dir).join(MINED_DIR);
    if mined.join(run::WEIGHTS_FILE).is_file() {
        mined
    } else {
        dir_of(model_dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(rows: &str) -> Manifest {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("labels.csv");
        std::fs::write(&p, rows).unwrap();
        Manifest::read(&p).unwrap()
    }

    #[test]
    fn annotations_are_read_and_grouped() {
        let m = manifest(
            "image,patient_id,laterality,view,label,x,y_from_top,radius,roi_x,roi_y,roi_width,roi_height\n\
             a.png,p1,L,MLO,malignant,10,20,5,,,,\n\
             a.png,p1,L,MLO,malignant,40,50,6,,,,\n\
             b.png,p2,L,MLO,benign,,,,100,200,30,10\n\
             c.png,p3,L,MLO,benign,,,,,,,\n\
             d.png,p4,L,MLO,negative,,,,,,,\n",
        );
        let f = findings(&m);
        match &f[0] {
            Findings::At(v) => assert_eq!(v.len(), 2),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            f[2],
            Findings::At(vec![Lesion {
                x: 115.0,
                y: 205.0,
                radius: 15.0
            }])
        );
        assert_eq!(f[3], Findings::Unknown);
        assert_eq!(f[4], Findings::None);
    }

    #[test]
    fn patches_sit_on_lesions_and_normal_tissue_avoids_them() {
        // A 64² "breast" (value 100) with a bright 5-pixel lesion at (40, 20).
        let side = 64;
        let mut img = vec![100u8; side * side];
        for y in 15..26 {
            for x in 35..46 {
                img[y * side + x] = 250;
            }
        }
        let src = MemoryImages {
            side,
            images: vec![img.clone(), vec![100u8; side * side]],
        };
        let m = manifest(
            "image,patient_id,laterality,view,label\na.png,p1,L,MLO,malignant\nb.png,p2,L,MLO,negative\n",
        );
        let placed = vec![
            Some(vec![Placed {
                x: 40.0,
                y: 20.0,
                radius: 5.0,
            }]),
            Some(Vec::new()),
        ];
        let settings = PatchSettings {
            size: 16,
            per_lesion: 8,
            per_image: 3,
            ..PatchSettings::default()
        };
        let sc = scenario_for(&m, &placed, &[0, 1], Scenario::ThreeClass).unwrap();
        assert_eq!(sc, Scenario::MalignantVsNegative);
        let avn = Scenario::AbnormalVsNegative;
        assert_eq!(scenario_for(&m, &placed, &[0, 1], avn).unwrap(), avn);
        let set = cut(&src, &m, &placed, &[0, 1], sc, &settings, 16, 7);
        let lesion: Vec<_> = set.rows.iter().filter(|r| r.class == 1).collect();
        assert_eq!(lesion.len(), 8);
        for (r, im) in set.rows.iter().zip(&set.images.images) {
            assert_eq!(im.len(), 16 * 16);
            let bright = im.iter().filter(|&&v| v == 250).count();
            if r.class == 1 {
                // Jitter ≤ 4 px: the lesion's centre pixel is always in the patch.
                assert!(bright > 0, "{r:?}");
            } else {
                assert_eq!(bright, 0, "normal patch on the lesion: {r:?}");
            }
        }
        assert_eq!(set.rows.iter().filter(|r| r.class == 0).count(), 6);
        // With context: larger crops around the same centres, normal ones still clear.
        let wide = cut(&src, &m, &placed, &[0, 1], sc, &settings, 32, 7);
        assert!(wide.rows.iter().any(|r| r.class == 0));
        for (r, im) in wide.rows.iter().zip(&wide.images.images) {
            assert_eq!(im.len(), 32 * 32);
            let bright = im.iter().filter(|&&v| v == 250).count();
            assert_eq!(bright > 0, r.class == 1, "{r:?}");
        }
        // Reproducible.
        let again = cut(&src, &m, &placed, &[0, 1], sc, &settings, 16, 7);
        assert_eq!(again.rows, set.rows);
        // An image without annotations gives no patch, and no annotation at all is an error.
        let none = vec![None, Some(Vec::new())];
        assert!(scenario_for(&m, &none, &[0, 1], Scenario::ThreeClass).is_err());
        assert_eq!(
            cut(&src, &m, &none, &[0], sc, &settings, 16, 7).rows.len(),
            0
        );
    }

    #[test]
    fn default_patch_side_follows_the_input() {
        let s = PatchSettings::default();
        assert_eq!(s.side(512), 96);
        assert_eq!(s.side(1024), 192);
        assert_eq!(s.side(227), 64);
        assert!(s.check(512).is_ok());
        let big = PatchSettings {
            size: 600,
            ..PatchSettings::default()
        };
        assert!(big.check(512).is_err());
    }
}
