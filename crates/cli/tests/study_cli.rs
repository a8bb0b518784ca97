//! `mammorecall study` as users run it: `study init`, a study killed with SIGKILL and
//! re-run (finished cells are not recomputed), the Slurm scripts as a two-task array plus
//! the collect job (same report), and the report rendered by headless Chromium.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_mammorecall")
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A tiny two-site synthetic study: 2 experiments (one incremental), one scenario, one
/// test fraction; 5 cells.
const CONFIG: &str = r#"
title = "tiny"
seed = 3
scenarios = ["malignant-vs-negative"]
test_fractions = [0.3]
folds = 0

[[datasets]]
name = "A"
synth = { patients = 24, site = "digital", seed = 1, difficulty = 0.0, size = 128 }
interval_fraction = 0.2

[[datasets]]
name = "B"
synth = { patients = 24, site = "film", seed = 2, difficulty = 0.0, size = 128 }

[[experiments]]
name = "A only"
datasets = ["A"]
published = "ffdm-only"

[[experiments]]
name = "B then A"
datasets = ["A"]
pretrain = ["B"]
published = "incremental"

[train]
arch = "alexnet-small"
init = "scratch"
input_size = 64
in_channels = 1
iterations = 60
batch_size = 8
learning_rate = 0.003
lr_step = 0
equalize = false
checkpoint_every = 5

[evaluation]
bootstrap = 50
"#;

fn cell_records(out: &Path) -> Vec<(PathBuf, String)> {
    fn walk(p: &Path, acc: &mut Vec<(PathBuf, String)>) {
        if let Ok(rd) = std::fs::read_dir(p) {
            for e in rd.flatten() {
                let path = e.path();
                if path.is_dir() {
                    walk(&path, acc);
                } else if path.file_name().is_some_and(|n| n == "cell.json") {
                    acc.push((path.clone(), std::fs::read_to_string(&path).unwrap()));
                }
            }
        }
    }
    let mut v = Vec::new();
    walk(&out.join("cells"), &mut v);
    v.sort();
    v
}

#[test]
fn study_init_kill_resume_slurm_shards_and_rendering() {
    let tmp = tempfile::tempdir().unwrap();
    // `study init` writes a config that loads, and never overwrites silently.
    let init = tmp.path().join("init.toml");
    let st = Command::new(bin())
        .args(["study", "init", "-o"])
        .arg(&init)
        .status()
        .unwrap();
    assert!(st.success());
    let again = Command::new(bin())
        .args(["study", "init", "-o"])
        .arg(&init)
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    let bad = Command::new(bin())
        .args(["study", "--shard", "2/2", "-o"])
        .arg(tmp.path().join("x"))
        .output()
        .unwrap();
    assert!(!bad.status.success());

    let cfg = tmp.path().join("study.toml");
    std::fs::write(&cfg, CONFIG).unwrap();
    let out = tmp.path().join("killed");
    // Start, wait for the first finished cell, kill -9 in the middle of the next one.
    let mut child = Command::new(bin())
        .args(["study", "-q", "--config"])
        .arg(&cfg)
        .arg("-o")
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while cell_records(&out).is_empty() {
        assert!(t.elapsed() < Duration::from_secs(300), "no cell finished");
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the study ended early: {status}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(400));
    child.kill().unwrap();
    child.wait().unwrap();
    let before = cell_records(&out);
    assert!(
        !before.is_empty() && before.len() < 5,
        "{} cells",
        before.len()
    );
    assert!(!out.join("report.html").exists());

    let rerun = Command::new(bin())
        .args(["study", "-q", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&rerun.stdout);
    assert!(
        rerun.status.success(),
        "{}",
        String::from_utf8_lossy(&rerun.stderr)
    );
    assert!(
        stdout.contains(&format!("{} already finished", before.len())),
        "{stdout}"
    );
    let after = cell_records(&out);
    assert_eq!(after.len(), 5);
    for (path, text) in &before {
        let now = after.iter().find(|(p, _)| p == path).unwrap();
        assert_eq!(&now.1, text, "{} was recomputed", path.display());
    }
    let report = std::fs::read_to_string(out.join("report.html")).unwrap();

    // The Slurm scripts: two array tasks, then the collect job.
    let sharded = tmp.path().join("sharded");
    for task in 0..2 {
        let st = Command::new("bash")
            .arg(repo().join("scripts/slurm/study.sbatch"))
            .arg(&cfg)
            .arg(&sharded)
            .env("MAMMORECALL", bin())
            .env("SLURM_ARRAY_TASK_ID", task.to_string())
            .env("SLURM_ARRAY_TASK_COUNT", "2")
            .output()
            .unwrap();
        assert!(
            st.status.success(),
            "{}",
            String::from_utf8_lossy(&st.stderr)
        );
        assert!(String::from_utf8_lossy(&st.stdout).contains("study collect"));
    }
    assert!(!sharded.join("report.html").exists());
    let st = Command::new("bash")
        .arg(repo().join("scripts/slurm/collect.sbatch"))
        .arg(&sharded)
        .env("MAMMORECALL", bin())
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let collected = std::fs::read_to_string(sharded.join("report.html")).unwrap();
    assert_eq!(
        collected, report,
        "sharded + collect = killed, resumed and finished"
    );

    render(&out.join("report.html"));
}

/// Loads the report in headless Chromium and checks, through the attributes the report's
/// own script sets on load, that it ran without errors and that every figure drew.
fn render(report: &Path) {
    let chromium = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| {
            Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        });
    let Some(chromium) = chromium else {
        eprintln!(
            "SKIPPED the rendering check: no chromium here (Debian: apt-get install chromium)"
        );
        return;
    };
    let profile = tempfile::tempdir().unwrap();
    let dom = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--virtual-time-budget=5000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("file://{}", report.display()))
        .output()
        .unwrap();
    assert!(
        dom.status.success(),
        "{}",
        String::from_utf8_lossy(&dom.stderr)
    );
    let dom = String::from_utf8_lossy(&dom.stdout);
    let attr = |name: &str| -> Option<String> {
        let key = format!("{name}=\"");
        let i = dom.find(&key)? + key.len();
        Some(dom[i..].split('"').next()?.to_string())
    };
    assert_eq!(attr("data-errors"), None, "script errors");
    let figures: usize = attr("data-figures")
        .expect("the report's script ran")
        .parse()
        .unwrap();
    let html = std::fs::read_to_string(report).unwrap();
    assert_eq!(figures, html.matches("<figure>").count());
    assert!(figures >= 3, "{figures} figures");
    assert_eq!(attr("data-figures-rendered"), Some(figures.to_string()));
}

/// The shipped example over ../shared's mini-MIAS and DDSM normals (shortened, scored per
/// exam) runs and reports; the normals-only experiments are reported as not applicable,
/// with the reason.
#[test]
fn example_study_over_real_data_runs_and_reports() {
    let shared = repo().join("../shared/data");
    if !shared.join("mini-mias/labels.csv").is_file() {
        eprintln!("SKIPPED: ../shared/data (mini-MIAS, DDSM normals) not found");
        return;
    }
    let example =
        std::fs::read_to_string(repo().join("examples/study-mini-mias-ddsm-normals.toml")).unwrap();
    let shared = std::path::absolute(&shared).unwrap();
    let text = example
        .replace("../../shared/data", &shared.display().to_string())
        .replace("iterations = 300", "iterations = 3")
        .replace(
            "bootstrap = 200",
            "bootstrap = 20\nlevel = \"exam\"\nreduce = \"max\"",
        )
        .lines()
        .map(|l| {
            if l.starts_with("scenarios") {
                "scenarios = [\"malignant-vs-negative\", \"three-class\"]".to_string()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("study.toml");
    std::fs::write(&cfg, text).unwrap();
    let out = tmp.path().join("out");
    let run = Command::new(bin())
        .args(["study", "-q", "--config"])
        .arg(&cfg)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    // 4 experiments × 2 scenarios + 2 pretraining cells, all accounted for.
    assert!(String::from_utf8_lossy(&run.stdout).contains("(10 of 10 cells finished"));
    assert!(stderr.contains("not applicable: no 'malignant' images to train malignant-vs-negative"));
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("mini-MIAS + DDSM normals") && html.contains("not applicable"));
    // Scored per exam (a mini-MIAS patient's two images together), as configured.
    assert!(html.contains("Scored per exam (the max of its images"));
    let cell = out.join("cells/mini-mias-only/malignant-vs-negative/t20-r1");
    assert!(cell.join("metrics-exam-max.json").is_file() && cell.join("metrics.json").is_file());
    let table1 = std::fs::read_to_string(out.join("tables/table1.csv")).unwrap();
    assert!(table1
        .lines()
        .any(|l| l.starts_with("mini-MIAS only,malignant-vs-negative,")));
}
