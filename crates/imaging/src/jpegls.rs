//! JPEG-LS decoding through CharLS, with the stream checked against the DICOM header
//! and terminated before CharLS sees it.
//!
//! CharLS 2.4 reads past the end of a scan that is not followed by a marker: its bit
//! reader then counts a negative number of valid bits down through the whole 32-bit range
//! (seconds per frame, found by fuzzing a 3.6 kB file). A scan followed by any marker
//! stops with an error at once, so a frame that does not end in EOI gets one appended.

use crate::ImageError;

/// JPEG-LS lossless and near-lossless.
pub(crate) const TRANSFER_SYNTAXES: [&str; 2] =
    ["1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81"];

const EOI: [u8; 2] = [0xFF, 0xD9];

/// Decodes one JPEG-LS frame into native little-endian samples (interleaved when
/// `samples` is 3), after checking that its frame header matches the DICOM header.
pub(crate) fn decode(
    stream: &[u8],
    rows: usize,
    cols: usize,
    samples: usize,
    bits_allocated: u16,
) -> Result<Vec<u8>, ImageError> {
    let bad = |m: String| ImageError::Invalid(format!("JPEG-LS: {m}"));
    let sof = read_sof55(stream)?;
    if (sof.rows, sof.cols, sof.components) != (rows, cols, samples) {
        return Err(bad(format!(
            "frame header says {}x{} with {} component(s), the DICOM header {cols}x{rows} with {samples}",
            sof.cols, sof.rows, sof.components
        )));
    }
    let max_bits = if bits_allocated == 8 { 8 } else { 16 };
    if !(2..=max_bits).contains(&sof.precision) {
        return Err(bad(format!(
            "{}-bit samples do not fit {bits_allocated} bits allocated",
            sof.precision
        )));
    }
    let terminated = terminated(stream);
    let data = charls::CharLS::default()
        .decode(&terminated)
        .map_err(|e| bad(e.to_string()))?;
    let need = rows * cols * samples * (bits_allocated as usize / 8);
    if data.len() < need {
        return Err(ImageError::Truncated(format!(
            "JPEG-LS: {} bytes decoded, {need} needed",
            data.len()
        )));
    }
    Ok(data)
}

/// The stream with an EOI marker after it unless it already ends in one (DICOM pads odd
/// lengths with one zero byte, which is looked past).
fn terminated(stream: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let end = stream.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    if end >= 2 && stream[end - 2..end] == EOI {
        std::borrow::Cow::Borrowed(stream)
    } else {
        let mut v = Vec::with_capacity(stream.len() + 2);
        v.extend_from_slice(stream);
        v.extend_from_slice(&EOI);
        std::borrow::Cow::Owned(v)
    }
}

/// What the JPEG-LS frame header (SOF55) declares.
struct Sof {
    precision: u16,
    rows: usize,
    cols: usize,
    components: usize,
}

/// Walks the marker segments from SOI to the first SOF55 (the frame header must come
/// before the scan), so the image size is known before CharLS allocates for it.
fn read_sof55(s: &[u8]) -> Result<Sof, ImageError> {
    let bad = |m: &str| ImageError::Invalid(format!("JPEG-LS: {m}"));
    if s.len() < 4 || s[..2] != [0xFF, 0xD8] {
        return Err(bad("the frame does not start with an SOI marker"));
    }
    let mut at = 2;
    loop {
        // Fill bytes (0xFF) may precede a marker.
        while s.get(at) == Some(&0xFF) && s.get(at + 1) == Some(&0xFF) {
            at += 1;
        }
        let (Some(&0xFF), Some(&marker)) = (s.get(at), s.get(at + 1)) else {
            return Err(bad("no frame header (SOF55) before the data ends"));
        };
        let len = match s.get(at + 2..at + 4) {
            Some(b) => u16::from_be_bytes([b[0], b[1]]) as usize,
            None => return Err(bad("a marker segment is cut off")),
        };
        if len < 2 || at + 2 + len > s.len() {
            return Err(bad("a marker segment runs past the end of the data"));
        }
        let body = &s[at + 4..at + 2 + len];
        match marker {
            0xF7 => {
                if body.len() < 6 {
                    return Err(bad("the frame header (SOF55) is too short"));
                }
                return Ok(Sof {
                    precision: body[0] as u16,
                    rows: u16::from_be_bytes([body[1], body[2]]) as usize,
                    cols: u16::from_be_bytes([body[3], body[4]]) as usize,
                    components: body[5] as usize,
                });
            }
            0xDA | 0xD9 => return Err(bad("a scan or EOI comes before the frame header (SOF55)")),
            _ => at += 2 + len,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A lossless 8-bit grayscale JPEG-LS stream encoded by CharLS itself.
    fn encoded(pixels: &[u8], w: u32, h: u32) -> Vec<u8> {
        let info = charls::FrameInfo {
            width: w,
            height: h,
            bits_per_sample: 8,
            component_count: 1,
        };
        charls::CharLS::default()
            .encode(info, 0, pixels)
            .expect("CharLS encodes")
    }

    #[test]
    fn decodes_and_checks_the_header() {
        let px: Vec<u8> = (0..12).map(|i| (i * 20) as u8).collect();
        let enc = encoded(&px, 4, 3);
        assert_eq!(decode(&enc, 3, 4, 1, 8).unwrap(), px);
        let e = decode(&enc, 4, 4, 1, 8).unwrap_err().to_string();
        assert!(e.contains("frame header says 4x3"), "{e}");
    }

    #[test]
    fn a_stream_without_eoi_still_decodes_and_a_cut_one_fails_fast() {
        let px: Vec<u8> = (0..64 * 48).map(|i| ((i * 7919) % 251) as u8).collect();
        let enc = encoded(&px, 64, 48);
        assert_eq!(enc[enc.len() - 2..], EOI);
        let no_eoi = &enc[..enc.len() - 2];
        assert_eq!(decode(no_eoi, 48, 64, 1, 8).unwrap(), px);
        // Every cut of the scan must end in an error quickly, not in CharLS's long count.
        let t = std::time::Instant::now();
        for cut in (30..enc.len() - 2).step_by(17) {
            assert!(decode(&enc[..cut], 48, 64, 1, 8).is_err(), "cut at {cut}");
        }
        assert!(
            t.elapsed().as_secs() < 20,
            "cut streams took {:?}",
            t.elapsed()
        );
    }

    #[test]
    fn refuses_streams_without_a_frame_header() {
        for s in [
            &b""[..],
            b"\xFF\xD8",
            b"\xFF\xD8\xFF\xDA\x00\x02",
            b"\x00\x01\x02\x03",
        ] {
            assert!(decode(s, 1, 1, 1, 8).is_err());
        }
    }
}
