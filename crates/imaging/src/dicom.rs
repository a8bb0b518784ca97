//! DICOM reading (in progress).
use crate::{Decoded, ImageError, ImageInfo};

/// True when the bytes look like a DICOM data set without the Part 10 preamble.
pub fn looks_like_raw_dataset(_bytes: &[u8]) -> bool {
    false
}

/// Decodes a DICOM file.
pub fn decode(_bytes: &[u8]) -> Result<Decoded, ImageError> {
    Err(ImageError::Unsupported("DICOM decoding not built yet".into()))
}

/// Header facts of a DICOM file.
pub fn info(_bytes: &[u8]) -> Result<ImageInfo, ImageError> {
    Err(ImageError::Unsupported("DICOM decoding not built yet".into()))
}
