//! `mammorecall explain`: Grad-CAM heatmaps of a trained run over DICOM/PNG/PGM images,
//! overlaid on each image at its original resolution, plus the raw map.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use burn::tensor::Device;
use serde_json::json;

#[derive(clap::Args)]
pub struct Args {
    /// Run folder (`mammorecall train -o`); a cross-validated run uses its first fold.
    #[arg(long, value_name = "RUN_DIR")]
    pub model: PathBuf,
    /// Images (DICOM, PNG, PGM).
    #[arg(required_unless_present = "manifest")]
    pub inputs: Vec<PathBuf>,
    /// A manifest with lesion coordinates (`x`, `y_from_top`, `radius` in pixels, as
    /// mini-MIAS and the synthetic data have): explains its malignant images and reports how
    /// often the heat peak of a correctly classified one falls within twice the radius.
    #[arg(long, value_name = "CSV")]
    pub manifest: Option<PathBuf>,
    /// Output folder: IMAGE-gradcam.png (overlay), IMAGE-gradcam.json (raw map), explain.json.
    #[arg(short, long, value_name = "OUT_DIR")]
    pub output: PathBuf,
    /// Class to explain (a class name of the run's scenario) [default: the predicted one].
    #[arg(long)]
    pub class: Option<String>,
    /// Opacity of the heatmap at its peak (0..1).
    #[arg(long, default_value_t = 0.5)]
    pub alpha: f32,
    /// Device: cpu or cuda.
    #[arg(long, default_value = "cpu")]
    pub device: String,
}

/// A lesion's centre column, centre row and radius, in the image's pixels.
type Lesion = (f64, f64, f64);

/// The "jet" colour map at t in [0, 1].
fn jet(t: f32) -> [f32; 3] {
    let t = t.clamp(0.0, 1.0);
    let f = |c: f32| (1.5 - (4.0 * t - c).abs()).clamp(0.0, 1.0);
    [f(3.0), f(2.0), f(1.0)]
}

pub fn run(a: Args) -> Result<()> {
    if !(0.0..=1.0).contains(&a.alpha) {
        bail!("--alpha must be in 0..1, got {}", a.alpha);
    }
    let compute = train::device::open(&a.device)?;
    let device: Device = compute.device.clone();
    let (cfg, models) = train::run::load_run(&a.model, &device)
        .with_context(|| format!("loading the model in {}", a.model.display()))?;
    let Some(model) = models.first() else {
        bail!("{}: no model in the run", a.model.display());
    };
    let names = cfg.scenario.class_names();
    let wanted =
        match &a.class {
            Some(c) => Some(names.iter().position(|n| n == c).with_context(|| {
                format!("--class {c}: the run's classes are {}", names.join(", "))
            })?),
            None => None,
        };
    std::fs::create_dir_all(&a.output)
        .with_context(|| format!("creating {}", a.output.display()))?;
    let side = cfg.preprocess.size;
    let mut jobs: Vec<(PathBuf, Option<Lesion>)> =
        a.inputs.iter().map(|p| (p.clone(), None)).collect();
    if let Some(mp) = &a.manifest {
        let m = data::Manifest::read(mp)?;
        let num = |r: &data::Record, c: &str| -> Option<f64> {
            m.extra(r, c).and_then(|v| v.trim().parse::<f64>().ok())
        };
        for r in &m.records {
            if r.label != data::Label::Malignant {
                continue;
            }
            let lesion = match (num(r, "x"), num(r, "y_from_top"), num(r, "radius")) {
                (Some(x), Some(y), Some(rad)) if rad > 0.0 => Some((x, y, rad)),
                _ => None,
            };
            jobs.push((m.image_path(r), lesion));
        }
    }
    if jobs.is_empty() {
        bail!("no images to explain");
    }
    let malignant = names.iter().position(|&n| n == "malignant");
    let (mut correct, mut inside) = (0usize, 0usize);
    let mut summary = Vec::new();
    for (f, lesion) in &jobs {
        let f = f.as_path();
        let decoded = imaging::read_image(f).map_err(|e| anyhow::anyhow!("{e}"))?;
        let pre = imaging::preprocess::preprocess_decoded(&decoded, &cfg.preprocess)
            .map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))?;
        // The class to explain: the asked one, else the predicted one (a forward pass).
        let class = match wanted {
            Some(c) => c,
            None => {
                let source = train::input::MemoryImages {
                    side,
                    images: vec![pre.image.data.clone()],
                };
                let p = train::infer::probabilities(
                    &model.network,
                    &model.input,
                    &source,
                    &[0],
                    1,
                    &device,
                );
                p.first()
                    .and_then(|p| {
                        p.iter()
                            .enumerate()
                            .max_by(|x, y| x.1.total_cmp(y.1))
                            .map(|(i, _)| i)
                    })
                    .unwrap_or(0)
            }
        };
        let cam = train::explain::grad_cam(
            &model.network,
            &model.input,
            &pre.image.data,
            side,
            class,
            &device,
        )?;
        // Carry the map from the network's square input back to the original pixels.
        let up = cam.upsample(side);
        let (r, p) = (pre.region, pre.placed);
        let disp = &decoded.display;
        let (w, h) = (disp.width, disp.height);
        let mut rgb = vec![0u8; w * h * 3];
        let mut peak = (0.0f32, 0usize, 0usize);
        for y in 0..h {
            for x in 0..w {
                let g = f32::from(disp.data[y * w + x]) / 255.0;
                let inside = x >= r.x && x < r.x + r.width && y >= r.y && y < r.y + r.height;
                let heat = if inside {
                    let mut u = (x - r.x) as f32 + 0.5;
                    u *= p.width as f32 / r.width as f32;
                    if pre.flipped {
                        u = p.width as f32 - u;
                    }
                    let v = ((y - r.y) as f32 + 0.5) * p.height as f32 / r.height as f32;
                    let cx = (p.x + (u.max(0.0) as usize).min(p.width - 1)).min(side - 1);
                    let cy = (p.y + (v.max(0.0) as usize).min(p.height - 1)).min(side - 1);
                    up[cy * side + cx]
                } else {
                    0.0
                };
                if heat > peak.0 {
                    peak = (heat, x, y);
                }
                let c = jet(heat);
                let k = a.alpha * heat;
                for (i, &ci) in c.iter().enumerate() {
                    rgb[(y * w + x) * 3 + i] = ((g * (1.0 - k) + ci * k) * 255.0).round() as u8;
                }
            }
        }
        let stem = f
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "image".into());
        let png = a.output.join(format!("{stem}-gradcam.png"));
        imaging::pngio::write_png_rgb(&png, w, h, &rgb).map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut in_lesion = None;
        if let (Some((lx, ly, lr)), Some(mal)) = (lesion, malignant) {
            if class == mal && wanted.is_none_or(|c| c == mal) {
                let d2 = (peak.1 as f64 - lx).powi(2) + (peak.2 as f64 - ly).powi(2);
                let hit = d2 <= (2.0 * lr).powi(2);
                correct += 1;
                inside += usize::from(hit);
                in_lesion = Some(hit);
            }
        }
        let record = json!({
            "peak_within_2_radii": in_lesion,
            "image": f.display().to_string(),
            "class": names[class],
            "probabilities": names.iter().zip(&cam.probabilities)
                .map(|(n, p)| (n.to_string(), json!(p))).collect::<serde_json::Map<_, _>>(),
            "peak": {"x": peak.1, "y": peak.2},
            "map": {"width": cam.width, "height": cam.height, "values": cam.values},
            "overlay": png.file_name().map(|n| n.to_string_lossy().into_owned()),
        });
        let raw = a.output.join(format!("{stem}-gradcam.json"));
        store::write_atomic(&raw, serde_json::to_string_pretty(&record)?.as_bytes())?;
        println!(
            "{}: {} (p = {:.3}), heat peak at x {} y {} -> {}",
            f.display(),
            names[class],
            cam.probabilities.get(class).copied().unwrap_or(f32::NAN),
            peak.1,
            peak.2,
            png.display()
        );
        summary.push(record);
    }
    let path = a.output.join("explain.json");
    store::write_atomic(&path, serde_json::to_string_pretty(&summary)?.as_bytes())?;
    if a.manifest.is_some() {
        let fraction = (correct > 0).then(|| inside as f64 / correct as f64);
        println!(
            "heat peak within 2 radii of the lesion: {inside} of {correct} correctly classified malignant images{}",
            fraction.map_or(String::new(), |f| format!(" ({:.1}%)", 100.0 * f))
        );
        let s = json!({"correct_malignant": correct, "peak_within_2_radii": inside, "fraction": fraction});
        store::write_atomic(
            &a.output.join("localisation.json"),
            serde_json::to_string_pretty(&s)?.as_bytes(),
        )?;
    }
    Ok(())
}
