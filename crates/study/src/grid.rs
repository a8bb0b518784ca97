//! The grid of cells and its deterministic shards.

use std::path::{Path, PathBuf};

use data::Scenario;
use serde::{Deserialize, Serialize};

use crate::config::StudyConfig;

/// What a cell computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CellKind {
    /// Incremental transfer's first phase: all images of the `pretrain` datasets.
    Pretrain,
    /// Train on the development part, test on the held-out test part.
    Test,
    /// k-fold cross-validation of the development part (out-of-fold predictions).
    Cv,
    /// False-negative variant: half of the interval-cancer patients in training, the
    /// other half tested.
    IntervalHalf,
}

/// One unit of work of the study: a `train` run folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Cell {
    /// Index into the configuration's experiments.
    pub experiment: usize,
    /// The scenario.
    pub scenario: Scenario,
    /// Index into the configuration's test fractions (`None` for pretraining).
    pub fraction: Option<usize>,
    /// Repeat, from 0.
    pub repeat: usize,
    /// What it computes.
    pub kind: CellKind,
}

/// The folder tag of a test fraction: `t05` for 0.05, `t12p5` for 0.125.
pub fn fraction_tag(f: f64) -> String {
    let p = f * 100.0;
    if (p - p.round()).abs() < 1e-9 {
        format!("t{:02}", p.round() as u64)
    } else {
        format!("t{}", format!("{p}").replace('.', "p"))
    }
}

impl Cell {
    /// A stable, unique, folder-safe key: `experiment/scenario/t05-r1`.
    pub fn key(&self, cfg: &StudyConfig) -> String {
        let e = cfg.experiments[self.experiment].slug();
        let rep = self.repeat + 1;
        let last = match (self.kind, self.fraction) {
            (CellKind::Pretrain, _) | (_, None) => format!("pretrain-r{rep}"),
            (k, Some(f)) => {
                let t = fraction_tag(cfg.test_fractions[f]);
                match k {
                    CellKind::Test | CellKind::Pretrain => format!("{t}-r{rep}"),
                    CellKind::Cv => format!("{t}-r{rep}-cv"),
                    CellKind::IntervalHalf => format!("{t}-r{rep}-interval-half"),
                }
            }
        };
        format!("{e}/{}/{last}", self.scenario.as_str())
    }

    /// The cell's run folder in study folder `out`.
    pub fn dir(&self, cfg: &StudyConfig, out: &Path) -> PathBuf {
        out.join("cells").join(self.key(cfg))
    }

    /// The pretraining cell this cell starts from (incremental experiments).
    pub fn pretrain_cell(&self, cfg: &StudyConfig) -> Option<Cell> {
        let e = &cfg.experiments[self.experiment];
        (self.kind != CellKind::Pretrain && !e.pretrain.is_empty()).then_some(Cell {
            fraction: None,
            kind: CellKind::Pretrain,
            ..*self
        })
    }
}

/// Scenarios of the study's false-negative analysis.
pub const INTERVAL_SCENARIOS: [Scenario; 2] =
    [Scenario::MalignantVsNegative, Scenario::MalignantVsBenign];

/// Every cell of the study, in run order: per repeat and experiment, the pretraining cells
/// first, then per test fraction and scenario the test cell, its cross-validation and
/// its interval-cancer variant (first test fraction only). `has_interval(e)` says whether experiment `e`'s datasets
/// flag interval cancers.
pub fn cells(cfg: &StudyConfig, has_interval: &dyn Fn(usize) -> bool) -> Vec<Cell> {
    let mut out = Vec::new();
    for repeat in 0..cfg.repeats {
        for (experiment, e) in cfg.experiments.iter().enumerate() {
            if !e.pretrain.is_empty() {
                for &scenario in &cfg.scenarios {
                    out.push(Cell {
                        experiment,
                        scenario,
                        fraction: None,
                        repeat,
                        kind: CellKind::Pretrain,
                    });
                }
            }
            for f in 0..cfg.test_fractions.len() {
                for &scenario in &cfg.scenarios {
                    let cell = |kind| Cell {
                        experiment,
                        scenario,
                        fraction: Some(f),
                        repeat,
                        kind,
                    };
                    out.push(cell(CellKind::Test));
                    if cfg.folds >= 2 {
                        out.push(cell(CellKind::Cv));
                    }
                    // The study's false-negative variant was run once: on the first fraction.
                    if f == 0 && has_interval(experiment) && INTERVAL_SCENARIOS.contains(&scenario)
                    {
                        out.push(cell(CellKind::IntervalHalf));
                    }
                }
            }
        }
    }
    out
}

/// A shard `I/N` of the grid (0 ≤ I < N).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This shard, from 0.
    pub index: usize,
    /// Number of shards.
    pub count: usize,
}

impl Shard {
    /// The whole grid.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// Whether cell number `i` of the grid belongs to this shard (round robin, so each
    /// shard gets a similar mix of cheap and expensive cells).
    pub fn owns(&self, i: usize) -> bool {
        i % self.count == self.index
    }
}

impl std::str::FromStr for Shard {
    type Err = String;

    /// `I/N`, e.g. `0/8` (Slurm: `$SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| format!("--shard {s}: expected I/N, e.g. 0/8"))?;
        let index: usize = i
            .trim()
            .parse()
            .map_err(|_| format!("--shard {s}: '{i}' is not a number"))?;
        let count: usize = n
            .trim()
            .parse()
            .map_err(|_| format!("--shard {s}: '{n}' is not a number"))?;
        if count == 0 || index >= count {
            return Err(format!("--shard {s}: needs 0 <= I < N"));
        }
        Ok(Shard { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn the_default_grid_is_the_studys() {
        let cfg = StudyConfig::default();
        let all = cells(&cfg, &|_| false);
        // 4 experiments × 6 scenarios × 3 fractions, plus 6 pretraining cells.
        assert_eq!(all.len(), 4 * 6 * 3 + 6);
        let keys: BTreeSet<String> = all.iter().map(|c| c.key(&cfg)).collect();
        assert_eq!(keys.len(), all.len(), "keys are unique");
        assert!(keys.contains("site-a-digital-only/malignant-vs-negative/t05-r1"));
        assert!(keys.contains("site-b-film-site-a-digital/three-class/pretrain-r1"));
        let with = cells(&cfg, &|e| e == 0);
        assert_eq!(with.len(), all.len() + 2);
    }

    #[test]
    fn shards_partition_the_grid() {
        let cfg = StudyConfig::default();
        let all = cells(&cfg, &|_| true);
        for n in [1, 2, 3, 7, 200] {
            let mut seen = vec![0; all.len()];
            for index in 0..n {
                let s = Shard { index, count: n };
                for (i, seen) in seen.iter_mut().enumerate() {
                    if s.owns(i) {
                        *seen += 1;
                    }
                }
            }
            assert!(seen.iter().all(|&k| k == 1), "{n} shards");
        }
        assert_eq!(
            "3/8".parse::<Shard>().unwrap(),
            Shard { index: 3, count: 8 }
        );
        assert!("8/8".parse::<Shard>().is_err());
        assert!("x".parse::<Shard>().is_err());
    }

    #[test]
    fn fraction_tags() {
        assert_eq!(fraction_tag(0.05), "t05");
        assert_eq!(fraction_tag(0.15), "t15");
        assert_eq!(fraction_tag(0.125), "t12p5");
    }
}
