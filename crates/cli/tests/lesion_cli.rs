//! The lesion recipe as a user runs it: `train --preset lesion` (patch stage, then the
//! whole image), reusing another run's patch classifiers only on the same split,
//! `evaluate --tta` and `predict --tta flip-shift`, on synthetic mammograms whose findings
//! are annotated (x, y_from_top, radius).

use std::path::Path;
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mammorecall"))
}

fn run_ok(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn lesion_train(manifest: &Path, cache: &Path, out: &Path, extra: &[&str]) -> Command {
    let mut c = bin();
    c.args([
        "train",
        "--preset",
        "lesion",
        // The weights-free variant: CI need not carry ImageNet weights.
        "--arch",
        "alexnet-fcn",
        "--scenario",
        "malignant-vs-negative",
    ])
    .arg("--manifest")
    .arg(manifest)
    .arg("--cache-dir")
    .arg(cache)
    .args([
        "--input-size",
        "128",
        "--iterations",
        "6",
        "--patch-iterations",
        "20",
        "--patch-batch-size",
        "16",
        "--seed",
        "2",
        "-q",
    ])
    .args(extra)
    .arg("-o")
    .arg(out);
    c
}

#[test]
fn lesion_preset_patch_reuse_and_tta() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    run_ok(
        bin()
            .args([
                "synth",
                "--patients",
                "16",
                "--size",
                "256",
                "--difficulty",
                "0",
                "-q",
                "-o",
            ])
            .arg(d.join("data")),
    );
    let manifest = d.join("data/labels.csv");
    let cache = d.join("cache");

    // 1. The preset: a patch classifier inside the run, then the whole-image network.
    let r1 = d.join("r1");
    run_ok(&mut lesion_train(
        &manifest,
        &cache,
        &r1,
        &["--test-fraction", "0.3"],
    ));
    let config = std::fs::read_to_string(r1.join("config.toml")).unwrap();
    for want in [
        "arch = \"alexnet-fcn\"",
        "init = \"patches\"",
        "tta = \"flip\"",
        "crop = true",
        "equalize = false",
    ] {
        assert!(config.contains(want), "{want} missing from\n{config}");
    }
    let patches: serde_json::Value =
        serde_json::from_slice(&std::fs::read(r1.join("patches/patches.json")).unwrap()).unwrap();
    assert_eq!(patches["patch_size"], 64);
    assert!(
        patches["train_per_class"][2].as_u64().unwrap() > 0,
        "{patches}"
    );
    assert!(r1.join("patches/weights.safetensors").is_file());
    assert!(r1.join("weights.safetensors").is_file());

    // 2. Another run may start from r1's patch classifier on the same split only.
    let r2 = d.join("r2");
    let split = r1.join("split.csv");
    run_ok(&mut lesion_train(
        &manifest,
        &cache,
        &r2,
        &[
            "--init",
            &format!("patches:{}", r1.display()),
            "--split",
            split.to_str().unwrap(),
        ],
    ));
    assert!(
        !r2.join("patches").exists(),
        "the patch stage was not reused"
    );
    let r3 = d.join("r3");
    let out = lesion_train(
        &manifest,
        &cache,
        &r3,
        &[
            "--init",
            &format!("patches:{}", r1.display()),
            "--test-fraction",
            "0.4",
        ],
    )
    .output()
    .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("split differs"), "{err}");

    // 3. evaluate --tta: predictions again over 10 views, scored into suffixed files.
    let out = run_ok(
        bin()
            .args([
                "evaluate",
                "--tta",
                "flip-shift",
                "--bootstrap",
                "50",
                "--json",
            ])
            .arg(&r1),
    );
    let m: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(m["auc"].as_f64().is_some(), "{m}");
    assert!(r1.join("predictions-tta-flip-shift.csv").is_file());
    assert!(r1.join("metrics-tta-flip-shift.json").is_file());
    assert!(r1.join("roc-tta-flip-shift.svg").is_file());
    let plain = std::fs::read_to_string(r1.join("predictions.csv")).unwrap();
    let tta = std::fs::read_to_string(r1.join("predictions-tta-flip-shift.csv")).unwrap();
    assert_eq!(plain.lines().count(), tta.lines().count());
    assert_ne!(plain, tta);

    // 4. predict with shifts too.
    let image = d
        .join("data/images")
        .read_dir()
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let out = run_ok(
        bin()
            .args(["predict", "--tta=flip-shift", "--model"])
            .arg(&r1)
            .arg(&image),
    );
    let p: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let probs = &p[0]["probabilities"];
    let sum = probs["negative"].as_f64().unwrap() + probs["malignant"].as_f64().unwrap();
    assert!((sum - 1.0).abs() < 1e-4, "{p}");

    // Exam level: the inputs as one exam, each probability the maximum over the views.
    let images: Vec<_> = d
        .join("data/images")
        .read_dir()
        .unwrap()
        .take(2)
        .map(|e| e.unwrap().path())
        .collect();
    let each = run_ok(bin().args(["predict", "--model"]).arg(&r1).args(&images));
    let each: serde_json::Value = serde_json::from_slice(&each.stdout).unwrap();
    let exam = run_ok(
        bin()
            .args(["predict", "--level", "exam", "--reduce", "max", "--model"])
            .arg(&r1)
            .args(&images),
    );
    let exam: serde_json::Value = serde_json::from_slice(&exam.stdout).unwrap();
    assert_eq!(exam.as_array().unwrap().len(), 1, "{exam}");
    assert_eq!(exam[0]["image"], "exam");
    let m = |v: &serde_json::Value| v["probabilities"]["malignant"].as_f64().unwrap();
    assert!((m(&exam[0]) - m(&each[0]).max(m(&each[1]))).abs() < 1e-6);

    // 5. Without annotations the patch stage says what it needs.
    let bare = d.join("bare.csv");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let kept: Vec<String> = text
        .lines()
        .map(|l| l.split(',').take(5).collect::<Vec<_>>().join(","))
        .collect();
    std::fs::write(&bare, kept.join("\n").replace("images/", "data/images/")).unwrap();
    let out = lesion_train(&bare, &cache, &d.join("r4"), &["--test-fraction", "0.3"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("lesion annotations"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");

    // 6. The preset's default architecture: EfficientNet reading whole images by windows,
    // its patch classifier trained in context crops, no whole-image iteration (the patch
    // classifier starts from scratch here: CI carries no ImageNet weights).
    let r5 = d.join("r5");
    run_ok(
        bin()
            .args([
                "train",
                "--preset",
                "lesion",
                "--scenario",
                "malignant-vs-negative",
            ])
            .arg("--manifest")
            .arg(&manifest)
            .arg("--cache-dir")
            .arg(&cache)
            .args([
                "--input-size",
                "128",
                "--patch-size",
                "32",
                "--patch-iterations",
                "4",
                "--mining-iterations",
                "3",
                "--patch-batch-size",
                "8",
                "--patch-init",
                "scratch",
                "--test-fraction",
                "0.3",
                "--tta",
                "none",
                "-q",
                "-o",
            ])
            .arg(&r5),
    );
    let config = std::fs::read_to_string(r5.join("config.toml")).unwrap();
    for want in [
        "arch = \"efficientnet-lite0\"",
        "window_pooling = true",
        "iterations = 0",
        "in_channels = 3",
        "hard_negatives = 4",
        "mining_iterations = 3",
    ] {
        assert!(config.contains(want), "{want} missing from\n{config}");
    }
    let patches: serde_json::Value =
        serde_json::from_slice(&std::fs::read(r5.join("patches/patches.json")).unwrap()).unwrap();
    assert_eq!(patches["patch_size"], 32);
    assert_eq!(patches["crop_size"], 96);
    // The hard-negative round: the first round's patches and up to 4 mined normal crops
    // per training image.
    let mined: serde_json::Value =
        serde_json::from_slice(&std::fs::read(r5.join("patches/mined/patches.json")).unwrap())
            .unwrap();
    let normal = |v: &serde_json::Value| v["train_per_class"][0].as_u64().unwrap();
    let added = normal(&mined) - normal(&patches);
    assert!(added > 0, "{mined}");
    assert_eq!(
        mined["train_per_class"][1], patches["train_per_class"][1],
        "lesion patches are the first round's"
    );
    eprintln!("{added} hard negatives");
    let model: serde_json::Value =
        serde_json::from_slice(&std::fs::read(r5.join("model.json")).unwrap()).unwrap();
    assert_eq!(model["window_cells"], 1);
    let preds = std::fs::read_to_string(r5.join("predictions.csv")).unwrap();
    assert!(preds.lines().count() > 1, "{preds}");
}
