//! Hand-built DICOM files exercising every rule of the presentation pipeline:
//! modality LUT, VOI LUT Sequence, the first window with LINEAR / LINEAR_EXACT /
//! SIGMOID, min–max fallback, MONOCHROME1, signed and 8-bit pixels, implicit VR.
use dicom_core::{dicom_value, DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::tags;
use dicom_object::{FileMetaTableBuilder, InMemDicomObject};

#[derive(Clone)]
struct Spec {
    values: Vec<i32>,
    bits_allocated: u16,
    bits_stored: u16,
    signed: bool,
    photometric: &'static str,
    rescale: Option<(&'static str, &'static str)>,
    window: Option<(&'static [&'static str], &'static [&'static str])>,
    function: Option<&'static str>,
    voi_lut: Option<(Vec<u16>, Vec<u16>)>,
    implicit: bool,
}

impl Default for Spec {
    fn default() -> Self {
        Spec {
            values: vec![],
            bits_allocated: 16,
            bits_stored: 12,
            signed: false,
            photometric: "MONOCHROME2",
            rescale: None,
            window: None,
            function: None,
            voi_lut: None,
            implicit: false,
        }
    }
}

fn build(s: &Spec) -> Vec<u8> {
    let mut o = InMemDicomObject::new_empty();
    let us = |t, v: u16| DataElement::new(t, VR::US, PrimitiveValue::from(v));
    let cs = |t, v: &str| DataElement::new(t, VR::CS, PrimitiveValue::from(v));
    o.put(DataElement::new(
        tags::SOP_CLASS_UID,
        VR::UI,
        PrimitiveValue::from("1.2.840.10008.5.1.4.1.1.1.2"),
    ));
    o.put(DataElement::new(
        tags::SOP_INSTANCE_UID,
        VR::UI,
        PrimitiveValue::from("1.2.3.4"),
    ));
    o.put(DataElement::new(
        tags::PATIENT_NAME,
        VR::PN,
        PrimitiveValue::from("Secret^Patient"),
    ));
    o.put(cs(tags::MODALITY, "MG"));
    o.put(us(tags::SAMPLES_PER_PIXEL, 1));
    o.put(cs(tags::PHOTOMETRIC_INTERPRETATION, s.photometric));
    o.put(us(tags::ROWS, 1));
    o.put(us(tags::COLUMNS, s.values.len() as u16));
    o.put(us(tags::BITS_ALLOCATED, s.bits_allocated));
    o.put(us(tags::BITS_STORED, s.bits_stored));
    o.put(us(tags::HIGH_BIT, s.bits_stored - 1));
    o.put(us(tags::PIXEL_REPRESENTATION, s.signed as u16));
    if let Some((slope, intercept)) = s.rescale {
        o.put(DataElement::new(
            tags::RESCALE_INTERCEPT,
            VR::DS,
            PrimitiveValue::from(intercept),
        ));
        o.put(DataElement::new(
            tags::RESCALE_SLOPE,
            VR::DS,
            PrimitiveValue::from(slope),
        ));
    }
    if let Some((c, w)) = s.window {
        let strs = |v: &[&str]| PrimitiveValue::Strs(v.iter().map(|x| x.to_string()).collect());
        o.put(DataElement::new(tags::WINDOW_CENTER, VR::DS, strs(c)));
        o.put(DataElement::new(tags::WINDOW_WIDTH, VR::DS, strs(w)));
    }
    if let Some(f) = s.function {
        o.put(cs(tags::VOILUT_FUNCTION, f));
    }
    if let Some((desc, data)) = &s.voi_lut {
        let item = InMemDicomObject::from_element_iter([
            DataElement::new(
                tags::LUT_DESCRIPTOR,
                VR::US,
                PrimitiveValue::U16(desc.clone().into()),
            ),
            DataElement::new(
                tags::LUT_DATA,
                VR::US,
                PrimitiveValue::U16(data.clone().into()),
            ),
        ]);
        o.put(DataElement::new(
            tags::VOILUT_SEQUENCE,
            VR::SQ,
            dicom_core::value::DataSetSequence::from(vec![item]),
        ));
    }
    let mask = (1u32 << s.bits_stored) - 1;
    let raw: Vec<u32> = s.values.iter().map(|&v| (v as u32) & mask).collect();
    if s.bits_allocated == 8 {
        let mut b: Vec<u8> = raw.iter().map(|&v| v as u8).collect();
        if b.len() % 2 == 1 {
            b.push(0);
        }
        o.put(DataElement::new(
            tags::PIXEL_DATA,
            VR::OB,
            PrimitiveValue::U8(b.into()),
        ));
    } else {
        let w: Vec<u16> = raw.iter().map(|&v| v as u16).collect();
        o.put(DataElement::new(
            tags::PIXEL_DATA,
            VR::OW,
            PrimitiveValue::U16(w.into()),
        ));
    }
    let ts = if s.implicit {
        "1.2.840.10008.1.2"
    } else {
        "1.2.840.10008.1.2.1"
    };
    let file = o
        .with_meta(
            FileMetaTableBuilder::new()
                .transfer_syntax(ts)
                .media_storage_sop_class_uid("1.2.840.10008.5.1.4.1.1.1.2")
                .media_storage_sop_instance_uid("1.2.3.4"),
        )
        .unwrap();
    let mut out = Vec::new();
    file.write_all(&mut out).unwrap();
    out
}

fn display(s: &Spec) -> Vec<u8> {
    imaging::decode_bytes(&build(s)).unwrap().display.data
}

/// Round half up, as the pipeline specifies.
fn r(x: f64) -> u8 {
    (x + 0.5).floor().clamp(0.0, 255.0) as u8
}

#[test]
fn linear_window_uses_the_first_pair() {
    let s = Spec {
        values: vec![0, 1000, 2047, 2048, 3000, 4095],
        window: Some((&["2048", "100"], &["4096", "10"])),
        ..Default::default()
    };
    // y = ((x - 2047.5)/4095 + 0.5) * 255 inside the window.
    let want: Vec<u8> = [0.0, 1000.0, 2047.0, 2048.0, 3000.0, 4095.0]
        .iter()
        .map(|&x: &f64| {
            if x <= 0.0 {
                0
            } else {
                r(((x - 2047.5) / 4095.0 + 0.5) * 255.0)
            }
        })
        .collect();
    assert_eq!(want, vec![0, 62, 127, 128, 187, 255]);
    assert_eq!(display(&s), want);
    // The same with LINEAR written out explicitly.
    let s2 = Spec {
        function: Some("LINEAR"),
        ..s
    };
    assert_eq!(display(&s2), want);
}

#[test]
fn linear_exact_window() {
    let s = Spec {
        values: vec![0, 75, 76, 100, 110, 125, 126, 4095],
        window: Some((&["100"], &["50"])),
        function: Some("LINEAR_EXACT"),
        ..Default::default()
    };
    // x <= 75 -> 0; x > 125 -> 255; else ((x-100)/50 + 0.5)*255.
    assert_eq!(display(&s), vec![0, 0, 5, 128, 179, 255, 255, 255]);
}

#[test]
fn sigmoid_window() {
    let s = Spec {
        values: vec![0, 400, 500, 600, 4095],
        window: Some((&["500"], &["200"])),
        function: Some("SIGMOID"),
        ..Default::default()
    };
    let want: Vec<u8> = [0.0f64, 400.0, 500.0, 600.0, 4095.0]
        .iter()
        .map(|&x| r(255.0 / (1.0 + (-4.0 * (x - 500.0) / 200.0).exp())))
        .collect();
    assert_eq!(want, vec![0, 30, 128, 225, 255]);
    assert_eq!(display(&s), want);
}

#[test]
fn voi_lut_sequence_wins_over_window() {
    let s = Spec {
        values: vec![5, 10, 11, 12, 13, 100],
        // 4 entries, first mapped value 10, 8 bits per entry.
        voi_lut: Some((vec![4, 10, 8], vec![0, 50, 100, 255])),
        window: Some((&["2048"], &["4096"])),
        ..Default::default()
    };
    // Below the first value clamps to entry 0, above the last to entry 3.
    assert_eq!(display(&s), vec![0, 0, 50, 100, 255, 255]);
}

#[test]
fn voi_lut_sixteen_bit_entries_scale_to_eight() {
    let s = Spec {
        values: vec![0, 1, 2],
        voi_lut: Some((vec![3, 0, 16], vec![0, 32768, 65535])),
        ..Default::default()
    };
    // 32768/65535*255 = 127.5019 -> 128
    assert_eq!(display(&s), vec![0, 128, 255]);
}

#[test]
fn no_voi_means_min_max() {
    let s = Spec {
        values: vec![100, 200, 300, 150],
        ..Default::default()
    };
    assert_eq!(display(&s), vec![0, 128, 255, 64]);
}

#[test]
fn monochrome1_is_inverted_after_voi() {
    let s = Spec {
        values: vec![0, 1000, 2048, 4095],
        photometric: "MONOCHROME1",
        window: Some((&["2048"], &["4096"])),
        ..Default::default()
    };
    let d = imaging::decode_bytes(&build(&s)).unwrap();
    // 255 - y before rounding: 1000 -> 255 - 62.27 = 192.73 -> 193.
    assert_eq!(d.display.data, vec![255, 193, 127, 0]);
    // Full depth is inverted too, so brighter is always denser.
    assert_eq!(d.full.data, vec![4095, 3095, 2047, 0]);
    assert_eq!(d.full.max_value, 4095);
}

#[test]
fn rescale_slope_intercept_feed_the_window() {
    // Modality = 2*stored - 1024; window in modality units.
    let s = Spec {
        values: vec![0, 512, 1024, 2047],
        rescale: Some(("2", "-1024")),
        window: Some((&["0"], &["2048"])),
        function: Some("LINEAR_EXACT"),
        ..Default::default()
    };
    // modality: -1024, 0, 1024, 3070 -> 0, 127.5, 255, 255
    assert_eq!(display(&s), vec![0, 128, 255, 255]);
}

#[test]
fn signed_twelve_bit_pixels() {
    let s = Spec {
        values: vec![-2048, -1, 0, 2047],
        signed: true,
        ..Default::default()
    };
    let d = imaging::decode_bytes(&build(&s)).unwrap();
    assert_eq!(d.full.data, vec![0, 2047, 2048, 4095]);
    assert!(d.info.signed);
    // min-max over modality values -2048..2047
    assert_eq!(d.display.data, vec![0, 127, 128, 255]);
    // A window on signed values.
    let w = Spec {
        window: Some((&["0"], &["100"])),
        function: Some("LINEAR_EXACT"),
        ..s
    };
    assert_eq!(display(&w), vec![0, 125, 128, 255]);
}

#[test]
fn eight_bit_and_implicit_vr() {
    let s = Spec {
        values: vec![0, 17, 128, 255],
        bits_allocated: 8,
        bits_stored: 8,
        window: Some((&["127.5"], &["256"])),
        function: Some("LINEAR_EXACT"),
        ..Default::default()
    };
    let explicit = imaging::decode_bytes(&build(&s)).unwrap();
    assert_eq!(explicit.full.data, vec![0, 17, 128, 255]);
    assert_eq!(explicit.full.max_value, 255);
    let implicit = imaging::decode_bytes(&build(&Spec {
        implicit: true,
        ..s
    }))
    .unwrap();
    assert_eq!(implicit.full, explicit.full);
    assert_eq!(implicit.display, explicit.display);
    assert_eq!(
        implicit.info.transfer_syntax.as_deref(),
        Some("1.2.840.10008.1.2")
    );
}

#[test]
fn phi_is_kept_apart() {
    let bytes = build(&Spec {
        values: vec![1, 2],
        ..Default::default()
    });
    let info = imaging::info_bytes(&bytes).unwrap();
    assert!(info
        .phi
        .iter()
        .any(|(k, v)| k == "PatientName" && v == "Secret^Patient"));
    // Whatever serialises the info (info --json, run records) must not carry it.
    let json = serde_json::to_string(&info).unwrap();
    assert!(json.contains("\"rows\":1"), "{json}");
    assert!(
        !json.contains("Secret"),
        "PHI leaked into serialised info: {json}"
    );
}

#[test]
fn corrupt_and_forged_files_are_refused() {
    let bytes = build(&Spec {
        values: (0..64).collect(),
        ..Default::default()
    });
    for cut in [100, 132, 200, bytes.len() / 2, bytes.len() - 1] {
        assert!(
            imaging::decode_bytes(&bytes[..cut]).is_err(),
            "cut at {cut}"
        );
    }
    // A small file claiming 60000 x 60000 pixels is refused before allocation.
    let mut o = InMemDicomObject::new_empty();
    o.put(DataElement::new(
        tags::ROWS,
        VR::US,
        dicom_value!(U16, [60000]),
    ));
    o.put(DataElement::new(
        tags::COLUMNS,
        VR::US,
        dicom_value!(U16, [60000]),
    ));
    o.put(DataElement::new(
        tags::BITS_ALLOCATED,
        VR::US,
        dicom_value!(U16, [16]),
    ));
    o.put(DataElement::new(
        tags::PIXEL_DATA,
        VR::OW,
        PrimitiveValue::U16(vec![0u16; 4].into()),
    ));
    let f = o
        .with_meta(
            FileMetaTableBuilder::new()
                .transfer_syntax("1.2.840.10008.1.2.1")
                .media_storage_sop_class_uid("1.2.840.10008.5.1.4.1.1.7")
                .media_storage_sop_instance_uid("1.2.3"),
        )
        .unwrap();
    let mut forged = Vec::new();
    f.write_all(&mut forged).unwrap();
    let e = imaging::decode_bytes(&forged).unwrap_err();
    assert!(e.to_string().contains("60000"), "{e}");
    // An element claiming 4 GB in a small file.
    let mut lying = bytes.clone();
    let n = lying.len();
    lying[n - 2 * 64 - 4..n - 2 * 64].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
    let e = imaging::decode_bytes(&lying).unwrap_err();
    assert!(matches!(e, imaging::ImageError::Truncated(_)), "{e}");
}
