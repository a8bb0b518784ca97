//! `mammorecall preprocess`: decode and preprocess every image of a manifest once, into
//! the memory-mapped cache that training reads.

use anyhow::{Context, Result};
use data::cache::Cache;
use imaging::preprocess::{Aspect, Flip, PreprocessConfig};
use std::path::{Path, PathBuf};

/// How `--flip` decides which images to mirror.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum FlipBy {
    /// From the pixels: the brighter half holds the chest wall (any dataset).
    Detect,
    /// From the manifest's laterality (L: chest wall left, R: right, as in DICOM,
    /// CBIS-DDSM and mini-MIAS files), detecting when it is empty.
    Laterality,
}

/// Build the preprocessed cache of a manifest (the study's preprocessing: histogram
/// equalization on the full bit depth, bicubic down-sampling to SIZE², pad to square).
///
/// The cache is one file per (manifest, settings), rebuilt when an image or a setting
/// changes; running again with the same inputs reuses it.
#[derive(clap::Args)]
pub struct Args {
    /// Manifest CSV (labels.csv schema).
    pub manifest: PathBuf,
    /// Side of the square output images.
    #[arg(long, default_value_t = 227, value_parser = clap::value_parser!(u32).range(1..=8192))]
    pub size: u32,
    /// Crop to the breast region first (Otsu threshold + largest connected component;
    /// removes film labels and markers).
    #[arg(long)]
    pub crop: bool,
    /// Mirror images so the chest wall is on the left.
    #[arg(long)]
    pub flip: bool,
    /// How --flip decides.
    #[arg(long, value_enum, default_value_t = FlipBy::Detect, requires = "flip")]
    pub flip_by: FlipBy,
    /// Linear min–max scaling instead of histogram equalization.
    #[arg(long)]
    pub no_equalize: bool,
    /// Stretch to a square instead of padding (distorts the breast).
    #[arg(long)]
    pub stretch: bool,
    /// Antialiased bicubic (kernel widened by the shrink factor, as MATLAB imresize)
    /// instead of OpenCV's INTER_CUBIC.
    #[arg(long)]
    pub antialias: bool,
    /// Folder of cache files [default: $XDG_CACHE_HOME/mammorecall, else
    /// ~/.cache/mammorecall].
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Also write the first N preprocessed images as PNGs into DIR, to look at.
    #[arg(long, value_name = "DIR")]
    pub preview: Option<PathBuf>,
    /// How many images --preview writes.
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub preview_count: usize,
}

impl Args {
    /// The preprocessing settings these flags select.
    pub fn config(&self) -> PreprocessConfig {
        PreprocessConfig {
            size: self.size as usize,
            equalize: !self.no_equalize,
            aspect: if self.stretch {
                Aspect::Stretch
            } else {
                Aspect::Pad
            },
            crop: self.crop,
            flip: match (self.flip, self.flip_by) {
                (false, _) => Flip::Off,
                (true, FlipBy::Detect) => Flip::Detect,
                (true, FlipBy::Laterality) => Flip::Laterality,
            },
            antialias: self.antialias,
        }
    }
}

/// Runs `mammorecall preprocess`.
pub fn run(args: Args) -> Result<()> {
    let manifest = data::Manifest::read(&args.manifest)
        .with_context(|| format!("reading manifest {}", args.manifest.display()))?;
    let cfg = args.config();
    let dir = args
        .cache_dir
        .clone()
        .unwrap_or_else(data::cache::default_dir);
    let cache = Cache::open_or_build(&manifest, &cfg, &dir, true)?;
    println!("cache: {}", cache.path().display());
    println!(
        "images: {} ({s}x{s}, 8-bit; equalize {}, aspect {}, crop {}, flip {}, antialias {})",
        cache.len(),
        on_off(cfg.equalize),
        if cfg.aspect == Aspect::Stretch {
            "stretch"
        } else {
            "pad"
        },
        on_off(cfg.crop),
        match cfg.flip {
            Flip::Off => "off",
            Flip::Detect => "detect",
            Flip::Laterality => "laterality",
        },
        on_off(cfg.antialias),
        s = cache.side(),
    );
    match cache.build_time() {
        Some(t) => {
            let per = t.as_secs_f64() * 1000.0 / cache.len().max(1) as f64;
            let threads = data::cache::build_threads();
            println!(
                "built in {:.2} s: {per:.1} ms/image on {threads} threads ({:.1} ms/image/thread)",
                t.as_secs_f64(),
                per * threads as f64
            );
        }
        None => println!("up to date: reused the existing cache"),
    }
    if let Some(pdir) = &args.preview {
        let n = write_previews(&cache, pdir, args.preview_count)?;
        println!("preview: {n} PNGs in {}", pdir.display());
    }
    Ok(())
}

fn on_off(b: bool) -> &'static str {
    if b {
        "on"
    } else {
        "off"
    }
}

/// Writes the first `n` cached images as PNGs named after their source files.
fn write_previews(cache: &Cache, dir: &Path, n: usize) -> Result<usize> {
    let count = n.min(cache.len());
    for i in 0..count {
        let name = cache.image_name(i);
        let stem = Path::new(name)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| format!("image{i}"));
        let out = dir.join(format!("{i:04}_{stem}.png"));
        let img = imaging::Gray8 {
            width: cache.side(),
            height: cache.side(),
            data: cache.image(i).to_vec(),
        };
        imaging::pngio::write_png8(&out, &img)
            .with_context(|| format!("writing preview {}", out.display()))?;
    }
    Ok(count)
}
