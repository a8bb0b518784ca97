//! Lesion-patch pretraining learns the lesion from patches, and the whole-image network
//! built from it finds lesions in whole images before any whole-image training (the
//! sliding-window property of the fully convolutional backbone). Also: gradient
//! accumulation gives the gradient of the whole batch.

use burn::module::Module;
use data::{Manifest, Scenario};
use model::Architecture;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use train::config::{Balance, Init, TrainConfig};
use train::input::{Input, MemoryImages};
use train::patches::{Placed, Stage};

const SIDE: usize = 128;

/// Noise "breasts"; odd images carry a bright disc (radius 7) at a random place.
fn dataset(n: usize) -> (MemoryImages, Vec<Option<Vec<Placed>>>, String) {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mut images = Vec::new();
    let mut placed = Vec::new();
    let mut csv = String::from("image,patient_id,laterality,view,label\n");
    for i in 0..n {
        let mut img: Vec<u8> = (0..SIDE * SIDE)
            .map(|_| rng.random_range(40..120))
            .collect();
        let malignant = i % 2 == 1;
        if malignant {
            let (cx, cy) = (
                rng.random_range(20..108) as f64,
                rng.random_range(20..108) as f64,
            );
            for y in 0..SIDE {
                for x in 0..SIDE {
                    if ((x as f64 - cx).powi(2) + (y as f64 - cy).powi(2)).sqrt() < 7.0 {
                        img[y * SIDE + x] = 230;
                    }
                }
            }
            placed.push(Some(vec![Placed {
                x: cx,
                y: cy,
                radius: 7.0,
            }]));
        } else {
            placed.push(Some(Vec::new()));
        }
        let label = if malignant { "malignant" } else { "negative" };
        csv.push_str(&format!("i{i}.png,p{i},L,MLO,{label}\n"));
        images.push(img);
    }
    (MemoryImages { side: SIDE, images }, placed, csv)
}

// One test: the backend's random generator is process-wide, so the two architectures
// run one after the other.
#[test]
fn patch_classifier_transfers_to_whole_images() {
    // alexnet-fcn: global max pooling over the fully convolutional backbone.
    transfers(Architecture::AlexNetFcn, 1, false, 64, 60, 0);
    // EfficientNet: the most abnormal patch-sized window (window pooling), trained on
    // 32-pixel patches in 96-pixel crops (their context), then on 2 hard negatives
    // mined from each training image.
    transfers(Architecture::EfficientNetLite0, 3, true, 32, 100, 2);
}

fn transfers(
    arch: Architecture,
    channels: usize,
    window_pooling: bool,
    patch: usize,
    iterations: usize,
    hard_negatives: usize,
) {
    eprintln!("{arch}");
    let (src, placed, csv) = dataset(80);
    let dir = tempfile::tempdir().unwrap();
    let mpath = dir.path().join("labels.csv");
    std::fs::write(&mpath, csv).unwrap();
    let manifest = Manifest::read(&mpath).unwrap();
    let mut cfg = TrainConfig::study(Scenario::MalignantVsNegative, arch, mpath.clone());
    cfg.input_size = SIDE;
    cfg.preprocess.size = SIDE;
    cfg.in_channels = channels;
    cfg.window_pooling = window_pooling;
    // With patch initialisation, no whole-image iteration is a valid run.
    cfg.iterations = 0;
    cfg.init = Init::Patches(None);
    cfg.balance = Balance::Oversample;
    cfg.patches.size = patch;
    cfg.patches.per_lesion = 6;
    cfg.patches.per_image = 3;
    cfg.patches.iterations = iterations;
    cfg.patches.batch_size = 16;
    cfg.patches.learning_rate = 0.003;
    cfg.patches.hard_negatives = hard_negatives;
    cfg.patches.mining_iterations = if hard_negatives > 0 { 30 } else { 0 };
    cfg.checkpoint_every = 0;
    cfg.seed = 3;
    cfg.check().unwrap();
    let compute = train::device::open("cpu").unwrap();
    let train: Vec<usize> = (0..56).collect();
    let held: Vec<usize> = (56..80).collect();
    let stage = Stage {
        cfg: &cfg,
        compute: &compute,
        manifest: &manifest,
        source: &src,
        placed: &placed,
        train: &train,
        validation: &held,
    };
    let model_dir = dir.path().join("model");
    let mut losses = Vec::new();
    let pdir = stage
        .train(&model_dir, false, &mut |e| {
            if let train::trainer::Event::Iteration(r) = e {
                losses.push(r.loss);
            }
        })
        .unwrap();
    // The patch classifier learned: its loss fell and it separates held-out patches.
    let first: f32 = losses[..10].iter().sum::<f32>() / 10.0;
    let last: f32 = losses[losses.len() - 10..].iter().sum::<f32>() / 10.0;
    assert!(last < first * 0.7, "patch loss {first} → {last}");
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(pdir.join("patches.json")).unwrap()).unwrap();
    let auc = record["validation_auc"].as_f64().unwrap();
    eprintln!("patch AUC {auc}, loss {first} → {last}");
    assert!(auc > 0.9, "held-out patch AUC {auc}");
    assert_eq!(record["classes"][1], "malignant");
    // No patch of a held-out image was trained on.
    let rows = std::fs::read_to_string(pdir.join("patches.csv")).unwrap();
    for line in rows.lines().skip(1).filter(|l| l.contains(",train,")) {
        let image = line.split(',').next().unwrap();
        let i: usize = image[1..image.len() - 4].parse().unwrap();
        assert!(i < 56, "{line}");
    }

    let crop = train::patches::crop_side(&cfg);
    if hard_negatives > 0 {
        // The second round read the training images whole and added, for each, at most
        // `hard_negatives` non-overlapping normal crops clear of its lesion.
        assert!(pdir.ends_with("patches/mined"), "{}", pdir.display());
        assert!(pdir.parent().unwrap().join("weights.safetensors").is_file());
        let normal = |text: &str| {
            text.lines()
                .filter(|l| l.contains(",train,negative,"))
                .map(|l| {
                    let f: Vec<&str> = l.split(',').collect();
                    let i: usize = f[0][1..f[0].len() - 4].parse().unwrap();
                    (
                        i,
                        f[3].parse::<f64>().unwrap(),
                        f[4].parse::<f64>().unwrap(),
                    )
                })
                .collect::<Vec<_>>()
        };
        let before =
            normal(&std::fs::read_to_string(pdir.parent().unwrap().join("patches.csv")).unwrap());
        let after = normal(&rows);
        assert_eq!(after[..before.len()], before[..]);
        let mined = &after[before.len()..];
        assert!(!mined.is_empty() && mined.len() <= hard_negatives * 56);
        for &(i, x, y) in mined {
            assert!(i < 56);
            for l in placed[i].as_ref().unwrap() {
                let d = ((x - l.x).powi(2) + (y - l.y).powi(2)).sqrt();
                assert!(
                    d > l.radius + crop as f64 / 2.0,
                    "image {i}: ({x}, {y}) on its lesion"
                );
            }
            let same: Vec<_> = mined.iter().filter(|m| m.0 == i).collect();
            assert!(same.len() <= hard_negatives);
        }
        eprintln!("{} hard negatives mined", mined.len());
    }

    // The whole-image network starts from it and, untrained on whole images, already
    // ranks held-out whole images with a lesion above those without.
    let dev = compute.device.clone();
    let net = train::run::init_from_patches(&cfg, &dev, &pdir).unwrap();
    let net = net.valid();
    let mc = cfg.model_config();
    assert_eq!(mc.window_cells, if window_pooling { patch / 32 } else { 0 });
    assert_eq!(crop, if window_pooling { patch + 64 } else { patch });
    let input = Input::from_training(&mc, &src, &train).unwrap();
    let probs = train::infer::probabilities(&net, &input, &src, &held, 8, &dev);
    let classes: Vec<usize> = held.iter().map(|i| i % 2).collect();
    let auc = train::infer::auc(cfg.scenario, &classes, &probs).unwrap();
    eprintln!("whole-image AUC from patches alone: {auc}");
    assert!(auc > 0.8, "whole-image AUC from patches alone {auc}");
}
