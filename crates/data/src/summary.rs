//! The dataset table: images and patients per label, views, laterality.
//!
//! `patients` of a label counts every patient with at least one image of that label
//! (a patient with a malignant and a negative breast counts in both rows);
//! `patients_most_severe` counts each patient once, under their most severe label —
//! the stratum used by splits — so that column sums to the patient total.
//!
//! When the manifest has a `dataset` column (several sources in one manifest, as in the
//! study's FFDM + DDSM experiments), one row per dataset is added, as in the study's
//! dataset table: patients, images, and images per label.

use crate::{Label, Manifest};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

/// Counts of one label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LabelCounts {
    /// Images with this label.
    pub images: usize,
    /// Patients with at least one image of this label.
    pub patients: usize,
    /// Patients whose most severe label is this one.
    pub patients_most_severe: usize,
}

/// The dataset table of a manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Number of images.
    pub images: usize,
    /// Number of distinct patients.
    pub patients: usize,
    /// Counts per label, in the order negative, benign, malignant.
    pub labels: BTreeMap<Label, LabelCounts>,
    /// Images per view (`unknown` when empty).
    pub views: BTreeMap<String, usize>,
    /// Images per laterality (`unknown` when empty).
    pub laterality: BTreeMap<String, usize>,
    /// Per value of the `dataset` column, when the manifest has one.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub datasets: BTreeMap<String, DatasetRow>,
}

/// One dataset's row of the table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DatasetRow {
    /// Distinct patients.
    pub patients: usize,
    /// Images.
    pub images: usize,
    /// Images per label.
    pub labels: BTreeMap<Label, usize>,
}

impl Summary {
    /// Counts a manifest.
    pub fn of(m: &Manifest) -> Summary {
        let mut patients_by: BTreeMap<Label, BTreeSet<&str>> = BTreeMap::new();
        let mut worst: BTreeMap<&str, Label> = BTreeMap::new();
        let mut images_by: BTreeMap<Label, usize> = BTreeMap::new();
        let mut views = BTreeMap::new();
        let mut laterality = BTreeMap::new();
        let or_unknown = |s: &str| {
            if s.trim().is_empty() {
                "unknown".to_string()
            } else {
                s.trim().to_string()
            }
        };
        for r in &m.records {
            *images_by.entry(r.label).or_default() += 1;
            patients_by
                .entry(r.label)
                .or_default()
                .insert(&r.patient_id);
            let w = worst.entry(&r.patient_id).or_insert(r.label);
            *w = (*w).max(r.label);
            *views.entry(or_unknown(&r.view)).or_default() += 1;
            *laterality.entry(or_unknown(&r.laterality)).or_default() += 1;
        }
        let labels = Label::ALL
            .iter()
            .map(|&l| {
                (
                    l,
                    LabelCounts {
                        images: images_by.get(&l).copied().unwrap_or(0),
                        patients: patients_by.get(&l).map_or(0, BTreeSet::len),
                        patients_most_severe: worst.values().filter(|&&w| w == l).count(),
                    },
                )
            })
            .collect();
        let mut datasets: BTreeMap<String, (BTreeSet<&str>, DatasetRow)> = BTreeMap::new();
        if m.extra_columns.iter().any(|c| c == "dataset") {
            for r in &m.records {
                let name = m.extra(r, "dataset").unwrap_or("");
                let e = datasets.entry(or_unknown(name)).or_insert_with(|| {
                    let row = DatasetRow {
                        patients: 0,
                        images: 0,
                        labels: Label::ALL.iter().map(|&l| (l, 0)).collect(),
                    };
                    (BTreeSet::new(), row)
                });
                e.0.insert(&r.patient_id);
                e.1.images += 1;
                *e.1.labels.entry(r.label).or_default() += 1;
            }
        }
        let datasets = datasets
            .into_iter()
            .map(|(k, (p, mut row))| {
                row.patients = p.len();
                (k, row)
            })
            .collect();
        Summary {
            images: m.records.len(),
            patients: worst.len(),
            labels,
            views,
            laterality,
            datasets,
        }
    }

    /// The table as text, one row per label plus a total, then views and laterality.
    pub fn table(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{:<10} {:>8} {:>9} {:>21}",
            "label", "images", "patients", "patients (by worst)"
        );
        for (l, c) in &self.labels {
            let _ = writeln!(
                s,
                "{:<10} {:>8} {:>9} {:>21}",
                l.as_str(),
                c.images,
                c.patients,
                c.patients_most_severe
            );
        }
        let _ = writeln!(
            s,
            "{:<10} {:>8} {:>9} {:>21}",
            "total", self.images, self.patients, self.patients
        );
        let join = |m: &BTreeMap<String, usize>| {
            m.iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(s, "views: {}", join(&self.views));
        let _ = writeln!(s, "laterality: {}", join(&self.laterality));
        if !self.datasets.is_empty() {
            let _ = writeln!(
                s,
                "\n{:<20} {:>8} {:>8} {:>9} {:>7} {:>10}",
                "dataset", "patients", "images", "negative", "benign", "malignant"
            );
            for (name, d) in &self.datasets {
                let _ = writeln!(
                    s,
                    "{:<20} {:>8} {:>8} {:>9} {:>7} {:>10}",
                    name,
                    d.patients,
                    d.images,
                    d.labels[&Label::Negative],
                    d.labels[&Label::Benign],
                    d.labels[&Label::Malignant]
                );
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Record;

    #[test]
    fn counts_images_and_patients() {
        let rec = |p: &str, lat: &str, l: Label| Record {
            image: format!("{p}{lat}{l}.png"),
            patient_id: p.into(),
            laterality: lat.into(),
            view: "CC".into(),
            label: l,
            extra: vec![],
            line: 0,
        };
        let m = Manifest {
            records: vec![
                rec("a", "L", Label::Malignant),
                rec("a", "R", Label::Negative),
                rec("b", "L", Label::Negative),
                rec("c", "", Label::Benign),
            ],
            ..Manifest::default()
        };
        let s = Summary::of(&m);
        assert_eq!((s.images, s.patients), (4, 3));
        let n = &s.labels[&Label::Negative];
        assert_eq!((n.images, n.patients, n.patients_most_severe), (2, 2, 1));
        assert_eq!(s.labels[&Label::Malignant].patients_most_severe, 1);
        assert_eq!(s.laterality["unknown"], 1);
        assert_eq!(s.views["CC"], 4);
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["labels"]["negative"]["images"], 2);
        assert!(s.table().contains("total             4         3"));
        assert!(s.datasets.is_empty());
        assert!(json.get("datasets").is_none());
    }

    #[test]
    fn rows_per_dataset() {
        let rec = |p: &str, l: Label, d: &str| Record {
            image: format!("{p}{l}{d}.png"),
            patient_id: p.into(),
            laterality: String::new(),
            view: "MLO".into(),
            label: l,
            extra: vec![d.into()],
            line: 0,
        };
        let m = Manifest {
            extra_columns: vec!["dataset".into()],
            records: vec![
                rec("a", Label::Malignant, "ddsm"),
                rec("a", Label::Negative, "ddsm"),
                rec("b", Label::Benign, "ffdm"),
                rec("c", Label::Benign, "ffdm"),
            ],
            ..Manifest::default()
        };
        let s = Summary::of(&m);
        let ddsm = &s.datasets["ddsm"];
        assert_eq!((ddsm.patients, ddsm.images), (1, 2));
        assert_eq!(ddsm.labels[&Label::Malignant], 1);
        assert_eq!(s.datasets["ffdm"].labels[&Label::Benign], 2);
        assert!(s
            .table()
            .contains("ffdm                        2        2         0       2          0"));
    }
}
