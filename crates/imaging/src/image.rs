use serde::Serialize;

/// The container formats read by this crate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// DICOM Part 10 file (with or without the 128-byte preamble).
    Dicom,
    /// PNG.
    Png,
    /// Netpbm graymap (P2 ASCII or P5 binary).
    Pgm,
}

impl Format {
    /// Recognises a format from the first bytes of a file.
    pub fn sniff(bytes: &[u8]) -> Option<Format> {
        if bytes.len() >= 132 && &bytes[128..132] == b"DICM" {
            Some(Format::Dicom)
        } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(Format::Png)
        } else if bytes.len() >= 2 && (bytes.starts_with(b"P5") || bytes.starts_with(b"P2")) {
            Some(Format::Pgm)
        } else if crate::dicom::looks_like_raw_dataset(bytes) {
            Some(Format::Dicom)
        } else {
            None
        }
    }
}

/// A grayscale image at its full bit depth, brighter = higher value.
///
/// For DICOM these are the stored values made non-negative (signed values are shifted
/// by 2^(bits-1)) and, for MONOCHROME1, inverted, so that every format shares one
/// polarity. The modality LUT is linear and monotone, and histogram equalization
/// depends only on the order of values, so equalizing these is the same as
/// equalizing modality values.
#[derive(Debug, Clone, PartialEq)]
pub struct Gray16 {
    /// Columns.
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// The largest value the encoding can hold (255, 4095, 65535, …).
    pub max_value: u16,
    /// Row-major pixels.
    pub data: Vec<u16>,
}

/// An 8-bit grayscale image (row-major).
#[derive(Debug, Clone, PartialEq)]
pub struct Gray8 {
    /// Columns.
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// Row-major pixels.
    pub data: Vec<u8>,
}

/// A decoded image: full-depth pixels, the 8-bit presentation image, header facts.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// Full bit depth pixels (training uses these).
    pub full: Gray16,
    /// The 8-bit presentation image (DICOM: modality LUT → VOI → polarity).
    pub display: Gray8,
    /// Header facts.
    pub info: ImageInfo,
}

/// A decoded image without its presentation image: what preprocessing reads.
#[derive(Debug, Clone)]
pub struct Pixels {
    /// Full bit depth pixels.
    pub full: Gray16,
    /// Header facts.
    pub info: ImageInfo,
}

/// Header facts of an image. Patient-identifying DICOM tags are kept apart in
/// [`ImageInfo::phi`] so that nothing prints them by accident.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImageInfo {
    /// Container format.
    pub format: Option<Format>,
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub columns: usize,
    /// Bits stored per sample.
    pub bits_stored: u16,
    /// Photometric interpretation as written (`MONOCHROME1`, `MONOCHROME2`, …).
    pub photometric: Option<String>,
    /// Transfer syntax UID (DICOM only).
    pub transfer_syntax: Option<String>,
    /// Transfer syntax name (DICOM only).
    pub transfer_syntax_name: Option<String>,
    /// `L` or `R`.
    pub laterality: Option<String>,
    /// `CC`, `MLO`, … as written in the file.
    pub view: Option<String>,
    /// The first Window Center/Width pair.
    pub window: Option<(f64, f64)>,
    /// Modality (`MG`, …).
    pub modality: Option<String>,
    /// SOP Class UID.
    pub sop_class: Option<String>,
    /// SOP Instance UID.
    pub sop_instance: Option<String>,
    /// Pixel Representation 1: signed samples.
    pub signed: bool,
    /// Patient-identifying tags as (keyword, value). Printed only on request.
    #[serde(skip)]
    pub phi: Vec<(String, String)>,
}
