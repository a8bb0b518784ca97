//! JPEG 2000 and HTJ2K decoding through the pure-Rust OpenJPEG port, with the decoded
//! component checked against the DICOM header before it is copied (the registry's
//! adapter indexes past its buffer when they disagree).

use crate::ImageError;

/// Decodes one grayscale JPEG 2000 frame into native little-endian samples of
/// `bits_allocated` bits, after checking its size and component count.
pub(crate) fn decode_gray(
    codestream: &[u8],
    rows: usize,
    cols: usize,
    bits_allocated: u16,
) -> Result<Vec<u8>, ImageError> {
    let img = jpeg2k::Image::from_bytes(codestream)
        .map_err(|e| ImageError::Invalid(format!("JPEG 2000: {e}")))?;
    let comps = img.components();
    let Some(c) = comps.first() else {
        return Err(ImageError::Invalid("JPEG 2000: no image component".into()));
    };
    if c.width() as usize != cols || c.height() as usize != rows {
        return Err(ImageError::Invalid(format!(
            "JPEG 2000: component is {}x{} but the header says {cols}x{rows}",
            c.width(),
            c.height()
        )));
    }
    let data = c.data();
    if data.len() < rows * cols {
        return Err(ImageError::Truncated(format!(
            "JPEG 2000: {} samples decoded, {} needed",
            data.len(),
            rows * cols
        )));
    }
    let data = &data[..rows * cols];
    Ok(if bits_allocated == 8 {
        data.iter().map(|&v| v as u8).collect()
    } else {
        data.iter()
            .flat_map(|&v| (v as u16).to_le_bytes())
            .collect()
    })
}
