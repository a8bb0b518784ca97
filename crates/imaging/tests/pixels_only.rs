//! `read_pixels` (no presentation image) gives exactly the full-depth pixels and
//! header facts of `read_image`, for every DICOM encoding in the fixtures and for the
//! real files of ../shared/data when present.
use std::path::{Path, PathBuf};

fn files_under(dir: &Path, exts: &[&str], out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            files_under(&p, exts, out);
        } else if p
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| exts.contains(&e))
        {
            out.push(p);
        }
    }
}

fn same(p: &Path) -> bool {
    let bytes = std::fs::read(p).unwrap();
    match (
        imaging::decode_bytes(&bytes),
        imaging::decode_pixels(&bytes),
    ) {
        (Ok(d), Ok(px)) => {
            assert_eq!(d.full, px.full, "{}", p.display());
            assert_eq!(
                (d.info.rows, d.info.columns, d.info.laterality, d.info.view),
                (
                    px.info.rows,
                    px.info.columns,
                    px.info.laterality,
                    px.info.view
                ),
                "{}",
                p.display()
            );
            true
        }
        (Err(a), Err(b)) => {
            assert_eq!(a.to_string(), b.to_string(), "{}", p.display());
            false
        }
        (a, b) => panic!(
            "{}: read_image {:?} but read_pixels {:?}",
            p.display(),
            a.err(),
            b.err()
        ),
    }
}

#[test]
fn pixels_equal_the_full_image_of_read_image_for_every_fixture() {
    let mut files = Vec::new();
    files_under(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures"),
        &["dcm", "png", "pgm"],
        &mut files,
    );
    assert!(files.len() >= 10, "fixtures found: {}", files.len());
    let decoded = files.iter().filter(|p| same(p)).count();
    assert!(
        decoded >= 10,
        "{decoded} of {} fixtures decode",
        files.len()
    );
}

#[test]
fn pixels_equal_the_full_image_of_read_image_on_real_files() {
    let Some(data) = Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|a| a.join("../shared/data"))
        .find(|d| d.is_dir())
    else {
        eprintln!("skipped: ../shared/data not found");
        return;
    };
    let mut files = Vec::new();
    files_under(&data.join("dicom-samples"), &["dcm"], &mut files);
    files_under(&data.join("cbis-ddsm-sample"), &["png"], &mut files);
    let mut mias = Vec::new();
    files_under(&data.join("mini-mias"), &["png", "pgm"], &mut mias);
    mias.sort();
    files.extend(mias.into_iter().take(5));
    assert!(files.iter().all(|p| same(p)));
}
