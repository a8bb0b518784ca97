//! `train`, `evaluate`, `predict` and `bench` as a user runs them, on a tiny dataset the
//! test writes itself: 64×64 PGM images, malignant ones carrying a bright disc.
//! Includes the kill -9 test: an interrupted run resumed with `--resume` ends with the
//! same weights, byte for byte, as an uninterrupted one.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mammorecall"))
}

/// Runs the command, failing the test with its stderr when it does not succeed.
fn run_ok(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

const SIDE: usize = 64;

/// A manifest of `patients` patients with two images each; odd patients are malignant.
fn dataset(dir: &Path, patients: usize) -> std::path::PathBuf {
    let mut csv = String::from("image,patient_id,laterality,view,label\n");
    let mut state = 12345u64;
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) as u32
    };
    std::fs::create_dir_all(dir.join("img")).unwrap();
    for p in 0..patients {
        let malignant = p % 2 == 1;
        for view in ["CC", "MLO"] {
            let mut px: Vec<u8> = (0..SIDE * SIDE).map(|_| 60 + (next() % 60) as u8).collect();
            if malignant {
                let cx = 16 + (next() % 32) as i64;
                let cy = 16 + (next() % 32) as i64;
                for y in 0..SIDE as i64 {
                    for x in 0..SIDE as i64 {
                        if (x - cx).pow(2) + (y - cy).pow(2) < 49 {
                            px[y as usize * SIDE + x as usize] = 240;
                        }
                    }
                }
            }
            let name = format!("img/p{p}_{view}.pgm");
            let mut bytes = format!("P5\n{SIDE} {SIDE}\n255\n").into_bytes();
            bytes.extend_from_slice(&px);
            std::fs::write(dir.join(&name), bytes).unwrap();
            let label = if malignant { "malignant" } else { "negative" };
            csv.push_str(&format!("{name},P{p},L,{view},{label}\n"));
        }
    }
    let m = dir.join("labels.csv");
    std::fs::write(&m, csv).unwrap();
    m
}

fn train_args(manifest: &Path, cache: &Path, out: &Path, iterations: usize) -> Vec<String> {
    [
        "train",
        "--manifest",
        manifest.to_str().unwrap(),
        "--scenario",
        "malignant-vs-negative",
        "--arch",
        "efficientnet-lite0",
        "--input-size",
        "64",
        "--iterations",
        &iterations.to_string(),
        "--batch-size",
        "8",
        "--lr",
        "0.02",
        "--checkpoint-every",
        "2",
        "--test-fraction",
        "0.25",
        "--augment",
        "hflip",
        "--cache-dir",
        cache.to_str().unwrap(),
        "--quiet",
        "-o",
        out.to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

#[test]
fn kill_and_resume_gives_the_same_weights_then_evaluate_and_predict() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dataset(dir.path(), 24);
    let cache = dir.path().join("cache");
    let a = dir.path().join("run-a");
    let b = dir.path().join("run-b");
    let iterations = 24;

    run_ok(bin().args(train_args(&manifest, &cache, &a, iterations)));
    for f in [
        "config.toml",
        "run.json",
        "split.csv",
        "model.json",
        "mean.bin",
        "weights.safetensors",
        "train_log.csv",
        "predictions.csv",
    ] {
        assert!(a.join(f).is_file(), "missing {f}");
    }
    let run: serde_json::Value =
        serde_json::from_slice(&std::fs::read(a.join("run.json")).unwrap()).unwrap();
    assert_eq!(run["seed"], 1);
    assert_eq!(run["backend"], "burn-flex");
    assert_eq!(run["burn"], "0.22.1");

    // The same run, killed (SIGKILL) once a checkpoint is on disk, then resumed.
    let mut child = bin()
        .args(train_args(&manifest, &cache, &b, iterations))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pointer = b.join("checkpoint/latest.json");
    let t = Instant::now();
    // The pointer is replaced atomically, so it is either absent or complete.
    let checkpointed = || -> Option<u64> {
        let text = std::fs::read_to_string(&pointer).ok()?;
        let v: serde_json::Value = serde_json::from_str(&text).ok()?;
        v["iteration"].as_u64()
    };
    let mut killed_at = None;
    while t.elapsed() < Duration::from_secs(300) {
        if let Some(it) = checkpointed().filter(|&it| it >= 4) {
            killed_at = Some(it);
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let killed_at = killed_at.expect("no checkpoint written within 300 s");
    assert!(
        (killed_at as usize) < iterations && !b.join("weights.safetensors").exists(),
        "the run finished before it could be killed"
    );
    run_ok(bin().args(["train", "--resume", b.to_str().unwrap(), "--quiet"]));
    assert_eq!(
        std::fs::read(a.join("weights.safetensors")).unwrap(),
        std::fs::read(b.join("weights.safetensors")).unwrap(),
        "resumed weights differ (killed at iteration {killed_at})"
    );
    assert_eq!(
        std::fs::read_to_string(a.join("predictions.csv")).unwrap(),
        std::fs::read_to_string(b.join("predictions.csv")).unwrap()
    );

    // A second run into the same folder is refused rather than overwritten.
    let out = bin()
        .args(train_args(&manifest, &cache, &a, 2))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--resume"));

    // evaluate: metrics.json with the AUC of predictions.csv and the figure.
    let out = run_ok(bin().args([
        "evaluate",
        a.to_str().unwrap(),
        "--json",
        "--bootstrap",
        "200",
    ]));
    let m: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // The AUC evaluate computes from predictions.csv is the one train reported.
    let run: serde_json::Value =
        serde_json::from_slice(&std::fs::read(a.join("run.json")).unwrap()).unwrap();
    let (auc, reported) = (
        m["auc"].as_f64().unwrap(),
        run["test_auc"].as_f64().unwrap(),
    );
    assert!((auc - reported).abs() < 1e-9, "{auc} vs {reported}");
    assert_eq!(m["specificity_at_sensitivity"]["sensitivity"], 0.869);
    assert!(a.join("metrics.json").is_file() && a.join("roc.svg").is_file());
    // Exam level: one case per patient, its most severe class, scores combined.
    let out = run_ok(bin().args([
        "evaluate",
        a.to_str().unwrap(),
        "--json",
        "--bootstrap",
        "50",
        "--level",
        "exam",
        "--reduce",
        "max",
    ]));
    let e: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(e["level"], "exam");
    let cases = |v: &serde_json::Value| {
        v["n_positive"].as_u64().unwrap() + v["n_negative"].as_u64().unwrap()
    };
    assert!(
        cases(&e) < cases(&m),
        "{} exams vs {} images",
        cases(&e),
        cases(&m)
    );
    assert!(a.join("metrics-exam-max.json").is_file() && a.join("roc-exam-max.svg").is_file());

    // predict: probabilities of a file and of a folder, summing to one.
    let out = run_ok(bin().args([
        "predict",
        "--model",
        a.to_str().unwrap(),
        dir.path().join("img/p1_CC.pgm").to_str().unwrap(),
        dir.path().join("img").to_str().unwrap(),
    ]));
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows.len(), 1 + 48);
    for r in &rows {
        let p = &r["probabilities"];
        let s = p["negative"].as_f64().unwrap() + p["malignant"].as_f64().unwrap();
        assert!((s - 1.0).abs() < 1e-4, "{r}");
    }

    // Test-time augmentation: the mean over the image and its mirror, still a distribution.
    let out = run_ok(bin().args([
        "predict",
        "--model",
        a.to_str().unwrap(),
        "--tta",
        dir.path().join("img/p1_CC.pgm").to_str().unwrap(),
    ]));
    let tta: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let p = &tta[0]["probabilities"];
    let s = p["negative"].as_f64().unwrap() + p["malignant"].as_f64().unwrap();
    assert!((s - 1.0).abs() < 1e-4, "{p}");

    // explain: Grad-CAM overlay at the image's own resolution, and the raw map.
    let ex = dir.path().join("explain");
    run_ok(bin().args([
        "explain",
        "--model",
        a.to_str().unwrap(),
        dir.path().join("img/p1_CC.pgm").to_str().unwrap(),
        "--class",
        "malignant",
        "-o",
        ex.to_str().unwrap(),
    ]));
    let raw: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ex.join("p1_CC-gradcam.json")).unwrap()).unwrap();
    assert_eq!(raw["class"], "malignant");
    let values: Vec<f64> = raw["map"]["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let (w, h) = (
        raw["map"]["width"].as_u64().unwrap(),
        raw["map"]["height"].as_u64().unwrap(),
    );
    assert_eq!(values.len() as u64, w * h);
    assert!(values.iter().all(|v| (0.0..=1.0).contains(v)));
    let max = values.iter().cloned().fold(0.0, f64::max);
    assert!(max == 1.0 || max == 0.0, "scaled to a peak of 1: {max}");
    let overlay = imaging::read_image(&ex.join("p1_CC-gradcam.png")).unwrap();
    let original = imaging::read_image(&dir.path().join("img/p1_CC.pgm")).unwrap();
    assert_eq!(
        (overlay.display.width, overlay.display.height),
        (original.display.width, original.display.height)
    );
    let bad = bin()
        .args([
            "explain",
            "--model",
            a.to_str().unwrap(),
            "--class",
            "cat",
            "-o",
        ])
        .arg(&ex)
        .arg(dir.path().join("img/p1_CC.pgm"))
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--class cat"));

    // With lesion coordinates: the share of correctly classified malignant images whose
    // heat peak lies within two radii (here a radius covering the image: all of them).
    let m = dir.path().join("lesions.csv");
    std::fs::write(
        &m,
        "image,patient_id,laterality,view,label,x,y_from_top,radius\n\
         img/p1_CC.pgm,p1,L,CC,malignant,10,10,100000\n",
    )
    .unwrap();
    let ex2 = dir.path().join("explain2");
    let out = run_ok(bin().args([
        "explain",
        "--model",
        a.to_str().unwrap(),
        "--manifest",
        m.to_str().unwrap(),
        "-o",
        ex2.to_str().unwrap(),
    ]));
    assert!(String::from_utf8_lossy(&out.stdout).contains("heat peak within 2 radii"));
    let loc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ex2.join("localisation.json")).unwrap()).unwrap();
    assert!(loc["correct_malignant"].as_u64().unwrap() <= 1);
    assert_eq!(loc["peak_within_2_radii"], loc["correct_malignant"]);

    // Incremental transfer: a new run starts from run A's weights.
    let c = dir.path().join("run-c");
    let mut args = train_args(&manifest, &cache, &c, 2);
    args.extend(["--init".into(), a.to_str().unwrap().into()]);
    run_ok(bin().args(&args));
    let cfg = std::fs::read_to_string(c.join("config.toml")).unwrap();
    assert!(cfg.contains("init = \"run:"), "{cfg}");

    // --config repeats a run: unset flags keep the file's values (architecture, input
    // size, initialisation), given ones override.
    let d = dir.path().join("run-d");
    run_ok(
        bin()
            .args(["train", "--config"])
            .arg(c.join("config.toml"))
            .args(["--iterations", "1", "--quiet", "-o"])
            .arg(&d),
    );
    let cfg = std::fs::read_to_string(d.join("config.toml")).unwrap();
    assert!(cfg.contains("arch = \"efficientnet-lite0\""), "{cfg}");
    assert!(cfg.contains("input_size = 64"), "{cfg}");
    assert!(cfg.contains("init = \"run:"), "{cfg}");
    assert!(cfg.contains("iterations = 1\n"), "{cfg}");
}

#[test]
fn cross_validation_predicts_every_development_image_once() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dataset(dir.path(), 12);
    // Each patient's two images become her left and right MLO, and the right breast of
    // patients 0, 4 and 8 benign: outside malignant-vs-negative, yet the other breast
    // of three predicted images (for --contralateral below).
    let text = std::fs::read_to_string(&manifest).unwrap();
    let text: String = text
        .lines()
        .map(|l| {
            let l = l.replace(",L,MLO,", ",R,MLO,").replace(",L,CC,", ",L,MLO,");
            match l.split(',').nth(1) {
                Some("P0" | "P4" | "P8") if l.contains("_MLO.pgm") => {
                    l.replace(",negative", ",benign") + "\n"
                }
                _ => l + "\n",
            }
        })
        .collect();
    std::fs::write(&manifest, text).unwrap();
    let cache = dir.path().join("cache");
    let out_dir = dir.path().join("cv");
    let mut args = train_args(&manifest, &cache, &out_dir, 2);
    let i = args.iter().position(|a| a == "--test-fraction").unwrap();
    args[i + 1] = "0".into();
    args.extend(["--folds".into(), "3".into()]);
    run_ok(bin().args(&args));
    let preds = std::fs::read_to_string(out_dir.join("predictions.csv")).unwrap();
    let mut images: Vec<&str> = preds
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(images.len(), 21, "{preds}");
    images.sort();
    images.dedup();
    assert_eq!(images.len(), 21, "an image predicted twice");
    for k in 1..=3 {
        assert!(out_dir
            .join(format!("fold-{k}/weights.safetensors"))
            .is_file());
        let log = std::fs::read_to_string(out_dir.join(format!("fold-{k}/train_log.csv"))).unwrap();
        let last = log.lines().last().unwrap();
        assert!(!last.ends_with(','), "validation AUC missing: {last}");
    }

    // --contralateral: the three benign right breasts are predicted by the fold that
    // predicted their left, and every case is still scored once.
    let plain: serde_json::Value = serde_json::from_slice(
        &run_ok(bin().args([
            "evaluate",
            out_dir.to_str().unwrap(),
            "--json",
            "--bootstrap",
            "0",
        ]))
        .stdout,
    )
    .unwrap();
    let out = run_ok(bin().args([
        "evaluate",
        out_dir.to_str().unwrap(),
        "--json",
        "--bootstrap",
        "0",
        "--contralateral",
        "0.5",
    ]));
    let m: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(m["contralateral"], 0.5);
    assert_eq!(m["n_positive"], plain["n_positive"]);
    assert_eq!(m["n_negative"], plain["n_negative"]);
    assert!(out_dir.join("metrics-contra-0.5.json").is_file());
    assert!(out_dir.join("roc-contra-0.5.svg").is_file());
    let part_of = |text: &str, image: &str| -> String {
        text.lines()
            .find(|l| l.starts_with(image))
            .and_then(|l| l.split(',').nth(4))
            .unwrap_or_else(|| panic!("{image} not in\n{text}"))
            .to_string()
    };
    let comp = std::fs::read_to_string(out_dir.join("companions.csv")).unwrap();
    assert_eq!(comp.lines().count(), 1 + 3, "{comp}");
    for p in [0, 4, 8] {
        assert_eq!(
            part_of(&comp, &format!("img/p{p}_MLO.pgm,")),
            part_of(&preds, &format!("img/p{p}_CC.pgm,"))
        );
    }
    // predict --contralateral: two inputs without a side in their headers are each
    // other's other breast; log-odds drop by α times the partner's.
    let two = [
        dir.path().join("img/p3_CC.pgm"),
        dir.path().join("img/p2_CC.pgm"),
    ];
    let p_malignant = |extra: &[&str]| -> Vec<f64> {
        let out = run_ok(
            bin()
                .args(["predict", "--model", out_dir.to_str().unwrap()])
                .args(extra)
                .args(&two),
        );
        let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
        rows.iter()
            .map(|r| r["probabilities"]["malignant"].as_f64().unwrap())
            .collect()
    };
    let (alone, read) = (p_malignant(&[]), p_malignant(&["--contralateral", "0.5"]));
    let logit = |p: f64| (p / (1.0 - p)).ln();
    for (k, o) in [(0, 1), (1, 0)] {
        let want = logit(alone[k]) - 0.5 * logit(alone[o]);
        assert!(
            (logit(read[k]) - want).abs() < 1e-3,
            "{read:?} from {alone:?}"
        );
    }
    // A bad weight is refused before anything runs.
    let out = bin()
        .args([
            "evaluate",
            out_dir.to_str().unwrap(),
            "--contralateral",
            "-1",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn bench_prints_json() {
    let out = run_ok(bin().args([
        "bench",
        "infer",
        "--arch",
        "efficientnet-lite0",
        "--batch",
        "2",
        "--steps",
        "1",
        "--input-size",
        "64",
        "--json",
    ]));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["images_per_second"].as_f64().unwrap() > 0.0);
    assert!(v["peak_rss_mb"].as_f64().unwrap() > 0.0);
    assert_eq!(v["backend"], "burn-flex");
}

#[test]
fn bad_settings_fail_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dataset(dir.path(), 4);
    let out = bin()
        .args([
            "train",
            "--manifest",
            manifest.to_str().unwrap(),
            "--scenario",
            "malignant-vs-negative",
            "--momentum",
            "2",
            "-o",
        ])
        .arg(dir.path().join("x"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("momentum"), "{err}");
    assert!(
        !dir.path().join("x").exists(),
        "nothing is written for a bad config"
    );
}
