//! Validation finds every kind of problem, each as `file:line: problem`, and
//! `--skip-bad` keeps exactly the good rows.

use data::validate::{self, ValidateOptions};
use data::Manifest;
use imaging::Gray8;

#[test]
fn every_problem_kind_is_reported_at_its_line() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let img = Gray8 {
        width: 4,
        height: 3,
        data: (0..12).collect(),
    };
    for name in [
        "a.png", "b.png", "c.png", "d.png", "e.png", "f.png", "g.png",
    ] {
        imaging::pngio::write_png8(&dir.join(name), &img).unwrap();
    }
    std::fs::write(dir.join("bad.png"), b"\x89PNG\r\n\x1a\nnot really").unwrap();
    let manifest = dir.join("m.csv");
    std::fs::write(
        &manifest,
        "image,patient_id,laterality,view,label,site\n\
         a.png,p1,L,CC,malignant,x\n\
         missing.png,p2,L,CC,negative,x\n\
         bad.png,p3,R,CC,negative,x\n\
         b.png,p4,L,CC,benign,x\n\
         ./b.png,p4,L,CC,benign,x\n\
         c.png,p5,,MLO,negative,x\n\
         c.png,p5,,MLO,malignant,x\n\
         d.png,p1,LEFT,MLO,negative,x\n\
         e.png,p6,R,CC,suspicious,x\n\
         f.png,,R,CC,negative,x\n\
         g.png,p1,R,CC,negative,x\n",
    )
    .unwrap();
    // Strict reading refuses the unknown label and the empty patient, together.
    let err = Manifest::read(&manifest).unwrap_err().to_string();
    let m = manifest.display();
    assert_eq!(
        err,
        format!(
            "{m}:10: unknown label 'suspicious' (expected negative, benign or malignant)\n{m}:11: empty 'patient_id'"
        )
    );
    let (man, mut problems) = Manifest::read_lenient(&manifest).unwrap();
    let checked = validate::validate(
        &man,
        &validate::origins_of(&man, &manifest),
        ValidateOptions::default(),
    );
    problems.extend(checked.iter().map(|p| p.problem.clone()));
    problems.sort_by_key(|p| p.line);
    let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
    let missing = dir.join("missing.png");
    let expected_prefixes = [
        format!("{m}:2: contradictory labels on patient p1 breast L: malignant here, negative at line 9"),
        format!("{m}:3: missing image '{}'", missing.display()),
        format!("{m}:4: unreadable image: "),
        format!("{m}:6: duplicate row for image './b.png' (first at line 5)"),
        format!("{m}:7: image 'c.png' has two labels: negative here, malignant at line 8"),
        format!("{m}:8: image 'c.png' has two labels: malignant here, negative at line 7"),
        format!("{m}:9: contradictory labels on patient p1 breast L: negative here, malignant at line 2"),
        format!("{m}:10: unknown label 'suspicious'"),
        format!("{m}:11: empty 'patient_id'"),
    ];
    assert_eq!(lines.len(), expected_prefixes.len(), "{lines:#?}");
    for (l, e) in lines.iter().zip(&expected_prefixes) {
        assert!(l.starts_with(e.as_str()), "{l}\n  should start with\n{e}");
    }
    assert!(lines[2].contains("bad.png"), "{}", lines[2]);

    // --skip-bad: the first of the duplicates and the right breast of p1 stay.
    let kept = validate::drop_bad(&man, &checked);
    let kept_lines: Vec<u64> = kept.records.iter().map(|r| r.line).collect();
    assert_eq!(kept_lines, vec![5, 12]);
    assert_eq!(kept.extra_columns, vec!["site".to_string()]);

    // The report of what was dropped lists every problem with its line and reason.
    let dropped = validate::dropped_path(&dir.join("out.csv"));
    assert_eq!(dropped, dir.join("out.dropped.csv"));
    validate::write_dropped(&dropped, &problems).unwrap();
    let mut rdr = csv::Reader::from_path(&dropped).unwrap();
    assert_eq!(
        rdr.headers().unwrap().iter().collect::<Vec<_>>(),
        vec!["file", "line", "image", "patient_id", "label", "reason"]
    );
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 9);
    assert_eq!(&rows[7][1], "10");
    assert_eq!(&rows[7][4], "suspicious");
}
