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
    let gray = tj::TJPF_TJPF_GRAY as i32;
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
