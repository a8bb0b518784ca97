//! A run that crashes after a checkpoint and is resumed ends with the same weights, byte
//! for byte, as one that never stopped.
//!
//! In its own test binary (process): dropout draws from the backend's process-wide
//! generator, which tests running in parallel threads of one process would share.

use burn::module::Module;
use burn::tensor::Device;
use train::input::Input;
use train::trainer::{fit, Event, TrainData};

mod common;

use common::{config, images};

fn weights_bytes(dir: &std::path::Path, net: &model::Network) -> Vec<u8> {
    let p = dir.join("final.safetensors");
    model::weights::save(net, &p).unwrap();
    std::fs::read(p).unwrap()
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
