//! The study's data: synthetic datasets generated on first use, one mixed manifest per
//! set of datasets (interval cancers set apart), and one patient-level split per manifest,
//! test fraction and repeat. Everything is deterministic and written atomically, so any
//! shard may make a file and every shard gets the same one.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use data::{Label, Manifest, Part, Record, Split, SplitSettings};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::config::{slug, DatasetSpec, StudyConfig};
use crate::StudyError;

/// The manifest column that flags interval cancers.
pub const INTERVAL_COLUMN: &str = "interval_cancer";
/// The column naming each image's dataset in mixed manifests.
pub const DATASET_COLUMN: &str = "dataset";

/// Whether a manifest value means "true".
pub fn truthy(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "1" | "true" | "yes" | "y"
    )
}

/// The data of a study, resolved.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// Each dataset's manifest file, by dataset name.
    pub manifests: BTreeMap<String, PathBuf>,
    /// SHA-256 of each dataset's manifest, by dataset name.
    pub checksums: BTreeMap<String, String>,
    /// Whether each dataset flags interval cancers, by dataset name.
    pub interval: BTreeMap<String, bool>,
    root: PathBuf,
}

/// A mixed manifest: the images of a set of datasets.
#[derive(Debug, Clone)]
pub struct Mixed {
    /// The manifest without interval-cancer patients (what is split, trained and tested).
    pub main: PathBuf,
    /// Interval-cancer patients' images, if any.
    pub interval: Option<PathBuf>,
}

fn data_dir(out: &Path) -> PathBuf {
    out.join("data")
}

/// Generates (if needed) and reads every dataset of `cfg` for the study folder `out`.
pub fn datasets(cfg: &StudyConfig, out: &Path) -> Result<Prepared, StudyError> {
    let mut manifests = BTreeMap::new();
    let mut checksums = BTreeMap::new();
    let mut interval = BTreeMap::new();
    for d in &cfg.datasets {
        let path = match (&d.manifest, &d.synth) {
            (Some(m), _) => m.clone(),
            (None, Some(_)) => synthetic(d, out)?,
            (None, None) => {
                return Err(StudyError::Config(format!("dataset {}: no source", d.name)))
            }
        };
        let m = Manifest::read(&path)?;
        let flagged = m.extra_columns.iter().any(|c| c == INTERVAL_COLUMN)
            && m.records
                .iter()
                .any(|r| m.extra(r, INTERVAL_COLUMN).is_some_and(truthy));
        interval.insert(d.name.clone(), flagged);
        checksums.insert(d.name.clone(), store::sha256_file(&path)?);
        manifests.insert(d.name.clone(), path);
    }
    Ok(Prepared {
        manifests,
        checksums,
        interval,
        root: data_dir(out),
    })
}

/// Generates a synthetic dataset into `OUT/data/NAME` unless it is there, in a temporary
/// folder renamed into place (two shards racing both produce the same bytes).
fn synthetic(d: &DatasetSpec, out: &Path) -> Result<PathBuf, StudyError> {
    let dir = data_dir(out).join(slug(&d.name));
    let labels = dir.join("labels.csv");
    if labels.is_file() {
        return Ok(labels);
    }
    let Some(s) = &d.synth else {
        return Err(StudyError::Config(format!("dataset {}: no source", d.name)));
    };
    let tmp = data_dir(out).join(format!(".tmp-{}-{}", slug(&d.name), std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| StudyError::file(&tmp, e))?;
    synth::generate(s, &tmp, &|_| {}).map_err(|e| StudyError::file(&tmp, e))?;
    if d.interval_fraction > 0.0 {
        flag_interval(&tmp.join("labels.csv"), d.interval_fraction)?;
    }
    match std::fs::rename(&tmp, &dir) {
        Ok(()) => {}
        // Another shard finished first: keep its copy (byte-identical).
        Err(_) if labels.is_file() => {
            let _ = std::fs::remove_dir_all(&tmp);
        }
        Err(e) => return Err(StudyError::file(&dir, e)),
    }
    Ok(labels)
}

/// Flags the malignant patients with the smallest findings (the ones a reader would miss)
/// as interval cancers: `fraction` of the malignant patients, at least one.
fn flag_interval(labels: &Path, fraction: f64) -> Result<(), StudyError> {
    let mut m = Manifest::read(labels)?;
    let mut radius: BTreeMap<String, f64> = BTreeMap::new();
    for r in &m.records {
        if r.label == Label::Malignant {
            let v: f64 = m
                .extra(r, "radius")
                .and_then(|v| v.parse().ok())
                .unwrap_or(f64::INFINITY);
            let e = radius.entry(r.patient_id.clone()).or_insert(v);
            *e = e.min(v);
        }
    }
    let mut order: Vec<(String, f64)> = radius.into_iter().collect();
    order.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    let n = ((fraction * order.len() as f64).round() as usize).clamp(1, order.len().max(1));
    let flagged: BTreeSet<String> = order.into_iter().take(n).map(|p| p.0).collect();
    m.extra_columns.push(INTERVAL_COLUMN.into());
    let width = m.extra_columns.len();
    for r in &mut m.records {
        r.extra.resize(width - 1, String::new());
        r.extra.push(flagged.contains(&r.patient_id).to_string());
    }
    m.write(labels)?;
    Ok(())
}

impl Prepared {
    /// The key of a set of datasets: their slugs joined by `+`, in the given order.
    pub fn key(names: &[String]) -> String {
        names.iter().map(|n| slug(n)).collect::<Vec<_>>().join("+")
    }

    /// Whether any of `names` flags interval cancers.
    pub fn has_interval(&self, names: &[String]) -> bool {
        names
            .iter()
            .any(|n| self.interval.get(n).copied().unwrap_or(false))
    }

    /// The mixed manifest of `names` (made once): absolute image paths, patient ids
    /// prefixed by the dataset when several are mixed, a `dataset` column, and the
    /// interval-cancer patients moved to their own manifest.
    pub fn mixed(&self, names: &[String]) -> Result<Mixed, StudyError> {
        let dir = self.root.join("manifests");
        let key = Prepared::key(names);
        let main = dir.join(format!("{key}.csv"));
        let interval_path = dir.join(format!("{key}-interval.csv"));
        let has = self.has_interval(names);
        if main.is_file() && (!has || interval_path.is_file()) {
            return Ok(Mixed {
                main,
                interval: has.then_some(interval_path),
            });
        }
        std::fs::create_dir_all(&dir).map_err(|e| StudyError::file(&dir, e))?;
        let columns = vec![DATASET_COLUMN.to_string(), INTERVAL_COLUMN.to_string()];
        let mut kept = Manifest {
            root: dir.clone(),
            extra_columns: columns.clone(),
            records: Vec::new(),
        };
        let mut held = kept.clone();
        for name in names {
            let path = &self.manifests[name];
            let m = Manifest::read(path)?;
            for r in &m.records {
                let is_interval = m.extra(r, INTERVAL_COLUMN).is_some_and(truthy);
                let image =
                    std::path::absolute(m.image_path(r)).map_err(|e| StudyError::file(path, e))?;
                let rec = Record {
                    image: image.display().to_string(),
                    patient_id: if names.len() > 1 {
                        format!("{}:{}", slug(name), r.patient_id)
                    } else {
                        r.patient_id.clone()
                    },
                    laterality: r.laterality.clone(),
                    view: r.view.clone(),
                    label: r.label,
                    extra: vec![name.clone(), is_interval.to_string()],
                    line: 0,
                };
                if is_interval {
                    held.records.push(rec);
                } else {
                    kept.records.push(rec);
                }
            }
        }
        if kept.records.is_empty() {
            return Err(StudyError::Config(format!(
                "datasets {}: no images outside the interval cancers",
                names.join(", ")
            )));
        }
        if has {
            held.write(&interval_path)?;
        }
        kept.write(&main)?;
        Ok(Mixed {
            main,
            interval: has.then_some(interval_path),
        })
    }

    /// The patient-level split of `manifest` (a [`Prepared::mixed`] manifest) for one
    /// test fraction and repeat; `folds` ≥ 2.
    pub fn split(
        &self,
        manifest: &Path,
        test_fraction: f64,
        folds: usize,
        seed: u64,
    ) -> Result<PathBuf, StudyError> {
        let stem = manifest
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let dir = self.root.join("splits");
        let path = dir.join(format!(
            "{stem}-{}-k{folds}-s{seed}.csv",
            crate::grid::fraction_tag(test_fraction)
        ));
        if path.is_file() {
            return Ok(path);
        }
        std::fs::create_dir_all(&dir).map_err(|e| StudyError::file(&dir, e))?;
        let m = Manifest::read(manifest)?;
        let split = Split::make(
            &m,
            None,
            SplitSettings {
                test_fraction,
                folds: folds.max(2),
                repeats: 1,
                seed,
            },
        )?;
        split.write(&path)?;
        Ok(path)
    }

    /// The false-negative variant of a split: the main manifest plus the interval-cancer
    /// patients, half of them (by a seeded shuffle of patients) added to the development
    /// folds and the other half to the test part. Returns the manifest and the split.
    pub fn interval_half(
        &self,
        mixed: &Mixed,
        split: &Path,
        seed: u64,
    ) -> Result<(PathBuf, PathBuf), StudyError> {
        let Some(interval) = &mixed.interval else {
            return Err(StudyError::Config("no interval cancers flagged".into()));
        };
        let split_stem = split
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let dir = self.root.join("interval-half");
        let mpath = dir.join(format!("{split_stem}.csv"));
        let spath = dir.join(format!("{split_stem}-split.csv"));
        if mpath.is_file() && spath.is_file() {
            return Ok((mpath, spath));
        }
        std::fs::create_dir_all(&dir).map_err(|e| StudyError::file(&dir, e))?;
        let main = Manifest::read(&mixed.main)?;
        let held = Manifest::read(interval)?;
        let base = Split::read(split, &main)?;
        let mut patients: Vec<String> = held
            .records
            .iter()
            .map(|r| r.patient_id.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        patients.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
        let trained: BTreeSet<&String> = patients.iter().take(patients.len() / 2).collect();
        let fold_of: BTreeMap<&String, usize> = trained
            .iter()
            .enumerate()
            .map(|(i, p)| (*p, i % base.folds + 1))
            .collect();
        let mut m = main.clone();
        let mut s = base.clone();
        for r in &held.records {
            let idx = m.records.len();
            m.records.push(r.clone());
            let part = match fold_of.get(&r.patient_id) {
                Some(&k) => Part::Fold(k),
                None => Part::Test,
            };
            s.rows.push(data::split::SplitRow {
                record: idx,
                image: r.image.clone(),
                patient_id: r.patient_id.clone(),
                label: r.label,
                parts: vec![part],
            });
        }
        m.root = dir.clone();
        m.write(&mpath)?;
        s.write(&spath)?;
        Ok((mpath, spath))
    }
}
