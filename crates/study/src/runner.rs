//! Running the grid: each cell is a `train` run folder, evaluated, marked finished by
//! `cell.json`. Finished cells are never recomputed; an interrupted cell resumes from its
//! checkpoint; a lock file keeps two shards out of one cell.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use data::Manifest;
use serde::{Deserialize, Serialize};
use train::config::{Init, TrainConfig};
use train::evaluate::EvalOptions;
use train::run::{RunOptions, PREDICTIONS_FILE};
use train::trainer::Event;

use crate::config::StudyConfig;
use crate::grid::{cells, Cell, CellKind, Shard, INTERVAL_SCENARIOS};
use crate::prepare::{self, Prepared, INTERVAL_COLUMN};
use crate::StudyError;

/// The resolved configuration in a study folder.
pub const STUDY_FILE: &str = "study.toml";
/// The record of a finished cell.
pub const CELL_FILE: &str = "cell.json";
/// A cell's false-negative analysis.
pub const INTERVAL_FILE: &str = "interval.json";

/// What the runner reports while it works.
#[derive(Debug)]
pub enum StudyEvent<'a> {
    /// The plan: cells of this shard, cells of the grid, already finished in this shard.
    Planned {
        /// Cells this shard owns.
        owned: usize,
        /// Cells of the whole grid.
        total: usize,
        /// Owned cells already finished.
        done: usize,
    },
    /// A cell starts (or resumes).
    CellStarted {
        /// Its key.
        key: &'a str,
        /// Whether it continues from a checkpoint.
        resumed: bool,
    },
    /// A training event of the running cell (fold 0 unless cross-validating).
    Training(usize, &'a Event),
    /// A cell finished (or was already finished).
    CellFinished {
        /// Its record.
        record: &'a CellRecord,
        /// Whether it was computed now (false: it was finished before).
        computed: bool,
    },
    /// A warning (undefined statistics, …).
    Warning(&'a str),
}

/// `cell.json`: what a finished cell holds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CellRecord {
    /// The cell's key.
    pub key: String,
    /// The cell.
    pub cell: Cell,
    /// Experiment name.
    pub experiment: String,
    /// Test fraction (null for pretraining).
    pub test_fraction: Option<f64>,
    /// The AUC of its predictions (test part, or out-of-fold), if defined.
    pub auc: Option<f64>,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Why the cell could not be trained (a class missing from its images), if so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_applicable: Option<String>,
}

/// `interval.json`: how a model reads interval cancers.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct IntervalRecord {
    /// Interval-cancer images evaluated.
    pub images: usize,
    /// Of those, called malignant (malignant is the most probable class).
    pub called_malignant: usize,
    /// The fraction.
    pub fraction: Option<f64>,
    /// `held-out` (none in training) or `half` (half of the patients in training).
    pub variant: String,
}

/// Outcome of [`run`].
#[derive(Debug, Clone, Default)]
pub struct RunSummary {
    /// Cells computed now.
    pub computed: usize,
    /// Cells that were already finished.
    pub skipped: usize,
    /// Cells of this shard.
    pub owned: usize,
    /// Cells of the grid.
    pub total: usize,
}

/// Writes `study.toml` into a new study folder, or checks that an existing one holds the
/// same configuration (a study folder belongs to one configuration).
pub fn claim_folder(cfg: &StudyConfig, out: &Path) -> Result<(), StudyError> {
    std::fs::create_dir_all(out).map_err(|e| StudyError::file(out, e))?;
    let path = out.join(STUDY_FILE);
    let text = format!(
        "# mammorecall study: the resolved configuration of this folder.\n\
         # `mammorecall study --config THIS_FILE -o NEW_DIR` repeats the study.\n\n{}",
        cfg.to_toml()?
    );
    if path.is_file() {
        let existing = StudyConfig::load(&path)?;
        if &existing != cfg {
            return Err(StudyError::file(
                &path,
                "this folder holds a study with another configuration: use another -o, or \
                 `mammorecall study --config` with this file to continue it",
            ));
        }
        return Ok(());
    }
    store::write_atomic(&path, text.as_bytes())?;
    Ok(())
}

/// The study's grid and data, resolved for a folder.
pub struct Plan {
    /// The configuration.
    pub cfg: StudyConfig,
    /// The study folder.
    pub out: PathBuf,
    /// The datasets.
    pub data: Prepared,
    /// Every cell, in order.
    pub cells: Vec<Cell>,
}

impl Plan {
    /// Prepares the data (generating synthetic datasets on first use) and the grid.
    pub fn new(cfg: &StudyConfig, out: &Path) -> Result<Plan, StudyError> {
        let data = prepare::datasets(cfg, out)?;
        let cells = cells(cfg, &|e| data.has_interval(&cfg.experiments[e].datasets));
        Ok(Plan {
            cfg: cfg.clone(),
            out: out.to_path_buf(),
            data,
            cells,
        })
    }

    /// The seed of repeat `r`.
    pub fn seed(&self, repeat: usize) -> u64 {
        if repeat == 0 {
            self.cfg.seed
        } else {
            train::mix_seed(self.cfg.seed, repeat as u64)
        }
    }

    /// The training configuration of a cell, with the files it needs made.
    pub fn train_config(&self, cell: &Cell) -> Result<TrainConfig, StudyError> {
        let cfg = &self.cfg;
        let e = &cfg.experiments[cell.experiment];
        let seed = self.seed(cell.repeat);
        let names = if cell.kind == CellKind::Pretrain {
            &e.pretrain
        } else {
            &e.datasets
        };
        let mixed = self.data.mixed(names)?;
        let mut tc = cfg.train_config(cell.scenario, mixed.main.clone());
        tc.seed = seed;
        tc.data.split_seed = seed;
        tc.data.cache_dir = Some(self.out.join("cache"));
        let fraction = cell.fraction.map(|f| cfg.test_fractions[f]).unwrap_or(0.0);
        let split = self
            .data
            .split(&mixed.main, fraction, cfg.folds.max(2), seed)?;
        tc.data.test_fraction = fraction;
        tc.data.split = Some(split.clone());
        match cell.kind {
            CellKind::Pretrain => {
                if cfg.train.pretrain_iterations > 0 {
                    tc.iterations = cfg.train.pretrain_iterations;
                }
            }
            CellKind::Test => {}
            CellKind::Cv => tc.data.folds = cfg.folds,
            CellKind::IntervalHalf => {
                let (m, s) = self.data.interval_half(&mixed, &split, seed)?;
                tc.data.manifest = m;
                tc.data.split = Some(s);
            }
        }
        if let Some(p) = cell.pretrain_cell(cfg) {
            tc.init = Init::Run(p.dir(cfg, &self.out));
        }
        Ok(tc)
    }
}

/// Runs the cells of `shard` (skipping finished ones) in study folder `out`.
pub fn run(
    cfg: &StudyConfig,
    out: &Path,
    shard: Shard,
    command: &[String],
    observer: &mut dyn FnMut(StudyEvent),
) -> Result<RunSummary, StudyError> {
    cfg.check()?;
    claim_folder(cfg, out)?;
    let plan = Plan::new(cfg, out)?;
    let owned: Vec<Cell> = plan
        .cells
        .iter()
        .enumerate()
        .filter(|(i, _)| shard.owns(*i))
        .map(|(_, c)| *c)
        .collect();
    let done = owned
        .iter()
        .filter(|c| c.dir(cfg, out).join(CELL_FILE).is_file())
        .count();
    observer(StudyEvent::Planned {
        owned: owned.len(),
        total: plan.cells.len(),
        done,
    });
    let logs = out.join("logs");
    std::fs::create_dir_all(&logs).map_err(|e| StudyError::file(&logs, e))?;
    let log_path = logs.join(format!("shard-{}-of-{}.log", shard.index, shard.count));
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| StudyError::file(&log_path, e))?;
    let mut summary = RunSummary {
        owned: owned.len(),
        total: plan.cells.len(),
        ..RunSummary::default()
    };
    for cell in &owned {
        let (record, computed) = run_cell(&plan, cell, command, observer, &mut log)?;
        if computed {
            summary.computed += 1;
        } else {
            summary.skipped += 1;
        }
        observer(StudyEvent::CellFinished {
            record: &record,
            computed,
        });
    }
    Ok(summary)
}

fn log_line(log: &mut std::fs::File, line: &str) {
    // The log is a convenience; a failed write must not stop the study.
    let _ = writeln!(log, "{line}");
}

/// Reads a finished cell's record, if it is finished.
pub fn read_record(dir: &Path) -> Result<Option<CellRecord>, StudyError> {
    let p = dir.join(CELL_FILE);
    if !p.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&p).map_err(|e| StudyError::file(&p, e))?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| StudyError::file(&p, e))
}

/// A lock file that keeps other processes out of a cell; removed on drop.
struct Lock(PathBuf);

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// Takes the cell's lock, waiting while another live process holds it. A lock left by a
/// dead process on this host (a killed study) is taken over.
fn lock(dir: &Path) -> Result<Lock, StudyError> {
    let path = dir.with_extension("lock");
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| StudyError::file(parent, e))?;
    }
    let me = format!("{} {}", host(), std::process::id());
    loop {
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(mut f) => {
                f.write_all(me.as_bytes())
                    .map_err(|e| StudyError::file(&path, e))?;
                return Ok(Lock(path));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let holder = std::fs::read_to_string(&path).unwrap_or_default();
                let mut it = holder.split_whitespace();
                let (h, pid) = (it.next().unwrap_or(""), it.next().unwrap_or(""));
                let dead = h == host() && !pid.is_empty() && !Path::new("/proc").join(pid).exists();
                if dead || holder.trim().is_empty() && stale(&path) {
                    let _ = std::fs::remove_file(&path);
                    continue;
                }
                std::thread::sleep(Duration::from_secs(2));
            }
            Err(e) => return Err(StudyError::file(&path, e)),
        }
    }
}

/// An empty lock file older than a minute (its writer died between create and write).
fn stale(path: &Path) -> bool {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age > Duration::from_secs(60))
}

fn run_cell(
    plan: &Plan,
    cell: &Cell,
    command: &[String],
    observer: &mut dyn FnMut(StudyEvent),
    log: &mut std::fs::File,
) -> Result<(CellRecord, bool), StudyError> {
    let cfg = &plan.cfg;
    let dir = cell.dir(cfg, &plan.out);
    if let Some(r) = read_record(&dir)? {
        return Ok((r, false));
    }
    // The incremental phase needs its pretraining first (possibly another shard's cell).
    let mut not_applicable = None;
    if let Some(p) = cell.pretrain_cell(cfg) {
        let pre = match read_record(&p.dir(cfg, &plan.out))? {
            Some(r) => r,
            None => {
                let (r, _) = run_cell(plan, &p, command, observer, log)?;
                log_line(
                    log,
                    &format!(
                        "{}: computed as the pretraining of {}",
                        r.key,
                        cell.key(cfg)
                    ),
                );
                r
            }
        };
        not_applicable = pre
            .not_applicable
            .map(|why| format!("its pretraining is not applicable ({why})"));
    }
    let _lock = lock(&dir)?;
    if let Some(r) = read_record(&dir)? {
        return Ok((r, false));
    }
    let key = cell.key(cfg);
    let t = Instant::now();
    let tc = plan.train_config(cell)?;
    if not_applicable.is_none() {
        not_applicable = missing_class(&tc)?;
    }
    if let Some(why) = not_applicable {
        // E.g. a dataset of normals alone cannot train malignant vs negative: the
        // report says so in the cell's row instead of failing the whole study.
        std::fs::create_dir_all(&dir).map_err(|e| StudyError::file(&dir, e))?;
        let record = CellRecord {
            key: key.clone(),
            cell: *cell,
            experiment: cfg.experiments[cell.experiment].name.clone(),
            test_fraction: cell.fraction.map(|f| cfg.test_fractions[f]),
            auc: None,
            seconds: 0.0,
            not_applicable: Some(why.clone()),
        };
        let json = serde_json::to_vec_pretty(&record).map_err(|e| StudyError::file(&dir, e))?;
        store::write_atomic(&dir.join(CELL_FILE), &json)?;
        observer(StudyEvent::Warning(&format!(
            "{key}: not applicable: {why}"
        )));
        log_line(log, &format!("{key}: not applicable: {why}"));
        return Ok((record, true));
    }
    let resume = dir.join(train::run::CONFIG_FILE).is_file();
    observer(StudyEvent::CellStarted {
        key: &key,
        resumed: resume,
    });
    log_line(
        log,
        &format!(
            "{key}: {} (pid {})",
            if resume { "resuming" } else { "starting" },
            std::process::id()
        ),
    );
    let cell_err = |source| StudyError::Cell {
        cell: key.clone(),
        source,
    };
    let mut forward = |fold: usize, e: &Event| observer(StudyEvent::Training(fold, e));
    let mut opts = RunOptions {
        resume,
        progress: false,
        command: command.to_vec(),
        observer: &mut forward,
    };
    let result = train::run::train_run(&tc, &dir, &mut opts);
    let summary = match result {
        Ok(s) => s,
        Err(e) => {
            log_line(log, &format!("{key}: FAILED: {e}"));
            return Err(cell_err(e));
        }
    };
    let mut warnings = Vec::new();
    if cell.kind != CellKind::Pretrain {
        let eo = EvalOptions {
            replicates: cfg.evaluation.bootstrap,
            seed: plan.seed(cell.repeat),
            sensitivity: cfg.evaluation.sensitivity,
            ..EvalOptions::default()
        };
        // The image level always (metrics.json); the report's scoring too when it differs.
        let mut levels = vec![eo];
        let ev = &cfg.evaluation;
        if ev.level != train::evaluate::Level::Image || ev.contralateral != 0.0 {
            levels.push(EvalOptions {
                level: ev.level,
                reduce: ev.reduce,
                contralateral: ev.contralateral,
                ..eo
            });
        }
        if ev.contralateral != 0.0 {
            // The other breasts outside the scenario, by the same models (before the
            // weights may be deleted below).
            let device = train::device::open(&tc.device).map_err(cell_err)?.device;
            train::contralateral::predict_companions(&dir, train::infer::Tta::None, &device, false)
                .map_err(cell_err)?;
        }
        for eo in levels {
            let evaluated = train::evaluate::evaluate(&dir, cell.scenario, &eo, &mut |w: &str| {
                warnings.push(w.to_string())
            });
            if let Err(e) = evaluated {
                // A test part too small to hold every class (small datasets, 5% tests)
                // leaves the statistics undefined: reported as null, not a failed study.
                warnings.push(format!("statistics undefined: {e}"));
                let v = serde_json::json!({"scenario": cell.scenario.as_str(), "auc": null,
                    "undefined": e.to_string()});
                let text = serde_json::to_vec_pretty(&v).map_err(|e| StudyError::file(&dir, e))?;
                let file = format!("metrics{}.json", train::evaluate::output_suffix(&eo));
                store::write_atomic(&dir.join(file), &text)?;
            }
        }
    }
    for w in &warnings {
        observer(StudyEvent::Warning(&format!("{key}: {w}")));
        log_line(log, &format!("{key}: warning: {w}"));
    }
    interval_analysis(plan, cell, &tc, &dir).map_err(|e| match e {
        StudyError::Train(t) => cell_err(t),
        other => other,
    })?;
    cleanup(
        &dir,
        cell.kind == CellKind::Pretrain || cfg.train.keep_weights,
    )?;
    let record = CellRecord {
        key: key.clone(),
        cell: *cell,
        experiment: cfg.experiments[cell.experiment].name.clone(),
        test_fraction: cell.fraction.map(|f| cfg.test_fractions[f]),
        auc: summary.auc,
        seconds: t.elapsed().as_secs_f64(),
        not_applicable: None,
    };
    let json = serde_json::to_vec_pretty(&record).map_err(|e| StudyError::file(&dir, e))?;
    store::write_atomic(&dir.join(CELL_FILE), &json)?;
    log_line(
        log,
        &format!(
            "{key}: done in {:.1} s, AUC {}",
            record.seconds,
            record
                .auc
                .map_or("undefined".to_string(), |a| format!("{a:.4}"))
        ),
    );
    Ok((record, true))
}

/// Why a cell cannot be trained: a class of its scenario without images in the training
/// (development) part.
fn missing_class(tc: &TrainConfig) -> Result<Option<String>, StudyError> {
    let m = Manifest::read(&tc.data.manifest)?;
    let dev = match &tc.data.split {
        Some(p) => data::Split::read(p, &m)?.development(),
        None => (0..m.records.len()).collect(),
    };
    let names = tc.scenario.class_names();
    let mut counts = vec![0usize; names.len()];
    for i in dev {
        if let Some(c) = tc.scenario.class_of(m.records[i].label) {
            counts[c] += 1;
        }
    }
    Ok(counts.iter().position(|&n| n == 0).map(|c| {
        format!(
            "no '{}' images to train {} on",
            names[c],
            tc.scenario.as_str()
        )
    }))
}

/// The false-negative analysis of a cell: for a test cell of a study scenario, the
/// held-out interval cancers read by its model; for an interval-half cell, the tested
/// half (from its predictions).
fn interval_analysis(
    plan: &Plan,
    cell: &Cell,
    tc: &TrainConfig,
    dir: &Path,
) -> Result<(), StudyError> {
    if !INTERVAL_SCENARIOS.contains(&cell.scenario) {
        return Ok(());
    }
    let e = &plan.cfg.experiments[cell.experiment];
    let malignant = tc
        .scenario
        .class_names()
        .iter()
        .position(|&n| n == "malignant")
        .unwrap_or(0);
    let argmax = |p: &[f32]| {
        p.iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, _)| i)
    };
    let record = match cell.kind {
        CellKind::Test => {
            let Some(path) = plan.data.mixed(&e.datasets)?.interval else {
                return Ok(());
            };
            let m = Manifest::read(&path)?;
            // Only the malignant images of the cancer-affected breasts (the study's rule).
            let idx: Vec<usize> = (0..m.records.len())
                .filter(|&i| m.records[i].label == data::Label::Malignant)
                .collect();
            let compute = train::device::open(&tc.device)?;
            let (_, models) = train::run::load_run(dir, &compute.device)?;
            let cache = data::cache::Cache::open_or_build(
                &m,
                &tc.preprocess,
                &train::run::cache_dir(tc),
                false,
            )?;
            let mut called = 0;
            if let Some(model) = models.first() {
                let probs = train::infer::probabilities(
                    &model.network,
                    &model.input,
                    &cache,
                    &idx,
                    tc.batch_size,
                    &compute.device,
                );
                called = probs
                    .iter()
                    .filter(|p| argmax(p) == Some(malignant))
                    .count();
            }
            IntervalRecord {
                images: idx.len(),
                called_malignant: called,
                fraction: (!idx.is_empty()).then(|| called as f64 / idx.len() as f64),
                variant: "held-out".into(),
            }
        }
        CellKind::IntervalHalf => {
            let m = Manifest::read(&tc.data.manifest)?;
            let interval: std::collections::BTreeSet<&str> = m
                .records
                .iter()
                .filter(|r| m.extra(r, INTERVAL_COLUMN).is_some_and(prepare::truthy))
                .map(|r| r.image.as_str())
                .collect();
            let (_, rows) = train::run::read_predictions(&dir.join(PREDICTIONS_FILE))?;
            let tested: Vec<_> = rows
                .iter()
                .filter(|r| {
                    r.part == "test"
                        && r.label == "malignant"
                        && interval.contains(r.image.as_str())
                })
                .collect();
            let called = tested
                .iter()
                .filter(|r| argmax(&r.probs) == Some(malignant))
                .count();
            IntervalRecord {
                images: tested.len(),
                called_malignant: called,
                fraction: (!tested.is_empty()).then(|| called as f64 / tested.len() as f64),
                variant: "half".into(),
            }
        }
        _ => return Ok(()),
    };
    let json = serde_json::to_vec_pretty(&record).map_err(|e| StudyError::file(dir, e))?;
    store::write_atomic(&dir.join(INTERVAL_FILE), &json)?;
    Ok(())
}

/// Removes a finished cell's checkpoints (and weights unless kept): they only serve to
/// resume, and a grid of AlexNets would fill a disk.
fn cleanup(dir: &Path, keep_weights: bool) -> Result<(), StudyError> {
    let mut dirs = vec![dir.to_path_buf()];
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() && e.file_name().to_string_lossy().starts_with("fold-") {
                dirs.push(p);
            }
        }
    }
    // Each model's lesion-patch classifier (init = "patches") has its own checkpoints.
    let patch_dirs: Vec<PathBuf> = dirs
        .iter()
        .map(|d| train::patches::dir_of(d))
        .flat_map(|p| [p.join(train::patches::MINED_DIR), p])
        .filter(|p| p.is_dir())
        .collect();
    dirs.extend(patch_dirs);
    for d in dirs {
        let ck = d.join("checkpoint");
        if ck.is_dir() {
            std::fs::remove_dir_all(&ck).map_err(|e| StudyError::file(&ck, e))?;
        }
        if !keep_weights {
            let w = d.join(train::run::WEIGHTS_FILE);
            if w.is_file() {
                std::fs::remove_file(&w).map_err(|e| StudyError::file(&w, e))?;
            }
        }
    }
    Ok(())
}

/// Every cell of the grid with its record (None: not finished yet).
pub fn collect_records(plan: &Plan) -> Result<Vec<(Cell, Option<CellRecord>)>, StudyError> {
    plan.cells
        .iter()
        .map(|c| Ok((*c, read_record(&c.dir(&plan.cfg, &plan.out))?)))
        .collect()
}
