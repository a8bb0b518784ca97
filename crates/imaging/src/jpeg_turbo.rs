//! JPEG decoding through libjpeg-turbo, for what the pure-Rust decoder used by
//! dicom-rs refuses: 12-bit DCT JPEG (JPEG Extended, DICOM 1.2.840.10008.1.2.4.51),
//! common in older digital mammograms.

use crate::ImageError;
use std::ffi::CStr;
use turbojpeg_sys as tj;

/// A decompressor handle, destroyed on every path out.
struct Handle(tj::tjhandle);

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: the handle came from tj3Init and is destroyed exactly once.
        unsafe { tj::tj3Destroy(self.0) }
    }
}

impl Handle {
    fn error(&self) -> String {
        // SAFETY: tj3GetErrorStr returns a NUL-terminated string owned by the handle.
        unsafe { CStr::from_ptr(tj::tj3GetErrorStr(self.0)) }
            .to_string_lossy()
            .into_owned()
    }
}

/// Decodes one grayscale JPEG frame into native little-endian samples of
/// `bits_allocated` (8 or 16) bits, after checking that its size is `rows`×`cols`.
pub(crate) fn decode_gray(
    jpeg: &[u8],
    rows: usize,
    cols: usize,
    bits_allocated: u16,
) -> Result<Vec<u8>, ImageError> {
    let err = |m: String| ImageError::Invalid(format!("JPEG (libjpeg-turbo): {m}"));
    // SAFETY: plain constructor; null is checked.
    let h = unsafe { tj::tj3Init(tj::TJINIT_TJINIT_DECOMPRESS as i32) };
    if h.is_null() {
        return Err(err("cannot create a decompressor".into()));
    }
    let h = Handle(h);
    // SAFETY: pointer and length describe the live slice `jpeg`.
    if unsafe { tj::tj3DecompressHeader(h.0, jpeg.as_ptr(), jpeg.len() as _) } != 0 {
        return Err(err(h.error()));
    }
    // SAFETY: reading parameters of a valid handle.
    let get = |p: tj::TJPARAM| unsafe { tj::tj3Get(h.0, p as i32) };
    let (w, ht) = (
        get(tj::TJPARAM_TJPARAM_JPEGWIDTH),
        get(tj::TJPARAM_TJPARAM_JPEGHEIGHT),
    );
    let precision = get(tj::TJPARAM_TJPARAM_PRECISION);
    if w as usize != cols || ht as usize != rows {
        return Err(err(format!(
            "frame is {w}x{ht} but the header says {cols}x{rows}"
        )));
    }
    let n = rows * cols;
    let gray = tj::TJPF_TJPF_GRAY;
    let mut out = Vec::with_capacity(n * (bits_allocated as usize / 8));
    // SAFETY: each output buffer holds exactly rows*cols samples of the requested
    // type, the size libjpeg-turbo writes for TJPF_GRAY with pitch 0.
    let rc = unsafe {
        match precision {
            8 => {
                let mut buf = vec![0u8; n];
                let rc = tj::tj3Decompress8(
                    h.0,
                    jpeg.as_ptr(),
                    jpeg.len() as _,
                    buf.as_mut_ptr(),
                    0,
                    gray,
                );
                if bits_allocated == 8 {
                    out.extend_from_slice(&buf);
                } else {
                    out.extend(buf.iter().flat_map(|&v| (v as u16).to_le_bytes()));
                }
                rc
            }
            9..=12 => {
                let mut buf = vec![0i16; n];
                let rc = tj::tj3Decompress12(
                    h.0,
                    jpeg.as_ptr(),
                    jpeg.len() as _,
                    buf.as_mut_ptr(),
                    0,
                    gray,
                );
                out.extend(buf.iter().flat_map(|&v| (v as u16).to_le_bytes()));
                rc
            }
            13..=16 => {
                let mut buf = vec![0u16; n];
                let rc = tj::tj3Decompress16(
                    h.0,
                    jpeg.as_ptr(),
                    jpeg.len() as _,
                    buf.as_mut_ptr(),
                    0,
                    gray,
                );
                out.extend(buf.iter().flat_map(|&v| v.to_le_bytes()));
                rc
            }
            p => return Err(err(format!("unsupported sample precision {p}"))),
        }
    };
    if rc != 0 {
        // Warnings (e.g. stray bytes before a marker) still yield the whole image
        // and other decoders accept them; a frame cut short does not.
        // SAFETY: reading the error state of a valid handle.
        let code = unsafe { tj::tj3GetErrorCode(h.0) };
        let msg = h.error();
        if code != tj::TJERR_TJERR_WARNING as i32 || msg.contains("Premature end") {
            return Err(err(msg));
        }
    }
    if bits_allocated == 8 && precision > 8 {
        return Err(err(format!(
            "{precision}-bit JPEG in an 8-bit Bits Allocated image"
        )));
    }
    Ok(out)
}

/// Decodes one JPEG frame (baseline, lossless; gray or RGB) with the pure-Rust
/// decoder, checked against the header's size before copying, falling back to
/// libjpeg-turbo for the precisions the pure-Rust decoder refuses (12-bit DCT).
/// Returns native little-endian samples, interleaved by pixel.
pub(crate) fn decode(
    jpeg: &[u8],
    rows: usize,
    cols: usize,
    samples: usize,
    bits_allocated: u16,
) -> Result<Vec<u8>, ImageError> {
    let mut d = jpeg_decoder::Decoder::new(std::io::Cursor::new(jpeg));
    d.set_max_decoding_buffer_size(rows * cols * samples * 2 + 1024);
    if let Err(e) = d.read_info() {
        let m = e.to_string();
        if samples == 1 && m.contains("SamplePrecision") {
            return decode_gray(jpeg, rows, cols, bits_allocated);
        }
        return Err(ImageError::Invalid(format!("JPEG: {m}")));
    }
    let info = d
        .info()
        .ok_or_else(|| ImageError::Invalid("JPEG: no frame header".into()))?;
    let (want, bytes) = match (info.pixel_format, samples) {
        (jpeg_decoder::PixelFormat::L8, 1) => (8, 1),
        (jpeg_decoder::PixelFormat::L16, 1) => (16, 2),
        (jpeg_decoder::PixelFormat::RGB24, 3) => (8, 3),
        (f, s) => {
            return Err(ImageError::Unsupported(format!(
                "JPEG pixel format {f:?} for {s} samples per pixel"
            )))
        }
    };
    if info.width as usize != cols || info.height as usize != rows {
        return Err(ImageError::Invalid(format!(
            "JPEG frame is {}x{} but the header says {cols}x{rows}",
            info.width, info.height
        )));
    }
    let px = d
        .decode()
        .map_err(|e| ImageError::Invalid(format!("JPEG: {e}")))?;
    if px.len() != rows * cols * bytes {
        return Err(ImageError::Truncated(format!(
            "JPEG decoded {} bytes, {cols}x{rows} needs {}",
            px.len(),
            rows * cols * bytes
        )));
    }
    // L16 comes in native (little-endian) order, which is DICOM's; 8-bit samples in
    // a 16-bit container are widened.
    Ok(match (want, bits_allocated) {
        (8, 16) if samples == 1 => px.iter().flat_map(|&v| (v as u16).to_le_bytes()).collect(),
        (16, 8) => {
            return Err(ImageError::Invalid(
                "JPEG: 16-bit frame in an 8-bit Bits Allocated image".into(),
            ))
        }
        _ => px,
    })
}
