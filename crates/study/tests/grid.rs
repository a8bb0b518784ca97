//! The study end to end on a tiny synthetic grid: every cell runs, the report is filled,
//! and running the grid as three shards plus `collect` gives the same report, with no
//! cell run twice. One test function: the backend's random generator is process-wide,
//! so trainings in parallel test threads would not be reproducible.

use std::path::Path;

use data::Scenario;
use study::grid::Shard;
use study::runner::{run, StudyEvent};
use study::StudyConfig;

fn tiny() -> StudyConfig {
    let mut c = StudyConfig::default();
    for d in &mut c.datasets {
        let s = d.synth.as_mut().expect("synthetic default");
        s.patients = 20;
        s.size = 128;
    }
    c.scenarios = vec![Scenario::MalignantVsNegative, Scenario::ThreeClass];
    c.test_fractions = vec![0.25, 0.4];
    c.train.input_size = 64;
    c.train.iterations = 2;
    c.train.pretrain_iterations = 2;
    c.train.batch_size = 8;
    c.train.checkpoint_every = 1;
    c.evaluation.bootstrap = 20;
    // The report scores every image against the other breast (companions predicted
    // before the cells' weights are deleted).
    c.evaluation.contralateral = 0.5;
    c
}

fn run_all(cfg: &StudyConfig, out: &Path, shard: Shard, started: &mut Vec<String>) {
    run(cfg, out, shard, &[], &mut |e| {
        if let StudyEvent::CellStarted { key, .. } = e {
            started.push(key.to_string());
        }
    })
    .unwrap();
}

#[test]
fn the_grid_runs_resumes_and_shards_to_the_same_report() {
    let cfg = tiny();
    let tmp = tempfile::tempdir().unwrap();
    let whole = tmp.path().join("whole");
    let mut started = Vec::new();
    run_all(&cfg, &whole, Shard::ALL, &mut started);
    // 4 experiments × 2 scenarios × 2 fractions, 2 pretraining cells, and the
    // interval-cancer variant of malignant-vs-negative for the 3 experiments on site A.
    assert_eq!(started.len(), 16 + 2 + 3, "{started:#?}");
    let report = study::report::build(&cfg, &whole).unwrap();
    assert_eq!((report.finished, report.total), (21, 21));
    let html = std::fs::read_to_string(&report.path).unwrap();
    // Figures 1–3 (binary + three-class panel per experiment), Figure 4, Figure 5 × 4.
    assert_eq!(report.figures, 4 * 2 + 1 + 4, "figures");
    assert_eq!(html.matches("<figure>").count(), report.figures);
    assert!(html.contains("Table 1"));
    assert!(
        html.contains("held-out") && html.contains("half"),
        "interval analysis"
    );
    assert!(
        html.contains("0.93 (0.89–0.97)"),
        "the study's DDSM malignant-vs-negative AUC"
    );
    for t in [
        "tables/table1.csv",
        "tables/cells.csv",
        "report.json",
        "study.toml",
    ] {
        assert!(whole.join(t).is_file(), "{t}");
    }
    let cell = whole.join("cells/site-a-digital-only/malignant-vs-negative/t25-r1");
    for f in ["metrics.json", "metrics-contra-0.5.json", "companions.csv"] {
        assert!(cell.join(f).is_file(), "{f}");
    }
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(cell.join("metrics-contra-0.5.json")).unwrap())
            .unwrap();
    assert_eq!(m["contralateral"], 0.5);
    // Finished cells are not recomputed; a cell whose record is gone is redone alone.
    let victim = whole.join("cells/site-a-digital-only/three-class/t40-r1");
    std::fs::remove_file(victim.join("cell.json")).unwrap();
    let mut again = Vec::new();
    run_all(&cfg, &whole, Shard::ALL, &mut again);
    assert_eq!(
        again,
        vec!["site-a-digital-only/three-class/t40-r1".to_string()]
    );
    let redone = study::report::build(&cfg, &whole).unwrap();
    assert_eq!(
        std::fs::read_to_string(redone.path).unwrap(),
        html,
        "same cell, same result"
    );

    // Three shards, then collect: the same cells, each once, and the same report.
    let sharded = tmp.path().join("sharded");
    let mut each = Vec::new();
    for index in 0..3 {
        let mut s = Vec::new();
        run_all(&cfg, &sharded, Shard { index, count: 3 }, &mut s);
        each.extend(s);
    }
    let mut a = started.clone();
    let mut b = each.clone();
    a.sort();
    b.sort();
    assert_eq!(a, b, "the shards' union is the grid, no cell twice");
    let collected = study::report::build(&cfg, &sharded).unwrap();
    assert_eq!(std::fs::read_to_string(collected.path).unwrap(), html);

    // A folder belongs to one configuration.
    let mut other = cfg.clone();
    other.seed = 2;
    let err = run(&other, &whole, Shard::ALL, &[], &mut |_| {}).unwrap_err();
    assert!(err.to_string().contains("another configuration"), "{err}");
}
