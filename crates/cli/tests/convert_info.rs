//! `convert` and `info` as a user runs them: real files, bad files, exit codes.
use std::path::{Path, PathBuf};
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mammorecall"))
}

fn shared_data() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("MAMMORECALL_SHARED") {
        let d = PathBuf::from(p).join("data");
        return d.is_dir().then_some(d);
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|a| a.join("../shared/data"))
        .find(|d| d.is_dir())
}

#[test]
fn bad_inputs_fail_with_one_line_and_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty.dcm", vec![]),
        ("text.png", b"this is not an image at all".to_vec()),
        ("truncated.pgm", b"P5 100 100 255\n\x01\x02\x03".to_vec()),
        ("huge.pgm", b"P5 60000 60000 255\n\x00\x00".to_vec()),
        (
            "badpng.png",
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00".to_vec(),
        ),
        ("preamble-only.dcm", {
            let mut v = vec![0u8; 128];
            v.extend_from_slice(b"DICM\x02\x00\x10\x00UI\xff\x7f");
            v
        }),
    ];
    for (name, bytes) in cases {
        let input = dir.path().join(name);
        std::fs::write(&input, &bytes).unwrap();
        let out = dir.path().join(format!("{name}.out.png"));
        let o = bin()
            .args([
                "convert",
                input.to_str().unwrap(),
                "-o",
                out.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert!(!o.status.success(), "{name} should fail");
        assert_ne!(o.status.code(), Some(101), "{name}: panicked");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(err.trim_end().lines().count(), 1, "{name}: {err}");
        assert!(
            err.contains(name),
            "{name}: message must name the file: {err}"
        );
        assert!(!out.exists(), "{name}: output left behind");
        let stray: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(stray.is_empty(), "{name}: temporary file left behind");
        // `info` reads headers only; it may describe a file whose pixels are cut
        // short, but it must never panic.
        let o = bin()
            .args(["info", input.to_str().unwrap()])
            .output()
            .unwrap();
        assert_ne!(o.status.code(), Some(101), "{name}: info panicked");
    }
    let o = bin()
        .args(["convert", "/nonexistent/x.dcm", "-o", "/tmp/never.png"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("/nonexistent/x.dcm"));
}

#[test]
fn real_dicom_info_json_and_convert() {
    let Some(data) = shared_data() else {
        eprintln!("skipped: ../shared/data not found");
        return;
    };
    let f = data.join("dicom-samples/CBIS-DDSM_Mass-Test_P_00820_LEFT_CC.dcm");
    let o = bin()
        .args(["info", "--json", f.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["rows"], 4736);
    assert_eq!(v["columns"], 2624);
    assert_eq!(v["bits_stored"], 16);
    assert_eq!(v["photometric"], "MONOCHROME2");
    assert_eq!(v["transfer_syntax"], "1.2.840.10008.1.2.5");
    assert_eq!(v["laterality"], "L");
    assert_eq!(v["view"], "CC");
    // The file name is the user's own; no header value may carry the PatientID.
    assert!(v.get("phi").is_none());
    for (k, val) in v.as_object().unwrap() {
        if k != "file" {
            assert!(
                !val.to_string().contains("P_00820"),
                "identifier in {k}: {val}"
            );
        }
    }
    let o = bin()
        .args(["info", "--json", "--show-phi", f.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&o.stdout).contains("Mass-Test_P_00820_LEFT_CC"));

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("small.png");
    let o = bin()
        .args([
            "convert",
            f.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--max-side",
            "512",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let d = imaging::read_image(&out).unwrap();
    // 4736x2624 -> long side 512, short side round(2624*512/4736) = 284.
    assert_eq!((d.full.height, d.full.width), (512, 284));
    assert_eq!(d.info.bits_stored, 8);
}
