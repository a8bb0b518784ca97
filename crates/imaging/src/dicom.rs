//! DICOM reading: header facts, pixel decoding through dicom-rs codecs, and the
//! grayscale presentation pipeline of PS3.3 C.11 (see [`crate::voi`]).
//!
//! Before dicom-rs sees a byte, [`scan`] walks every element header and refuses a file
//! whose declared lengths run past its end, so a small corrupt file can never make the
//! parser allocate gigabytes; pixel buffers are checked against [`crate::MAX_PIXELS`]
//! and against the bytes actually present.

use crate::voi::{self, Voi, VoiFunction};
use crate::{check_dimensions, Decoded, Format, Gray16, Gray8, ImageError, ImageInfo, Pixels};
use crate::{j2k, jpeg_turbo, jpegls, rle};
use dicom_dictionary_std::tags;
use dicom_object::file::ReadPreamble;
use dicom_object::{DefaultDicomObject, InMemDicomObject, OpenFileOptions};
use dicom_pixeldata::PixelDecoder;

/// Compressed pixel data may expand at most this many times (plus [`EXPANSION_FLOOR`]):
/// far above what lossless or diagnostic lossy codecs reach on a mammogram, far below
/// what a forged header would need to exhaust memory.
const MAX_EXPANSION: usize = 1000;
const EXPANSION_FLOOR: usize = 64 << 20;

/// True when the bytes look like a DICOM stream without the 128-byte preamble
/// (starting directly at the `DICM` magic).
pub fn looks_like_raw_dataset(bytes: &[u8]) -> bool {
    bytes.starts_with(b"DICM")
}

/// The bytes from the `DICM` magic on.
fn body(bytes: &[u8]) -> Result<&[u8], ImageError> {
    if bytes.len() >= 132 && &bytes[128..132] == b"DICM" {
        Ok(&bytes[128..])
    } else if bytes.starts_with(b"DICM") {
        Ok(bytes)
    } else {
        Err(ImageError::Unrecognized)
    }
}

fn dicom_err(e: impl std::fmt::Display) -> ImageError {
    let msg = e.to_string();
    if msg.contains("UnexpectedEof") || msg.contains("failed to fill whole buffer") {
        ImageError::Truncated(format!("DICOM: {msg}"))
    } else {
        ImageError::Invalid(format!("DICOM: {msg}"))
    }
}

fn open(bytes: &[u8], header_only: bool) -> Result<DefaultDicomObject, ImageError> {
    let body = body(bytes)?;
    scan(body)?;
    let mut opts = OpenFileOptions::new().read_preamble(ReadPreamble::Never);
    if header_only {
        opts = opts.read_until(tags::PIXEL_DATA);
    }
    opts.from_reader(body).map_err(dicom_err)
}

fn text(obj: &InMemDicomObject, tag: dicom_core::Tag) -> Option<String> {
    let e = obj.element_opt(tag).ok().flatten()?;
    let s = e.to_str().ok()?;
    let s = s.trim_matches(|c: char| c.is_whitespace() || c == '\0');
    (!s.is_empty()).then(|| s.to_string())
}

fn int(obj: &InMemDicomObject, tag: dicom_core::Tag) -> Option<i64> {
    obj.element_opt(tag).ok().flatten()?.to_int::<i64>().ok()
}

fn floats(obj: &InMemDicomObject, tag: dicom_core::Tag) -> Vec<f64> {
    obj.element_opt(tag)
        .ok()
        .flatten()
        .and_then(|e| e.to_multi_float64().ok())
        .unwrap_or_default()
}

/// The view from a View Code Sequence item: SNOMED-RT and SNOMED CT codes of the
/// mammography views (PS3.16 CID 4014), else the code meaning.
fn view_from_code(item: &InMemDicomObject) -> Option<String> {
    let code = text(item, tags::CODE_VALUE).unwrap_or_default();
    let known = match code.as_str() {
        "R-10242" | "399162004" => Some("CC"),
        "R-10226" | "399368009" => Some("MLO"),
        "R-10224" | "399260004" => Some("ML"),
        "R-10228" | "399352003" => Some("LM"),
        "R-1024A" | "399099002" => Some("FB"),
        "R-10230" | "399188001" => Some("LMO"),
        "R-10244" | "399192008" => Some("XCCL"),
        "R-10246" | "399101009" => Some("XCCM"),
        "R-102D0" | "399196006" => Some("SIO"),
        _ => None,
    };
    if let Some(v) = known {
        return Some(v.to_string());
    }
    let meaning = text(item, tags::CODE_MEANING)?.to_ascii_lowercase();
    let v = if meaning.contains("medio-lateral oblique") || meaning.contains("mediolateral oblique")
    {
        "MLO"
    } else if meaning.contains("cranio-caudal") || meaning.contains("craniocaudal") {
        "CC"
    } else if meaning.contains("medio-lateral") || meaning.contains("mediolateral") {
        "ML"
    } else if meaning.contains("latero-medial") || meaning.contains("lateromedial") {
        "LM"
    } else {
        return None;
    };
    Some(v.to_string())
}

/// The view from Patient Orientation. Some archives (CBIS-DDSM) write the view
/// itself there ("CC", "MLO"); otherwise the standard row\column directions say it:
/// a column direction with a foot/head component is lateral (F, H) or oblique (FL, FR,
/// HL, HR); none at all is cranio-caudal.
fn view_from_orientation(s: &str) -> Option<String> {
    let up = s.trim().to_ascii_uppercase();
    const VIEWS: [&str; 9] = ["MLO", "CC", "ML", "LM", "LMO", "XCCL", "XCCM", "FB", "SIO"];
    if let Some(v) = VIEWS.iter().find(|v| **v == up) {
        return Some(v.to_string());
    }
    let parts: Vec<&str> = up.split('\\').map(str::trim).collect();
    if parts.len() != 2
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.chars().all(|c| "APLRFH".contains(c)))
    {
        return None;
    }
    let vertical = |p: &str| p.contains('F') || p.contains('H');
    match parts.iter().find(|p| vertical(p)) {
        None => Some("CC".into()),
        Some(p) if p.len() == 1 => Some("ML".into()),
        Some(_) => Some("MLO".into()),
    }
}

const PHI_TAGS: [(dicom_core::Tag, &str); 12] = [
    (tags::PATIENT_NAME, "PatientName"),
    (tags::PATIENT_ID, "PatientID"),
    (tags::PATIENT_BIRTH_DATE, "PatientBirthDate"),
    (tags::PATIENT_SEX, "PatientSex"),
    (tags::PATIENT_AGE, "PatientAge"),
    (tags::PATIENT_ADDRESS, "PatientAddress"),
    (tags::ISSUER_OF_PATIENT_ID, "IssuerOfPatientID"),
    (tags::ACCESSION_NUMBER, "AccessionNumber"),
    (tags::REFERRING_PHYSICIAN_NAME, "ReferringPhysicianName"),
    (tags::INSTITUTION_NAME, "InstitutionName"),
    (tags::STUDY_DATE, "StudyDate"),
    (tags::STUDY_ID, "StudyID"),
];

fn make_info(obj: &DefaultDicomObject) -> ImageInfo {
    let ts = obj
        .meta()
        .transfer_syntax()
        .trim_end_matches(['\0', ' '])
        .to_string();
    use dicom_encoding::TransferSyntaxIndex;
    let ts_name = dicom_transfer_syntax_registry::TransferSyntaxRegistry
        .get(&ts)
        .map(|t| t.name().to_string());
    let laterality = text(obj, tags::IMAGE_LATERALITY)
        .or_else(|| text(obj, tags::LATERALITY))
        .map(|s| s.to_ascii_uppercase());
    let view = text(obj, tags::VIEW_POSITION)
        .or_else(|| {
            let seq = obj.element_opt(tags::VIEW_CODE_SEQUENCE).ok().flatten()?;
            view_from_code(seq.items()?.first()?)
        })
        .or_else(|| view_from_orientation(&text(obj, tags::PATIENT_ORIENTATION)?));
    let (c, w) = (
        floats(obj, tags::WINDOW_CENTER),
        floats(obj, tags::WINDOW_WIDTH),
    );
    let window = c.first().zip(w.first()).map(|(c, w)| (*c, *w));
    ImageInfo {
        format: Some(Format::Dicom),
        rows: int(obj, tags::ROWS).unwrap_or(0).max(0) as usize,
        columns: int(obj, tags::COLUMNS).unwrap_or(0).max(0) as usize,
        bits_stored: int(obj, tags::BITS_STORED).unwrap_or(0).clamp(0, 64) as u16,
        photometric: text(obj, tags::PHOTOMETRIC_INTERPRETATION),
        transfer_syntax: Some(ts),
        transfer_syntax_name: ts_name,
        laterality,
        view,
        window,
        modality: text(obj, tags::MODALITY),
        sop_class: text(obj, tags::SOP_CLASS_UID),
        sop_instance: text(obj, tags::SOP_INSTANCE_UID),
        signed: int(obj, tags::PIXEL_REPRESENTATION) == Some(1),
        phi: PHI_TAGS
            .iter()
            .filter_map(|(t, k)| Some((k.to_string(), text(obj, *t)?)))
            .collect(),
    }
}

/// Header facts of a DICOM file (pixel data is not decoded).
pub fn info(bytes: &[u8]) -> Result<ImageInfo, ImageError> {
    let obj = open(bytes, true)?;
    Ok(make_info(&obj))
}

/// The pixel-module facts that decoding depends on, validated.
struct PixelModule {
    rows: usize,
    cols: usize,
    bits_allocated: u16,
    bits_stored: u16,
    high_bit: u16,
    signed: bool,
    samples: usize,
    monochrome1: bool,
}

fn pixel_module(obj: &DefaultDicomObject, info: &ImageInfo) -> Result<PixelModule, ImageError> {
    let need = |tag, name: &str| {
        int(obj, tag).ok_or_else(|| ImageError::Invalid(format!("DICOM: missing or bad {name}")))
    };
    let rows = need(tags::ROWS, "Rows")? as usize;
    let cols = need(tags::COLUMNS, "Columns")? as usize;
    check_dimensions(cols, rows)?;
    let bits_allocated = need(tags::BITS_ALLOCATED, "Bits Allocated")?;
    let bits_stored = int(obj, tags::BITS_STORED).unwrap_or(bits_allocated);
    let high_bit = int(obj, tags::HIGH_BIT).unwrap_or(bits_stored - 1);
    if !matches!(bits_allocated, 8 | 16) {
        return Err(ImageError::Unsupported(format!(
            "DICOM: {bits_allocated} bits allocated (8 and 16 are supported)"
        )));
    }
    if bits_stored < 1
        || bits_stored > bits_allocated
        || high_bit < bits_stored - 1
        || high_bit >= bits_allocated
    {
        return Err(ImageError::Invalid(format!(
            "DICOM: inconsistent bit layout (allocated {bits_allocated}, stored {bits_stored}, high bit {high_bit})"
        )));
    }
    let samples = int(obj, tags::SAMPLES_PER_PIXEL).unwrap_or(1);
    let photometric = info
        .photometric
        .clone()
        .unwrap_or_else(|| "MONOCHROME2".into());
    let monochrome1 = photometric == "MONOCHROME1";
    match (samples, photometric.as_str()) {
        (1, "MONOCHROME1" | "MONOCHROME2") => {}
        (3, "RGB") if bits_allocated == 8 => {}
        (s, p) => {
            return Err(ImageError::Unsupported(format!(
                "DICOM: photometric interpretation {p} with {s} samples per pixel"
            )))
        }
    }
    Ok(PixelModule {
        rows,
        cols,
        bits_allocated: bits_allocated as u16,
        bits_stored: bits_stored as u16,
        high_bit: high_bit as u16,
        signed: int(obj, tags::PIXEL_REPRESENTATION) == Some(1),
        samples: samples as usize,
        monochrome1,
    })
}

/// Refuses pixel data that cannot hold the frame its header announces, before the
/// codec allocates the frame.
fn check_pixel_payload(obj: &DefaultDicomObject, pm: &PixelModule) -> Result<(), ImageError> {
    let frame_bytes = pm.rows * pm.cols * pm.samples * (pm.bits_allocated as usize / 8);
    let elem = obj
        .element_opt(tags::PIXEL_DATA)
        .ok()
        .flatten()
        .ok_or_else(|| ImageError::Invalid("DICOM: no Pixel Data element".into()))?;
    if let Some(fragments) = elem.fragments() {
        let compressed: usize = fragments.iter().map(|f| f.len()).sum();
        if frame_bytes > EXPANSION_FLOOR.max(compressed.saturating_mul(MAX_EXPANSION)) {
            return Err(ImageError::Invalid(format!(
                "DICOM: {compressed} bytes of compressed pixel data cannot hold a {}x{} image",
                pm.cols, pm.rows
            )));
        }
    } else {
        let have = elem.to_bytes().map(|b| b.len()).unwrap_or(0);
        if have < frame_bytes {
            return Err(ImageError::Truncated(format!(
                "DICOM pixel data is {have} bytes, a {}x{} frame needs {frame_bytes}",
                pm.cols, pm.rows
            )));
        }
    }
    Ok(())
}

/// The modality LUT (Rescale Slope/Intercept); the identity when absent.
fn rescale(obj: &DefaultDicomObject) -> (f64, f64) {
    let slope = floats(obj, tags::RESCALE_SLOPE)
        .first()
        .copied()
        .unwrap_or(1.0);
    let intercept = floats(obj, tags::RESCALE_INTERCEPT)
        .first()
        .copied()
        .unwrap_or(0.0);
    if slope.is_finite() && slope != 0.0 && intercept.is_finite() {
        (slope, intercept)
    } else {
        (1.0, 0.0)
    }
}

/// Item 0 of the VOI LUT Sequence as a lookup table, when present and well formed.
fn voi_lut(obj: &DefaultDicomObject, signed_input: bool) -> Option<voi::VoiLut> {
    let seq = obj.element_opt(tags::VOILUT_SEQUENCE).ok().flatten()?;
    let item = seq.items()?.first()?;
    let desc = item.element_opt(tags::LUT_DESCRIPTOR).ok().flatten()?;
    let d: Vec<i64> = desc.to_multi_int::<i64>().ok()?;
    if d.len() < 3 {
        return None;
    }
    let n = if d[0] == 0 { 65536 } else { d[0] as usize };
    // The first mapped value is US or SS following the sign of the input values.
    let first = if signed_input {
        d[1] as u16 as i16 as i64
    } else {
        d[1] as u16 as i64
    };
    let bits = d[2].clamp(1, 16) as u32;
    let data_el = item.element_opt(tags::LUT_DATA).ok().flatten()?;
    let raw = data_el.to_bytes().ok()?;
    let entries: Vec<u16> = if raw.len() >= 2 * n {
        raw.chunks_exact(2)
            .take(n)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect()
    } else if bits <= 8 && raw.len() >= n {
        // 8-bit entries packed two a word (allowed for OW LUT Data).
        raw.iter().take(n).map(|&b| b as u16).collect()
    } else {
        return None;
    };
    Some(voi::VoiLut {
        first,
        bits,
        entries,
    })
}

/// The VOI transform the file asks for (PS3.3 C.11.2): the VOI LUT Sequence, else the
/// first window with its VOI LUT Function, else none (min–max is applied).
fn voi_of(obj: &DefaultDicomObject, signed_input: bool) -> Voi {
    if let Some(lut) = voi_lut(obj, signed_input) {
        return Voi::Lut(lut);
    }
    let (c, w) = (
        floats(obj, tags::WINDOW_CENTER),
        floats(obj, tags::WINDOW_WIDTH),
    );
    if let (Some(&center), Some(&width)) = (c.first(), w.first()) {
        let function = match text(obj, tags::VOILUT_FUNCTION).as_deref() {
            Some("LINEAR_EXACT") => VoiFunction::LinearExact,
            Some("SIGMOID") => VoiFunction::Sigmoid,
            _ => VoiFunction::Linear,
        };
        let valid = center.is_finite()
            && width.is_finite()
            && match function {
                VoiFunction::Linear => width >= 1.0,
                _ => width > 0.0,
            };
        if valid {
            return Voi::Window {
                center,
                width,
                function,
            };
        }
    }
    Voi::MinMax
}

const RLE_LOSSLESS: &str = "1.2.840.10008.1.2.5";
/// JPEG 2000 lossless/lossy and HTJ2K (lossless, RPCL, lossy).
const JPEG_2000: [&str; 5] = [
    "1.2.840.10008.1.2.4.90",
    "1.2.840.10008.1.2.4.91",
    "1.2.840.10008.1.2.4.201",
    "1.2.840.10008.1.2.4.202",
    "1.2.840.10008.1.2.4.203",
];
/// JPEG baseline and the two lossless processes: the pure-Rust decoder.
const JPEG_PURE_RUST: [&str; 3] = [
    "1.2.840.10008.1.2.4.50",
    "1.2.840.10008.1.2.4.57",
    "1.2.840.10008.1.2.4.70",
];
const JPEG_EXTENDED: &str = "1.2.840.10008.1.2.4.51";

/// A codec failure as one line with its whole cause chain, classified as
/// "unsupported" when the codec says so (the top message alone is generic).
fn codec_error(info: &ImageInfo, e: &(dyn std::error::Error + 'static)) -> ImageError {
    let mut parts = vec![e.to_string()];
    let mut src = e.source();
    while let Some(s) = src {
        let m = s.to_string();
        if !parts.contains(&m) {
            parts.push(m);
        }
        src = s.source();
    }
    let chain = parts.join(": ");
    let ts = format!(
        "transfer syntax {} ({})",
        info.transfer_syntax.as_deref().unwrap_or("?"),
        info.transfer_syntax_name.as_deref().unwrap_or("unknown")
    );
    if chain.to_ascii_lowercase().contains("unsupported") || chain.contains("No such") {
        ImageError::Unsupported(format!("DICOM {ts}: {chain}"))
    } else {
        dicom_err(format!("{ts}: {chain}"))
    }
}

/// The compressed bytes of frame 0 of encapsulated pixel data: all fragments for a
/// single-frame image; for several frames, the fragments before the second frame's
/// Basic Offset Table entry, or the first fragment when each frame has one.
fn frame0_fragment_bytes(
    obj: &DefaultDicomObject,
) -> Result<std::borrow::Cow<'_, [u8]>, ImageError> {
    let elem = obj
        .element_opt(tags::PIXEL_DATA)
        .ok()
        .flatten()
        .ok_or_else(|| ImageError::Invalid("DICOM: no Pixel Data element".into()))?;
    let frags = elem.fragments().ok_or_else(|| {
        ImageError::Invalid("DICOM: JPEG transfer syntax without encapsulated pixel data".into())
    })?;
    let frames = int(obj, tags::NUMBER_OF_FRAMES).unwrap_or(1).max(1) as usize;
    let table = elem.value().offset_table().unwrap_or(&[]);
    let take: Vec<&Vec<u8>> = if frames <= 1 {
        frags.iter().collect()
    } else if table.len() >= 2 {
        let end = table[1] as usize;
        let mut pos = 0usize;
        frags
            .iter()
            .take_while(|f| {
                let here = pos;
                pos += 8 + f.len();
                here < end
            })
            .collect()
    } else {
        frags.iter().take(1).collect()
    };
    // One fragment (the usual single-frame file) is borrowed, not copied.
    if let [one] = take.as_slice() {
        return Ok(std::borrow::Cow::Borrowed(one.as_slice()));
    }
    let mut out = Vec::with_capacity(take.iter().map(|f| f.len()).sum());
    for f in take {
        out.extend_from_slice(f);
    }
    Ok(std::borrow::Cow::Owned(out))
}

/// Decodes the first frame of a DICOM file.
pub fn decode(bytes: &[u8]) -> Result<Decoded, ImageError> {
    let (full, display, info) = decode_frame0(bytes, true)?;
    let display = display.ok_or_else(|| ImageError::Invalid("DICOM: no display".into()))?;
    Ok(Decoded {
        full,
        display,
        info,
    })
}

/// Decodes the first frame of a DICOM file to its full-depth pixels only, skipping
/// the presentation pipeline (what training's preprocessing reads).
pub fn decode_pixels(bytes: &[u8]) -> Result<Pixels, ImageError> {
    let (full, _, info) = decode_frame0(bytes, false)?;
    Ok(Pixels { full, info })
}

/// Frame 0 as full-depth pixels and, when `with_display`, the 8-bit presentation image.
fn decode_frame0(
    bytes: &[u8],
    with_display: bool,
) -> Result<(Gray16, Option<Gray8>, ImageInfo), ImageError> {
    let obj = open(bytes, false)?;
    let info = make_info(&obj);
    let pm = pixel_module(&obj, &info)?;
    check_pixel_payload(&obj, &pm)?;
    let ts = info.transfer_syntax.as_deref().unwrap_or("");
    // Compressed syntaxes go through checked decoders of our own (JPEG-LS through CharLS
    // behind our own checks); native data through the dicom-rs registry.
    let (rows, cols, bits) = (pm.rows, pm.cols, pm.bits_allocated);
    let frame = || frame0_fragment_bytes(&obj);
    if ts == RLE_LOSSLESS && pm.samples == 1 && bits == 16 && !with_display {
        // The training path's common case (16-bit grayscale RLE): full-depth values
        // unpacked straight into the samples, with no byte planes or frame in between.
        let mut data = rle::decode_gray16(&frame()?, rows, cols)?;
        let invert = pm.monochrome1 != (rescale(&obj).0 < 0.0);
        full_gray16_in_place(&pm, &mut data, invert);
        let full = Gray16 {
            width: cols,
            height: rows,
            max_value: ((1u32 << pm.bits_stored) - 1) as u16,
            data,
        };
        return Ok((full, None, info));
    }
    let data: Vec<u8> = if ts == RLE_LOSSLESS {
        rle::decode_frame(&frame()?, rows, cols, pm.samples, bits as usize / 8)?
    } else if JPEG_2000.contains(&ts) && pm.samples == 1 {
        j2k::decode_gray(&frame()?, rows, cols, bits)?
    } else if JPEG_PURE_RUST.contains(&ts) {
        jpeg_turbo::decode(&frame()?, rows, cols, pm.samples, bits)?
    } else if ts == JPEG_EXTENDED {
        jpeg_turbo::decode_gray(&frame()?, rows, cols, bits)?
    } else if jpegls::TRANSFER_SYNTAXES.contains(&ts) {
        jpegls::decode(&frame()?, rows, cols, pm.samples, bits)?
    } else {
        obj.decode_pixel_data_frame(0)
            .map_err(|e| codec_error(&info, &e))?
            .into_data()
    };
    let n = pm.rows * pm.cols;
    let bytes_per = pm.bits_allocated as usize / 8;
    if data.len() < n * pm.samples * bytes_per {
        return Err(ImageError::Truncated(format!(
            "DICOM pixel data decodes to {} bytes, {}x{} needs {}",
            data.len(),
            pm.cols,
            pm.rows,
            n * pm.samples * bytes_per
        )));
    }
    let bits = if pm.samples == 3 { 8 } else { pm.bits_stored };
    let signed = pm.signed && pm.samples == 1;
    let (slope, intercept) = rescale(&obj);
    // Full depth: stored values shifted to be non-negative, brighter = higher.
    let max_code: i64 = (1i64 << bits) - 1;
    let offset: i64 = if signed { 1i64 << (bits - 1) } else { 0 };
    let invert = pm.monochrome1 != (slope < 0.0);
    let to_full = |v: i32| -> u16 {
        let u = (v as i64 + offset).clamp(0, max_code);
        (if invert { max_code - u } else { u }) as u16
    };
    let (full_data, display) = if with_display {
        let stored = stored_values(&obj, &pm, &data, |v| v);
        let voi = voi_of(&obj, signed || intercept < 0.0);
        let display = voi::present(
            &stored,
            pm.cols,
            pm.rows,
            slope,
            intercept,
            &voi,
            pm.monochrome1,
        );
        let full = if pm.samples == 1 {
            full_gray(&pm, &data, invert)
        } else {
            stored.into_iter().map(to_full).collect()
        };
        (full, Some(display))
    } else if pm.samples == 1 {
        // Straight from the decoded bytes: no intermediate buffer of stored values.
        (full_gray(&pm, &data, invert), None)
    } else {
        (stored_values(&obj, &pm, &data, to_full), None)
    };
    let full = Gray16 {
        width: pm.cols,
        height: pm.rows,
        max_value: max_code.min(u16::MAX as i64) as u16,
        data: full_data,
    };
    Ok((full, display, info))
}

/// The stored sample values of decoded frame bytes (sign-extended; 8-bit RGB as BT.601
/// luma), each passed through `f`. One loop per sample width so each one vectorizes.
fn stored_values<T>(
    obj: &DefaultDicomObject,
    pm: &PixelModule,
    data: &[u8],
    f: impl Fn(i32) -> T,
) -> Vec<T> {
    let n = pm.rows * pm.cols;
    if pm.samples == 3 {
        let planar = int(obj, tags::PLANAR_CONFIGURATION) == Some(1);
        return (0..n)
            .map(|i| {
                let (r, g, b) = if planar {
                    (data[i], data[n + i], data[2 * n + i])
                } else {
                    (data[3 * i], data[3 * i + 1], data[3 * i + 2])
                };
                f(((299 * r as u32 + 587 * g as u32 + 114 * b as u32 + 500) / 1000) as i32)
            })
            .collect();
    }
    stored_gray(pm, data, f)
}

/// `full_gray` of a 16-bit frame given as native samples, in place.
fn full_gray16_in_place(pm: &PixelModule, data: &mut [u16], invert: bool) {
    let (shift, mask, flip) = full_bits(pm, invert);
    for v in data {
        *v = ((*v >> shift) & mask) ^ flip;
    }
}

/// The shift, mask and XOR pattern that map a raw grayscale sample to its full-depth
/// value (see `full_gray`).
fn full_bits(pm: &PixelModule, invert: bool) -> (u16, u16, u16) {
    let shift = pm.high_bit + 1 - pm.bits_stored;
    let mask = ((1u32 << pm.bits_stored) - 1) as u16;
    let sign = if pm.signed {
        1u16 << (pm.bits_stored - 1)
    } else {
        0
    };
    (shift, mask, sign ^ if invert { mask } else { 0 })
}

/// The stored values of a grayscale frame (sign-extended), each passed through `f`.
fn stored_gray<T>(pm: &PixelModule, data: &[u8], f: impl Fn(i32) -> T) -> Vec<T> {
    let n = pm.rows * pm.cols;
    let shift = pm.high_bit + 1 - pm.bits_stored;
    let mask: u32 = if pm.bits_stored >= 32 {
        u32::MAX
    } else {
        (1u32 << pm.bits_stored) - 1
    };
    let sign_bit = 1u32 << (pm.bits_stored - 1);
    let extract = |raw: u32| {
        let v = (raw >> shift) & mask;
        f(if pm.signed && v & sign_bit != 0 {
            v as i32 - (1i32 << pm.bits_stored)
        } else {
            v as i32
        })
    };
    if pm.bits_allocated == 16 {
        data[..2 * n]
            .chunks_exact(2)
            .map(|c| extract(u16::from_le_bytes([c[0], c[1]]) as u32))
            .collect()
    } else {
        data[..n].iter().map(|&b| extract(b as u32)).collect()
    }
}

/// Full-depth values (stored values made non-negative, brighter = higher) of a
/// grayscale frame by bit operations alone, so the loop has no branch or clamp and
/// vectorizes: a signed value plus 2^(b-1) is its b-bit pattern with the sign bit
/// flipped, and max - u within b bits is u XOR the all-ones mask.
fn full_gray(pm: &PixelModule, data: &[u8], invert: bool) -> Vec<u16> {
    let n = pm.rows * pm.cols;
    let (shift, mask, flip) = full_bits(pm, invert);
    if pm.bits_allocated == 16 {
        data[..2 * n]
            .chunks_exact(2)
            .map(|c| ((u16::from_le_bytes([c[0], c[1]]) >> shift) & mask) ^ flip)
            .collect()
    } else {
        data[..n]
            .iter()
            .map(|&b| ((b as u16 >> shift) & mask) ^ flip)
            .collect()
    }
}

// ---------------------------------------------------------------------------
// Structural pre-scan: every declared length must fit in the bytes that remain.
// ---------------------------------------------------------------------------

const UNDEFINED: u32 = 0xFFFF_FFFF;

struct Cursor<'a> {
    b: &'a [u8],
    pos: usize,
    explicit: bool,
    big_endian: bool,
}

impl Cursor<'_> {
    fn err(&self, what: &str) -> ImageError {
        if self.pos >= self.b.len() {
            ImageError::Truncated(format!("DICOM ends inside {what} at byte {}", self.pos))
        } else {
            ImageError::Invalid(format!("DICOM: malformed {what} at byte {}", self.pos))
        }
    }
    fn u16_at(&self, at: usize) -> Option<u16> {
        let s = self.b.get(at..at + 2)?;
        Some(if self.big_endian {
            u16::from_be_bytes([s[0], s[1]])
        } else {
            u16::from_le_bytes([s[0], s[1]])
        })
    }
    fn u32_at(&self, at: usize) -> Option<u32> {
        let s = self.b.get(at..at + 4)?;
        let a = [s[0], s[1], s[2], s[3]];
        Some(if self.big_endian {
            u32::from_be_bytes(a)
        } else {
            u32::from_le_bytes(a)
        })
    }
    fn remaining(&self) -> usize {
        self.b.len().saturating_sub(self.pos)
    }
}

/// VRs whose explicit-VR header has a 2-byte length (PS3.5 7.1.2). Any other pair of
/// bytes, unknown ones included, is read as UN by the parser: reserved bytes and a
/// 4-byte length. The scan must make the same choice as the parser it protects.
fn is_short_vr(vr: &[u8]) -> bool {
    matches!(
        vr,
        b"AE"
            | b"AS"
            | b"AT"
            | b"CS"
            | b"DA"
            | b"DS"
            | b"DT"
            | b"FL"
            | b"FD"
            | b"IS"
            | b"LO"
            | b"LT"
            | b"PN"
            | b"SH"
            | b"SL"
            | b"SS"
            | b"ST"
            | b"TM"
            | b"UI"
            | b"UL"
            | b"US"
    )
}

/// Size of one value of a binary VR. The parser reads whole values only, so a length
/// that is not a multiple of it would leave the parser misaligned for the rest of the
/// file; such files are refused.
fn binary_value_size(vr: &[u8]) -> Option<u32> {
    Some(match vr {
        b"SS" | b"US" | b"OW" => 2,
        b"AT" | b"FL" | b"SL" | b"UL" | b"OF" | b"OL" => 4,
        b"FD" | b"SV" | b"UV" | b"OD" | b"OV" => 8,
        _ => return None,
    })
}

/// The VR the standard dictionary gives a tag, as two ASCII bytes (implicit VR).
fn dictionary_vr(group: u16, elem: u16) -> Option<[u8; 2]> {
    use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry};
    let vr = dicom_dictionary_std::StandardDataDictionary
        .by_tag(dicom_core::Tag(group, elem))?
        .vr()
        .relaxed();
    let s = vr.to_string().as_bytes();
    Some([s[0], s[1]])
}

fn implicit_is_sequence(group: u16, elem: u16) -> bool {
    use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry};
    dicom_dictionary_std::StandardDataDictionary
        .by_tag(dicom_core::Tag(group, elem))
        .map(|e| e.vr().relaxed() == dicom_core::VR::SQ)
        .unwrap_or(false)
}

/// Walks the data set from `c.pos` up to `end` (or to a delimiter when `end` is None).
/// `depth` guards against pathological nesting.
fn scan_dataset(c: &mut Cursor, end: Option<usize>, depth: usize) -> Result<(), ImageError> {
    if depth > 32 {
        return Err(ImageError::Invalid(
            "DICOM: sequences nested too deeply".into(),
        ));
    }
    loop {
        if let Some(e) = end {
            if c.pos >= e {
                return Ok(());
            }
        } else if c.remaining() == 0 {
            return Ok(());
        }
        let (Some(group), Some(elem)) = (c.u16_at(c.pos), c.u16_at(c.pos + 2)) else {
            return Err(c.err("element header"));
        };
        if group == 0xFFFE {
            let l = c.u32_at(c.pos + 4).ok_or_else(|| c.err("item header"))?;
            c.pos += 8;
            let delimiter = elem == 0xE00D || elem == 0xE0DD;
            // A delimiter ends an undefined-length item; elsewhere a zero-length one
            // is stray padding that parsers step over. Anything else is malformed.
            if delimiter && end.is_none() && depth > 0 {
                return Ok(());
            }
            if delimiter && l == 0 {
                continue;
            }
            return Err(c.err("item tag outside a sequence"));
        }
        let mut nested_implicit = false;
        let value_vr: Option<[u8; 2]>;
        let (len, is_seq) = if c.explicit {
            let vr =
                c.b.get(c.pos + 4..c.pos + 6)
                    .ok_or_else(|| c.err("element header"))?;
            let seq = vr == b"SQ";
            value_vr = Some([vr[0], vr[1]]);
            if is_short_vr(vr) {
                let l = c.u16_at(c.pos + 6).ok_or_else(|| c.err("element header"))? as u32;
                c.pos += 8;
                (l, seq)
            } else {
                let l = c.u32_at(c.pos + 8).ok_or_else(|| c.err("element header"))?;
                // UN (or unknown) of undefined length is an implicit-VR sequence.
                nested_implicit = !seq && l == UNDEFINED && !(group == 0x7FE0 && elem == 0x0010);
                c.pos += 12;
                (l, seq)
            }
        } else {
            let l = c.u32_at(c.pos + 4).ok_or_else(|| c.err("element header"))?;
            c.pos += 8;
            value_vr = dictionary_vr(group, elem);
            (l, l == UNDEFINED || implicit_is_sequence(group, elem))
        };
        if let Some(size) = value_vr.as_ref().and_then(|v| binary_value_size(v)) {
            if len != UNDEFINED && len % size != 0 {
                return Err(ImageError::Invalid(format!(
                    "DICOM element ({group:04X},{elem:04X}) has length {len}, not a multiple of its value size {size}"
                )));
            }
        }
        let pixel = group == 0x7FE0 && elem == 0x0010;
        if len == UNDEFINED {
            if !(is_seq || pixel || c.explicit) {
                return Err(c.err("undefined length"));
            }
            let explicit = c.explicit;
            if nested_implicit {
                c.explicit = false;
            }
            let r = scan_items(c, None, depth + 1, pixel);
            c.explicit = explicit;
            r?;
        } else {
            let l = len as usize;
            if l > c.remaining() {
                return Err(ImageError::Truncated(format!(
                    "DICOM element ({group:04X},{elem:04X}) declares {l} bytes but only {} remain",
                    c.remaining()
                )));
            }
            if is_seq {
                let stop = c.pos + l;
                scan_items(c, Some(stop), depth + 1, false)?;
                c.pos = stop;
            } else {
                c.pos += l;
            }
        }
    }
}

/// Walks the items of a sequence, each a nested data set, or the fragments of
/// encapsulated pixel data (`fragments`), whose content is opaque.
fn scan_items(
    c: &mut Cursor,
    end: Option<usize>,
    depth: usize,
    fragments: bool,
) -> Result<(), ImageError> {
    loop {
        if let Some(e) = end {
            if c.pos >= e {
                return Ok(());
            }
        }
        let (Some(group), Some(elem), Some(len)) =
            (c.u16_at(c.pos), c.u16_at(c.pos + 2), c.u32_at(c.pos + 4))
        else {
            return Err(c.err("sequence item"));
        };
        if group != 0xFFFE {
            return Err(c.err("sequence item"));
        }
        c.pos += 8;
        match elem {
            0xE0DD => return Ok(()),
            0xE000 if len == UNDEFINED && !fragments => scan_dataset(c, None, depth + 1)?,
            0xE000 => {
                let l = len as usize;
                if l > c.remaining() {
                    return Err(ImageError::Truncated(format!(
                        "DICOM item declares {l} bytes but only {} remain",
                        c.remaining()
                    )));
                }
                let stop = c.pos + l;
                if !fragments {
                    // A nested data set: its elements must fit inside the item.
                    let mut inner = Cursor {
                        b: &c.b[..stop],
                        pos: c.pos,
                        explicit: c.explicit,
                        big_endian: c.big_endian,
                    };
                    scan_dataset(&mut inner, Some(stop), depth + 1)?;
                }
                c.pos = stop;
            }
            _ => return Err(c.err("sequence item")),
        }
    }
}

/// Checks the element structure of a DICOM stream (starting at `DICM`).
pub fn scan(body: &[u8]) -> Result<(), ImageError> {
    if body.len() < 4 || &body[..4] != b"DICM" {
        return Err(ImageError::Unrecognized);
    }
    // File meta group: always explicit VR little endian.
    let mut c = Cursor {
        b: body,
        pos: 4,
        explicit: true,
        big_endian: false,
    };
    let mut ts = String::new();
    while c.u16_at(c.pos) == Some(0x0002) {
        let elem = c
            .u16_at(c.pos + 2)
            .ok_or_else(|| c.err("file meta element"))?;
        let vr =
            c.b.get(c.pos + 4..c.pos + 6)
                .ok_or_else(|| c.err("file meta element"))?;
        let (len, head) = if !is_short_vr(vr) {
            (
                c.u32_at(c.pos + 8)
                    .ok_or_else(|| c.err("file meta element"))? as usize,
                12,
            )
        } else {
            (
                c.u16_at(c.pos + 6)
                    .ok_or_else(|| c.err("file meta element"))? as usize,
                8,
            )
        };
        if len > c.remaining().saturating_sub(head) {
            return Err(ImageError::Truncated(
                "DICOM file meta information ends early".into(),
            ));
        }
        if elem == 0x0010 {
            ts = String::from_utf8_lossy(&c.b[c.pos + head..c.pos + head + len])
                .trim_end_matches(['\0', ' '])
                .to_string();
        }
        c.pos += head + len;
    }
    if ts.is_empty() {
        return Err(ImageError::Invalid(
            "DICOM: no Transfer Syntax UID in the file meta information".into(),
        ));
    }
    match ts.as_str() {
        "1.2.840.10008.1.2" => c.explicit = false,
        "1.2.840.10008.1.2.2" => c.big_endian = true,
        // Deflated data sets are inflated by the parser; their lengths cannot be
        // checked on the compressed bytes. Mammograms are never stored this way.
        "1.2.840.10008.1.2.1.99" => {
            return Err(ImageError::Unsupported(
                "DICOM Deflated Explicit VR Little Endian is not read (not used for images)".into(),
            ))
        }
        _ => {}
    }
    scan_dataset(&mut c, None, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_gray_matches_the_arithmetic_rule() {
        // Every bit layout, sign and inversion: the bit-operation path equals
        // shift-to-non-negative then invert, computed the long way.
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let data: Vec<u8> = (0..512)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .chain([0, 0, 0xFF, 0xFF, 0x00, 0x80, 0xFF, 0x7F])
            .collect();
        for bits_allocated in [8u16, 16] {
            for bits_stored in 1..=bits_allocated {
                for high_bit in bits_stored - 1..bits_allocated {
                    for signed in [false, true] {
                        for invert in [false, true] {
                            let pm = PixelModule {
                                rows: 1,
                                cols: data.len() * 8 / bits_allocated as usize,
                                bits_allocated,
                                bits_stored,
                                high_bit,
                                signed,
                                samples: 1,
                                monochrome1: false,
                            };
                            let max: i64 = (1 << bits_stored) - 1;
                            let offset: i64 = if signed { 1 << (bits_stored - 1) } else { 0 };
                            let want = stored_gray(&pm, &data, |v| {
                                let u = (v as i64 + offset).clamp(0, max);
                                (if invert { max - u } else { u }) as u16
                            });
                            if bits_allocated == 16 {
                                let mut raw: Vec<u16> = data
                                    .chunks_exact(2)
                                    .map(|c| u16::from_le_bytes([c[0], c[1]]))
                                    .collect();
                                full_gray16_in_place(&pm, &mut raw, invert);
                                assert_eq!(raw, want);
                            }
                            assert_eq!(
                                full_gray(&pm, &data, invert),
                                want,
                                "{bits_allocated}/{bits_stored}/{high_bit} signed {signed} invert {invert}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn orientation_to_view() {
        assert_eq!(view_from_orientation("CC").as_deref(), Some("CC"));
        assert_eq!(view_from_orientation("mlo").as_deref(), Some("MLO"));
        assert_eq!(view_from_orientation("P\\L").as_deref(), Some("CC"));
        assert_eq!(view_from_orientation("A\\FR").as_deref(), Some("MLO"));
        assert_eq!(view_from_orientation("P\\F").as_deref(), Some("ML"));
        assert_eq!(view_from_orientation("nonsense"), None);
    }
}
