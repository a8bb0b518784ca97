//! End-to-end checks of the synthetic dataset: determinism, the manifest, anatomy,
//! findings, texture statistics and the site presets.

use data::{Label, Manifest};
use imaging::Gray16;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use synth::plan::plan;
use synth::texture::spectrum_slope;
use synth::{generate, render, Finding, Laterality, PatientPlan, Site, SynthConfig, View};

fn small(seed: u64) -> SynthConfig {
    SynthConfig {
        patients: 6,
        seed,
        size: 160,
        ..SynthConfig::default()
    }
}

fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for sub in [dir.to_path_buf(), dir.join("images")] {
        for e in std::fs::read_dir(&sub).unwrap() {
            let p = e.unwrap().path();
            if p.is_file() {
                let name = p.strip_prefix(dir).unwrap().display().to_string();
                out.insert(name, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

fn in_pool<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(f)
}

#[test]
fn same_seed_gives_identical_bytes_whatever_the_thread_count() {
    let cfg = small(7);
    let (a, b, c) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    in_pool(1, || generate(&cfg, a.path(), &|_| {})).unwrap();
    in_pool(3, || generate(&cfg, b.path(), &|_| {})).unwrap();
    let fa = files(a.path());
    assert_eq!(fa.len(), 6 * 4 + 2, "{:?}", fa.keys().collect::<Vec<_>>());
    assert_eq!(fa, files(b.path()));
    // Another seed changes every image.
    generate(&small(8), c.path(), &|_| {}).unwrap();
    let fc = files(c.path());
    let images_a: Vec<&Vec<u8>> = fa
        .iter()
        .filter(|(k, _)| k.ends_with(".png"))
        .map(|(_, v)| v)
        .collect();
    let images_c: Vec<&Vec<u8>> = fc
        .iter()
        .filter(|(k, _)| k.ends_with(".png"))
        .map(|(_, v)| v)
        .collect();
    assert_eq!(images_a.len(), images_c.len());
    for (x, y) in images_a.iter().zip(&images_c) {
        assert_ne!(x, y);
    }
}

#[test]
fn manifest_reads_back_with_the_requested_mix_and_four_views_per_patient() {
    let cfg = SynthConfig {
        patients: 10,
        class_mix: [0.5, 0.3, 0.2],
        size: 128,
        ..SynthConfig::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let calls = AtomicU64::new(0);
    let summary = generate(&cfg, dir.path(), &|n| {
        calls.fetch_add(n, Ordering::Relaxed);
    })
    .unwrap();
    assert_eq!(calls.load(Ordering::Relaxed), 40);
    assert_eq!(summary.images, 40);
    assert_eq!(summary.patients, [5, 3, 2]);
    let m = Manifest::read(&dir.path().join("labels.csv")).unwrap();
    assert_eq!(m.records.len(), 40);
    assert_eq!(
        m.extra_columns,
        ["site", "finding", "density", "x", "y_from_top", "radius"]
    );
    let mut by_patient: BTreeMap<&str, Vec<&data::Record>> = BTreeMap::new();
    for r in &m.records {
        by_patient.entry(&r.patient_id).or_default().push(r);
    }
    assert_eq!(by_patient.len(), 10);
    let mut patient_labels = [0usize; 3];
    for (id, recs) in &by_patient {
        let mut views: Vec<(String, String)> = recs
            .iter()
            .map(|r| (r.laterality.clone(), r.view.clone()))
            .collect();
        views.sort();
        let want: Vec<(String, String)> = [("L", "CC"), ("L", "MLO"), ("R", "CC"), ("R", "MLO")]
            .iter()
            .map(|(l, v)| (l.to_string(), v.to_string()))
            .collect();
        assert_eq!(views, want, "{id}");
        let abnormal: Vec<&&data::Record> =
            recs.iter().filter(|r| r.label != Label::Negative).collect();
        let label = match abnormal.len() {
            0 => Label::Negative,
            2 => {
                // Both views of one breast, same label and finding.
                assert_eq!(abnormal[0].laterality, abnormal[1].laterality, "{id}");
                assert_eq!(abnormal[0].label, abnormal[1].label, "{id}");
                assert_eq!(
                    m.extra(abnormal[0], "finding"),
                    m.extra(abnormal[1], "finding")
                );
                abnormal[0].label
            }
            n => panic!("{id}: {n} abnormal images"),
        };
        patient_labels[label as usize] += 1;
        for r in recs {
            let finding = m.extra(r, "finding").unwrap();
            let coords = ["x", "y_from_top", "radius"].map(|c| m.extra(r, c).unwrap());
            assert_eq!(m.extra(r, "site"), Some("digital"));
            if r.label == Label::Negative {
                assert_eq!(finding, "none");
                assert!(coords.iter().all(|c| c.is_empty()), "{}", r.image);
            } else {
                assert_ne!(finding, "none");
                let v: Vec<f64> = coords.iter().map(|c| c.parse().unwrap()).collect();
                assert!(
                    v[0] >= 0.0 && v[0] < 102.0 && v[1] >= 0.0 && v[1] < 128.0 && v[2] >= 1.0,
                    "{v:?}"
                );
            }
            let img = imaging::read_image(&m.image_path(r)).unwrap();
            assert_eq!((img.full.width, img.full.height), (cfg.width(), 128));
            assert_eq!(img.info.bits_stored, 16);
        }
    }
    assert_eq!(patient_labels, [5, 3, 2]);
    let json: SynthConfig =
        serde_json::from_slice(&std::fs::read(dir.path().join("synth.json")).unwrap()).unwrap();
    assert_eq!(json, cfg);
}

#[test]
fn invalid_settings_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let cfg = SynthConfig {
        difficulty: -0.1,
        ..SynthConfig::default()
    };
    let e = generate(&cfg, &out, &|_| {}).unwrap_err().to_string();
    assert!(e.contains("difficulty"), "{e}");
    assert!(!out.exists());
}

fn mean_box(img: &Gray16, x0: usize, y0: usize, x1: usize, y1: usize) -> f64 {
    let mut s = 0.0;
    for y in y0..y1 {
        for x in x0..x1 {
            s += img.data[y * img.width + x] as f64;
        }
    }
    s / ((x1 - x0) * (y1 - y0)) as f64
}

/// The value below which `q` of the breast's pixels lie (breast = above background).
fn breast_quantile(img: &Gray16, q: f64) -> f64 {
    let bg = mean_box(
        img,
        img.width / 2 - 3,
        img.height - 6,
        img.width / 2 + 3,
        img.height - 1,
    );
    let mut v: Vec<u16> = img
        .data
        .iter()
        .copied()
        .filter(|&p| p as f64 > bg * 1.5 + 200.0)
        .collect();
    v.sort_unstable();
    v[((v.len() - 1) as f64 * q) as usize] as f64
}

#[test]
fn mlo_views_show_a_pectoral_muscle_in_the_upper_chest_wall_corner() {
    let cfg = SynthConfig {
        patients: 8,
        size: 256,
        ..SynthConfig::default()
    };
    let w = cfg.width();
    let c = w / 12;
    for p in plan(&cfg) {
        for lat in Laterality::BOTH {
            let mlo = render(&cfg, &p, lat, View::MLO).image;
            let cc = render(&cfg, &p, lat, View::CC).image;
            let (chest, far) = match lat {
                Laterality::L => (0, w - c),
                Laterality::R => (w - c, 0),
            };
            let corner = mean_box(&mlo, chest, 0, chest + c, c);
            let fat = breast_quantile(&mlo, 0.2);
            assert!(
                corner > fat * 1.1,
                "{} {lat:?}: muscle {corner} vs fat {fat}",
                p.id
            );
            // The far top corner is air, and the CC view has no muscle.
            let air = mean_box(&mlo, far, 0, far + c, c);
            assert!(air < 0.5 * fat, "{} {lat:?}: air {air} vs fat {fat}", p.id);
            let cc_corner = mean_box(&cc, chest, 0, chest + c, c);
            assert!(
                cc_corner < corner * 0.6,
                "{} {lat:?}: CC corner {cc_corner}",
                p.id
            );
        }
    }
}

fn without_lesion(p: &PatientPlan) -> PatientPlan {
    PatientPlan {
        lesion: None,
        ..p.clone()
    }
}

#[test]
fn findings_add_measurable_contrast_at_the_recorded_place() {
    let cfg = SynthConfig {
        patients: 24,
        size: 256,
        class_mix: [0.0, 0.5, 0.5],
        ..SynthConfig::default()
    };
    let w = cfg.width();
    let mut seen = BTreeMap::new();
    for p in plan(&cfg) {
        let l = p.lesion.clone().unwrap();
        for view in View::BOTH {
            let with = render(&cfg, &p, l.laterality, view);
            let plain = render(&cfg, &without_lesion(&p), l.laterality, view).image;
            let spot = with.lesion.unwrap();
            let top = ((1u32 << cfg.site.params().bits) - 1) as f64;
            // Mean added brightness inside the recorded disc and far outside it.
            let (mut inside, mut outside, mut n_out) = (Vec::new(), 0.0, 0);
            for y in 0..cfg.size {
                for x in 0..w {
                    let d = ((x as f64 + 0.5 - spot.x).powi(2)
                        + (y as f64 + 0.5 - spot.y_from_top).powi(2))
                    .sqrt();
                    let diff =
                        (with.image.data[y * w + x] as f64 - plain.data[y * w + x] as f64) / top;
                    if d < spot.radius {
                        inside.push(diff);
                    } else if d > 3.5 * spot.radius {
                        outside += diff;
                        n_out += 1;
                    }
                }
            }
            let outside = outside / n_out as f64;
            let mean = inside.iter().sum::<f64>() / inside.len() as f64;
            inside.sort_by(f64::total_cmp);
            let p98 = inside[inside.len() * 98 / 100];
            eprintln!(
                "{} {view:?} {:?}: mean {mean:.4} p98 {p98:.4} out {outside:.5}",
                p.id, l.finding
            );
            match l.finding {
                // Calcifications are sparse: strong specks, a small mean.
                Finding::PleomorphicCalcifications | Finding::CoarseCalcifications => {
                    assert!(
                        p98 > 0.08 && mean > 0.003,
                        "{} {view:?}: {mean} {p98}",
                        p.id
                    )
                }
                _ => assert!(mean > 0.03, "{} {view:?} {:?}: {mean}", p.id, l.finding),
            }
            assert!(outside.abs() < 0.002, "{} {view:?}: out {outside:.4}", p.id);
            seen.insert(l.finding.as_str(), mean);
        }
    }
    // Every kind was drawn and checked.
    assert_eq!(seen.len(), 6, "{seen:?}");
}

#[test]
fn background_texture_has_a_power_law_spectrum() {
    let cfg = SynthConfig {
        patients: 12,
        size: 512,
        class_mix: [1.0, 0.0, 0.0],
        ..SynthConfig::default()
    };
    let mut slopes = Vec::new();
    for p in plan(&cfg).iter().take(4) {
        let img = render(&cfg, p, Laterality::L, View::CC).image;
        let n = 128;
        // Inside the breast: from near the chest wall, centred on the breast's mid-line.
        let (x0, y0) = (8, cfg.size / 2 - n / 2);
        let patch: Vec<f32> = (0..n * n)
            .map(|i| img.data[(y0 + i / n) * img.width + x0 + i % n] as f32)
            .collect();
        slopes.push(spectrum_slope(&patch, n, 3.0 / n as f64, 0.2, true));
    }
    let mean = slopes.iter().sum::<f64>() / slopes.len() as f64;
    eprintln!("radially averaged spectrum slopes: {slopes:?} (mean {mean:.3})");
    assert!((mean + synth::BETA).abs() < 0.3, "slopes {slopes:?}");
    for s in &slopes {
        assert!((s + synth::BETA).abs() < 0.5, "slopes {slopes:?}");
    }
}

#[test]
fn sites_differ_in_background_level_noise_and_bit_depth() {
    let stats = |site: Site| {
        let cfg = SynthConfig {
            patients: 4,
            size: 256,
            site,
            class_mix: [1.0, 0.0, 0.0],
            ..SynthConfig::default()
        };
        let top = ((1u32 << site.params().bits) - 1) as f64;
        let (mut bg, mut bg_sd, mut max) = (0.0, 0.0, 0u16);
        let plans = plan(&cfg);
        for p in &plans {
            let img = render(&cfg, p, Laterality::L, View::CC).image;
            let (w, h) = (img.width, img.height);
            // Air at the bottom far corner.
            let v: Vec<f64> = (h - 20..h - 2)
                .flat_map(|y| (w - 20..w - 2).map(move |x| (x, y)))
                .map(|(x, y)| img.data[y * w + x] as f64 / top)
                .collect();
            let m = v.iter().sum::<f64>() / v.len() as f64;
            bg += m;
            bg_sd += (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64).sqrt();
            max = max.max(*img.data.iter().max().unwrap());
        }
        let k = plans.len() as f64;
        (bg / k, bg_sd / k, max)
    };
    let (d_bg, d_sd, d_max) = stats(Site::Digital);
    let (f_bg, f_sd, f_max) = stats(Site::Film);
    assert!(f_bg > d_bg + 0.03, "background film {f_bg} digital {d_bg}");
    assert!(
        f_sd > 2.0 * d_sd,
        "background noise film {f_sd} digital {d_sd}"
    );
    assert!(
        f_max <= 4095 && d_max > 4095,
        "max film {f_max} digital {d_max}"
    );
}

#[test]
fn default_lesions_stay_visible_after_downsampling_to_227() {
    // The study trains at 227×227: a default-difficulty mass must keep a radius of at
    // least ~4% of the breast width, i.e. several pixels at 227.
    let cfg = SynthConfig::default();
    let w = cfg.width() as f64;
    for p in plan(&cfg) {
        if let Some(l) = &p.lesion {
            let breast_width = p.breast(l.laterality).depth * w;
            assert!(l.radius >= 0.04 * breast_width, "{}: {}", p.id, l.radius);
            assert!(
                l.radius * 227.0 / cfg.size as f64 >= 4.0,
                "{}: {}",
                p.id,
                l.radius
            );
        }
    }
    // Harder means smaller and fainter.
    let hard = plan(&SynthConfig {
        difficulty: 1.0,
        ..cfg.clone()
    });
    for (e, h) in plan(&cfg).iter().zip(&hard) {
        if let (Some(a), Some(b)) = (&e.lesion, &h.lesion) {
            assert!(b.radius < a.radius && b.contrast < a.contrast);
        }
    }
}
