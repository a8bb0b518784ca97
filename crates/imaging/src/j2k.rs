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
    check_siz(codestream, rows, cols)?;
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

/// Reads the SIZ marker segment and refuses a codestream whose image size differs
/// from the header's or whose tiling is absurd, before the decoder allocates for it
/// (OpenJPEG sizes its buffers from SIZ alone).
fn check_siz(stream: &[u8], rows: usize, cols: usize) -> Result<(), ImageError> {
    let bad = |m: String| ImageError::Invalid(format!("JPEG 2000: {m}"));
    // Raw codestream (SOC, SIZ), or a JP2 file whose contiguous codestream box holds one.
    let at = stream
        .windows(4)
        .take(4096)
        .position(|w| w == [0xFF, 0x4F, 0xFF, 0x51])
        .ok_or_else(|| bad("no SOC/SIZ marker at the start of the codestream".into()))?;
    let siz = &stream[at + 4..];
    let be32 = |o: usize| -> Result<u64, ImageError> {
        siz.get(o..o + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as u64)
            .ok_or_else(|| ImageError::Truncated("JPEG 2000 SIZ segment ends early".into()))
    };
    // Lsiz(2) Rsiz(2) Xsiz Ysiz XOsiz YOsiz XTsiz YTsiz XTOsiz YTOsiz (4 each).
    let (x, y, xo, yo) = (be32(4)?, be32(8)?, be32(12)?, be32(16)?);
    let (xt, yt, xto, yto) = (be32(20)?, be32(24)?, be32(28)?, be32(32)?);
    if x <= xo || y <= yo || (x - xo) as usize != cols || (y - yo) as usize != rows {
        return Err(bad(format!(
            "codestream image is {}x{} but the header says {cols}x{rows}",
            x.saturating_sub(xo),
            y.saturating_sub(yo)
        )));
    }
    if xt == 0 || yt == 0 || xto > xo || yto > yo {
        return Err(bad("invalid tile grid".into()));
    }
    let tiles = (x - xto).div_ceil(xt) * (y - yto).div_ceil(yt);
    if tiles > 1 << 16 {
        return Err(bad(format!("{tiles} tiles")));
    }
    Ok(())
}
