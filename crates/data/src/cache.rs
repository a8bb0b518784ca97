//! The preprocessed cache: every image of a manifest decoded and preprocessed once,
//! stored in one memory-mapped file so that training never decodes an image twice.
//!
//! One file per (manifest, settings), named by a key that hashes both: the cache
//! format version, the preprocessing version
//! ([`imaging::preprocess::PREPROCESS_VERSION`]), the serialized [`PreprocessConfig`], and for every record in order
//! its image path as written, its resolved path, its laterality (used by the
//! laterality flip), and the image file's size and modification time. Change any of
//! them (edit a setting, touch or replace an image, reorder the manifest) and the key
//! changes, so the next [`Cache::open_or_build`] builds a new file. Labels and other
//! columns are not part of the key: they do not change the pixels.
//!
//! File layout (little-endian):
//! ```text
//! 0     8  magic "MRCACHE\0"
//! 8     4  format version (u32)
//! 12    4  side of the square images (u32)
//! 16    8  number of images (u64)
//! 24    8  offset of the metadata (u64) = 4096 + count * side²
//! 32   32  key (SHA-256)
//! 4096     count * side² bytes: the 8-bit images in manifest order, contiguous
//! meta     JSON: settings, image paths, per-image flip and crop region
//! ```
use crate::{DataError, Manifest};
use imaging::preprocess::{preprocess, PreprocessConfig, Rect, Side};
use indicatif::{ProgressBar, ProgressStyle};
use memmap2::Mmap;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, UNIX_EPOCH};

/// Version of the file layout; bump it when the layout changes so that old caches are
/// rebuilt (preprocessing changes bump `imaging::preprocess::PREPROCESS_VERSION`).
pub const CACHE_FORMAT_VERSION: u32 = 1;
const MAGIC: &[u8; 8] = b"MRCACHE\0";
const HEADER: usize = 64;
const DATA_OFFSET: usize = 4096;
/// Images preprocessed in parallel before they are written (bounds memory).
const CHUNK: usize = 256;

/// Per-image facts kept in the metadata.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    image: String,
    flipped: bool,
    region: Rect,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Meta {
    config: PreprocessConfig,
    entries: Vec<Entry>,
}

/// A memory-mapped preprocessed cache.
#[derive(Debug)]
pub struct Cache {
    path: PathBuf,
    mmap: Mmap,
    side: usize,
    len: usize,
    meta: Meta,
    index: HashMap<String, usize>,
    build_time: Option<Duration>,
}

impl Cache {
    /// Opens the cache of `manifest` under `cfg` in `cache_dir`, building it first when
    /// it does not exist or is stale or damaged. Images are preprocessed in parallel
    /// (rayon); with `progress` a bar is drawn on stderr when it is a terminal.
    pub fn open_or_build(
        manifest: &Manifest,
        cfg: &PreprocessConfig,
        cache_dir: &Path,
        progress: bool,
    ) -> Result<Cache, DataError> {
        let key = cache_key(manifest, cfg)?;
        let path = cache_dir.join(format!("preprocessed-{}.mrcache", &hex::encode(key)[..24]));
        if path.exists() {
            if let Ok(c) = Cache::open_with_key(&path, Some(&key)) {
                if c.len == manifest.records.len() {
                    return Ok(c);
                }
            }
        }
        let start = Instant::now();
        build(manifest, cfg, &key, &path, progress)?;
        let mut c = Cache::open_with_key(&path, Some(&key))?;
        c.build_time = Some(start.elapsed());
        Ok(c)
    }

    /// Opens an existing cache file, checking its layout.
    pub fn open(path: &Path) -> Result<Cache, DataError> {
        Cache::open_with_key(path, None)
    }

    fn open_with_key(path: &Path, key: Option<&[u8; 32]>) -> Result<Cache, DataError> {
        let bad = |m: String| DataError::File {
            path: path.to_path_buf(),
            message: m,
        };
        let file = File::open(path).map_err(|e| DataError::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        // SAFETY: cache files are only ever replaced by rename (store), never modified
        // in place, so the mapped bytes do not change under us.
        let mmap = unsafe { Mmap::map(&file) }.map_err(|e| DataError::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        if mmap.len() < DATA_OFFSET || &mmap[..8] != MAGIC {
            return Err(bad("not a mammorecall preprocessed cache".into()));
        }
        let u32_at = |o: usize| u32::from_le_bytes(mmap[o..o + 4].try_into().expect("4 bytes"));
        let u64_at = |o: usize| u64::from_le_bytes(mmap[o..o + 8].try_into().expect("8 bytes"));
        let version = u32_at(8);
        if version != CACHE_FORMAT_VERSION {
            return Err(bad(format!(
                "cache format {version}, this build reads {CACHE_FORMAT_VERSION}"
            )));
        }
        let side = u32_at(12) as usize;
        let len = u64_at(16) as usize;
        let meta_at = u64_at(24) as usize;
        if let Some(k) = key {
            if &mmap[32..64] != k {
                return Err(bad(
                    "cache key does not match the manifest and settings".into()
                ));
            }
        }
        let expected = side
            .checked_mul(side)
            .and_then(|s| s.checked_mul(len))
            .and_then(|s| s.checked_add(DATA_OFFSET));
        if expected != Some(meta_at) || meta_at > mmap.len() {
            return Err(bad("cache file is truncated or inconsistent".into()));
        }
        let meta: Meta = serde_json::from_slice(&mmap[meta_at..])
            .map_err(|e| bad(format!("cache metadata: {e}")))?;
        if meta.entries.len() != len || meta.config.size != side {
            return Err(bad("cache metadata does not match its header".into()));
        }
        let index = meta
            .entries
            .iter()
            .enumerate()
            .map(|(i, e)| (e.image.clone(), i))
            .collect();
        Ok(Cache {
            path: path.to_path_buf(),
            mmap,
            side,
            len,
            meta,
            index,
            build_time: None,
        })
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the cache holds no image.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Side of the square images.
    pub fn side(&self) -> usize {
        self.side
    }

    /// The `i`-th image (manifest order), `side * side` 8-bit samples, row-major.
    /// Panics when `i >= len()`, like slice indexing.
    pub fn image(&self, i: usize) -> &[u8] {
        assert!(i < self.len, "cache image {i} of {}", self.len);
        let n = self.side * self.side;
        &self.mmap[DATA_OFFSET + i * n..DATA_OFFSET + (i + 1) * n]
    }

    /// The index of an image by its path as written in the manifest.
    pub fn find(&self, image: &str) -> Option<usize> {
        self.index.get(image).copied()
    }

    /// The image path (as written in the manifest) of entry `i`.
    pub fn image_name(&self, i: usize) -> &str {
        &self.meta.entries[i].image
    }

    /// Whether entry `i` was mirrored by the flip option.
    pub fn flipped(&self, i: usize) -> bool {
        self.meta.entries[i].flipped
    }

    /// The region of the source image kept for entry `i` (the whole image without crop).
    pub fn region(&self, i: usize) -> Rect {
        self.meta.entries[i].region
    }

    /// The settings the cache was built with.
    pub fn config(&self) -> &PreprocessConfig {
        &self.meta.config
    }

    /// The cache file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How long building took, when this call built the cache (`None`: reused).
    pub fn build_time(&self) -> Option<Duration> {
        self.build_time
    }
}

/// The default folder of preprocessed caches: `$XDG_CACHE_HOME/mammorecall`, else
/// `~/.cache/mammorecall`, else `.mammorecall-cache` in the working folder.
pub fn default_dir() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(x).join("mammorecall");
    }
    match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        Some(h) => PathBuf::from(h).join(".cache/mammorecall"),
        None => PathBuf::from(".mammorecall-cache"),
    }
}

/// How many threads build a cache (rayon's pool: `RAYON_NUM_THREADS`, else the cores).
pub fn build_threads() -> usize {
    rayon::current_num_threads()
}

/// The key of a (manifest, settings) pair: see the module documentation.
pub fn cache_key(manifest: &Manifest, cfg: &PreprocessConfig) -> Result<[u8; 32], DataError> {
    let mut h = Sha256::new();
    h.update(b"mammorecall preprocessed cache\0");
    h.update(CACHE_FORMAT_VERSION.to_le_bytes());
    h.update(imaging::preprocess::PREPROCESS_VERSION.to_le_bytes());
    let settings = serde_json::to_vec(cfg).map_err(|e| DataError::Invalid(e.to_string()))?;
    h.update((settings.len() as u64).to_le_bytes());
    h.update(&settings);
    h.update((manifest.records.len() as u64).to_le_bytes());
    for r in &manifest.records {
        let path = manifest.image_path(r);
        let md = std::fs::metadata(&path).map_err(|e| DataError::Io {
            path: path.clone(),
            source: e,
        })?;
        let mtime = md
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        // Length-prefixed fields: no two different records hash alike.
        for field in [
            r.image.as_bytes(),
            path.to_string_lossy().as_bytes(),
            r.laterality.as_bytes(),
        ] {
            h.update((field.len() as u64).to_le_bytes());
            h.update(field);
        }
        h.update(md.len().to_le_bytes());
        h.update(mtime.to_le_bytes());
    }
    Ok(h.finalize().into())
}

/// Decodes and preprocesses every image and writes the cache file atomically.
/// Preprocesses one manifest image exactly as the cache does (laterality from the
/// manifest, else from the file's header).
pub fn preprocess_record(
    manifest: &Manifest,
    r: &crate::Record,
    cfg: &PreprocessConfig,
) -> Result<imaging::preprocess::Preprocessed, DataError> {
    let p = manifest.image_path(r);
    let d = imaging::read_pixels(&p)?;
    let side_hint =
        Side::parse(&r.laterality).or_else(|| d.info.laterality.as_deref().and_then(Side::parse));
    Ok(preprocess(&d.full, side_hint, cfg).map_err(|e| e.with_path(&p))?)
}

fn build(
    manifest: &Manifest,
    cfg: &PreprocessConfig,
    key: &[u8; 32],
    path: &Path,
    progress: bool,
) -> Result<(), DataError> {
    let n = manifest.records.len();
    let side = cfg.size;
    let bar = if progress {
        let b = ProgressBar::new(n as u64);
        if let Ok(style) = ProgressStyle::with_template(
            "preprocessing {bar:40} {pos}/{len} images [{elapsed_precise} < {eta_precise}]",
        ) {
            b.set_style(style);
        }
        b
    } else {
        ProgressBar::hidden()
    };
    let mut entries = Vec::with_capacity(n);
    store::write_atomic_with(path, |w| -> Result<(), DataError> {
        let io = |e| DataError::Io {
            path: path.to_path_buf(),
            source: e,
        };
        let mut header = [0u8; DATA_OFFSET];
        header[..8].copy_from_slice(MAGIC);
        header[8..12].copy_from_slice(&CACHE_FORMAT_VERSION.to_le_bytes());
        header[12..16].copy_from_slice(&(side as u32).to_le_bytes());
        header[16..24].copy_from_slice(&(n as u64).to_le_bytes());
        let meta_at = (DATA_OFFSET + n * side * side) as u64;
        header[24..32].copy_from_slice(&meta_at.to_le_bytes());
        header[32..HEADER].copy_from_slice(key);
        w.write_all(&header).map_err(io)?;
        for chunk in manifest.records.chunks(CHUNK) {
            let done: Vec<Result<(Vec<u8>, Entry), DataError>> = chunk
                .par_iter()
                .map(|r| {
                    let out = preprocess_record(manifest, r, cfg)?;
                    bar.inc(1);
                    Ok((
                        out.image.data,
                        Entry {
                            image: r.image.clone(),
                            flipped: out.flipped,
                            region: out.region,
                        },
                    ))
                })
                .collect();
            for item in done {
                let (pixels, entry) = item?;
                w.write_all(&pixels).map_err(io)?;
                entries.push(entry);
            }
        }
        let meta = Meta {
            config: cfg.clone(),
            entries: std::mem::take(&mut entries),
        };
        serde_json::to_writer(&mut *w, &meta).map_err(|e| DataError::File {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        Ok(())
    })?;
    bar.finish_and_clear();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Label, Record};
    use imaging::Gray16;

    fn write_image(path: &Path, seed: u16, width: usize, height: usize) {
        let data = (0..width * height)
            .map(|i| ((i as u32).wrapping_mul(2654435761) >> 20) as u16 ^ seed)
            .collect();
        imaging::pngio::write_png16(
            path,
            &Gray16 {
                width,
                height,
                max_value: u16::MAX,
                data,
            },
        )
        .unwrap();
    }

    fn manifest(dir: &Path, n: usize) -> Manifest {
        let records = (0..n)
            .map(|i| {
                let name = format!("img{i}.png");
                write_image(&dir.join(&name), i as u16, 40 + i, 60);
                Record {
                    image: name,
                    patient_id: format!("p{i}"),
                    laterality: if i % 2 == 0 { "L" } else { "R" }.into(),
                    view: "CC".into(),
                    label: Label::Negative,
                    extra: vec![],
                    line: 0,
                }
            })
            .collect();
        Manifest {
            root: dir.to_path_buf(),
            extra_columns: vec![],
            records,
        }
    }

    fn small() -> PreprocessConfig {
        PreprocessConfig {
            size: 16,
            ..Default::default()
        }
    }

    #[test]
    fn builds_then_reuses_and_matches_direct_preprocessing() {
        let dir = tempfile::tempdir().unwrap();
        let m = manifest(dir.path(), 5);
        let cdir = dir.path().join("cache");
        let c = Cache::open_or_build(&m, &small(), &cdir, false).unwrap();
        assert!(c.build_time().is_some());
        assert_eq!((c.len(), c.side()), (5, 16));
        for (i, r) in m.records.iter().enumerate() {
            let d = imaging::read_image(&m.image_path(r)).unwrap();
            let want = preprocess(&d.full, None, &small()).unwrap();
            assert_eq!(c.image(i), want.image.data.as_slice(), "image {i}");
            assert_eq!(c.find(&r.image), Some(i));
            assert_eq!(c.image_name(i), r.image);
        }
        assert_eq!(c.find("nope.png"), None);
        let again = Cache::open_or_build(&m, &small(), &cdir, false).unwrap();
        assert!(again.build_time().is_none(), "rebuilt an up-to-date cache");
        assert_eq!(again.path(), c.path());
        assert_eq!(again.image(3), c.image(3));
        assert_eq!(std::fs::read_dir(&cdir).unwrap().count(), 1);
    }

    #[test]
    fn touching_an_image_or_changing_a_setting_rebuilds() {
        let dir = tempfile::tempdir().unwrap();
        let m = manifest(dir.path(), 3);
        let cdir = dir.path().join("cache");
        let first = Cache::open_or_build(&m, &small(), &cdir, false).unwrap();
        // Touch: same content, new modification time.
        let f = File::options()
            .write(true)
            .open(dir.path().join("img1.png"))
            .unwrap();
        f.set_modified(std::time::SystemTime::now() + Duration::from_secs(5))
            .unwrap();
        let touched = Cache::open_or_build(&m, &small(), &cdir, false).unwrap();
        assert!(touched.build_time().is_some());
        assert_ne!(touched.path(), first.path());
        // A new size: a new cache with images of that size.
        let big = PreprocessConfig {
            size: 24,
            ..Default::default()
        };
        let resized = Cache::open_or_build(&m, &big, &cdir, false).unwrap();
        assert!(resized.build_time().is_some());
        assert_eq!(resized.image(0).len(), 24 * 24);
        // Replacing an image's content changes its pixels in the rebuilt cache.
        write_image(&dir.path().join("img2.png"), 999, 50, 50);
        let replaced = Cache::open_or_build(&m, &big, &cdir, false).unwrap();
        assert!(replaced.build_time().is_some());
        assert_ne!(replaced.image(2), resized.image(2));
        assert_eq!(replaced.image(1), resized.image(1));
    }

    #[test]
    fn damaged_cache_is_rebuilt_and_open_refuses_it() {
        let dir = tempfile::tempdir().unwrap();
        let m = manifest(dir.path(), 2);
        let cdir = dir.path().join("cache");
        let c = Cache::open_or_build(&m, &small(), &cdir, false).unwrap();
        let p = c.path().to_path_buf();
        drop(c);
        let bytes = std::fs::read(&p).unwrap();
        std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
        assert!(Cache::open(&p).is_err());
        let c = Cache::open_or_build(&m, &small(), &cdir, false).unwrap();
        assert!(c.build_time().is_some());
        assert!(Cache::open(c.path()).is_ok());
        std::fs::write(dir.path().join("junk.mrcache"), b"hello").unwrap();
        let e = Cache::open(&dir.path().join("junk.mrcache")).unwrap_err();
        assert!(e.to_string().contains("junk.mrcache"), "{e}");
    }

    #[test]
    fn missing_or_corrupt_image_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut m = manifest(dir.path(), 2);
        std::fs::write(dir.path().join("bad.png"), b"\x89PNG\r\n\x1a\ntruncated").unwrap();
        m.records[1].image = "bad.png".into();
        let e = Cache::open_or_build(&m, &small(), &dir.path().join("c"), false).unwrap_err();
        assert!(e.to_string().contains("bad.png"), "{e}");
        m.records[1].image = "gone.png".into();
        let e = Cache::open_or_build(&m, &small(), &dir.path().join("c"), false).unwrap_err();
        assert!(e.to_string().contains("gone.png"), "{e}");
        // No partial cache file is left behind.
        let left = std::fs::read_dir(dir.path().join("c"))
            .map(|d| d.count())
            .unwrap_or(0);
        assert_eq!(left, 0);
    }

    #[test]
    fn flip_flags_are_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let m = manifest(dir.path(), 4);
        let cfg = PreprocessConfig {
            size: 16,
            flip: imaging::preprocess::Flip::Laterality,
            ..Default::default()
        };
        let c = Cache::open_or_build(&m, &cfg, &dir.path().join("c"), false).unwrap();
        // Records alternate L, R: right breasts are mirrored.
        let flags: Vec<bool> = (0..4).map(|i| c.flipped(i)).collect();
        assert_eq!(flags, vec![false, true, false, true]);
        assert_eq!(c.config(), &cfg);
    }
}
