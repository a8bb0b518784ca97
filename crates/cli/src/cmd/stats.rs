//! `mammorecall stats roc|compare|multiclass`: ROC/AUC statistics on a CSV of labels
//! and scores, agreeing with R's pROC and scikit-learn (see `crates/eval`).
//!
//! Undefined quantities are `null` in the JSON with a warning on stderr; unusable input
//! (one class only, a non-numeric or NaN score, a missing column) is an error naming the
//! file and line or column.

use anyhow::{anyhow, bail, Context};
use eval::bootstrap::{bootstrap_ci, bootstrap_paired_test, BootstrapOptions};
use eval::coords::{bootstrap_at_target, Fixed};
use eval::operating::youden;
use eval::plot::{write_roc, PlotCurve};
use eval::{
    delong, delong_paired_test, hand_till, sensitivity_at_specificity, specificity_at_sensitivity,
    Ranked,
};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Subcommands of `mammorecall stats`.
#[derive(clap::Subcommand)]
pub enum Command {
    /// AUC with DeLong and bootstrap 95% CIs, specificity at a target sensitivity.
    Roc(RocArgs),
    /// Paired DeLong test of two scores on the same cases.
    Compare(CompareArgs),
    /// Pairwise (Hand & Till) and one-vs-rest AUCs of per-class probabilities.
    Multiclass(MulticlassArgs),
}

/// Arguments of `mammorecall stats roc`.
#[derive(clap::Args)]
pub struct RocArgs {
    /// CSV with a header row.
    pub file: PathBuf,
    /// Column of the labels (1 = positive, 0 = negative unless --positive).
    #[arg(long)]
    pub label: String,
    /// Column of the scores (higher = more likely positive).
    #[arg(long)]
    pub score: String,
    /// Label value of the positive class; the column must then hold exactly two values.
    #[arg(long, value_name = "V")]
    pub positive: Option<String>,
    /// Bootstrap replicates (stratified); 0 skips the bootstrap.
    #[arg(long, value_name = "N", default_value_t = 2000)]
    pub bootstrap: usize,
    /// Seed of the bootstrap (ChaCha8).
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,
    /// Target sensitivity for the specificity read-out (the radiologists' 86.9%).
    #[arg(long, value_name = "X", default_value_t = 0.869)]
    pub sensitivity: f64,
    /// Also report the sensitivity at this target specificity.
    #[arg(long, value_name = "Y")]
    pub specificity: Option<f64>,
    /// Write the ROC figure (.svg or .png).
    #[arg(long, value_name = "OUT.svg")]
    pub plot: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `mammorecall stats compare`.
#[derive(clap::Args)]
pub struct CompareArgs {
    /// CSV with a header row.
    pub file: PathBuf,
    /// Column of the labels (1 = positive, 0 = negative unless --positive).
    #[arg(long)]
    pub label: String,
    /// The two score columns, A then B (give --score twice).
    #[arg(long = "score", value_name = "COL", required = true)]
    pub scores: Vec<String>,
    /// Label value of the positive class.
    #[arg(long, value_name = "V")]
    pub positive: Option<String>,
    /// Also run a paired stratified bootstrap test with N replicates.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub bootstrap: usize,
    /// Seed of the bootstrap (ChaCha8).
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,
    /// Write both ROC curves in one figure (.svg or .png).
    #[arg(long, value_name = "OUT.svg")]
    pub plot: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `mammorecall stats multiclass`.
#[derive(clap::Args)]
pub struct MulticlassArgs {
    /// CSV with a header row.
    pub file: PathBuf,
    /// Column of the class labels.
    #[arg(long)]
    pub label: String,
    /// Probability columns, one per class. Without --class they belong to the labels in
    /// sorted order (numeric if all labels are numbers), as in scikit-learn.
    #[arg(long = "prob", value_name = "COL", required = true)]
    pub probs: Vec<String>,
    /// The label value of each --prob column, in the same order (optional).
    #[arg(long = "class", value_name = "LABEL")]
    pub classes: Vec<String>,
    /// Write the ROC curves of every pair of classes, both directions (.svg or .png).
    #[arg(long, value_name = "OUT.svg")]
    pub plot: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Runs `mammorecall stats`.
pub fn run(cmd: Command) -> anyhow::Result<()> {
    match cmd {
        Command::Roc(a) => roc(a),
        Command::Compare(a) => compare(a),
        Command::Multiclass(a) => multiclass(a),
    }
}

fn warn(msg: &str) {
    eprintln!("warning: {msg}");
}

/// A finite number, or `null` (with a warning naming the quantity).
fn num(name: &str, x: Option<f64>) -> Value {
    match x {
        Some(v) if v.is_finite() => json!(v),
        Some(v) => {
            warn(&format!("{name} is {v}, written as null"));
            Value::Null
        }
        None => Value::Null,
    }
}

fn pair(lo: f64, hi: f64) -> Value {
    json!([lo, hi])
}

/// The requested columns of a CSV, each row with its line number in the file.
struct Columns {
    path: String,
    names: Vec<String>,
    rows: Vec<(u64, Vec<String>)>,
}

fn read_columns(path: &Path, names: &[&str]) -> anyhow::Result<Columns> {
    let shown = path.display().to_string();
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_path(path)
        .with_context(|| format!("{shown}: cannot open"))?;
    let headers = rdr
        .headers()
        .with_context(|| format!("{shown}: cannot read the header row"))?
        .clone();
    let mut idx = Vec::with_capacity(names.len());
    for n in names {
        let i = headers.iter().position(|h| h == *n).ok_or_else(|| {
            let have: Vec<&str> = headers.iter().collect();
            anyhow!("{shown}: no column \"{n}\" (columns: {})", have.join(", "))
        })?;
        idx.push(i);
    }
    let mut rows = Vec::new();
    for rec in rdr.records() {
        let rec = rec.with_context(|| format!("{shown}: malformed CSV"))?;
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        let mut vals = Vec::with_capacity(idx.len());
        for (&i, n) in idx.iter().zip(names) {
            let v = rec
                .get(i)
                .ok_or_else(|| anyhow!("{shown} line {line}: column \"{n}\" is missing"))?;
            vals.push(v.to_string());
        }
        rows.push((line, vals));
    }
    if rows.is_empty() {
        bail!("{shown}: no data rows");
    }
    Ok(Columns {
        path: shown,
        names: names.iter().map(|s| s.to_string()).collect(),
        rows,
    })
}

impl Columns {
    /// Column `c` as scores: numbers (±inf allowed), never NaN or empty.
    fn scores(&self, c: usize) -> anyhow::Result<Vec<f64>> {
        let name = &self.names[c];
        self.rows
            .iter()
            .map(|(line, v)| {
                let s = v[c].as_str();
                let x: f64 = s.parse().map_err(|_| {
                    anyhow!(
                        "{} line {line}: column \"{name}\" holds \"{s}\", not a number",
                        self.path
                    )
                })?;
                if x.is_nan() {
                    bail!("{} line {line}: column \"{name}\" is NaN", self.path);
                }
                Ok(x)
            })
            .collect()
    }

    /// Column `c` as binary labels: 1/0, or `positive` against exactly one other value.
    fn binary_labels(&self, c: usize, positive: Option<&str>) -> anyhow::Result<Vec<bool>> {
        let name = &self.names[c];
        let mut labels = Vec::with_capacity(self.rows.len());
        let mut negative: Option<&str> = None;
        for (line, v) in &self.rows {
            let s = v[c].as_str();
            let is_pos = match positive {
                None => match s.parse::<f64>() {
                    Ok(1.0) => true,
                    Ok(0.0) => false,
                    _ => bail!(
                        "{} line {line}: label column \"{name}\" holds \"{s}\"; expected 1 or 0 (or use --positive VALUE)",
                        self.path
                    ),
                },
                Some(p) if s == p => true,
                Some(p) => match negative {
                    None => {
                        negative = Some(s);
                        false
                    }
                    Some(n) if n == s => false,
                    Some(n) => bail!(
                        "{} line {line}: label column \"{name}\" holds a third value \"{s}\" (positive \"{p}\", negative \"{n}\")",
                        self.path
                    ),
                },
            };
            labels.push(is_pos);
        }
        let m = labels.iter().filter(|&&l| l).count();
        let n = labels.len() - m;
        if m == 0 || n == 0 {
            bail!(
                "{}: label column \"{name}\" has only one class ({m} positive, {n} negative rows)",
                self.path
            );
        }
        Ok(labels)
    }
}

fn roc(a: RocArgs) -> anyhow::Result<()> {
    for (flag, x) in [
        ("--sensitivity", Some(a.sensitivity)),
        ("--specificity", a.specificity),
    ] {
        if let Some(x) = x {
            if !(0.0..=1.0).contains(&x) {
                bail!("{flag} {x} is not in [0, 1]");
            }
        }
    }
    let cols = read_columns(&a.file, &[&a.label, &a.score])?;
    let labels = cols.binary_labels(0, a.positive.as_deref())?;
    let scores = cols.scores(1)?;
    let ranked = Ranked::new(&labels, &scores).map_err(|e| anyhow!("{}: {e}", cols.path))?;
    let (m, n) = (ranked.n_pos, ranked.n_neg);
    let d = delong(&labels, &[&scores]).map_err(|e| anyhow!("{}: {e}", cols.path))?;
    let auc = d.aucs[0];
    let var = d.variance(0);
    let ci = d.ci(0, 0.95);
    if var.is_none() {
        warn(&format!(
            "DeLong variance is undefined with {m} positive and {n} negative cases (needs ≥ 2 of each); delong_variance and delong_ci95 are null"
        ));
    }
    let curve = ranked.curve();
    let at_sens = specificity_at_sensitivity(&curve, a.sensitivity)?;
    let at_spec = a
        .specificity
        .map(|y| sensitivity_at_specificity(&curve, y))
        .transpose()?;
    let opts = BootstrapOptions {
        replicates: a.bootstrap,
        seed: a.seed,
        level: 0.95,
    };
    let (boot, boot_sens, boot_spec) = if a.bootstrap == 0 {
        warn("--bootstrap 0: bootstrap_ci95 and bootstrap_median are null");
        (None, None, None)
    } else if m < 2 || n < 2 {
        // Resampling a single case of a class gives no spread: no interval is honest.
        warn(&format!(
            "bootstrap CIs are undefined with {m} positive and {n} negative cases (needs ≥ 2 of each); they are null"
        ));
        (None, None, None)
    } else {
        let b = bootstrap_ci(&ranked, &opts)?;
        let bs = bootstrap_at_target(&ranked, Fixed::Sensitivity, a.sensitivity, &opts)?;
        let bp = a
            .specificity
            .map(|y| bootstrap_at_target(&ranked, Fixed::Specificity, y, &opts))
            .transpose()?;
        (Some(b), Some(bs), bp)
    };
    let (yp, j) = youden(&curve);

    if let Some(out) = &a.plot {
        let ci = boot.map(|b| [b.lower, b.upper]).or(ci);
        let c = PlotCurve {
            name: a.score.clone(),
            curve: &curve,
            auc,
            ci,
        };
        write_roc(out, &format!("ROC: {}", a.score), &[c])
            .with_context(|| format!("writing {}", out.display()))?;
    }

    let ci_json =
        |c: Option<eval::BootstrapCi>| c.map(|c| pair(c.lower, c.upper)).unwrap_or(Value::Null);
    if a.json {
        let sas = json!({
            "sensitivity": a.sensitivity,
            "specificity": at_sens.best,
            "specificity_interpolated": at_sens.interpolated,
            "threshold": num("threshold", Some(at_sens.threshold)),
            "specificity_ci95": ci_json(boot_sens.and_then(|b| b.best)),
            "specificity_interpolated_ci95": ci_json(boot_sens.and_then(|b| b.interpolated)),
        });
        let mut out = json!({
            "n_positive": m,
            "n_negative": n,
            "auc": auc,
            "delong_variance": num("delong_variance", var),
            "delong_ci95": ci.map(|c| pair(c[0], c[1])).unwrap_or(Value::Null),
            "bootstrap_ci95": boot.map(|b| pair(b.lower, b.upper)).unwrap_or(Value::Null),
            "bootstrap_median": boot.map(|b| json!(b.median)).unwrap_or(Value::Null),
            "specificity_at_sensitivity": sas,
            "bootstrap_replicates": a.bootstrap,
            "seed": a.seed,
            "youden": {
                "threshold": num("youden threshold", Some(yp.threshold)),
                "sensitivity": yp.sensitivity,
                "specificity": yp.specificity,
                "j": j,
            },
        });
        if let (Some(s), Value::Object(o)) = (at_spec, &mut out) {
            o.insert(
                "sensitivity_at_specificity".into(),
                json!({
                    "specificity": s.target,
                    "sensitivity": s.best,
                    "sensitivity_interpolated": s.interpolated,
                    "threshold": num("threshold", Some(s.threshold)),
                    "sensitivity_ci95": ci_json(boot_spec.and_then(|b| b.best)),
                    "sensitivity_interpolated_ci95": ci_json(boot_spec.and_then(|b| b.interpolated)),
                }),
            );
        }
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }

    let f = |x: Option<f64>| x.map(|v| format!("{v:.4}")).unwrap_or_else(|| "n/a".into());
    let fci = |c: Option<eval::BootstrapCi>| {
        c.map(|c| format!("{:.4}–{:.4}", c.lower, c.upper))
            .unwrap_or_else(|| "n/a".into())
    };
    let pos_name = a.positive.as_deref().unwrap_or("1");
    println!("{}: {} ~ {}", cols.path, a.score, a.label);
    println!("  positives ({} = {pos_name})  {m}", a.label);
    println!("  negatives                {n}");
    println!("  AUC                      {auc:.4}");
    println!(
        "  DeLong 95% CI            {}  (variance {})",
        ci.map(|c| format!("{:.4}–{:.4}", c[0], c[1]))
            .unwrap_or_else(|| "n/a".into()),
        var.map(|v| format!("{v:.6}"))
            .unwrap_or_else(|| "n/a".into())
    );
    if let Some(b) = boot {
        println!(
            "  bootstrap 95% CI         {:.4}–{:.4}  (median {:.4}; {} stratified replicates, seed {})",
            b.lower, b.upper, b.median, a.bootstrap, a.seed
        );
    }
    println!(
        "  specificity at sensitivity ≥ {}: {} best attainable (threshold {}, CI {}), {} interpolated (CI {})",
        a.sensitivity,
        f(Some(at_sens.best)),
        at_sens.threshold,
        fci(boot_sens.and_then(|b| b.best)),
        f(Some(at_sens.interpolated)),
        fci(boot_sens.and_then(|b| b.interpolated)),
    );
    if let Some(s) = at_spec {
        println!(
            "  sensitivity at specificity ≥ {}: {} best attainable (threshold {}, CI {}), {} interpolated (CI {})",
            s.target,
            f(Some(s.best)),
            s.threshold,
            fci(boot_spec.and_then(|b| b.best)),
            f(Some(s.interpolated)),
            fci(boot_spec.and_then(|b| b.interpolated)),
        );
    }
    println!(
        "  Youden J                 {j:.4} at threshold {} (sensitivity {:.4}, specificity {:.4})",
        yp.threshold, yp.sensitivity, yp.specificity
    );
    if let Some(out) = &a.plot {
        println!("  figure                   {}", out.display());
    }
    Ok(())
}

fn compare(a: CompareArgs) -> anyhow::Result<()> {
    if a.scores.len() != 2 {
        bail!(
            "compare needs exactly two --score columns, got {}",
            a.scores.len()
        );
    }
    let cols = read_columns(&a.file, &[&a.label, &a.scores[0], &a.scores[1]])?;
    let labels = cols.binary_labels(0, a.positive.as_deref())?;
    let sa = cols.scores(1)?;
    let sb = cols.scores(2)?;
    let t = delong_paired_test(&labels, &sa, &sb).map_err(|e| anyhow!("{}: {e}", cols.path))?;
    if t.variance.is_none() {
        warn("DeLong test is undefined with fewer than 2 positive or 2 negative cases; delong_z and delong_p are null");
    }
    let boot = if a.bootstrap > 0 {
        let opts = BootstrapOptions {
            replicates: a.bootstrap,
            seed: a.seed,
            level: 0.95,
        };
        Some(bootstrap_paired_test(&labels, &sa, &sb, &opts)?)
    } else {
        None
    };
    if let Some(out) = &a.plot {
        let d = delong(&labels, &[&sa, &sb])?;
        let ca = Ranked::new(&labels, &sa)?.curve();
        let cb = Ranked::new(&labels, &sb)?.curve();
        let curves = [
            PlotCurve {
                name: a.scores[0].clone(),
                curve: &ca,
                auc: d.aucs[0],
                ci: d.ci(0, 0.95),
            },
            PlotCurve {
                name: a.scores[1].clone(),
                curve: &cb,
                auc: d.aucs[1],
                ci: d.ci(1, 0.95),
            },
        ];
        let title = format!(
            "ROC: {} vs {} (DeLong p = {})",
            a.scores[0],
            a.scores[1],
            t.p.map(|p| format!("{p:.3}"))
                .unwrap_or_else(|| "n/a".into())
        );
        write_roc(out, &title, &curves).with_context(|| format!("writing {}", out.display()))?;
    }
    if a.json {
        let mut out = json!({
            "auc_a": t.auc_a,
            "auc_b": t.auc_b,
            "difference": t.difference,
            "delong_z": num("delong_z", t.z),
            "delong_p": num("delong_p", t.p),
        });
        if let (Some(b), Value::Object(o)) = (&boot, &mut out) {
            o.insert("bootstrap_z".into(), num("bootstrap_z", b.z));
            o.insert("bootstrap_p".into(), num("bootstrap_p", b.p));
            o.insert(
                "bootstrap_difference_ci95".into(),
                pair(b.difference_ci.lower, b.difference_ci.upper),
            );
        }
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    let f = |x: Option<f64>| x.map(|v| format!("{v:.4}")).unwrap_or_else(|| "n/a".into());
    println!(
        "{}: {} vs {} ~ {}",
        cols.path, a.scores[0], a.scores[1], a.label
    );
    println!("  AUC A ({})  {:.4}", a.scores[0], t.auc_a);
    println!("  AUC B ({})  {:.4}", a.scores[1], t.auc_b);
    println!("  difference   {:.4}", t.difference);
    println!("  DeLong paired test: z = {}, p = {}", f(t.z), fmt_p(t.p));
    if let Some(b) = boot {
        println!(
            "  bootstrap paired test ({} replicates, seed {}): D = {}, p = {}, difference 95% CI {:.4}–{:.4}",
            a.bootstrap,
            a.seed,
            f(b.z),
            fmt_p(b.p),
            b.difference_ci.lower,
            b.difference_ci.upper
        );
    }
    Ok(())
}

/// A p-value for a table: 4 decimals, scientific below 1e-4.
fn fmt_p(p: Option<f64>) -> String {
    match p {
        Some(p) if p != 0.0 && p < 1e-4 => format!("{p:.2e}"),
        Some(p) => format!("{p:.4}"),
        None => "n/a".into(),
    }
}

/// Sorts label values numerically when all are numbers, else as strings.
fn sorted_labels(values: BTreeSet<String>) -> Vec<String> {
    let mut v: Vec<String> = values.into_iter().collect();
    let nums: Option<Vec<f64>> = v.iter().map(|s| s.parse::<f64>().ok()).collect();
    if let Some(nums) = nums {
        let mut pairs: Vec<(f64, String)> = nums.into_iter().zip(v).collect();
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
        v = pairs.into_iter().map(|p| p.1).collect();
    }
    v
}

fn multiclass(a: MulticlassArgs) -> anyhow::Result<()> {
    let k = a.probs.len();
    if k < 2 {
        bail!("multiclass needs at least two --prob columns, got {k}");
    }
    if !a.classes.is_empty() && a.classes.len() != k {
        bail!(
            "{} --class values for {k} --prob columns; give one per column or none",
            a.classes.len()
        );
    }
    let mut names: Vec<&str> = vec![&a.label];
    names.extend(a.probs.iter().map(String::as_str));
    let cols = read_columns(&a.file, &names)?;
    let classes: Vec<String> = if a.classes.is_empty() {
        sorted_labels(cols.rows.iter().map(|(_, v)| v[0].clone()).collect())
    } else {
        a.classes.clone()
    };
    let mut class_of = Vec::with_capacity(cols.rows.len());
    for (line, v) in &cols.rows {
        let c = classes.iter().position(|c| *c == v[0]).ok_or_else(|| {
            anyhow!(
                "{} line {line}: label \"{}\" is not one of the {} classes ({})",
                cols.path,
                v[0],
                k,
                classes.join(", ")
            )
        })?;
        class_of.push(c);
    }
    if classes.len() != k {
        bail!(
            "{}: label column \"{}\" holds {} classes ({}) but {k} --prob columns were given",
            cols.path,
            a.label,
            classes.len(),
            classes.join(", ")
        );
    }
    for (c, name) in classes.iter().enumerate() {
        if !class_of.contains(&c) {
            bail!(
                "{}: class \"{name}\" has no rows in column \"{}\"",
                cols.path,
                a.label
            );
        }
    }
    let probs: Vec<Vec<f64>> = (1..=k)
        .map(|c| cols.scores(c))
        .collect::<anyhow::Result<_>>()?;
    let r = hand_till(&class_of, &probs).map_err(|e| anyhow!("{}: {e}", cols.path))?;
    if let Some(out) = &a.plot {
        // One curve per ordered pair: class i's probability, i (positive) against j.
        let mut curves = Vec::new();
        for p in &r.pairwise {
            for (pos, neg, auc) in [(p.i, p.j, p.auc_i_vs_j), (p.j, p.i, p.auc_j_vs_i)] {
                let mut sp = Vec::new();
                let mut sn = Vec::new();
                for (s, &c) in class_of.iter().enumerate() {
                    if c == pos {
                        sp.push(probs[pos][s]);
                    } else if c == neg {
                        sn.push(probs[pos][s]);
                    }
                }
                let curve = Ranked::from_split(&sp, &sn)?.curve();
                curves.push((format!("{} vs {}", classes[pos], classes[neg]), curve, auc));
            }
        }
        let plotted: Vec<PlotCurve> = curves
            .iter()
            .map(|(name, curve, auc)| PlotCurve {
                name: name.clone(),
                curve,
                auc: *auc,
                ci: None,
            })
            .collect();
        let title = format!("Pairwise ROC (mean pairwise AUC {:.3})", r.mean_pairwise);
        write_roc(out, &title, &plotted).with_context(|| format!("writing {}", out.display()))?;
    }
    if a.json {
        let pairwise: Vec<Value> = r
            .pairwise
            .iter()
            .map(|p| json!({"classes": [classes[p.i], classes[p.j]], "auc": p.auc}))
            .collect();
        let out = json!({
            "pairwise": pairwise,
            "mean_pairwise_auc": r.mean_pairwise,
            "ovr_macro_auc": r.ovr_macro,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!("{}: {} classes in \"{}\"", cols.path, k, a.label);
    for (c, name) in classes.iter().enumerate() {
        let n = class_of.iter().filter(|&&x| x == c).count();
        println!("  {name:<20} {n:>7} rows  scores \"{}\"", a.probs[c]);
    }
    println!("  pairwise AUC (Hand & Till: (A(i|j) + A(j|i)) / 2):");
    for p in &r.pairwise {
        println!(
            "    {} vs {}: {:.4}  (A(i|j) {:.4}, A(j|i) {:.4})",
            classes[p.i], classes[p.j], p.auc, p.auc_i_vs_j, p.auc_j_vs_i
        );
    }
    println!("  mean pairwise AUC        {:.4}", r.mean_pairwise);
    for (c, name) in classes.iter().enumerate() {
        println!("  one-vs-rest {name:<12} {:.4}", r.ovr[c]);
    }
    println!("  one-vs-rest macro AUC    {:.4}", r.ovr_macro);
    Ok(())
}
