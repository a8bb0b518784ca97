//! `mammorecall synth`: write a synthetic screening dataset (the embedded default).

use anyhow::Context;
use indicatif::ProgressBar;
use std::path::PathBuf;
use std::time::Instant;
use synth::{Site, SynthConfig};

const AFTER_HELP: &str = "\
Writes DIR/images/<patient>_<L|R>_<CC|MLO>.png (16-bit grayscale, brighter = denser),
DIR/labels.csv (image, patient_id, laterality, view, label, site, finding, density,
x, y_from_top, radius) and DIR/synth.json (the settings). Every patient has four
images; an abnormal patient's finding is in both views of one breast, which carry the
patient's label, and the other breast's images are labelled negative.

Sites: digital (a) = full-field digital look (power contrast curve, dark flat
background, little blur, 14 bits); film (b) = digitized film look (S-shaped film curve,
fogged background, more blur and grain, 12 bits, burned-in film label).

The same settings always give byte-identical files.";

/// Arguments of `mammorecall synth`.
#[derive(clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// Output folder (created if missing).
    #[arg(short, long, value_name = "DIR")]
    pub output: PathBuf,
    /// Number of patients, four images each [default: 60].
    #[arg(long, value_name = "N")]
    pub patients: Option<usize>,
    /// Acquisition preset: digital (alias a) or film (alias b) [default: digital].
    #[arg(long, value_name = "SITE", value_parser = parse_site)]
    pub site: Option<Site>,
    /// Random seed [default: 1].
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,
    /// 0 = large, high-contrast findings .. 1 = small, faint ones [default: 0].
    #[arg(long, value_name = "D")]
    pub difficulty: Option<f64>,
    /// Long (vertical) image side in pixels; the width is 0.8 of it [default: 512].
    #[arg(long, value_name = "PIXELS")]
    pub size: Option<usize>,
    /// Weights of negative,benign,malignant patients [default: 0.4,0.3,0.3].
    #[arg(long, value_name = "NEG,BEN,MAL", value_parser = synth::parse_class_mix)]
    pub class_mix: Option<[f64; 3]>,
    /// Multiply every finding's radius (0.25..4) [default: 1].
    #[arg(long, value_name = "F")]
    pub lesion_scale: Option<f64>,
    /// No progress bar.
    #[arg(short, long)]
    pub quiet: bool,
}

fn parse_site(s: &str) -> Result<Site, String> {
    s.parse()
}

/// Runs `mammorecall synth`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let d = SynthConfig::default();
    let cfg = SynthConfig {
        patients: args.patients.unwrap_or(d.patients),
        site: args.site.unwrap_or(d.site),
        seed: args.seed.unwrap_or(d.seed),
        difficulty: args.difficulty.unwrap_or(d.difficulty),
        size: args.size.unwrap_or(d.size),
        class_mix: args.class_mix.unwrap_or(d.class_mix),
        lesion_scale: args.lesion_scale.unwrap_or(d.lesion_scale),
    };
    cfg.validate()?;
    let total = (cfg.patients * 4) as u64;
    let bar = if args.quiet {
        ProgressBar::hidden()
    } else {
        super::progress_bar(total, "synth")
    };
    let start = Instant::now();
    let summary = synth::generate(&cfg, &args.output, &|n| bar.inc(n))
        .with_context(|| format!("synth into {}", args.output.display()))?;
    bar.finish_and_clear();
    let [pn, pb, pm] = summary.patients;
    let [in_, ib, im] = summary.image_labels;
    println!(
        "wrote {} images of {} patient(s) ({pn} negative, {pb} benign, {pm} malignant; images {in_}/{ib}/{im}) \
         site {} seed {} difficulty {} size {}x{} to {} in {:.1} s",
        summary.images,
        cfg.patients,
        cfg.site,
        cfg.seed,
        cfg.difficulty,
        cfg.width(),
        cfg.size,
        summary.manifest.display(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(out: PathBuf) -> Args {
        Args {
            output: out,
            patients: Some(2),
            site: Some(Site::Film),
            seed: Some(4),
            difficulty: None,
            size: Some(96),
            class_mix: Some([0.0, 0.0, 1.0]),
            lesion_scale: None,
            quiet: true,
        }
    }

    #[test]
    fn writes_the_dataset_with_defaults_filled_in() {
        let dir = tempfile::tempdir().unwrap();
        run(args(dir.path().join("ds"))).unwrap();
        let m = data::Manifest::read(&dir.path().join("ds/labels.csv")).unwrap();
        assert_eq!(m.records.len(), 8);
        assert_eq!(
            m.records
                .iter()
                .filter(|r| r.label == data::Label::Malignant)
                .count(),
            4
        );
        let cfg: SynthConfig =
            serde_json::from_slice(&std::fs::read(dir.path().join("ds/synth.json")).unwrap())
                .unwrap();
        assert_eq!(cfg.difficulty, SynthConfig::default().difficulty);
        assert_eq!((cfg.site, cfg.seed, cfg.size), (Site::Film, 4, 96));
    }

    #[test]
    fn bad_settings_fail_with_one_line() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = args(dir.path().join("ds"));
        a.difficulty = Some(1.5);
        let e = format!("{:#}", run(a).unwrap_err());
        assert!(e.contains("difficulty") && !e.contains('\n'), "{e}");
        assert!(!dir.path().join("ds").exists());
    }
}
