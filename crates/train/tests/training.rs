//! Training really learns (the loss falls and a learnable signal is separated on held-out
//! images) and stops on a non-finite loss. Exact resume is tested in `resume.rs`.

use burn::module::Module;
use burn::tensor::Device;
use data::Scenario;
use train::input::Input;
use train::trainer::{fit, Event, TrainData};
use train::TrainError;

mod common;

use common::{config, images};

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
    let message = err.to_string();
    assert!(message.contains("--resume"), "{message}");
    let TrainError::NonFinite {
        iteration,
        checkpoint,
        ..
    } = err
    else {
        panic!("unexpected error {message}");
    };
    assert_eq!(checkpoint, iteration - 1);
    // The last checkpoint written (every iteration here) is the last good one.
    let latest = train::checkpoint::latest(dir.path()).unwrap();
    assert_eq!(latest.map_or(0, |l| l.iteration), checkpoint);
}

#[test]
fn gradient_accumulation_learns_with_the_same_effective_batch() {
    // Batch 16 formed from micro-batches of 4: four forward/backward passes per step.
    let (src, items) = images(160, 1);
    let (train_items, test_items) = items.split_at(128);
    let mut cfg = config(30);
    cfg.micro_batch = 4;
    assert_eq!(train::memory::micro_batch(&cfg), 4);
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
    let mut auc = None;
    fit(
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
                auc = r.val_auc.or(auc);
            }
        },
    )
    .unwrap();
    let first: f32 = losses[..5].iter().sum::<f32>() / 5.0;
    let last: f32 = losses[losses.len() - 5..].iter().sum::<f32>() / 5.0;
    assert!(last < 0.7 * first, "loss {first} -> {last}");
    let auc = auc.expect("validation AUC at the end");
    assert!(auc > 0.9, "held-out AUC {auc}");
}
