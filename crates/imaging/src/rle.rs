//! DICOM RLE Lossless (PS3.5 Annex G) decoding. Written here rather than taken from
//! the codec registry because that one panics on malformed segment tables; this one
//! checks every offset and run against the bytes present and the frame size.

use crate::ImageError;

fn bad(m: impl Into<String>) -> ImageError {
    ImageError::Invalid(format!("DICOM RLE: {}", m.into()))
}

/// Decodes one RLE frame into native little-endian samples (`bytes_per_sample` 1
/// or 2, samples interleaved by pixel).
pub(crate) fn decode_frame(
    frame: &[u8],
    rows: usize,
    cols: usize,
    samples: usize,
    bytes_per_sample: usize,
) -> Result<Vec<u8>, ImageError> {
    let need = samples * bytes_per_sample;
    let mut planes = decode_planes(frame, rows, cols, samples, bytes_per_sample)?;
    // The two common layouts (8- and 16-bit grayscale) avoid a byte-strided scatter:
    // the 16-bit one joins its two planes in one pass that vectorizes.
    match need {
        1 => Ok(planes.swap_remove(0)),
        2 => {
            let mut out = vec![0u8; 2 * rows * cols];
            for ((o, &h), &l) in out.chunks_exact_mut(2).zip(&planes[0]).zip(&planes[1]) {
                o[0] = l;
                o[1] = h;
            }
            Ok(out)
        }
        _ => {
            let mut out = vec![0u8; need * rows * cols];
            for (s, plane) in planes.iter().enumerate() {
                let sample = s / bytes_per_sample;
                let byte = bytes_per_sample - 1 - s % bytes_per_sample;
                let offset = sample * bytes_per_sample + byte;
                for (i, &v) in plane.iter().enumerate() {
                    out[i * need + offset] = v;
                }
            }
            Ok(out)
        }
    }
}

/// The first `need` segments of one RLE frame, each checked against the frame's bytes.
fn segments(frame: &[u8], need: usize) -> Result<Vec<&[u8]>, ImageError> {
    if frame.len() < 64 {
        return Err(ImageError::Truncated(
            "DICOM RLE header is shorter than 64 bytes".into(),
        ));
    }
    let word = |i: usize| {
        u32::from_le_bytes([
            frame[4 * i],
            frame[4 * i + 1],
            frame[4 * i + 2],
            frame[4 * i + 3],
        ]) as usize
    };
    let count = word(0);
    if count == 0 || count > 15 {
        return Err(bad(format!("{count} segments (1 to 15 allowed)")));
    }
    if count < need {
        return Err(bad(format!("{count} segments, the image needs {need}")));
    }
    let starts: Vec<usize> = (1..=count).map(word).collect();
    (0..need)
        .map(|s| {
            let start = starts[s];
            let end = if s + 1 < count {
                starts[s + 1]
            } else {
                frame.len()
            };
            if start < 64 || start > end || end > frame.len() {
                return Err(bad(format!(
                    "segment {s} offsets {start}..{end} are outside the frame"
                )));
            }
            Ok(&frame[start..end])
        })
        .collect()
}

fn truncated(s: usize, m: String) -> ImageError {
    ImageError::Truncated(format!("DICOM RLE segment {s}: {m}"))
}

/// Decodes the byte planes of one RLE frame, in segment order: for each sample,
/// its most significant byte first (PS3.5 G.2). Each plane holds `rows * cols` bytes.
pub(crate) fn decode_planes(
    frame: &[u8],
    rows: usize,
    cols: usize,
    samples: usize,
    bytes_per_sample: usize,
) -> Result<Vec<Vec<u8>>, ImageError> {
    segments(frame, samples * bytes_per_sample)?
        .into_iter()
        .enumerate()
        .map(|(s, seg)| {
            let mut plane = vec![0u8; rows * cols];
            unpack_bits(seg, &mut plane).map_err(|m| truncated(s, m))?;
            Ok(plane)
        })
        .collect()
}

/// Decodes a 16-bit single-sample RLE frame straight into native samples: the
/// high-byte segment is unpacked into the samples, then the low-byte one is OR-ed in.
/// No byte planes in between: for a mammogram that is tens of megabytes less memory
/// to fault in and one pass fewer (the time went to page faults, not to unpacking).
pub(crate) fn decode_gray16(
    frame: &[u8],
    rows: usize,
    cols: usize,
) -> Result<Vec<u16>, ImageError> {
    let segs = segments(frame, 2)?;
    let mut out = vec![0u16; rows * cols];
    unpack_into(
        segs[0],
        &mut out,
        |d, lit| {
            for (d, &b) in d.iter_mut().zip(lit) {
                *d = u16::from(b) << 8;
            }
        },
        |d, v| d.fill(u16::from(v) << 8),
    )
    .map_err(|m| truncated(0, m))?;
    unpack_into(
        segs[1],
        &mut out,
        |d, lit| {
            for (d, &b) in d.iter_mut().zip(lit) {
                *d |= u16::from(b);
            }
        },
        |d, v| {
            for d in d {
                *d |= u16::from(v);
            }
        },
    )
    .map_err(|m| truncated(1, m))?;
    Ok(out)
}

/// PackBits into bytes (see [`unpack_into`]).
fn unpack_bits(src: &[u8], out: &mut [u8]) -> Result<(), String> {
    unpack_into(src, out, |d, lit| d.copy_from_slice(lit), |d, v| d.fill(v))
}

/// PackBits: a header byte h in 0..=127 copies h+1 literal bytes, 129..=255 repeats
/// the next byte 257-h times, 128 is a no-op. Fills `out` exactly; extra input (the
/// padding of an even-length segment) is ignored. `literal` and `repeat` write one
/// run into its stretch of `out`, so one decoder serves bytes and byte planes of wider
/// samples alike.
fn unpack_into<T>(
    src: &[u8],
    out: &mut [T],
    literal: impl Fn(&mut [T], &[u8]),
    repeat: impl Fn(&mut [T], u8),
) -> Result<(), String> {
    let (mut i, mut o) = (0usize, 0usize);
    while o < out.len() {
        let Some(&h) = src.get(i) else {
            return Err(format!("ends after {o} of {} bytes", out.len()));
        };
        i += 1;
        match h {
            0..=127 => {
                let len = (h as usize + 1).min(out.len() - o);
                let lit = src
                    .get(i..i + len)
                    .ok_or_else(|| format!("literal run past the end at byte {i}"))?;
                literal(&mut out[o..o + len], lit);
                i += h as usize + 1;
                o += len;
            }
            128 => {}
            _ => {
                let len = (257 - h as usize).min(out.len() - o);
                let &v = src
                    .get(i)
                    .ok_or_else(|| format!("repeat run past the end at byte {i}"))?;
                repeat(&mut out[o..o + len], v);
                i += 1;
                o += len;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packbits_runs() {
        let mut out = [0u8; 7];
        // literal 2 bytes, repeat 0x09 four times, no-op, literal 1.
        unpack_bits(&[1, 5, 6, 253, 9, 128, 0, 7], &mut out).unwrap();
        assert_eq!(out, [5, 6, 9, 9, 9, 9, 7]);
        assert!(unpack_bits(&[3, 1], &mut out).is_err());
    }

    #[test]
    fn sixteen_bit_frame() {
        // 2 pixels, 16-bit: MSB segment [0x12, 0x00], LSB segment [0x34, 0xFF].
        let mut f = vec![0u8; 64];
        f[0] = 2;
        f[4] = 64;
        f[8] = 68;
        f.extend_from_slice(&[1, 0x12, 0x00, 0]);
        f.extend_from_slice(&[1, 0x34, 0xFF, 0]);
        let out = decode_frame(&f, 1, 2, 1, 2).unwrap();
        assert_eq!(out, vec![0x34, 0x12, 0xFF, 0x00]);
        assert_eq!(decode_gray16(&f, 1, 2).unwrap(), vec![0x1234, 0x00FF]);
        // Offsets past the end are refused, not indexed.
        f[8] = 200;
        assert!(decode_frame(&f, 1, 2, 1, 2).is_err());
        assert!(decode_gray16(&f, 1, 2).is_err());
    }
}
