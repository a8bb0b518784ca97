//! Locating pretrained weights through `MAMMORECALL_WEIGHTS` (own test binary: it sets the
//! process environment).

use model::weights::{efficientnet_lite0_path, EFFICIENTNET_LITE0_FILE, WEIGHTS_ENV};

#[test]
fn explicit_path_wins_then_env_directory_is_searched() {
    let dir = tempfile::tempdir().unwrap();
    let explicit = dir.path().join("mine.safetensors");
    assert_eq!(efficientnet_lite0_path(Some(&explicit)).unwrap(), explicit);

    std::env::set_var(WEIGHTS_ENV, dir.path());
    let err = efficientnet_lite0_path(None).unwrap_err().to_string();
    assert!(
        err.contains("efficientnet-lite0") && err.contains("not found"),
        "{err}"
    );

    let nested = dir.path().join("efficientnet-lite0");
    std::fs::create_dir(&nested).unwrap();
    std::fs::write(nested.join(EFFICIENTNET_LITE0_FILE), b"x").unwrap();
    assert_eq!(
        efficientnet_lite0_path(None).unwrap(),
        nested.join(EFFICIENTNET_LITE0_FILE)
    );

    std::env::remove_var(WEIGHTS_ENV);
    let err = efficientnet_lite0_path(None).unwrap_err().to_string();
    assert!(err.contains(WEIGHTS_ENV), "{err}");
}

/// Incremental transfer: a three-class network's weights start a two-class one; every
/// tensor but the head is copied, the head keeps its fresh initialisation.
#[test]
fn transfer_replaces_only_a_head_of_another_class_count() {
    use burn::tensor::Device;
    use model::{Architecture, ModelConfig, Network};
    let device = Device::default();
    let mut three = ModelConfig::for_arch(Architecture::EfficientNetLite0, 3);
    three.input_size = 64;
    let source = three.init(&device).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("weights.safetensors");
    model::weights::save(&source, &p).unwrap();

    let mut two_cfg = three.clone();
    two_cfg.num_classes = 2;
    let mut two = two_cfg.init(&device).unwrap();
    let report = model::weights::load_transfer(&mut two, &p).unwrap();
    assert!(report.head_replaced);
    let (Network::EfficientNetLite0(s), Network::EfficientNetLite0(t)) = (&source, &two) else {
        unreachable!()
    };
    let v = |x: burn::tensor::Tensor<4>| x.into_data().try_to_vec::<f32>().unwrap();
    assert_eq!(v(s.conv_stem.weight.val()), v(t.conv_stem.weight.val()));
    assert_eq!(t.fc.weight.dims(), [1280, 2]);

    // Same class count: everything, head included, is taken.
    let mut same = three.init(&device).unwrap();
    let report = model::weights::load_transfer(&mut same, &p).unwrap();
    assert!(!report.head_replaced);
}
