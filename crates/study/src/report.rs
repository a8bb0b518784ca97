//! The study report: `report.html` (self-contained: inline SVG, no network), `report.json`
//! and CSV tables, built from the finished cells of a study folder. It holds no times or
//! host names, so the report of a sharded study equals that of an unsharded one.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};

use data::Scenario;
use eval::plot::{roc_svg, PlotCurve};
use eval::{delong_paired_test, Ranked, RocCurve};
use serde_json::{json, Value};

use crate::config::StudyConfig;
use crate::grid::{Cell, CellKind};
use crate::published;
use crate::runner::{collect_records, CellRecord, Plan, INTERVAL_FILE};
use crate::svg::{esc, grouped_bars, Series};
use crate::StudyError;

/// The report's main file.
pub const REPORT_FILE: &str = "report.html";

/// What the report found.
#[derive(Debug, Clone)]
pub struct ReportSummary {
    /// Cells of the grid.
    pub total: usize,
    /// Finished cells.
    pub finished: usize,
    /// The report file.
    pub path: PathBuf,
    /// Figures drawn.
    pub figures: usize,
}

/// One finished cell's results, loaded.
struct Loaded {
    cell: Cell,
    record: CellRecord,
    metrics: Value,
    /// Prediction rows: image, class, probabilities.
    rows: Vec<train::run::Prediction>,
    train_per_class: Vec<usize>,
    interval: Option<Value>,
}

fn read_json(p: &Path) -> Result<Value, StudyError> {
    let text = std::fs::read_to_string(p).map_err(|e| StudyError::file(p, e))?;
    serde_json::from_str(&text).map_err(|e| StudyError::file(p, e))
}

fn load(plan: &Plan, cell: Cell, record: CellRecord) -> Result<Loaded, StudyError> {
    let dir = cell.dir(&plan.cfg, &plan.out);
    if record.not_applicable.is_some() {
        return Ok(Loaded {
            cell,
            record,
            metrics: Value::Null,
            rows: Vec::new(),
            train_per_class: Vec::new(),
            interval: None,
        });
    }
    let metrics = if cell.kind == CellKind::Pretrain {
        Value::Null
    } else {
        read_json(&dir.join(format!(
            "metrics{}.json",
            train::evaluate::output_suffix(&plan.cfg.evaluation.scoring())
        )))?
    };
    let rows = if cell.kind == CellKind::Pretrain {
        Vec::new()
    } else {
        let rows = train::run::read_predictions(&dir.join(train::run::PREDICTIONS_FILE))?.1;
        // Figures and paired tests use the units the tables were scored in.
        let ev = &plan.cfg.evaluation;
        train::evaluate::scored_rows(&dir, rows, &ev.scoring(), &mut |_| {})?
    };
    let run = read_json(&dir.join("run.json"))?;
    let train_per_class = run["images"]["train_per_class"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_u64())
                .map(|v| v as usize)
                .collect()
        })
        .unwrap_or_default();
    let ip = dir.join(INTERVAL_FILE);
    let interval = if ip.is_file() {
        Some(read_json(&ip)?)
    } else {
        None
    };
    Ok(Loaded {
        cell,
        record,
        metrics,
        rows,
        train_per_class,
        interval,
    })
}

fn f3(v: Option<f64>) -> String {
    v.map_or("—".into(), |v| format!("{v:.3}"))
}

fn pct(v: Option<f64>) -> String {
    v.map_or("—".into(), |v| format!("{:.1}%", 100.0 * v))
}

fn ci(v: &Value) -> Option<[f64; 2]> {
    let a = v.as_array()?;
    Some([a.first()?.as_f64()?, a.get(1)?.as_f64()?])
}

fn ci_text(c: Option<[f64; 2]>) -> String {
    c.map_or("—".into(), |[a, b]| format!("{a:.3}–{b:.3}"))
}

/// Binary ROC curve of a cell's predictions (positive class's probability).
fn binary_curve(l: &Loaded) -> Option<(RocCurve, Vec<bool>, Vec<f64>)> {
    let pos = l.cell.scenario.positive_class()?;
    let labels: Vec<bool> = l.rows.iter().map(|r| r.class == pos).collect();
    let scores: Vec<f64> = l.rows.iter().map(|r| f64::from(r.probs[pos])).collect();
    let ranked = Ranked::new(&labels, &scores).ok()?;
    Some((ranked.curve(), labels, scores))
}

/// Pairwise ROC curves of a three-class cell: for classes (i, j), the images of i and j
/// ranked by p_i.
fn pairwise_curves(l: &Loaded) -> Vec<(String, RocCurve, f64)> {
    let names = l.cell.scenario.class_names();
    let mut out = Vec::new();
    for i in 0..names.len() {
        for j in (i + 1)..names.len() {
            let sel: Vec<&train::run::Prediction> = l
                .rows
                .iter()
                .filter(|r| r.class == i || r.class == j)
                .collect();
            let labels: Vec<bool> = sel.iter().map(|r| r.class == i).collect();
            let scores: Vec<f64> = sel.iter().map(|r| f64::from(r.probs[i])).collect();
            if let Ok(r) = Ranked::new(&labels, &scores) {
                out.push((format!("{} vs {}", names[i], names[j]), r.curve(), r.auc()));
            }
        }
    }
    out
}

/// Builds the report of study folder `out` (whatever cells are finished).
pub fn build(cfg: &StudyConfig, out: &Path) -> Result<ReportSummary, StudyError> {
    let plan = Plan::new(cfg, out)?;
    let records = collect_records(&plan)?;
    let total = records.len();
    let mut loaded: Vec<Loaded> = Vec::new();
    for (cell, rec) in records {
        if let Some(r) = rec {
            loaded.push(load(&plan, cell, r)?);
        }
    }
    let finished = loaded.len();
    let find = |e: usize, s: Scenario, f: usize, r: usize, k: CellKind| {
        loaded.iter().find(|l| {
            l.cell.experiment == e
                && l.cell.scenario == s
                && l.cell.fraction == Some(f)
                && l.cell.repeat == r
                && l.cell.kind == k
        })
    };
    let mut html = String::new();
    let mut figures = 0usize;
    let mut tables: BTreeMap<&str, String> = BTreeMap::new();
    let _ = write!(
        html,
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{t}</title><style>
body{{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}}
table{{border-collapse:collapse;margin:1em 0;font-size:13px}}th,td{{border:1px solid #ccc;padding:3px 6px;text-align:right}}
th{{background:#f3f3f3}}td.l,th.l{{text-align:left}}.pub{{color:#7a4b00;font-style:italic}}
figure{{margin:1.5em 0}}figcaption{{font-size:13px;color:#444}}pre{{background:#f7f7f7;padding:1em;overflow:auto;font-size:12px}}
.warn{{color:#a00}}</style></head><body>
<h1>{t}</h1>
<p>mammorecall {v} — a reproduction of Aboutalib et al., <i>Deep Learning to Distinguish Recalled but Benign Mammography Images in Breast Cancer Screening</i>, Clin Cancer Res 2018. Cells finished: <b>{finished} of {total}</b>.</p>
<p class="pub">Figures in this colour are the study's own published AUCs, measured on its private FFDM and on DDSM data — not on these datasets — shown for orientation only.</p>
"#,
        t = esc(&cfg.title),
        v = env!("CARGO_PKG_VERSION"),
    );
    if finished < total {
        let _ = write!(
            html,
            r#"<p class="warn">{} cells are not finished: their rows show —. Re-run the study (it continues where it stopped) or collect the missing shards.</p>"#,
            total - finished
        );
    }

    // Data and provenance.
    html.push_str("<h2>Data</h2><table><tr><th class=l>dataset</th><th class=l>source</th><th class=l>manifest SHA-256</th><th>interval cancers flagged</th></tr>");
    for d in &cfg.datasets {
        let source = match (&d.manifest, &d.synth) {
            (Some(m), _) => m.display().to_string(),
            (_, Some(s)) => format!(
                "synthetic: site {}, {} patients, seed {}, difficulty {}",
                s.site.as_str(),
                s.patients,
                s.seed,
                s.difficulty
            ),
            _ => String::new(),
        };
        let _ = write!(
            html,
            "<tr><td class=l>{}</td><td class=l>{}</td><td class=l><code>{}</code></td><td>{}</td></tr>",
            esc(&d.name),
            esc(&source),
            plan.data.checksums.get(&d.name).map_or("", |s| s.as_str()),
            if plan.data.interval.get(&d.name).copied().unwrap_or(false) { "yes" } else { "no" }
        );
    }
    html.push_str("</table>");

    // Table 1.
    let mut t1 = String::from("experiment,scenario,test_fraction,repeat,class,train,test\n");
    html.push_str("<h2>Table 1: training and test images per class</h2><p>Test fraction ");
    let _ = write!(
        html,
        "{:.0}%, repeat 1 (all fractions and repeats in <code>tables/table1.csv</code>). Training images are after class balancing.</p>",
        100.0 * cfg.test_fractions[0]
    );
    html.push_str("<table><tr><th class=l>experiment</th><th class=l>scenario</th><th class=l>classes</th><th>train per class</th><th>train total</th><th>test per class</th><th>test total</th></tr>");
    for l in loaded
        .iter()
        .filter(|l| l.cell.kind == CellKind::Test && l.record.not_applicable.is_none())
    {
        let names = l.cell.scenario.class_names();
        let mut test = vec![0usize; names.len()];
        for r in &l.rows {
            if r.class < test.len() {
                test[r.class] += 1;
            }
        }
        for (c, n) in names.iter().enumerate() {
            let _ = writeln!(
                t1,
                "{},{},{},{},{},{},{}",
                csv_field(&l.record.experiment),
                l.cell.scenario,
                l.record.test_fraction.unwrap_or(0.0),
                l.cell.repeat + 1,
                n,
                l.train_per_class.get(c).copied().unwrap_or(0),
                test[c]
            );
        }
        if l.cell.fraction == Some(0) && l.cell.repeat == 0 {
            let join = |v: &[usize]| {
                v.iter()
                    .map(|x| x.to_string())
                    .collect::<Vec<_>>()
                    .join(" / ")
            };
            let _ = write!(
                html,
                "<tr><td class=l>{}</td><td class=l>{}</td><td class=l>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&l.record.experiment),
                l.cell.scenario,
                names.join(" / "),
                join(&l.train_per_class),
                l.train_per_class.iter().sum::<usize>(),
                join(&test),
                test.iter().sum::<usize>()
            );
        }
    }
    html.push_str("</table>");
    tables.insert("table1.csv", t1);

    // Results of every cell.
    let mut cells_csv = String::from("experiment,scenario,test_fraction,repeat,kind,auc,delong_lo,delong_hi,bootstrap_lo,bootstrap_hi,youden_sensitivity,youden_specificity,specificity_at_sensitivity,specificity_at_sensitivity_interpolated,pairwise,published_auc\n");
    let mut json_cells = Vec::new();
    let _ = write!(
        html,
        "<h2>Results</h2><p>Scored per {}. AUC with 95% CIs by DeLong and by stratified bootstrap ({} replicates); sensitivity and specificity at Youden's operating point; specificity at the radiologists' {:.1}% sensitivity (best attainable, and linearly interpolated). Three-class: each pairwise (Hand &amp; Till) AUC and their mean. {}</p>",
        match cfg.evaluation.level {
            train::evaluate::Level::Image => "image (the study)".to_string(),
            l => format!(
                "{} (the {} of its images' scores)",
                l.name(),
                cfg.evaluation.reduce.name()
            ),
        },
        cfg.evaluation.bootstrap,
        100.0 * cfg.evaluation.sensitivity,
        if cfg.folds >= 2 {
            format!(
                " <i>CV</i>: pooled out-of-fold AUC of {}-fold cross-validation on the development part.",
                cfg.folds
            )
        } else {
            " No cross-validation was configured (<code>folds = 0</code>).".to_string()
        }
    );
    for (e, exp) in cfg.experiments.iter().enumerate() {
        let _ = write!(
            html,
            "<h3>{}</h3><table><tr><th class=l>scenario</th><th>test</th><th>rep.</th><th>AUC</th><th>DeLong 95% CI</th><th>bootstrap 95% CI</th><th>Youden sens.</th><th>Youden spec.</th><th>spec. at {:.1}% sens.</th><th>(interpolated)</th><th class=l>pairwise AUCs</th><th>CV AUC</th><th class=pub>study's AUC</th></tr>",
            esc(&exp.name),
            100.0 * cfg.evaluation.sensitivity
        );
        for r in 0..cfg.repeats {
            for f in 0..cfg.test_fractions.len() {
                for &s in &cfg.scenarios {
                    let l = find(e, s, f, r, CellKind::Test);
                    let cv = find(e, s, f, r, CellKind::Cv);
                    let m = l.map(|l| &l.metrics);
                    let get = |path: &[&str]| -> Option<f64> {
                        let mut v = m?;
                        for p in path {
                            v = v.get(p)?;
                        }
                        v.as_f64()
                    };
                    let pairwise = m
                        .and_then(|m| m.get("pairwise"))
                        .and_then(|p| p.as_array())
                        .map(|a| {
                            a.iter()
                                .map(|p| {
                                    let c = p["classes"].as_array().cloned().unwrap_or_default();
                                    format!(
                                        "{} vs {}: {:.3}",
                                        c.first().and_then(|v| v.as_str()).unwrap_or(""),
                                        c.get(1).and_then(|v| v.as_str()).unwrap_or(""),
                                        p["auc"].as_f64().unwrap_or(f64::NAN)
                                    )
                                })
                                .collect::<Vec<_>>()
                                .join("; ")
                        })
                        .unwrap_or_default();
                    let pairwise = match l.and_then(|l| l.record.not_applicable.as_ref()) {
                        Some(why) => format!("not applicable: {why}"),
                        None => pairwise,
                    };
                    let pubv = exp.published.and_then(|p| published::auc(p, s));
                    let dci = m.and_then(|m| ci(&m["delong_ci95"]));
                    let bci = m.and_then(|m| ci(&m["bootstrap_ci95"]));
                    let auc = get(&["auc"]);
                    let pub_text = pubv.map_or("—".into(), |p| match p.ci {
                        Some(c) => format!("{:.2} ({:.2}–{:.2})", p.auc, c[0], c[1]),
                        None => format!("{:.2}", p.auc),
                    });
                    let _ = write!(
                        html,
                        "<tr><td class=l>{}</td><td>{:.0}%</td><td>{}</td><td><b>{}</b></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=l>{}</td><td>{}</td><td class=pub>{}</td></tr>",
                        s,
                        100.0 * cfg.test_fractions[f],
                        r + 1,
                        f3(auc),
                        ci_text(dci),
                        ci_text(bci),
                        f3(get(&["youden", "sensitivity"])),
                        f3(get(&["youden", "specificity"])),
                        f3(get(&["specificity_at_sensitivity", "specificity"])),
                        f3(get(&["specificity_at_sensitivity", "specificity_interpolated"])),
                        esc(&pairwise),
                        f3(cv.and_then(|c| c.record.auc)),
                        esc(&pub_text)
                    );
                    let opt = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v}"));
                    let _ = writeln!(
                        cells_csv,
                        "{},{},{},{},test,{},{},{},{},{},{},{},{},{},{},{}",
                        csv_field(&exp.name),
                        s,
                        cfg.test_fractions[f],
                        r + 1,
                        opt(auc),
                        opt(dci.map(|c| c[0])),
                        opt(dci.map(|c| c[1])),
                        opt(bci.map(|c| c[0])),
                        opt(bci.map(|c| c[1])),
                        opt(get(&["youden", "sensitivity"])),
                        opt(get(&["youden", "specificity"])),
                        opt(get(&["specificity_at_sensitivity", "specificity"])),
                        opt(get(&[
                            "specificity_at_sensitivity",
                            "specificity_interpolated"
                        ])),
                        csv_field(&pairwise),
                        opt(pubv.map(|p| p.auc))
                    );
                    if let Some(cv) = cv {
                        let _ = writeln!(
                            cells_csv,
                            "{},{},{},{},cv,{},,,,,,,,,,",
                            csv_field(&exp.name),
                            s,
                            cfg.test_fractions[f],
                            r + 1,
                            opt(cv.record.auc)
                        );
                    }
                    json_cells.push(json!({
                        "experiment": exp.name, "scenario": s.as_str(),
                        "test_fraction": cfg.test_fractions[f], "repeat": r + 1,
                        "metrics": m.cloned(), "cv_auc": cv.and_then(|c| c.record.auc),
                        "published_auc": pubv.map(|p| p.auc),
                    }));
                }
            }
        }
        html.push_str("</table>");
    }
    tables.insert("cells.csv", cells_csv);

    // Figures 1–3: per experiment, binary ROC panel and three-class pairwise panel.
    html.push_str(&format!(
        "<h2>ROC curves (Figures 1–3 of the study)</h2><p>Test fraction {:.0}%, repeat 1.</p>",
        100.0 * cfg.test_fractions[0]
    ));
    for (e, exp) in cfg.experiments.iter().enumerate() {
        let mut owned: Vec<(String, RocCurve, f64, Option<[f64; 2]>)> = Vec::new();
        for &s in cfg
            .scenarios
            .iter()
            .filter(|s| s.positive_class().is_some())
        {
            if let Some(l) = find(e, s, 0, 0, CellKind::Test) {
                if let Some((curve, _, _)) = binary_curve(l) {
                    let auc = l.metrics["auc"].as_f64().unwrap_or(f64::NAN);
                    let c = ci(&l.metrics["bootstrap_ci95"]).or(ci(&l.metrics["delong_ci95"]));
                    owned.push((s.to_string(), curve, auc, c));
                }
            }
        }
        if !owned.is_empty() {
            let curves: Vec<PlotCurve> = owned
                .iter()
                .map(|(n, c, a, ci)| PlotCurve {
                    name: n.clone(),
                    curve: c,
                    auc: *a,
                    ci: *ci,
                })
                .collect();
            if let Ok(svg) = roc_svg(&format!("{}: binary scenarios", exp.name), &curves) {
                figures += 1;
                figure(&mut html, &svg, &format!("Figure {figures}. {}: ROC curves of the binary scenarios (legend: AUC and bootstrap 95% CI).", exp.name));
            }
        }
        if let Some(l) = find(e, Scenario::ThreeClass, 0, 0, CellKind::Test) {
            let pw = pairwise_curves(l);
            if !pw.is_empty() {
                let curves: Vec<PlotCurve> = pw
                    .iter()
                    .map(|(n, c, a)| PlotCurve {
                        name: n.clone(),
                        curve: c,
                        auc: *a,
                        ci: None,
                    })
                    .collect();
                if let Ok(svg) = roc_svg(&format!("{}: three-class, pairwise", exp.name), &curves) {
                    figures += 1;
                    let mean = l.metrics["mean_pairwise_auc"].as_f64();
                    figure(&mut html, &svg, &format!("Figure {figures}. {}: three-class model, one ROC curve per pair of classes (images of the two classes, ranked by the first class's probability); mean pairwise AUC {}.", exp.name, f3(mean)));
                }
            }
        }
    }

    // Figure 4: incremental transfer against the same datasets without pretraining.
    let mut fig4 = Vec::new();
    for (e, exp) in cfg.experiments.iter().enumerate() {
        if exp.pretrain.is_empty() {
            continue;
        }
        let Some(base) = cfg
            .experiments
            .iter()
            .position(|b| b.pretrain.is_empty() && b.datasets == exp.datasets)
        else {
            continue;
        };
        let base_name = &cfg.experiments[base].name;
        let _ = write!(
            html,
            "<h2>Incremental transfer (Figure 4 of the study): {} against {}</h2><p>Same test images; paired DeLong test, two-sided. Test fraction {:.0}%, repeat 1.</p><table><tr><th class=l>scenario</th><th>{}</th><th>{}</th><th>Δ AUC</th><th>z</th><th>p</th><th class=pub>study's p</th></tr>",
            esc(&exp.name),
            esc(base_name),
            100.0 * cfg.test_fractions[0],
            esc(base_name),
            esc(&exp.name)
        );
        let mut groups = Vec::new();
        let (mut vb, mut vi, mut notes) = (Vec::new(), Vec::new(), Vec::new());
        for &s in &cfg.scenarios {
            let (Some(a), Some(b)) = (
                find(base, s, 0, 0, CellKind::Test),
                find(e, s, 0, 0, CellKind::Test),
            ) else {
                continue;
            };
            let aa = a.metrics["auc"].as_f64();
            let ab = b.metrics["auc"].as_f64();
            let test = paired(a, b);
            let study_p = exp
                .published
                .and_then(|p| published::auc(p, s))
                .and_then(|p| p.p);
            let _ = write!(
                html,
                "<tr><td class=l>{s}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=pub>{}</td></tr>",
                f3(aa),
                f3(ab),
                f3(aa.zip(ab).map(|(x, y)| y - x)),
                test.map_or("—".into(), |t| format!("{:.2}", t.0)),
                test.map_or("— (three-class: no DeLong)".into(), |t| format!("{:.3}", t.1)),
                study_p.map_or("—".into(), |p| format!("{p:.2}"))
            );
            groups.push(s.to_string());
            vb.push(aa);
            vi.push(ab);
            notes.push(test.map_or(String::new(), |t| format!("p = {:.3}", t.1)));
            fig4.push(
                json!({"experiment": exp.name, "baseline": base_name, "scenario": s.as_str(),
                "baseline_auc": aa, "auc": ab, "z": test.map(|t| t.0), "p": test.map(|t| t.1)}),
            );
        }
        html.push_str("</table>");
        if !groups.is_empty() {
            let svg = grouped_bars(
                &format!("{} vs {}", exp.name, base_name),
                &groups,
                &[
                    Series {
                        name: base_name.clone(),
                        values: vb,
                        ci: vec![],
                    },
                    Series {
                        name: exp.name.clone(),
                        values: vi,
                        ci: vec![],
                    },
                ],
                &notes,
            );
            figures += 1;
            figure(&mut html, &svg, &format!("Figure {figures}. AUC per scenario with and without the pretraining phase; DeLong p-values above the bars."));
        }
    }

    // Figure 5: test fractions side by side.
    if cfg.test_fractions.len() > 1 {
        html.push_str("<h2>Test-set size (Figure 5 of the study)</h2>");
        for (e, exp) in cfg.experiments.iter().enumerate() {
            let groups: Vec<String> = cfg.scenarios.iter().map(|s| s.to_string()).collect();
            let series: Vec<Series> = cfg
                .test_fractions
                .iter()
                .enumerate()
                .map(|(f, frac)| {
                    let cells: Vec<Option<&Loaded>> = cfg
                        .scenarios
                        .iter()
                        .map(|&s| find(e, s, f, 0, CellKind::Test))
                        .collect();
                    Series {
                        name: format!("{:.0}% test", 100.0 * frac),
                        values: cells
                            .iter()
                            .map(|l| l.and_then(|l| l.metrics["auc"].as_f64()))
                            .collect(),
                        ci: cells
                            .iter()
                            .map(|l| l.and_then(|l| ci(&l.metrics["bootstrap_ci95"])))
                            .collect(),
                    }
                })
                .collect();
            if series.iter().any(|s| s.values.iter().any(Option::is_some)) {
                let svg = grouped_bars(
                    &format!("{}: AUC by test fraction", exp.name),
                    &groups,
                    &series,
                    &[],
                );
                figures += 1;
                figure(&mut html, &svg, &format!("Figure {figures}. {}: AUC (bootstrap 95% CI) per scenario for each test fraction, repeat 1.", exp.name));
            }
        }
    }

    // False-negative analysis.
    let interval: Vec<&Loaded> = loaded.iter().filter(|l| l.interval.is_some()).collect();
    html.push_str("<h2>False-negative analysis: interval cancers</h2>");
    let mut fn_json = Vec::new();
    if interval.is_empty() {
        html.push_str("<p>No dataset flags interval cancers (an <code>interval_cancer</code> column), so there is nothing to analyse.</p>");
    } else {
        html.push_str("<p>Interval-cancer patients are held out of training; the table gives the fraction of their malignant images that each model calls malignant (most probable class). <i>Half</i>: half of those patients added to training, the other half tested.</p><table><tr><th class=l>experiment</th><th class=l>scenario</th><th>test</th><th>rep.</th><th class=l>variant</th><th>images</th><th>called malignant</th><th>fraction</th><th class=pub>study</th></tr>");
        for l in &interval {
            let v = l.interval.as_ref().unwrap_or(&Value::Null);
            let variant = v["variant"].as_str().unwrap_or("");
            let study = match (l.cell.scenario, variant) {
                (Scenario::MalignantVsNegative, "held-out") => "71.3%",
                (Scenario::MalignantVsBenign, "held-out") => "63.6%",
                (Scenario::MalignantVsNegative, "half") => "72.8%",
                (Scenario::MalignantVsBenign, "half") => "68.4%",
                _ => "—",
            };
            let _ = write!(
                html,
                "<tr><td class=l>{}</td><td class=l>{}</td><td>{:.0}%</td><td>{}</td><td class=l>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=pub>{}</td></tr>",
                esc(&l.record.experiment),
                l.cell.scenario,
                100.0 * l.record.test_fraction.unwrap_or(0.0),
                l.cell.repeat + 1,
                variant,
                v["images"],
                v["called_malignant"],
                pct(v["fraction"].as_f64()),
                study
            );
            fn_json.push(
                json!({"experiment": l.record.experiment, "scenario": l.cell.scenario.as_str(),
                "test_fraction": l.record.test_fraction, "repeat": l.cell.repeat + 1, "result": v}),
            );
        }
        html.push_str("</table>");
    }

    // Reproduction.
    let toml_text = cfg.to_toml()?;
    let _ = write!(
        html,
        "<h2>Reproducing this study</h2><p>Tool: mammorecall {}, burn {} (device <code>{}</code>). Seed {}; repeat r uses seeds derived from it. Run <code>mammorecall study --config study.toml -o NEW_DIR</code> with the configuration below (also in <code>study.toml</code>); each cell's folder under <code>cells/</code> holds its <code>config.toml</code>, <code>split.csv</code>, <code>run.json</code>, predictions and metrics.</p><pre>{}</pre>",
        env!("CARGO_PKG_VERSION"),
        train::device::BURN_VERSION,
        esc(&cfg.train.device),
        cfg.seed,
        esc(&toml_text)
    );
    // Checked by the rendering test (headless Chromium): every figure drew a box.
    let _ = write!(
        html,
        r#"<script>
window.addEventListener('error', function (e) {{ document.body.setAttribute('data-errors', String(e.message)); }});
window.addEventListener('load', function () {{
  var figs = document.querySelectorAll('figure svg'), ok = 0;
  for (var i = 0; i < figs.length; i++) {{ var b = figs[i].getBoundingClientRect(); if (b.width > 50 && b.height > 50) ok++; }}
  document.body.setAttribute('data-figures', String(figs.length));
  document.body.setAttribute('data-figures-rendered', String(ok));
}});
</script></body></html>
"#
    );

    let tdir = out.join("tables");
    std::fs::create_dir_all(&tdir).map_err(|e| StudyError::file(&tdir, e))?;
    for (name, text) in &tables {
        store::write_atomic(&tdir.join(name), text.as_bytes())?;
    }
    let report_json = json!({
        "title": cfg.title,
        "tool_version": env!("CARGO_PKG_VERSION"),
        "cells_total": total,
        "cells_finished": finished,
        "seed": cfg.seed,
        "data_sha256": plan.data.checksums,
        "cells": json_cells,
        "incremental": fig4,
        "interval_cancers": fn_json,
        "figures": figures,
    });
    let jtext = serde_json::to_vec_pretty(&report_json).map_err(|e| StudyError::file(out, e))?;
    store::write_atomic(&out.join("report.json"), &jtext)?;
    let path = out.join(REPORT_FILE);
    store::write_atomic(&path, html.as_bytes())?;
    Ok(ReportSummary {
        total,
        finished,
        path,
        figures,
    })
}

fn figure(html: &mut String, svg: &str, caption: &str) {
    let _ = write!(
        html,
        "<figure>{svg}<figcaption>{}</figcaption></figure>",
        esc(caption)
    );
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Paired DeLong test (z, p) of two binary cells on their shared test images.
fn paired(a: &Loaded, b: &Loaded) -> Option<(f64, f64)> {
    let pos = a.cell.scenario.positive_class()?;
    let bm: BTreeMap<&str, &train::run::Prediction> =
        b.rows.iter().map(|r| (r.image.as_str(), r)).collect();
    let (mut labels, mut sa, mut sb) = (Vec::new(), Vec::new(), Vec::new());
    for r in &a.rows {
        if let Some(o) = bm.get(r.image.as_str()) {
            labels.push(r.class == pos);
            sa.push(f64::from(r.probs[pos]));
            sb.push(f64::from(o.probs[pos]));
        }
    }
    let t = delong_paired_test(&labels, &sb, &sa).ok()?;
    Some((t.z?, t.p?))
}
