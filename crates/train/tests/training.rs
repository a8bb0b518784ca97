//! Training really learns, resumes exactly, and stops on a non-finite loss.
//!
//! The data: 48×48 noise images; class 1 carries a bright disc at a random place (a
//! learnable "lesion"), class 0 does not. Small enough for a few seconds on 2 cores.

use burn::module::Module;
use burn::tensor::Device;
use data::Scenario;
use model::Architecture;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use train::config::{Balance, TrainConfig};
use train::input::{Input, MemoryImages};
use train::trainer::{fit, Event, TrainData};
use train::TrainError;

const SIDE: usize = 48;

fn images(n: usize, seed: u64) -> (MemoryImages, Vec<(usize, usize)>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut imgs = Vec::new();
    let mut items = Vec::new();
    for i in 0..n {
        let class = i % 2;
        let mut img: Vec<u8> = (0..SIDE * SIDE)
            .map(|_| rng.random_range(40..120))
            .collect();
        if class == 1 {
            let (cx, cy) = (
                rng.random_range(10..38) as f32,
                rng.random_range(10..38) as f32,
            );
            for y in 0..SIDE {
                for x in 0..SIDE {
                    let d = ((x as f32 - cx).powi(2) + (y as f32 - cy).powi(2)).sqrt();
                    if d < 6.0 {
                        img[y * SIDE + x] = 230;
                    }
                }
            }
        }
        imgs.push(img);
        items.push((i, class));
    }
    (
        MemoryImages {
            side: SIDE,
            images: imgs,
        },
        items,
    )
}

fn config(iterations: usize) -> TrainConfig {
    let mut c = TrainConfig::study(
        Scenario::MalignantVsNegative,
        Architecture::EfficientNetLite0,
        "unused.csv".into(),
    );
    c.input_size = SIDE;
    c.preprocess.size = SIDE;
    c.iterations = iterations;
    c.batch_size = 16;
    c.learning_rate = 0.01;
    c.lr_step = 0;
    c.balance = Balance::None;
    c.checkpoint_every = 3;
    c.seed = 11;
    c
}

fn weights_bytes(dir: &std::path::Path, net: &model::Network) -> Vec<u8> {
    let p = dir.join("final.safetensors");
    model::weights::save(net, &p).unwrap();
    std::fs::read(p).unwrap()
}

#[test]
fn loss_falls_and_the_signal_is_separated() {
    let (src, items) = images(160, 1);
    let (train_items, test_items) = items.split_at(128);
    let cfg = config(30);
    cfg.check().unwrap();
    let mc = cfg.model_config();
    let idx: Vec<usize> = train_items.iter().map(|t| t.0).collect();
    let input = Input::from_training(&mc, &src, &idx).unwrap();
    let dev = Device::default().autodiff();
    dev.seed(3);
    let net = mc.init(&dev).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = TrainData {
        source: &src,
        train: train_items.to_vec(),
        validation: test_items.to_vec(),
    };
    let mut losses = Vec::new();
    let mut last_auc = None;
    let net = fit(
        &cfg,
        net,
        &input,
        &data,
        &dev,
        dir.path(),
        false,
        &mut |e| {
            if let Event::Iteration(r) = e {
                losses.push(r.loss);
                if r.val_auc.is_some() {
                    last_auc = r.val_auc;
                }
            }
        },
    )
    .unwrap();
    let first: f32 = losses[..5].iter().sum::<f32>() / 5.0;
    let last: f32 = losses[losses.len() - 5..].iter().sum::<f32>() / 5.0;
    assert!(last < 0.7 * first, "loss {first} -> {last}");
    let auc = last_auc.expect("validation AUC at the end");
    assert!(auc > 0.9, "held-out AUC {auc}");

    // The same through inference: probabilities of the held-out images.
    let valid = net.valid();
    let test_idx: Vec<usize> = test_items.iter().map(|t| t.0).collect();
    let probs = train::infer::probabilities(&valid, &input, &src, &test_idx, 8, &Device::default());
    let classes: Vec<usize> = test_items.iter().map(|t| t.1).collect();
    let auc2 = train::infer::auc(Scenario::MalignantVsNegative, &classes, &probs).unwrap();
    assert!((auc2 - auc).abs() < 1e-6, "{auc2} vs {auc}");

    // The log has one row per iteration, with the validation AUC on the last.
    let log = std::fs::read_to_string(dir.path().join("train_log.csv")).unwrap();
    assert_eq!(log.lines().count(), 31);
    assert!(log.lines().last().unwrap().split(',').nth(4).unwrap().len() > 3);
}

#[test]
fn resumed_run_ends_with_the_same_weights() {
    let (src, items) = images(64, 2);
    let mut cfg = config(6);
    cfg.augment.hflip = true;
    cfg.augment.intensity = 0.1;
    let mc = cfg.model_config();
    let idx: Vec<usize> = items.iter().map(|t| t.0).collect();
    let input = Input::from_training(&mc, &src, &idx).unwrap();
    let data = TrainData {
        source: &src,
        train: items.clone(),
        validation: Vec::new(),
    };
    let dev = Device::default().autodiff();
    let fresh = |dev: &Device| {
        dev.seed(5);
        mc.init(dev).unwrap()
    };

    let a = tempfile::tempdir().unwrap();
    let whole = fit(
        &cfg,
        fresh(&dev),
        &input,
        &data,
        &dev,
        a.path(),
        false,
        &mut |_| {},
    )
    .unwrap();

    // Crash right after the checkpoint of iteration 3 (a panic unwinding out of the loop),
    // then resume in a new "process": a freshly initialised network with other random
    // parameter ids.
    let b = tempfile::tempdir().unwrap();
    let crashed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        fit(
            &cfg,
            fresh(&dev),
            &input,
            &data,
            &dev,
            b.path(),
            false,
            &mut |e| {
                if let Event::Checkpoint(3) = e {
                    panic!("simulated crash");
                }
            },
        )
    }));
    assert!(crashed.is_err());
    // Garbage from a crash after the checkpoint must not matter.
    std::fs::write(
        b.path()
            .join("checkpoint")
            .join("weights-00000004.safetensors.tmp"),
        b"x",
    )
    .unwrap();
    dev.seed(999);
    let other = mc.init(&dev).unwrap();
    let mut starts = Vec::new();
    let resumed = fit(&cfg, other, &input, &data, &dev, b.path(), true, &mut |e| {
        if let Event::Started { start, .. } = e {
            starts.push(*start);
        }
    })
    .unwrap();
    assert_eq!(starts, vec![3]);
    // Compared as bytes (canonical files), reported briefly.
    assert!(
        weights_bytes(a.path(), &whole.valid()) == weights_bytes(b.path(), &resumed.valid()),
        "resumed weights differ from the uninterrupted run"
    );
    let log_a = std::fs::read_to_string(a.path().join("train_log.csv")).unwrap();
    let log_b = std::fs::read_to_string(b.path().join("train_log.csv")).unwrap();
    let losses = |s: &str| -> Vec<String> {
        s.lines()
            .map(|l| l.split(',').take(3).collect::<Vec<_>>().join(","))
            .collect()
    };
    assert_eq!(losses(&log_a), losses(&log_b));
}

#[test]
fn non_finite_loss_stops_and_keeps_the_checkpoint() {
    let (src, items) = images(32, 3);
    let mut cfg = config(30);
    cfg.learning_rate = 1e12;
    cfg.checkpoint_every = 1;
    let mc = cfg.model_config();
    let idx: Vec<usize> = items.iter().map(|t| t.0).collect();
    let input = Input::from_training(&mc, &src, &idx).unwrap();
    let data = TrainData {
        source: &src,
        train: items,
        validation: Vec::new(),
    };
    let dev = Device::default().autodiff();
    let net = mc.init(&dev).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let err = fit(
        &cfg,
        net,
        &input,
        &data,
        &dev,
        dir.path(),
        false,
        &mut |_| {},
    )
    .expect_err("a learning rate of 1e12 must blow up");
    let TrainError::NonFinite {
        iteration,
        checkpoint,
        ..
    } = err
    else {
        panic!("unexpected error {err}");
    };
    assert_eq!(checkpoint, iteration - 1);
    let latest = train::checkpoint::latest(dir.path()).unwrap();
    if checkpoint > 0 {
        assert_eq!(latest.unwrap().iteration, checkpoint);
    }
    assert!(err_message_mentions_resume());
}

fn err_message_mentions_resume() -> bool {
    TrainError::NonFinite {
        loss: f32::NAN,
        iteration: 2,
        checkpoint: 1,
    }
    .to_string()
    .contains("--resume")
}
