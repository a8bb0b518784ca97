//! Netpbm graymap reading: P5 (binary) and P2 (ASCII), maxval up to 65535.
use crate::{check_dimensions, Decoded, Format, Gray16, Gray8, ImageError, ImageInfo, Pixels};

struct Header {
    ascii: bool,
    width: usize,
    height: usize,
    maxval: usize,
    /// Offset of the first pixel byte (P5) or of the first pixel token (P2).
    data_start: usize,
}

fn parse_header(bytes: &[u8]) -> Result<Header, ImageError> {
    let ascii = match bytes.get(..2) {
        Some(b"P5") => false,
        Some(b"P2") => true,
        _ => return Err(ImageError::Unrecognized),
    };
    let mut pos = 2;
    let mut fields = [0usize; 3];
    for f in fields.iter_mut() {
        *f = next_number(bytes, &mut pos)?
            .ok_or_else(|| ImageError::Truncated("PGM header ends early".into()))?;
    }
    // Exactly one whitespace byte separates maxval from binary data.
    match bytes.get(pos) {
        Some(c) if c.is_ascii_whitespace() => pos += 1,
        Some(_) => {
            return Err(ImageError::Invalid(
                "PGM: no whitespace after maxval".into(),
            ))
        }
        None if ascii => {}
        None => return Err(ImageError::Truncated("PGM has no pixel data".into())),
    }
    let [width, height, maxval] = fields;
    if maxval == 0 || maxval > 65535 {
        return Err(ImageError::Invalid(format!(
            "PGM maxval {maxval} is outside 1..65535"
        )));
    }
    Ok(Header {
        ascii,
        width,
        height,
        maxval,
        data_start: pos,
    })
}

/// Reads the next decimal number, skipping whitespace and `#` comments.
fn next_number(bytes: &[u8], pos: &mut usize) -> Result<Option<usize>, ImageError> {
    loop {
        match bytes.get(*pos) {
            None => return Ok(None),
            Some(b'#') => {
                while let Some(&c) = bytes.get(*pos) {
                    *pos += 1;
                    if c == b'\n' || c == b'\r' {
                        break;
                    }
                }
            }
            Some(c) if c.is_ascii_whitespace() => *pos += 1,
            Some(c) if c.is_ascii_digit() => break,
            Some(&c) => {
                return Err(ImageError::Invalid(format!(
                    "PGM: unexpected byte 0x{c:02x} in header or ASCII data"
                )))
            }
        }
    }
    let mut v: usize = 0;
    while let Some(&c) = bytes.get(*pos) {
        if !c.is_ascii_digit() {
            break;
        }
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add((c - b'0') as usize))
            .filter(|&v| v <= u32::MAX as usize)
            .ok_or_else(|| ImageError::Invalid("PGM: number too large".into()))?;
        *pos += 1;
    }
    Ok(Some(v))
}

/// Header facts of a PGM file.
pub fn info(bytes: &[u8]) -> Result<ImageInfo, ImageError> {
    let h = parse_header(bytes)?;
    Ok(make_info(&h))
}

fn make_info(h: &Header) -> ImageInfo {
    ImageInfo {
        format: Some(Format::Pgm),
        rows: h.height,
        columns: h.width,
        bits_stored: (usize::BITS - h.maxval.leading_zeros()) as u16,
        photometric: Some("MONOCHROME2".into()),
        ..Default::default()
    }
}

/// Decodes a PGM file.
pub fn decode(bytes: &[u8]) -> Result<Decoded, ImageError> {
    let Pixels { full, info } = decode_pixels(bytes)?;
    let maxval = full.max_value as u32;
    let display = Gray8 {
        width: full.width,
        height: full.height,
        data: full
            .data
            .iter()
            .map(|&v| ((v as u32 * 255 * 2 + maxval) / (2 * maxval)) as u8)
            .collect(),
    };
    Ok(Decoded {
        info,
        full,
        display,
    })
}

/// Decodes a PGM file to its full-depth pixels only.
pub fn decode_pixels(bytes: &[u8]) -> Result<Pixels, ImageError> {
    let h = parse_header(bytes)?;
    check_dimensions(h.width, h.height)?;
    let n = h.width * h.height;
    let data: Vec<u16> = if h.ascii {
        let mut pos = h.data_start;
        // ASCII needs at least two bytes a sample: check before allocating.
        if bytes.len().saturating_sub(pos) < n.saturating_mul(2).saturating_sub(1) {
            return Err(ImageError::Truncated(format!(
                "PGM holds fewer than the {n} samples its header announces"
            )));
        }
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let v = next_number(bytes, &mut pos)?.ok_or_else(|| {
                ImageError::Truncated(format!("PGM holds fewer than {n} samples"))
            })?;
            out.push(v as u16);
        }
        out
    } else {
        let wide = h.maxval > 255;
        let need = if wide { 2 * n } else { n };
        let body = &bytes[h.data_start.min(bytes.len())..];
        if body.len() < need {
            return Err(ImageError::Truncated(format!(
                "PGM pixel data is {} bytes, header needs {need}",
                body.len()
            )));
        }
        if wide {
            body[..need]
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect()
        } else {
            body[..n].iter().map(|&v| v as u16).collect()
        }
    };
    let maxval = h.maxval as u16;
    if let Some(&v) = data.iter().find(|&&v| v > maxval) {
        return Err(ImageError::Invalid(format!(
            "PGM sample {v} exceeds maxval {maxval}"
        )));
    }
    let full = Gray16 {
        width: h.width,
        height: h.height,
        max_value: maxval,
        data,
    };
    Ok(Pixels {
        info: make_info(&h),
        full,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p5_8bit() {
        let mut b = b"P5\n# comment\n3 2\n255\n".to_vec();
        b.extend_from_slice(&[0, 1, 2, 253, 254, 255]);
        let d = crate::decode_bytes(&b).unwrap();
        assert_eq!((d.full.width, d.full.height), (3, 2));
        assert_eq!(d.display.data, vec![0, 1, 2, 253, 254, 255]);
    }

    #[test]
    fn p5_16bit_big_endian() {
        let mut b = b"P5 2 1 65535\n".to_vec();
        b.extend_from_slice(&[0x12, 0x34, 0xff, 0xff]);
        let d = crate::decode_bytes(&b).unwrap();
        assert_eq!(d.full.data, vec![0x1234, 0xffff]);
        assert_eq!(d.full.max_value, 65535);
        assert_eq!(d.display.data[1], 255);
    }

    #[test]
    fn p2_ascii_with_maxval() {
        let d = crate::decode_bytes(b"P2\n2 2\n# c\n1023\n0 511\n1023 1\n").unwrap();
        assert_eq!(d.full.data, vec![0, 511, 1023, 1]);
        assert_eq!(d.info.bits_stored, 10);
        assert_eq!(d.display.data, vec![0, 127, 255, 0]);
    }

    #[test]
    fn refuses_truncated_and_huge() {
        assert!(matches!(
            crate::decode_bytes(b"P5 4 4 255\n\x00\x01"),
            Err(ImageError::Truncated(_))
        ));
        assert!(matches!(
            crate::decode_bytes(b"P5 60000 60000 255\n\x00"),
            Err(ImageError::TooLarge { .. })
        ));
        assert!(crate::decode_bytes(b"P5 2 1 0\n\x00\x00").is_err());
        assert!(crate::decode_bytes(b"P2 2 1 10\n3 11").is_err());
    }
}
