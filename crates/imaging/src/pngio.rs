//! PNG reading (grayscale 8/16-bit; palette, gray+alpha and RGB are reduced to gray)
//! and atomic PNG writing.
use crate::{check_dimensions, voi, Decoded, Format, Gray16, Gray8, ImageError, ImageInfo, Pixels};
use std::io::Cursor;
use std::path::Path;

fn png_err(e: png::DecodingError) -> ImageError {
    match e {
        png::DecodingError::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            ImageError::Truncated("PNG data ends early".into())
        }
        png::DecodingError::IoError(e) => ImageError::Invalid(format!("PNG: {e}")),
        png::DecodingError::LimitsExceeded => {
            ImageError::Invalid("PNG: image exceeds the memory limit".into())
        }
        other => ImageError::Invalid(format!("PNG: {other}")),
    }
}

fn limits() -> png::Limits {
    // Enough for the largest accepted image at 16 bits, RGBA.
    png::Limits {
        bytes: crate::MAX_PIXELS * 8,
    }
}

/// Header facts of a PNG file.
pub fn info(bytes: &[u8]) -> Result<ImageInfo, ImageError> {
    let decoder = png::Decoder::new_with_limits(Cursor::new(bytes), limits());
    let reader = decoder.read_info().map_err(png_err)?;
    let i = reader.info();
    Ok(ImageInfo {
        format: Some(Format::Png),
        rows: i.height as usize,
        columns: i.width as usize,
        bits_stored: i.bit_depth as u16,
        photometric: Some("MONOCHROME2".into()),
        ..Default::default()
    })
}

/// Decodes a PNG file.
pub fn decode(bytes: &[u8]) -> Result<Decoded, ImageError> {
    let Pixels { full, info } = decode_pixels(bytes)?;
    let display = if full.max_value > 255 {
        voi::min_max_to_8bit(&full)
    } else {
        Gray8 {
            width: full.width,
            height: full.height,
            data: full.data.iter().map(|&v| v as u8).collect(),
        }
    };
    Ok(Decoded {
        full,
        display,
        info,
    })
}

/// Decodes a PNG file to its full-depth pixels only.
pub fn decode_pixels(bytes: &[u8]) -> Result<Pixels, ImageError> {
    match crate::pngfast::decode_gray(bytes) {
        Some(f) => Ok(pixels(f.width, f.height, f.wide, f.data)),
        None => decode_pixels_png_crate(bytes),
    }
}

/// The full-depth pixels and header facts of a decoded PNG.
fn pixels(width: usize, height: usize, wide: bool, data: Vec<u16>) -> Pixels {
    let max_value = if wide { u16::MAX } else { 255 };
    let full = Gray16 {
        width,
        height,
        max_value,
        data,
    };
    let info = ImageInfo {
        format: Some(Format::Png),
        rows: height,
        columns: width,
        bits_stored: if wide { 16 } else { 8 },
        photometric: Some("MONOCHROME2".into()),
        ..Default::default()
    };
    Pixels { full, info }
}

/// [`decode_pixels`] by the png crate: every PNG layout (the fast path handles the
/// common grayscale ones and leaves the rest, and every damaged file, to this).
pub(crate) fn decode_pixels_png_crate(bytes: &[u8]) -> Result<Pixels, ImageError> {
    let mut decoder = png::Decoder::new_with_limits(Cursor::new(bytes), limits());
    decoder.set_transformations(png::Transformations::EXPAND);
    let mut reader = decoder.read_info().map_err(png_err)?;
    let (width, height) = {
        let i = reader.info();
        (i.width as usize, i.height as usize)
    };
    check_dimensions(width, height)?;
    let size = reader
        .output_buffer_size()
        .ok_or_else(|| ImageError::Invalid("PNG: image too large".into()))?;
    let mut buf = vec![0u8; size];
    let frame = reader.next_frame(&mut buf).map_err(png_err)?;
    let (color, depth) = reader.output_color_type();
    let channels = color.samples();
    let wide = depth == png::BitDepth::Sixteen;
    let n = width * height;
    let line = frame.line_size;
    let mut data = Vec::with_capacity(n);
    for y in 0..height {
        let row = &buf[y * line..];
        // Typed fast paths for the gray layouts mammograms use; the general path
        // below handles gray+alpha and colour.
        match (color, wide) {
            (png::ColorType::Grayscale, false) => {
                data.extend(row[..width].iter().map(|&v| v as u16));
                continue;
            }
            (png::ColorType::Grayscale, true) => {
                data.extend(
                    row[..2 * width]
                        .chunks_exact(2)
                        .map(|c| u16::from_be_bytes([c[0], c[1]])),
                );
                continue;
            }
            _ => {}
        }
        for x in 0..width {
            let sample = |c: usize| -> u32 {
                let k = x * channels + c;
                if wide {
                    u16::from_be_bytes([row[2 * k], row[2 * k + 1]]) as u32
                } else {
                    row[k] as u32
                }
            };
            let v = match color {
                png::ColorType::GrayscaleAlpha => sample(0),
                _ => {
                    // ITU-R BT.601 luma, rounded: colour PNGs of mammograms are gray
                    // stored as RGB, where this returns the gray value exactly.
                    (299 * sample(0) + 587 * sample(1) + 114 * sample(2) + 500) / 1000
                }
            };
            data.push(v as u16);
        }
    }
    Ok(pixels(width, height, wide, data))
}

fn encode(
    w: impl std::io::Write,
    width: usize,
    height: usize,
    depth: png::BitDepth,
    bytes: &[u8],
) -> Result<(), std::io::Error> {
    let mut enc = png::Encoder::new(w, width as u32, height as u32);
    enc.set_color(png::ColorType::Grayscale);
    enc.set_depth(depth);
    enc.set_compression(png::Compression::Fast);
    let mut writer = enc.write_header().map_err(std::io::Error::other)?;
    writer
        .write_image_data(bytes)
        .map_err(std::io::Error::other)?;
    writer.finish().map_err(std::io::Error::other)
}

/// Writes an 8-bit grayscale PNG atomically (temp file + rename).
pub fn write_png8(path: &Path, img: &Gray8) -> Result<(), ImageError> {
    store::write_atomic_with(path, |w| {
        encode(w, img.width, img.height, png::BitDepth::Eight, &img.data)
            .map_err(|e| ImageError::io(path, e))
    })
}

/// Writes a 16-bit grayscale PNG atomically (temp file + rename).
pub fn write_png16(path: &Path, img: &Gray16) -> Result<(), ImageError> {
    let bytes: Vec<u8> = img.data.iter().flat_map(|v| v.to_be_bytes()).collect();
    store::write_atomic_with(path, |w| {
        encode(w, img.width, img.height, png::BitDepth::Sixteen, &bytes)
            .map_err(|e| ImageError::io(path, e))
    })
}

/// Writes an 8-bit RGB PNG (`data`: width × height × 3) atomically.
pub fn write_png_rgb(
    path: &Path,
    width: usize,
    height: usize,
    data: &[u8],
) -> Result<(), ImageError> {
    if data.len() != width * height * 3 {
        return Err(ImageError::Invalid(format!(
            "RGB buffer holds {} bytes, not {width}x{height}x3",
            data.len()
        )));
    }
    store::write_atomic_with(path, |w| {
        let mut enc = png::Encoder::new(w, width as u32, height as u32);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc
            .write_header()
            .map_err(|e| ImageError::io(path, std::io::Error::other(e)))?;
        writer
            .write_image_data(data)
            .map_err(|e| ImageError::io(path, std::io::Error::other(e)))?;
        writer
            .finish()
            .map_err(|e| ImageError::io(path, std::io::Error::other(e)))
    })
}

/// Encodes an 8-bit grayscale image as PNG bytes in memory.
pub fn encode_png8(img: &Gray8) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail for a well-formed Gray8.
    encode(
        &mut out,
        img.width,
        img.height,
        png::BitDepth::Eight,
        &img.data,
    )
    .expect("in-memory PNG encoding");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_16_bit() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.png");
        let img = Gray16 {
            width: 3,
            height: 2,
            max_value: u16::MAX,
            data: vec![0, 1, 256, 4095, 60000, 65535],
        };
        write_png16(&p, &img).unwrap();
        let d = crate::read_image(&p).unwrap();
        assert_eq!(d.full, img);
        assert_eq!(d.info.bits_stored, 16);
        // min-max: 0 -> 0, 65535 -> 255, 4095 -> round(4095*255/65535) = 16
        assert_eq!(d.display.data[0], 0);
        assert_eq!(d.display.data[3], 16);
        assert_eq!(d.display.data[5], 255);
    }

    #[test]
    fn truncated_png_is_an_error() {
        let img = Gray8 {
            width: 20,
            height: 20,
            data: (0..400).map(|i| (i % 251) as u8).collect(),
        };
        let bytes = encode_png8(&img);
        for cut in [10, 40, bytes.len() / 2, bytes.len() - 13] {
            assert!(crate::decode_bytes(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        assert_eq!(crate::decode_bytes(&bytes).unwrap().display, img);
    }
}
