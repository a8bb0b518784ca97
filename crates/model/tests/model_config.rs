//! Configuration files, the architecture registry and native weight round trips.

use burn::tensor::{Device, Distribution, Tensor};
use model::weights::{load, save};
use model::{Architecture, ModelConfig, Normalization};

#[test]
fn architecture_names_round_trip() {
    for arch in Architecture::ALL {
        assert_eq!(arch.name().parse::<Architecture>().unwrap(), arch);
        assert_eq!(arch.to_string(), arch.name());
    }
    let err = "resnet18".parse::<Architecture>().unwrap_err().to_string();
    assert!(err.contains("resnet18") && err.contains("alexnet"), "{err}");
}

#[test]
fn config_defaults_follow_each_weights_convention() {
    let a = ModelConfig::for_arch(Architecture::AlexNet, 3);
    assert_eq!((a.input_size, a.in_channels), (227, 3));
    assert_eq!(a.normalization, Normalization::IMAGENET);
    let e = ModelConfig::for_arch(Architecture::EfficientNetLite0, 2);
    assert_eq!((e.input_size, e.in_channels), (224, 3));
    assert_eq!(e.normalization, Normalization::INCEPTION);
}

#[test]
fn config_saves_and_loads_and_invalid_ones_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.json");
    let mut config = ModelConfig::for_arch(Architecture::AlexNet, 2);
    config.in_channels = 1;
    config.save_json(&path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("\"arch\": \"alexnet\""), "{text}");
    assert_eq!(ModelConfig::load_json(&path).unwrap(), config);

    config.arch = Architecture::EfficientNetLite0;
    config.save_json(&path).unwrap();
    let err = ModelConfig::load_json(&path).unwrap_err().to_string();
    assert!(
        err.contains("model.json") && err.contains("input channels"),
        "{err}"
    );

    std::fs::write(&path, "{\"arch\": \"lenet\"}").unwrap();
    let err = ModelConfig::load_json(&path).unwrap_err().to_string();
    assert!(
        err.contains("model.json") && err.contains("line 1"),
        "{err}"
    );
}

#[test]
fn native_weights_round_trip_for_every_architecture() {
    let device = Device::default();
    let dir = tempfile::tempdir().unwrap();
    for arch in Architecture::ALL {
        let config = ModelConfig::for_arch(arch, 3);
        let net = config.init(&device).unwrap();
        let path = dir.path().join(format!("{arch}.safetensors"));
        save(&net, &path).unwrap();
        let mut other = config.init(&device).unwrap();
        let report = load(&mut other, &path).unwrap();
        assert!(report.applied > 0);
        let x = Tensor::<4>::random(
            [1, 3, config.input_size, config.input_size],
            Distribution::Uniform(-1.0, 1.0),
            &device,
        );
        let a = net
            .forward(x.clone())
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        let b = other.forward(x).into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(a, b, "{arch}");
        // Weights of one architecture do not load into the other.
        let wrong = match arch {
            Architecture::AlexNet => Architecture::EfficientNetLite0,
            // Same topology, other widths: the shapes must not load either.
            Architecture::AlexNetSmall => Architecture::AlexNet,
            Architecture::EfficientNetLite0 => Architecture::AlexNet,
            // alexnet-small's convolutions under another head.
            Architecture::AlexNetFcn => Architecture::AlexNetSmall,
        };
        let mut wrong_net = ModelConfig::for_arch(wrong, 3).init(&device).unwrap();
        assert!(load(&mut wrong_net, &path).is_err());
    }
}

#[test]
fn forward_is_the_head_of_the_feature_map() {
    // Grad-CAM splits the network there; the split must not change the output.
    let device = Device::default();
    for arch in [
        Architecture::AlexNetSmall,
        Architecture::EfficientNetLite0,
        Architecture::AlexNetFcn,
    ] {
        let mut config = ModelConfig::for_arch(arch, 3);
        config.input_size = 64;
        let net = burn::module::Module::valid(&config.init(&device).unwrap());
        let x = Tensor::<4>::random([2, 3, 64, 64], Distribution::Normal(0.0, 1.0), &device);
        let map = net.feature_map(x.clone());
        assert_eq!(map.dims()[0], 2);
        let a = net.forward(x).into_data().try_to_vec::<f32>().unwrap();
        let b = net.head(map).into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(a, b, "{arch}");
    }
}

#[test]
fn alexnet_fcn_takes_any_multiple_of_32_with_the_same_weights() {
    let device = Device::default();
    let mut config = ModelConfig::for_arch(Architecture::AlexNetFcn, 2);
    config.in_channels = 1;
    for bad in [100, 227, 32] {
        config.input_size = bad;
        assert!(config.validate().is_err(), "{bad}");
    }
    config.input_size = 96;
    let net = burn::module::Module::valid(&config.init(&device).unwrap());
    // One set of weights serves patches and whole images: logits for both sizes.
    for side in [96, 512] {
        let x = Tensor::<4>::random([1, 1, side, side], Distribution::Normal(0.0, 1.0), &device);
        assert_eq!(net.forward(x).dims(), [1, 2], "{side}");
    }
}

#[test]
fn window_pooling_answers_with_the_most_abnormal_window() {
    let device = Device::default();
    let mut config = ModelConfig::for_arch(Architecture::EfficientNetLite0, 3);
    config.input_size = 64;
    config.window_cells = 2;
    let net = burn::module::Module::valid(&config.init(&device).unwrap());
    let (w, b) = net.head_weights();
    let w = w.into_data().try_to_vec::<f32>().unwrap(); // [1280, 3], row-major
    let b = b.unwrap().into_data().try_to_vec::<f32>().unwrap();
    let (c, side, k) = (model::efficientnet::FEATURES, 4, 2);
    let map = Tensor::<4>::random([1, c, side, side], Distribution::Uniform(0.0, 6.0), &device);
    let m = map.clone().into_data().try_to_vec::<f32>().unwrap();
    // Every 2×2 window by hand: mean features, logits, abnormality score.
    let mut best = (f32::NEG_INFINITY, vec![]);
    let mut scores = Vec::new();
    for y in 0..=side - k {
        for x in 0..=side - k {
            let logits: Vec<f32> = (0..3)
                .map(|j| {
                    let mut z = b[j];
                    for ch in 0..c {
                        let mut mean = 0.0;
                        for dy in 0..k {
                            for dx in 0..k {
                                mean += m[ch * side * side + (y + dy) * side + x + dx];
                            }
                        }
                        z += w[ch * 3 + j] * mean / (k * k) as f32;
                    }
                    z
                })
                .collect();
            let score = (logits[1].exp() + logits[2].exp()).ln() - logits[0];
            scores.push(score);
            if score > best.0 {
                best = (score, logits);
            }
        }
    }
    // The abnormality map (where hard negatives are mined) holds every window's score,
    // row-major over the 3×3 grid of windows.
    let abn = net.window_abnormality(map.clone()).unwrap();
    assert_eq!(abn.dims(), [1, side - k + 1, side - k + 1]);
    let abn = abn.into_data().try_to_vec::<f32>().unwrap();
    for (a, e) in abn.iter().zip(&scores) {
        assert!(
            (a - e).abs() < 1e-3 * (1.0 + e.abs()),
            "{abn:?} vs {scores:?}"
        );
    }
    let got = net.head(map).into_data().try_to_vec::<f32>().unwrap();
    for (g, e) in got.iter().zip(&best.1) {
        assert!(
            (g - e).abs() < 1e-3 * (1.0 + e.abs()),
            "{got:?} vs {:?}",
            best.1
        );
    }
    // A map no larger than one window is pooled globally, as the original network does.
    let small = Tensor::<4>::random([2, c, k, k], Distribution::Uniform(0.0, 6.0), &device);
    let mut plain = config.clone();
    plain.window_cells = 0;
    let mut global = burn::module::Module::valid(&plain.init(&device).unwrap());
    global.set_head_weights(net.head_weights().0, net.head_weights().1);
    let a = net
        .head(small.clone())
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    let g = global.head(small).into_data().try_to_vec::<f32>().unwrap();
    assert_eq!(a, g);
    assert!(global
        .window_abnormality(Tensor::<4>::zeros([1, c, side, side], &device))
        .is_none());
    // Only EfficientNet pools by windows.
    let mut alex = ModelConfig::for_arch(Architecture::AlexNetFcn, 2);
    alex.input_size = 64;
    alex.window_cells = 2;
    assert!(alex.validate().is_err());
}
