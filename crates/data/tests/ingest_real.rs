//! Ingestion of the real datasets in ../shared/data: mini-MIAS (Info.txt and
//! labels.csv), a CBIS-DDSM case-description CSV over the CBIS sample PNGs and DICOMs,
//! and a DICOM folder keyed by file name and by SOP Instance UID.

mod common;

use data::ingest::{self, BenignWithoutCallback, Format, IngestOptions};
use data::validate::{self, ValidateOptions};
use data::{Label, Manifest, Summary};
use std::collections::HashMap;
use std::path::Path;

fn counts(s: &Summary) -> (usize, usize, usize, usize, usize) {
    (
        s.labels[&Label::Negative].images,
        s.labels[&Label::Benign].images,
        s.labels[&Label::Malignant].images,
        s.images,
        s.patients,
    )
}

fn opts(out: &Path) -> IngestOptions {
    IngestOptions {
        out_dir: out.to_path_buf(),
        ..IngestOptions::default()
    }
}

/// Ingests and validates (images included); asserts there is no problem at all.
fn ingest_clean(format: Format, source: &Path, o: &IngestOptions) -> Manifest {
    let got = ingest::ingest(format, source, o).unwrap();
    assert!(got.problems.is_empty(), "{:?}", got.problems);
    let checked = validate::validate(&got.manifest, &got.origins, ValidateOptions::default());
    let lines: Vec<String> = checked.iter().map(|p| p.problem.to_string()).collect();
    assert!(lines.is_empty(), "{lines:#?}");
    got.manifest
}

#[test]
fn mini_mias_info_txt_has_the_published_counts_and_matches_labels_csv() {
    let Some(shared) = common::shared_data() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let m = ingest_clean(
        Format::Mias,
        &shared.join("mini-mias/Info.txt"),
        &opts(&out),
    );
    assert_eq!(counts(&Summary::of(&m)), (207, 63, 52, 322, 161));

    // Written and read back, paths resolve from the manifest's own folder.
    let path = out.join("mias.csv");
    m.write(&path).unwrap();
    let back = Manifest::read(&path).unwrap();
    assert_eq!(back.records.len(), 322);
    assert!(back.image_path(&back.records[0]).is_file());

    // Every column the shared labels.csv derives from Info.txt agrees.
    let shared_m = Manifest::read(&shared.join("mini-mias/labels.csv")).unwrap();
    let by_name: HashMap<String, &data::Record> = shared_m
        .records
        .iter()
        .map(|r| (r.image.rsplit('/').next().unwrap().to_string(), r))
        .collect();
    let cols = [
        "laterality_per_infotxt_note",
        "background_tissue",
        "abnormality_class",
        "severity",
        "x",
        "y_from_bottom",
        "y_from_top",
        "radius",
        "n_abnormalities",
    ];
    for r in &back.records {
        let name = r.image.rsplit('/').next().unwrap();
        let s = by_name[name];
        assert_eq!(
            (&r.patient_id, &r.laterality, &r.view, r.label),
            (&s.patient_id, &s.laterality, &s.view, s.label),
            "{name}"
        );
        for c in cols {
            assert_eq!(back.extra(r, c), shared_m.extra(s, c), "{name} {c}");
        }
    }
}

#[test]
fn mini_mias_labels_csv_summary_and_ingest() {
    let Some(shared) = common::shared_data() else {
        return;
    };
    let labels = shared.join("mini-mias/labels.csv");
    let m = Manifest::read(&labels).unwrap();
    assert_eq!(counts(&Summary::of(&m)), (207, 63, 52, 322, 161));
    let problems = validate::validate(
        &m,
        &validate::origins_of(&m, &labels),
        ValidateOptions::default(),
    );
    assert!(problems.is_empty(), "{problems:?}");

    let tmp = tempfile::tempdir().unwrap();
    let got = ingest_clean(Format::Mias, &labels, &opts(tmp.path()));
    assert_eq!(counts(&Summary::of(&got)), (207, 63, 52, 322, 161));
    assert_eq!(got.extra_columns, m.extra_columns);
}

/// Rows in the real `mass_case_description_test_set.csv` layout for the two CBIS
/// sample patients (abnormality facts as in the sample's labels.csv), plus a
/// BENIGN_WITHOUT_CALLBACK abnormality on P_00820's right CC and one on an image of
/// its own.
const CBIS_CSV: &str = "patient_id,breast_density,left or right breast,image view,abnormality id,abnormality type,mass shape,mass margins,assessment,pathology,subtlety,image file path,cropped image file path,ROI mask file path
P_00173,2,LEFT,CC,1,mass,LOBULATED,CIRCUMSCRIBED,3,BENIGN,5,Mass-Test_P_00173_LEFT_CC/1.3.6.1.4.1.9590.100.1.2.10/1.3.6.1.4.1.9590.100.1.2.11/000000.dcm,Mass-Test_P_00173_LEFT_CC_1/1.3.6.1.4.1.9590.100.1.2.12/1.3.6.1.4.1.9590.100.1.2.13/000000.dcm,\"Mass-Test_P_00173_LEFT_CC_1/1.3.6.1.4.1.9590.100.1.2.12/1.3.6.1.4.1.9590.100.1.2.13/000001.dcm
\"
P_00173,2,LEFT,MLO,1,mass,LOBULATED,CIRCUMSCRIBED,3,BENIGN,5,Mass-Test_P_00173_LEFT_MLO/1.3.6.1.4.1.9590.100.1.2.20/1.3.6.1.4.1.9590.100.1.2.21/000000.dcm,Mass-Test_P_00173_LEFT_MLO_1/a/b/000000.dcm,Mass-Test_P_00173_LEFT_MLO_1/a/b/000001.dcm
P_00173,2,RIGHT,CC,1,mass,OVAL,CIRCUMSCRIBED,3,BENIGN,5,Mass-Test_P_00173_RIGHT_CC/1.3.6.1.4.1.9590.100.1.2.30/1.3.6.1.4.1.9590.100.1.2.31/000000.dcm,Mass-Test_P_00173_RIGHT_CC_1/a/b/000000.dcm,Mass-Test_P_00173_RIGHT_CC_1/a/b/000001.dcm
P_00173,2,RIGHT,CC,2,mass,LOBULATED,CIRCUMSCRIBED,3,BENIGN,5,Mass-Test_P_00173_RIGHT_CC/1.3.6.1.4.1.9590.100.1.2.30/1.3.6.1.4.1.9590.100.1.2.31/000000.dcm,Mass-Test_P_00173_RIGHT_CC_2/a/b/000000.dcm,Mass-Test_P_00173_RIGHT_CC_2/a/b/000001.dcm
P_00173,2,RIGHT,MLO,1,mass,OVAL,CIRCUMSCRIBED,3,BENIGN,5,Mass-Test_P_00173_RIGHT_MLO/1.3.6.1.4.1.9590.100.1.2.40/1.3.6.1.4.1.9590.100.1.2.41/000000.dcm,Mass-Test_P_00173_RIGHT_MLO_1/a/b/000000.dcm,Mass-Test_P_00173_RIGHT_MLO_1/a/b/000001.dcm
P_00173,2,RIGHT,MLO,2,mass,LOBULATED,CIRCUMSCRIBED,3,BENIGN,4,Mass-Test_P_00173_RIGHT_MLO/1.3.6.1.4.1.9590.100.1.2.40/1.3.6.1.4.1.9590.100.1.2.41/000000.dcm,Mass-Test_P_00173_RIGHT_MLO_2/a/b/000000.dcm,Mass-Test_P_00173_RIGHT_MLO_2/a/b/000001.dcm
P_00820,3,LEFT,CC,1,mass,IRREGULAR,SPICULATED,5,MALIGNANT,5,Mass-Test_P_00820_LEFT_CC/1.3.6.1.4.1.9590.100.1.2.50/1.3.6.1.4.1.9590.100.1.2.51/000000.dcm,Mass-Test_P_00820_LEFT_CC_1/a/b/000000.dcm,Mass-Test_P_00820_LEFT_CC_1/a/b/000001.dcm
P_00820,3,LEFT,MLO,1,mass,IRREGULAR,MICROLOBULATED,5,MALIGNANT,5,Mass-Test_P_00820_LEFT_MLO/1.3.6.1.4.1.9590.100.1.2.60/1.3.6.1.4.1.9590.100.1.2.61/000000.dcm,Mass-Test_P_00820_LEFT_MLO_1/a/b/000000.dcm,Mass-Test_P_00820_LEFT_MLO_1/a/b/000001.dcm
P_00820,3,RIGHT,CC,1,mass,OVAL,CIRCUMSCRIBED,3,BENIGN,5,Mass-Test_P_00820_RIGHT_CC/1.3.6.1.4.1.9590.100.1.2.70/1.3.6.1.4.1.9590.100.1.2.71/000000.dcm,Mass-Test_P_00820_RIGHT_CC_1/a/b/000000.dcm,Mass-Test_P_00820_RIGHT_CC_1/a/b/000001.dcm
P_00820,3,RIGHT,CC,2,mass,ROUND,CIRCUMSCRIBED,2,BENIGN_WITHOUT_CALLBACK,4,Mass-Test_P_00820_RIGHT_CC/1.3.6.1.4.1.9590.100.1.2.70/1.3.6.1.4.1.9590.100.1.2.71/000000.dcm,Mass-Test_P_00820_RIGHT_CC_2/a/b/000000.dcm,Mass-Test_P_00820_RIGHT_CC_2/a/b/000001.dcm
P_00820,3,RIGHT,MLO,1,mass,ROUND,CIRCUMSCRIBED,2,BENIGN_WITHOUT_CALLBACK,4,Mass-Test_P_00820_RIGHT_MLO/1.3.6.1.4.1.9590.100.1.2.80/1.3.6.1.4.1.9590.100.1.2.81/000000.dcm,Mass-Test_P_00820_RIGHT_MLO_1/a/b/000000.dcm,Mass-Test_P_00820_RIGHT_MLO_1/a/b/000001.dcm
";

#[test]
fn cbis_case_description_over_the_sample_pngs() {
    let Some(shared) = common::shared_data() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let csv = tmp.path().join("mass_case_description_test_set.csv");
    std::fs::write(&csv, CBIS_CSV).unwrap();
    let mut o = opts(&tmp.path().join("out"));
    o.images = Some(shared.join("cbis-ddsm-sample/images"));

    // Default: BENIGN_WITHOUT_CALLBACK rows excluded; P_00820 RIGHT_MLO has only one.
    let got = ingest::ingest(Format::CbisDdsm, &csv, &o).unwrap();
    assert_eq!(got.notes.len(), 1, "{:?}", got.notes);
    let m = ingest_clean(Format::CbisDdsm, &csv, &o);
    assert_eq!(m.records.len(), 7);
    let sample = Manifest::read(&shared.join("cbis-ddsm-sample/labels.csv")).unwrap();
    let truth: HashMap<&str, &data::Record> = sample
        .records
        .iter()
        .map(|r| (r.image.rsplit('/').next().unwrap(), r))
        .collect();
    for r in &m.records {
        let name = r.image.rsplit('/').next().unwrap();
        let t = truth[name];
        assert_eq!(
            (&r.patient_id, &r.laterality, &r.view, r.label),
            (&t.patient_id, &t.laterality, &t.view, t.label),
            "{name}"
        );
        assert_eq!(
            m.extra(r, "n_abnormalities"),
            sample.extra(t, "n_abnormalities")
        );
        assert_eq!(m.extra(r, "cbis_split"), Some("Test"));
    }
    let right_cc = m
        .records
        .iter()
        .find(|r| r.image.ends_with("P_00173_RIGHT_CC.png"))
        .unwrap();
    assert_eq!(m.extra(right_cc, "mass_shape"), Some("OVAL;LOBULATED"));
    assert_eq!(m.extra(right_cc, "breast_density"), Some("2"));

    // Mapped to negative: the right MLO of P_00820 comes in as negative, the right CC
    // stays benign (its worst abnormality), and the breast rule flags R as
    // contradictory (benign and negative on one breast).
    o.benign_without_callback = BenignWithoutCallback::Negative;
    let got = ingest::ingest(Format::CbisDdsm, &csv, &o).unwrap();
    assert_eq!(got.manifest.records.len(), 8);
    let mlo = got
        .manifest
        .records
        .iter()
        .find(|r| r.image.ends_with("P_00820_RIGHT_MLO.png"))
        .unwrap();
    assert_eq!(mlo.label, Label::Negative);
    let p = validate::validate(&got.manifest, &got.origins, ValidateOptions::default());
    let lines: Vec<String> = p.iter().map(|p| p.problem.to_string()).collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].ends_with(
        ":11: contradictory labels on patient P_00820 breast R: benign here, negative at line 13"
    ));
    assert!(lines[1].contains(":13: contradictory labels on patient P_00820 breast R"));
}

#[test]
fn cbis_case_description_over_the_real_dicoms() {
    let Some(shared) = common::shared_data() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let csv = tmp.path().join("mass.csv");
    std::fs::write(&csv, CBIS_CSV).unwrap();
    let mut o = opts(tmp.path());
    o.images = Some(shared.join("dicom-samples"));
    let got = ingest::ingest(Format::CbisDdsm, &csv, &o).unwrap();
    // Only P_00820's CC views are there: the other six images are problems at their lines.
    let missing: Vec<u64> = got.problems.iter().map(|p| p.line).collect();
    // The first row spans lines 2-3 (a newline inside a quoted cell, as in TCIA's files).
    assert_eq!(missing, vec![2, 4, 5, 6, 7, 8, 10]);
    assert!(got.problems[0].reason.starts_with("image not found under"));
    let names: Vec<(&str, Label)> = got
        .manifest
        .records
        .iter()
        .map(|r| (r.image.rsplit('/').next().unwrap(), r.label))
        .collect();
    assert_eq!(
        names,
        vec![
            ("CBIS-DDSM_Mass-Test_P_00820_LEFT_CC.dcm", Label::Malignant),
            ("CBIS-DDSM_Mass-Test_P_00820_RIGHT_CC.dcm", Label::Benign),
        ]
    );
    let p = validate::validate(&got.manifest, &got.origins, ValidateOptions::default());
    assert!(p.is_empty(), "{p:?}");
}

#[test]
fn dicom_dir_by_file_name_and_by_uid() {
    let Some(shared) = common::shared_data() else {
        return;
    };
    let dir = shared.join("dicom-samples");
    let left = dir.join("CBIS-DDSM_Mass-Test_P_00820_LEFT_CC.dcm");
    let right = dir.join("CBIS-DDSM_Mass-Test_P_00820_RIGHT_CC.dcm");
    let tmp = tempfile::tempdir().unwrap();

    let labels = tmp.path().join("by_file.csv");
    std::fs::write(
        &labels,
        "file,patient_id,label,birads\n\
         CBIS-DDSM_Mass-Test_P_00820_LEFT_CC.dcm,P_00820,2,5\n\
         CBIS-DDSM_Mass-Test_P_00820_RIGHT_CC,P_00820,1,3\n",
    )
    .unwrap();
    let mut o = opts(tmp.path());
    o.labels = Some(labels);
    o.label_map = ingest::parse_label_map("0=negative,1=benign,2=malignant").unwrap();
    let m = ingest_clean(Format::DicomDir, &dir, &o);
    let got: Vec<(&str, &str, &str, Label)> = m
        .records
        .iter()
        .map(|r| {
            (
                r.image.rsplit('/').next().unwrap(),
                r.laterality.as_str(),
                r.view.as_str(),
                r.label,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "CBIS-DDSM_Mass-Test_P_00820_LEFT_CC.dcm",
                "L",
                "CC",
                Label::Malignant
            ),
            (
                "CBIS-DDSM_Mass-Test_P_00820_RIGHT_CC.dcm",
                "R",
                "CC",
                Label::Benign
            ),
        ]
    );
    assert_eq!(m.extra_columns, vec!["birads".to_string()]);

    // By SOP Instance UID, read from the headers; a laterality column that contradicts
    // the header is a problem at its line.
    let uid = |p: &Path| imaging::read_info(p).unwrap().sop_instance.unwrap();
    let labels = tmp.path().join("by_uid.csv");
    std::fs::write(
        &labels,
        format!(
            "sop_instance_uid,patient_id,label,laterality\n{},P_00820,benign,R\n{},P_00820,malignant,R\n1.2.3.4,P_1,negative,\n",
            uid(&right),
            uid(&left)
        ),
    )
    .unwrap();
    let mut o = opts(tmp.path());
    o.labels = Some(labels.clone());
    let got = ingest::ingest(Format::DicomDir, &dir, &o).unwrap();
    assert_eq!(got.manifest.records.len(), 1);
    assert!(got.manifest.records[0].image.ends_with("RIGHT_CC.dcm"));
    let p: Vec<String> = got.problems.iter().map(ToString::to_string).collect();
    assert_eq!(
        p,
        vec![
            format!("{}:3: laterality R in the label CSV but L in the DICOM header of CBIS-DDSM_Mass-Test_P_00820_LEFT_CC.dcm", labels.display()),
            format!("{}:4: no DICOM file with SOP Instance UID 1.2.3.4", labels.display()),
        ]
    );
}

#[test]
fn csv_with_column_and_label_maps() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let img = imaging::Gray8 {
        width: 2,
        height: 2,
        data: vec![0, 50, 100, 150],
    };
    std::fs::create_dir(dir.join("pics")).unwrap();
    for n in ["1", "2", "3"] {
        imaging::pngio::write_png8(&dir.join(format!("pics/{n}.png")), &img).unwrap();
    }
    let src = dir.join("src.csv");
    std::fs::write(
        &src,
        "file,subject,side,projection,y,age\n\
         1.png,s1,LEFT,cc,2,50\n\
         2.png,s1,RIGHT,mlo,0,50\n\
         3.png,s2,R,CC,7,61\n",
    )
    .unwrap();
    let mut o = opts(&dir.join("out"));
    o.images = Some(dir.join("pics"));
    o.map = ingest::parse_pairs(
        "image=file,patient_id=subject,label=y,laterality=side,view=projection",
    )
    .unwrap();
    o.label_map = ingest::parse_label_map("0=negative,1=benign,2=malignant").unwrap();
    let got = ingest::ingest(Format::Csv, &src, &o).unwrap();
    let p: Vec<String> = got.problems.iter().map(ToString::to_string).collect();
    assert_eq!(
        p,
        vec![format!(
            "{}:4: unknown label '7' (not in the label map: 0, 1, 2)",
            src.display()
        )]
    );
    let r: Vec<(&str, &str, &str, &str, Label)> = got
        .manifest
        .records
        .iter()
        .map(|r| {
            (
                r.image.as_str(),
                r.patient_id.as_str(),
                r.laterality.as_str(),
                r.view.as_str(),
                r.label,
            )
        })
        .collect();
    assert_eq!(
        r,
        vec![
            ("../pics/1.png", "s1", "L", "CC", Label::Malignant),
            ("../pics/2.png", "s1", "R", "MLO", Label::Negative),
        ]
    );
    assert_eq!(got.manifest.extra_columns, vec!["age".to_string()]);
    let checked = validate::validate(&got.manifest, &got.origins, ValidateOptions::default());
    assert!(checked.is_empty(), "{checked:?}");

    // A mapped column that does not exist is refused with the header line.
    o.map = ingest::parse_pairs("image=path").unwrap();
    let err = ingest::ingest(Format::Csv, &src, &o)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        format!(
            "{}:1: missing column 'path' (for manifest column 'image')",
            src.display()
        )
    );
}

#[test]
fn ddsm_normals_through_the_csv_format() {
    let Some(shared) = common::shared_data() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let m = ingest_clean(
        Format::Csv,
        &shared.join("ddsm-normals-tiryakiv/labels.csv"),
        &opts(tmp.path()),
    );
    let s = Summary::of(&m);
    assert_eq!(counts(&s), (66, 0, 0, 66, 66));
    assert_eq!(s.laterality["R"], 66);
    assert_eq!(s.views["MLO"], 66);
}

#[test]
fn mias_images_next_to_info_txt_or_in_images() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // The distribution's own layout: PGMs next to Info.txt; one PNG in images/.
    let mut pgm = b"P5\n4 4\n255\n".to_vec();
    pgm.extend(0..16u8);
    std::fs::write(dir.join("mdb001.pgm"), &pgm).unwrap();
    std::fs::create_dir(dir.join("images")).unwrap();
    let img = imaging::Gray8 {
        width: 4,
        height: 4,
        data: vec![7; 16],
    };
    imaging::pngio::write_png8(&dir.join("images/mdb002.png"), &img).unwrap();
    let info = dir.join("Info.txt");
    std::fs::write(
        &info,
        "MIAS header\n\nmdb001 G CIRC B 535 425 197\nmdb002 G NORM \nmdb003 D SPIC M 10 20 30\n",
    )
    .unwrap();
    let got = ingest::ingest(Format::Mias, &info, &opts(dir)).unwrap();
    let images: Vec<&str> = got
        .manifest
        .records
        .iter()
        .map(|r| r.image.as_str())
        .collect();
    assert_eq!(
        images,
        vec!["mdb001.pgm", "images/mdb002.png", "mdb003.pgm"]
    );
    let patients: Vec<&str> = got
        .manifest
        .records
        .iter()
        .map(|r| r.patient_id.as_str())
        .collect();
    assert_eq!(patients, vec!["mias_p001", "mias_p001", "mias_p002"]);
    let p = validate::validate(&got.manifest, &got.origins, ValidateOptions::default());
    let lines: Vec<String> = p.iter().map(|p| p.problem.to_string()).collect();
    assert_eq!(
        lines,
        vec![format!(
            "{}:5: missing image '{}'",
            info.display(),
            dir.join("mdb003.pgm").display()
        )]
    );
}
