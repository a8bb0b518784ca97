//! End-to-end tests of `mammorecall stats` on the golden fixtures of `crates/eval`.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mammorecall"))
}

fn case(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../eval/fixtures/cases")
        .join(format!("{name}.csv"))
}

/// The pROC golden value of `column` for `case`.
fn golden(case: &str, column: &str) -> f64 {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../eval/fixtures/proc_golden.csv");
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = header.iter().position(|h| *h == column).unwrap();
    let row = lines.find(|l| l.starts_with(&format!("{case},"))).unwrap();
    row.split(',').nth(col).unwrap().parse().unwrap()
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().unwrap()
}

fn json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[test]
fn roc_json_matches_proc() {
    let p = case("birads_ties");
    let out = run(&[
        "stats",
        "roc",
        p.to_str().unwrap(),
        "--label",
        "label",
        "--score",
        "a",
        "--json",
    ]);
    let v = json(&out);
    assert_eq!(v["n_positive"], 25);
    assert_eq!(v["n_negative"], 55);
    assert!((f(&v["auc"]) - golden("birads_ties", "auc_a")).abs() < 1e-12);
    let var = golden("birads_ties", "var_a");
    assert!((f(&v["delong_variance"]) - var).abs() < 1e-9 * var);
    assert!((f(&v["delong_ci95"][0]) - golden("birads_ties", "ci_a_lo")).abs() < 1e-12);
    assert!((f(&v["delong_ci95"][1]) - golden("birads_ties", "ci_a_hi")).abs() < 1e-12);
    let sas = &v["specificity_at_sensitivity"];
    assert_eq!(f(&sas["sensitivity"]), 0.869);
    assert!(
        (f(&sas["specificity_interpolated"]) - golden("birads_ties", "spec_at_sens_0.869")).abs()
            < 1e-12
    );
    assert!(f(&sas["specificity"]) <= f(&sas["specificity_interpolated"]));
    let (lo, hi, med) = (
        f(&v["bootstrap_ci95"][0]),
        f(&v["bootstrap_ci95"][1]),
        f(&v["bootstrap_median"]),
    );
    assert!(lo < med && med < hi && lo < f(&v["auc"]) && f(&v["auc"]) < hi);
    // Same seed, same numbers.
    let again = json(&run(&[
        "stats",
        "roc",
        p.to_str().unwrap(),
        "--label",
        "label",
        "--score",
        "a",
        "--json",
    ]));
    assert_eq!(again["bootstrap_ci95"], v["bootstrap_ci95"]);
}

#[test]
fn compare_json_matches_proc() {
    let p = case("medium");
    let v = json(&run(&[
        "stats",
        "compare",
        p.to_str().unwrap(),
        "--label",
        "label",
        "--score",
        "a",
        "--score",
        "b",
        "--json",
    ]));
    assert!((f(&v["auc_a"]) - golden("medium", "auc_a")).abs() < 1e-12);
    assert!((f(&v["auc_b"]) - golden("medium", "auc_b")).abs() < 1e-12);
    assert!((f(&v["difference"]) - (f(&v["auc_a"]) - f(&v["auc_b"]))).abs() < 1e-15);
    assert!((f(&v["delong_z"]) - golden("medium", "paired_z")).abs() < 1e-9);
    assert!((f(&v["delong_p"]) - golden("medium", "paired_p")).abs() < 1e-9);
    // Identical models: z = 0, p = 1.
    let p = case("identical");
    let v = json(&run(&[
        "stats",
        "compare",
        p.to_str().unwrap(),
        "--label",
        "label",
        "--score",
        "a",
        "--score",
        "b",
        "--json",
    ]));
    assert_eq!(f(&v["delong_z"]), 0.0);
    assert_eq!(f(&v["delong_p"]), 1.0);
}

#[test]
fn multiclass_json_matches_sklearn() {
    let p = case("three_class");
    let v = json(&run(&[
        "stats",
        "multiclass",
        p.to_str().unwrap(),
        "--label",
        "label",
        "--prob",
        "p_benign",
        "--prob",
        "p_malignant",
        "--prob",
        "p_negative",
        "--json",
    ]));
    // scikit-learn 1.9: ovo macro 0.7896666666666666; pair benign/malignant 0.8004.
    assert!((f(&v["mean_pairwise_auc"]) - 0.7896666666666666).abs() < 1e-12);
    assert!((f(&v["ovr_macro_auc"]) - 0.7896666666666666).abs() < 1e-12);
    let pairs = v["pairwise"].as_array().unwrap();
    assert_eq!(pairs.len(), 3);
    assert_eq!(
        pairs[0]["classes"],
        serde_json::json!(["benign", "malignant"])
    );
    assert!((f(&pairs[0]["auc"]) - 0.8004).abs() < 1e-12);
}

#[test]
fn undefined_variance_is_null_with_warning() {
    let p = case("single_positive");
    let out = run(&[
        "stats",
        "roc",
        p.to_str().unwrap(),
        "--label",
        "label",
        "--score",
        "a",
        "--json",
    ]);
    let v = json(&out);
    assert!(v["delong_variance"].is_null());
    assert!(v["delong_ci95"].is_null());
    assert!(v["bootstrap_ci95"].is_null());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("warning: DeLong variance is undefined"),
        "{err}"
    );
}

fn fails_with(csv: &str, args: &[&str], expect: &str) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("in.csv");
    std::fs::write(&p, csv).unwrap();
    let mut all = vec!["stats", "roc", p.to_str().unwrap()];
    all.extend_from_slice(args);
    let out = run(&all);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "one line expected: {err}");
    assert!(err.contains(expect), "expected {expect:?} in {err}");
}

#[test]
fn bad_input_fails_with_one_line() {
    let args = ["--label", "y", "--score", "s"];
    fails_with(
        "y,s\n1,0.5\n0,oops\n",
        &args,
        "line 3: column \"s\" holds \"oops\"",
    );
    fails_with("y,s\n1,0.5\n0,NaN\n", &args, "line 3: column \"s\" is NaN");
    fails_with("y,s\n1,0.5\n1,0.2\n", &args, "only one class");
    fails_with("y,t\n1,0.5\n0,0.2\n", &args, "no column \"s\"");
    fails_with(
        "y,s\n1,0.5\n2,0.2\n",
        &args,
        "line 3: label column \"y\" holds \"2\"",
    );
}

#[test]
fn positive_value_and_figures() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("in.csv");
    std::fs::write(
        &p,
        "y,s\nmalignant,0.9\nbenign,0.2\nmalignant,0.4\nbenign,0.5\nbenign,0.1\n",
    )
    .unwrap();
    let svg = dir.path().join("roc.svg");
    let png = dir.path().join("roc.png");
    let ps = p.to_str().unwrap();
    let v = json(&run(&[
        "stats",
        "roc",
        ps,
        "--label",
        "y",
        "--score",
        "s",
        "--positive",
        "malignant",
        "--json",
        "--plot",
        svg.to_str().unwrap(),
    ]));
    assert!((f(&v["auc"]) - 5.0 / 6.0).abs() < 1e-15);
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(
        text.starts_with("<svg") && text.contains("AUC 0.833"),
        "legend missing"
    );
    let out = run(&[
        "stats",
        "roc",
        ps,
        "--label",
        "y",
        "--score",
        "s",
        "--positive",
        "malignant",
        "--plot",
        png.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("AUC") && table.contains("0.8333"), "{table}");
}
