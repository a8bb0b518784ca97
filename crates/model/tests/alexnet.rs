//! AlexNet: torchvision's shapes, torchvision-layout import and export, native round trip.

mod common;

use std::path::Path;
use std::process::Command;

use burn::tensor::{Device, Distribution, Tensor, TensorData};
use common::max_abs_diff;
use model::alexnet::AlexNet;
use model::weights::{
    load_torchvision_alexnet, load_torchvision_alexnet_safetensors, save_torchvision_alexnet,
};
use model::{Architecture, ModelConfig};

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().expect("f32 tensor")
}

fn input(device: &Device, channels: usize, n: usize) -> Tensor<4> {
    Tensor::random(
        [n, channels, 227, 227],
        Distribution::Uniform(-2.0, 2.0),
        device,
    )
}

#[test]
fn parameter_shapes_match_torchvision() {
    let device = Device::default();
    let m = AlexNet::new(&device, 3, 1000);
    assert_eq!(m.conv1.weight.dims(), [64, 3, 11, 11]);
    assert_eq!(m.conv2.weight.dims(), [192, 64, 5, 5]);
    assert_eq!(m.conv3.weight.dims(), [384, 192, 3, 3]);
    assert_eq!(m.conv4.weight.dims(), [256, 384, 3, 3]);
    assert_eq!(m.conv5.weight.dims(), [256, 256, 3, 3]);
    // burn stores linear weights as [in, out]; torchvision as [out, in].
    assert_eq!(m.fc1.weight.dims(), [9216, 4096]);
    assert_eq!(m.fc2.weight.dims(), [4096, 4096]);
    assert_eq!(m.fc3.weight.dims(), [4096, 1000]);
    // torchvision's AlexNet has 61,100,840 parameters.
    use burn::module::Module;
    assert_eq!(m.num_params(), 61_100_840);
}

#[test]
fn gray_and_rgb_inputs_give_class_probabilities() {
    let device = Device::default();
    for (channels, classes) in [(1, 2), (3, 3)] {
        let mut config = ModelConfig::for_arch(Architecture::AlexNet, classes);
        config.in_channels = channels;
        let net = config.init(&device).unwrap();
        let p = net.probabilities(input(&device, channels, 2));
        assert_eq!(p.dims(), [2, classes]);
        let p = values(p);
        for row in p.chunks(classes) {
            let s: f32 = row.iter().sum();
            assert!((s - 1.0).abs() < 1e-5, "row sums to {s}");
            assert!(row.iter().all(|v| (0.0..=1.0).contains(v)));
        }
    }
}

#[test]
fn torchvision_layout_export_reloads_to_the_same_outputs() {
    let device = Device::default();
    let original = AlexNet::new(&device, 3, 3);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("alexnet.safetensors");
    save_torchvision_alexnet(&original, &path).unwrap();

    let mut reloaded = AlexNet::new(&device, 3, 3);
    let report = load_torchvision_alexnet_safetensors(&mut reloaded, &path).unwrap();
    assert_eq!(report.applied, 16);
    assert!(!report.head_replaced);
    let x = input(&device, 3, 1);
    assert_eq!(
        values(original.forward(x.clone())),
        values(reloaded.forward(x.clone()))
    );

    // A 2-class model takes everything but the 3-class head.
    let mut binary = AlexNet::new(&device, 3, 2);
    let report = load_torchvision_alexnet_safetensors(&mut binary, &path).unwrap();
    assert!(report.head_replaced);
    assert_eq!(report.applied, 14);
    assert_eq!(
        values(binary.fc2.weight.val()),
        values(original.fc2.weight.val())
    );
}

fn python_fixture(dir: &Path) -> bool {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/make_alexnet_pth.py");
    match Command::new("python3").arg(&script).arg(dir).output() {
        Ok(out) if out.status.success() => true,
        Ok(out) => {
            eprintln!(
                "skipped: fixture script failed (python3 with numpy needed): {}",
                String::from_utf8_lossy(&out.stderr)
                    .lines()
                    .last()
                    .unwrap_or("")
            );
            false
        }
        Err(e) => {
            eprintln!("skipped: python3 not available: {e}");
            false
        }
    }
}

fn read_f32(path: &Path) -> Vec<f32> {
    std::fs::read(path)
        .unwrap()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

#[test]
fn torchvision_pth_state_dict_loads_and_matches_numpy_forward() {
    let dir = tempfile::tempdir().unwrap();
    if !python_fixture(dir.path()) {
        return;
    }
    let device = Device::default();
    let mut net = AlexNet::new(&device, 3, 3);
    let report = load_torchvision_alexnet(&mut net, &dir.path().join("alexnet.pth")).unwrap();
    assert_eq!(report.applied, 16);
    assert!(!report.head_replaced);

    let x = Tensor::<4>::from_data(
        TensorData::new(read_f32(&dir.path().join("input.f32")), [2, 3, 227, 227]),
        &device,
    );
    let logits = values(net.forward(x));
    let expected = read_f32(&dir.path().join("logits.f32"));
    let scale = expected.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    let d = max_abs_diff(&logits, &expected);
    eprintln!("pth logits max |diff| = {d:e} (|logits| up to {scale})");
    assert!(d < 1e-4 * scale, "logits differ by {d}");

    // The study's head replacement: same backbone, fresh 2-class head.
    let mut binary = AlexNet::new(&device, 3, 2);
    let report = load_torchvision_alexnet(&mut binary, &dir.path().join("alexnet.pth")).unwrap();
    assert!(report.head_replaced);
    assert_eq!(
        values(binary.conv1.weight.val()),
        values(net.conv1.weight.val())
    );

    // A 1-channel network cannot take 3-channel conv1 weights: a one-line error naming the file.
    let mut gray = AlexNet::new(&device, 1, 3);
    let err = load_torchvision_alexnet(&mut gray, &dir.path().join("alexnet.pth"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("alexnet.pth") && err.contains("conv1"),
        "{err}"
    );
}

/// Forward-pass timing at batch 8, 227×227 (run with `--ignored --nocapture`; not asserted).
#[test]
#[ignore = "timing report, not a check"]
fn time_forward_batch8() {
    let device = Device::default();
    let net = AlexNet::new(&device, 3, 3);
    let x = input(&device, 3, 8);
    // Warm-up pass: first calls allocate and fill caches.
    let _ = values(net.forward(x.clone()));
    let runs = 5;
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = std::time::Instant::now();
        let _ = values(net.forward(x.clone()));
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let median = times[runs / 2];
    eprintln!(
        "alexnet forward, batch 8, 227x227, flex: median {:.1} ms over {runs} runs = {:.1} img/s",
        median * 1e3,
        8.0 / median
    );
}
