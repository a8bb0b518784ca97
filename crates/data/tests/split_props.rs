//! Splits: a patient is never in two parts, strata get their share of the test part,
//! folds are balanced, the same seed gives the same split, and a split file read back
//! is checked against its manifest.

use data::{Label, Manifest, Part, Record, Split, SplitSettings};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet, HashMap};

fn manifest(patients: &[Vec<u8>]) -> Manifest {
    let mut records = Vec::new();
    for (p, images) in patients.iter().enumerate() {
        for (k, &l) in images.iter().enumerate() {
            records.push(Record {
                image: format!("p{p}/img{k}.png"),
                patient_id: format!("patient{p:03}"),
                laterality: if k % 2 == 0 { "L" } else { "R" }.into(),
                view: "CC".into(),
                label: Label::ALL[l as usize % 3],
                extra: vec![],
                line: 0,
            });
        }
    }
    Manifest {
        records,
        ..Manifest::default()
    }
}

fn patients_strategy() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(prop::collection::vec(0u8..3, 1..5), 1..60)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn patients_never_cross_parts(
        patients in patients_strategy(),
        fraction in 0.0f64..0.6,
        folds in 2usize..8,
        repeats in 1usize..4,
        seed in any::<u64>(),
    ) {
        let m = manifest(&patients);
        let s = SplitSettings { test_fraction: fraction, folds, repeats, seed };
        let split = Split::make(&m, None, s).unwrap();
        prop_assert_eq!(split.rows.len(), m.records.len());

        // One part vector per patient, and each has `repeats` entries.
        let mut parts: HashMap<&str, &Vec<Part>> = HashMap::new();
        for r in &split.rows {
            prop_assert_eq!(r.parts.len(), repeats);
            let e = parts.entry(r.patient_id.as_str()).or_insert(&r.parts);
            prop_assert_eq!(*e, &r.parts, "patient {} in two parts", r.patient_id);
        }
        // Test part: same in every repeat, round(f * N) patients, and each stratum
        // (most severe label) gives floor or ceil of its share.
        let mut worst: BTreeMap<&str, Label> = BTreeMap::new();
        for r in &m.records {
            let w = worst.entry(r.patient_id.as_str()).or_insert(r.label);
            *w = (*w).max(r.label);
        }
        let n = worst.len();
        let test: BTreeSet<&str> = parts.iter().filter(|(_, v)| v[0] == Part::Test).map(|(p, _)| *p).collect();
        for v in parts.values() {
            prop_assert!(v.iter().all(|&x| x == Part::Test) || v.iter().all(|&x| x != Part::Test));
        }
        prop_assert_eq!(test.len(), ((fraction * n as f64).round() as usize).min(n));
        for l in Label::ALL {
            let in_stratum: Vec<&str> = worst.iter().filter(|(_, &w)| w == l).map(|(p, _)| *p).collect();
            let t = in_stratum.iter().filter(|p| test.contains(*p)).count();
            let share = fraction * in_stratum.len() as f64;
            prop_assert!(t as f64 >= share.floor() && t as f64 <= share.ceil(),
                "stratum {} got {} of share {}", l, t, share);
        }
        // Folds: patient counts differ by at most one, overall and per stratum.
        for rep in 0..repeats {
            let mut overall = vec![0usize; folds];
            let mut per: BTreeMap<Label, Vec<usize>> = BTreeMap::new();
            for (p, v) in &parts {
                if let Part::Fold(f) = v[rep] {
                    prop_assert!(f >= 1 && f <= folds);
                    overall[f - 1] += 1;
                    per.entry(worst[p]).or_insert_with(|| vec![0; folds])[f - 1] += 1;
                }
            }
            let spread = |v: &[usize]| v.iter().max().unwrap() - v.iter().min().unwrap();
            prop_assert!(spread(&overall) <= 1, "{:?}", overall);
            for v in per.values() {
                prop_assert!(spread(v) <= 1, "{:?}", v);
            }
        }
        // Deterministic.
        prop_assert_eq!(&Split::make(&m, None, s).unwrap(), &split);
    }

    #[test]
    fn written_split_reads_back(
        patients in patients_strategy(),
        repeats in 1usize..3,
        seed in any::<u64>(),
    ) {
        let m = manifest(&patients);
        let s = SplitSettings { test_fraction: 0.2, folds: 3, repeats, seed };
        let split = Split::make(&m, None, s).unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("split.csv");
        split.write(&path).unwrap();
        let back = Split::read(&path, &m).unwrap();
        prop_assert_eq!(back.rows, split.rows);
        prop_assert_eq!(back.repeats, repeats);
    }
}

#[test]
fn index_helpers_partition_the_images() {
    let patients: Vec<Vec<u8>> = (0..40).map(|i| vec![(i % 3) as u8, 0]).collect();
    let m = manifest(&patients);
    let s = SplitSettings {
        test_fraction: 0.1,
        folds: 4,
        repeats: 2,
        seed: 9,
    };
    let split = Split::make(&m, None, s).unwrap();
    let test = split.test();
    assert_eq!(test.len(), 8); // 4 patients × 2 images
    for rep in 0..2 {
        for f in 1..=4 {
            let mut all: Vec<usize> = split.train(rep, f);
            all.extend(split.fold(rep, f));
            all.extend(&test);
            all.sort_unstable();
            assert_eq!(all, (0..m.records.len()).collect::<Vec<_>>());
        }
    }
    assert_eq!(split.development().len() + test.len(), m.records.len());
    // Repeats reshuffle the folds.
    assert_ne!(split.fold(0, 1), split.fold(1, 1));
    // Another seed, another split.
    let other = Split::make(&m, None, SplitSettings { seed: 10, ..s }).unwrap();
    assert_ne!(other.test(), test);
}

#[test]
fn scenario_subset_and_bad_settings() {
    let patients: Vec<Vec<u8>> = (0..30).map(|i| vec![(i % 3) as u8]).collect();
    let m = manifest(&patients);
    let labels: Vec<Label> = m.records.iter().map(|r| r.label).collect();
    let subset: Vec<usize> = data::Scenario::MalignantVsNegative
        .select(&labels)
        .into_iter()
        .map(|(i, _)| i)
        .collect();
    let split = Split::make(&m, Some(&subset), SplitSettings::default()).unwrap();
    assert_eq!(split.rows.len(), 20);
    assert!(split.rows.iter().all(|r| r.label != Label::Benign));
    let bad = |s: SplitSettings| Split::make(&m, None, s).unwrap_err().to_string();
    assert!(bad(SplitSettings {
        test_fraction: 1.0,
        ..SplitSettings::default()
    })
    .contains("outside [0, 1)"));
    assert!(bad(SplitSettings {
        folds: 1,
        ..SplitSettings::default()
    })
    .contains("at least 2"));
}

#[test]
fn tampered_split_files_are_refused_with_lines() {
    let patients: Vec<Vec<u8>> = (0..12).map(|i| vec![(i % 3) as u8, 0]).collect();
    let m = manifest(&patients);
    let split = Split::make(
        &m,
        None,
        SplitSettings {
            test_fraction: 0.25,
            folds: 3,
            repeats: 1,
            seed: 1,
        },
    )
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("split.csv");
    split.write(&path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    assert_eq!(lines[0], "image,patient_id,label,part");
    // Lines 2 and 3 are patient000's two images: move the second to another part.
    let other = if lines[2].ends_with(",test") {
        "fold-1"
    } else {
        "test"
    };
    let cut = lines[2].rfind(',').unwrap();
    lines[2] = format!("{},{other}", &lines[2][..cut]);
    // Line 4 (patient001, benign): a wrong label; a row for an image the manifest lacks.
    lines[3] = lines[3].replace(",benign,", ",negative,");
    // The last image (patient011's second) left out.
    lines.pop();
    lines.push("nowhere.png,patient999,negative,fold-1".into());
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let err = Split::read(&path, &m).unwrap_err().to_string();
    let p = path.display();
    assert!(
        err.contains(&format!(
            "{p}:4: image 'p1/img0.png': label 'negative' but the manifest says 'benign'"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{p}:25: image 'nowhere.png' is not in the manifest"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!("{p}:3: patient patient000 is in two parts: ")),
        "{err}"
    );
    assert!(err.contains(" at line 2"), "{err}");
    assert!(
        err.contains("manifest image 'p11/img1.png' (negative) is missing from the split"),
        "{err}"
    );
}
