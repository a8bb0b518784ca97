//! Reading mammograms and turning them into network inputs.
//!
//! - [`read_image`] / [`decode_bytes`]: DICOM (every transfer syntax a registry codec
//!   decodes), PNG (8/16-bit grayscale) and PGM (P2/P5, 8/16-bit) into a [`Decoded`]
//!   image: the full-bit-depth pixels ([`Gray16`]) and the 8-bit presentation image
//!   ([`Gray8`]) made by the DICOM presentation pipeline ([`voi`]).
//! - [`read_info`]: header facts (size, bit depth, laterality, view, window, …)
//!   without decoding pixels.
//! - [`resize`] and [`preprocess`]: area shrinking, bicubic resampling, histogram
//!   equalization, breast crop — the study's preprocessing.

pub mod dicom;
mod error;
mod image;
mod j2k;
mod jpeg_turbo;
mod jpegls;
pub mod pgm;
mod pngfast;
pub mod pngio;
pub mod preprocess;
pub mod resize;
mod rle;
pub mod voi;

pub use error::ImageError;
pub use image::{Decoded, Format, Gray16, Gray8, ImageInfo, Pixels};

use std::path::Path;

/// Largest width or height accepted from any file (DICOM's own limit is 65535).
pub const MAX_SIDE: usize = 65_535;
/// Largest pixel count accepted (2^28: 512 MiB at 16 bits). A header claiming more is
/// refused before anything is allocated.
pub const MAX_PIXELS: usize = 1 << 28;

/// Reads and decodes an image file, choosing the reader from its content.
pub fn read_image(path: &Path) -> Result<Decoded, ImageError> {
    let bytes = std::fs::read(path).map_err(|e| ImageError::io(path, e))?;
    decode_bytes(&bytes).map_err(|e| e.with_path(path))
}

/// Decodes an image held in memory; the format is recognised from the leading bytes.
pub fn decode_bytes(bytes: &[u8]) -> Result<Decoded, ImageError> {
    match Format::sniff(bytes) {
        Some(Format::Dicom) => dicom::decode(bytes),
        Some(Format::Png) => pngio::decode(bytes),
        Some(Format::Pgm) => pgm::decode(bytes),
        None => Err(ImageError::Unrecognized),
    }
}

/// Reads and decodes an image file to its full-depth pixels only, skipping the 8-bit
/// presentation image (for the DICOM files of a mammography system, a third of the
/// decoding time). What the preprocessing cache and `predict` read.
pub fn read_pixels(path: &Path) -> Result<Pixels, ImageError> {
    let bytes = std::fs::read(path).map_err(|e| ImageError::io(path, e))?;
    decode_pixels(&bytes).map_err(|e| e.with_path(path))
}

/// [`read_pixels`] on an image held in memory.
pub fn decode_pixels(bytes: &[u8]) -> Result<Pixels, ImageError> {
    match Format::sniff(bytes) {
        Some(Format::Dicom) => dicom::decode_pixels(bytes),
        Some(Format::Png) => pngio::decode_pixels(bytes),
        Some(Format::Pgm) => pgm::decode_pixels(bytes),
        None => Err(ImageError::Unrecognized),
    }
}

/// Reads the header facts of an image file without decoding its pixels.
pub fn read_info(path: &Path) -> Result<ImageInfo, ImageError> {
    let bytes = std::fs::read(path).map_err(|e| ImageError::io(path, e))?;
    info_bytes(&bytes).map_err(|e| e.with_path(path))
}

/// Header facts of an image held in memory.
pub fn info_bytes(bytes: &[u8]) -> Result<ImageInfo, ImageError> {
    match Format::sniff(bytes) {
        Some(Format::Dicom) => dicom::info(bytes),
        Some(Format::Png) => pngio::info(bytes),
        Some(Format::Pgm) => pgm::info(bytes),
        None => Err(ImageError::Unrecognized),
    }
}

/// Refuses sizes no mammogram has before any buffer is allocated for them.
pub(crate) fn check_dimensions(width: usize, height: usize) -> Result<(), ImageError> {
    if width == 0 || height == 0 {
        return Err(ImageError::Invalid(format!(
            "empty image ({width}x{height})"
        )));
    }
    if width > MAX_SIDE || height > MAX_SIDE || width.saturating_mul(height) > MAX_PIXELS {
        return Err(ImageError::TooLarge { width, height });
    }
    Ok(())
}
