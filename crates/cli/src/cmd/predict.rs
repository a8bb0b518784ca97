//! `mammorecall predict`: class probabilities for DICOM/PNG/PGM files with a trained run —
//! the run's own preprocessing and mean image; a cross-validated run averages its fold
//! models.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use burn::tensor::Device;
use serde_json::json;
use train::infer::Tta;
use train::input::MemoryImages;

/// Output format of `predict`.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Format {
    /// One JSON array of objects.
    Json,
    /// CSV: image, predicted, p_<class>…
    Csv,
}

/// Per-image class probabilities from a trained run.
#[derive(clap::Args)]
pub struct Args {
    /// The run folder (from `mammorecall train`).
    #[arg(long, value_name = "RUN_DIR")]
    pub model: PathBuf,
    /// Image files or folders (searched recursively for .dcm, .dicom, .png, .pgm files).
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Json)]
    pub format: Format,
    /// Write to this file (atomically) instead of stdout.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Device: cpu or cuda.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Test-time augmentation: average each model over the image and its mirror image
    /// (`--tta`), or also over small shifts of both (`--tta=flip-shift`; the `=` keeps an
    /// image path after the flag from being read as the mode).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "flip")]
    pub tta: Option<Tta>,
    /// Score each image, each breast (the inputs grouped by the laterality in their
    /// headers; an image of unknown side stands alone) or the exam (all inputs: give one
    /// exam's views).
    #[arg(long, value_enum, default_value_t = super::evaluate::LevelArg::Image)]
    pub level: super::evaluate::LevelArg,
    /// How a breast's or exam's views are combined: mean or max of each probability.
    #[arg(long, value_enum, default_value_t = super::evaluate::ReduceArg::Mean)]
    pub reduce: super::evaluate::ReduceArg,
    /// Read each image against the same view of the other breast among the inputs (give
    /// one exam's images; sides and views from the headers, or two images of unknown
    /// side) with this weight, before any --level grouping (see `evaluate
    /// --contralateral`); 0 = off.
    #[arg(long, default_value_t = 0.0, value_parser = super::evaluate::parse_alpha)]
    pub contralateral: f32,
}

fn is_image(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
        .is_some_and(|e| matches!(e.as_str(), "dcm" | "dicom" | "png" | "pgm"))
}

fn collect(p: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    if p.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(p)
            .with_context(|| format!("reading folder {}", p.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for e in entries {
            if e.is_dir() || is_image(&e) {
                collect(&e, out)?;
            }
        }
    } else if p.is_file() {
        out.push(p.to_path_buf());
    } else {
        bail!("{}: no such file or folder", p.display());
    }
    Ok(())
}

/// Runs `mammorecall predict`.
pub fn run(a: Args) -> Result<()> {
    let compute = train::device::open(&a.device)?;
    let device: Device = compute.device.clone();
    let (cfg, models) = train::run::load_run(&a.model, &device)
        .with_context(|| format!("loading the model in {}", a.model.display()))?;
    let mut files = Vec::new();
    for p in &a.inputs {
        collect(p, &mut files)?;
    }
    if files.is_empty() {
        bail!("no image files found in the inputs");
    }
    let side = cfg.preprocess.size;
    let bar = super::progress_bar(files.len() as u64, "preprocessing");
    let mut images = Vec::with_capacity(files.len());
    let mut sides = Vec::with_capacity(files.len());
    let mut views = Vec::with_capacity(files.len());
    for f in &files {
        let decoded = imaging::read_pixels(f).map_err(|e| anyhow::anyhow!("{e}"))?;
        sides.push(decoded.info.laterality.clone().unwrap_or_default());
        views.push(decoded.info.view.clone().unwrap_or_default());
        let pre = imaging::preprocess::preprocess_pixels(&decoded, &cfg.preprocess)
            .map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))?;
        images.push(pre.image.data);
        bar.inc(1);
    }
    bar.finish_and_clear();
    let tta = a.tta.unwrap_or_default();
    let source = MemoryImages { side, images };
    let indices: Vec<usize> = (0..source.images.len()).collect();
    let names = cfg.scenario.class_names();
    let mut mean = vec![vec![0f32; names.len()]; files.len()];
    for m in &models {
        let p = train::infer::probabilities_tta(
            &m.network, &m.input, &source, &indices, 16, &device, tta,
        );
        for (k, row) in p.into_iter().enumerate() {
            for (acc, v) in mean[k].iter_mut().zip(row) {
                *acc += v / models.len() as f32;
            }
        }
    }
    if a.contralateral != 0.0 {
        mean = against_other_breast(&files, &sides, &views, mean, a.contralateral);
    }
    // Breast or exam level: one row a group, named by its side (or "exam").
    let (labels, mean): (Vec<String>, Vec<Vec<f32>>) = {
        use super::evaluate::{LevelArg, ReduceArg};
        let reduce = match a.reduce {
            ReduceArg::Mean => train::evaluate::Reduce::Mean,
            ReduceArg::Max => train::evaluate::Reduce::Max,
        };
        let mut groups: std::collections::BTreeMap<String, Vec<usize>> = Default::default();
        for (k, f) in files.iter().enumerate() {
            let key = match a.level {
                LevelArg::Image => f.display().to_string(),
                LevelArg::Breast if !sides[k].trim().is_empty() => sides[k].trim().to_string(),
                LevelArg::Breast => f.display().to_string(),
                LevelArg::Exam => "exam".to_string(),
            };
            groups.entry(key).or_default().push(k);
        }
        if matches!(a.level, LevelArg::Image) {
            (
                files.iter().map(|f| f.display().to_string()).collect(),
                mean,
            )
        } else {
            groups
                .into_iter()
                .map(|(key, members)| {
                    let rows: Vec<&[f32]> = members.iter().map(|&k| mean[k].as_slice()).collect();
                    (key, reduce.apply(&rows))
                })
                .unzip()
        }
    };
    let predicted = |p: &[f32]| -> usize {
        p.iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, _)| i)
            .unwrap_or(0)
    };
    let text = match a.format {
        Format::Json => {
            let rows: Vec<_> = labels
                .iter()
                .zip(&mean)
                .map(|(f, p)| {
                    let probs: serde_json::Map<String, serde_json::Value> = names
                        .iter()
                        .zip(p)
                        .map(|(n, v)| (n.to_string(), json!(v)))
                        .collect();
                    json!({
                        "image": f,
                        "scenario": cfg.scenario.as_str(),
                        "predicted": names[predicted(p)],
                        "probabilities": probs,
                    })
                })
                .collect();
            serde_json::to_string_pretty(&rows)? + "\n"
        }
        Format::Csv => {
            let mut w = csv::Writer::from_writer(Vec::new());
            let mut header = vec!["image".to_string(), "predicted".to_string()];
            header.extend(names.iter().map(|n| format!("p_{n}")));
            w.write_record(&header)?;
            for (f, p) in labels.iter().zip(&mean) {
                let mut rec = vec![f.clone(), names[predicted(p)].to_string()];
                rec.extend(p.iter().map(|v| format!("{v:.6}")));
                w.write_record(&rec)?;
            }
            String::from_utf8(w.into_inner()?)?
        }
    };
    match &a.output {
        Some(o) => store::write_atomic(o, text.as_bytes())
            .with_context(|| format!("writing {}", o.display()))?,
        None => print!("{text}"),
    }
    Ok(())
}

/// The inputs' probabilities read against the other breast's (`--contralateral`): the
/// inputs are one exam.
fn against_other_breast(
    files: &[PathBuf],
    sides: &[String],
    views: &[String],
    probs: Vec<Vec<f32>>,
    alpha: f32,
) -> Vec<Vec<f32>> {
    let name = |k: usize| files[k].display().to_string();
    let records: Vec<data::Record> = (0..files.len())
        .map(|k| data::Record {
            image: name(k),
            patient_id: "exam".into(),
            laterality: sides[k].clone(),
            view: views[k].clone(),
            label: data::Label::Negative,
            extra: Vec::new(),
            line: 0,
        })
        .collect();
    let pairs = train::contralateral::partners(&records);
    let rows: Vec<train::run::Prediction> = probs
        .into_iter()
        .enumerate()
        .map(|(k, p)| train::run::Prediction {
            image: name(k),
            patient_id: "exam".into(),
            label: String::new(),
            class: 0,
            part: String::new(),
            probs: p,
        })
        .collect();
    let known: std::collections::HashMap<String, Vec<f32>> = rows
        .iter()
        .map(|r| (r.image.clone(), r.probs.clone()))
        .collect();
    let index: std::collections::HashMap<String, usize> =
        (0..files.len()).map(|k| (name(k), k)).collect();
    let partners_of = |img: &str| -> Vec<String> {
        index
            .get(img)
            .map(|&k| pairs[k].iter().map(|&j| name(j)).collect())
            .unwrap_or_default()
    };
    let (out, alone) = train::contralateral::adjust(&rows, &known, &partners_of, alpha);
    if alone > 0 {
        eprintln!(
            "warning: {alone} of {} inputs have no other-breast image among the inputs \
             (side and view from the headers): read against the mean of all",
            rows.len()
        );
    }
    out.into_iter().map(|r| r.probs).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn mirror_reverses_each_row() {
        assert_eq!(
            train::infer::mirror(&[1, 2, 3, 4, 5, 6, 7, 8, 9], 3),
            [3, 2, 1, 6, 5, 4, 9, 8, 7]
        );
    }
}
