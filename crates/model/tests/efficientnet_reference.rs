//! EfficientNet-Lite0 against the reference tensors shipped with the converted weights.

mod common;

use std::path::Path;

use burn::tensor::{Device, Tensor, TensorData};
use burn_store::{ModuleStore, SafetensorsStore};
use common::{argmax, max_abs_diff, shared_weights};
use model::efficientnet::EfficientNetLite0;
use model::preprocess::{normalize_u8, Normalization};
use model::weights::load_efficientnet_lite0;

fn reference(store: &mut SafetensorsStore, name: &str) -> (Vec<usize>, Vec<f32>) {
    let t = store
        .get_tensor(name)
        .expect("read reference file")
        .unwrap_or_else(|| panic!("reference tensor {name} missing"));
    let shape = t.shape.to_vec();
    let data = burn_store::bridge::to_data(t).expect("reference data");
    (shape, data.try_to_vec::<f32>().expect("f32"))
}

fn tensor4(shape: &[usize], data: Vec<f32>, device: &Device) -> Tensor<4> {
    Tensor::from_data(
        TensorData::new(data, [shape[0], shape[1], shape[2], shape[3]]),
        device,
    )
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().expect("f32 tensor")
}

fn decode_rgb(path: &Path) -> (usize, usize, Vec<u8>) {
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(path).expect("open png"),
    ));
    let mut reader = decoder.read_info().expect("png header");
    let mut buf = vec![0; reader.output_buffer_size().expect("png size")];
    let info = reader.next_frame(&mut buf).expect("png frame");
    assert_eq!(
        info.color_type,
        png::ColorType::Rgb,
        "reference photo is RGB"
    );
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    buf.truncate(info.buffer_size());
    (info.height as usize, info.width as usize, buf)
}

#[test]
fn reproduces_reference_tensors_and_top1() {
    let Some(weights) = shared_weights() else {
        return;
    };
    let dir = weights.join("efficientnet-lite0");
    let device = Device::default();
    let mut net = EfficientNetLite0::new(&device, 1000);
    let report = load_efficientnet_lite0(
        &mut net,
        &dir.join("efficientnet_lite0_imagenet_f32.safetensors"),
    )
    .expect("load weights");
    assert!(!report.head_replaced);
    // 247 stored tensors: every conv, BN (4 each) and the FC weight and bias.
    assert_eq!(report.applied, 247, "{report:?}");

    let mut refs = SafetensorsStore::from_file(dir.join("reference/reference_io.safetensors"));

    // Preprocessing: the PNG through our normalisation equals the reference input.
    let (h, w, rgb) = decode_rgb(&dir.join("reference/chelsea_224.png"));
    assert_eq!((h, w), (224, 224));
    let ours = normalize_u8(&rgb, 3, h, w, 3, &Normalization::INCEPTION).unwrap();
    let (in_shape, chelsea) = reference(&mut refs, "chelsea_input");
    assert_eq!(in_shape, vec![1, 3, 224, 224]);
    let d = max_abs_diff(&ours, &chelsea);
    assert!(d < 1e-6, "preprocessing differs from reference by {d}");

    let x = tensor4(&in_shape, ours, &device);

    let (_, stem_ref) = reference(&mut refs, "chelsea_stem_out");
    let d = max_abs_diff(&values(net.stem(x.clone())), &stem_ref);
    eprintln!("stem max |diff| = {d:e}");
    assert!(d < 1e-4, "stem output differs by {d}");

    let (_, pooled_ref) = reference(&mut refs, "chelsea_pooled_features");
    let d = max_abs_diff(&values(net.features(x.clone())), &pooled_ref);
    eprintln!("pooled features max |diff| = {d:e}");
    assert!(d < 1e-4, "pooled features differ by {d}");

    let (_, logits_ref) = reference(&mut refs, "chelsea_logits");
    let logits = values(net.forward(x));
    let d = max_abs_diff(&logits, &logits_ref);
    eprintln!("chelsea logits max |diff| = {d:e}");
    assert!(d < 1e-4, "logits differ by {d}");
    assert!(
        (logits[282] - 9.2150).abs() < 1e-3,
        "logit 282 = {}",
        logits[282]
    );

    let labels = std::fs::read_to_string(dir.join("imagenet1k_labels.txt")).unwrap();
    let top = argmax(&logits);
    let label = labels.lines().nth(top).unwrap();
    eprintln!("top-1: {top} {label}");
    assert_eq!(top, 282);
    assert_eq!(label.trim(), "tiger cat");

    let (rshape, random) = reference(&mut refs, "random_input");
    let (_, random_ref) = reference(&mut refs, "random_logits");
    let logits = values(net.forward(tensor4(&rshape, random, &device)));
    let d = max_abs_diff(&logits, &random_ref);
    eprintln!("random logits max |diff| = {d:e}");
    assert!(d < 1e-4, "random-input logits differ by {d}");
}

#[test]
fn new_head_keeps_the_pretrained_features() {
    let Some(weights) = shared_weights() else {
        return;
    };
    let file = weights.join("efficientnet-lite0/efficientnet_lite0_imagenet_f32.safetensors");
    let device = Device::default();
    let mut full = EfficientNetLite0::new(&device, 1000);
    load_efficientnet_lite0(&mut full, &file).unwrap();
    let mut three = EfficientNetLite0::new(&device, 3);
    let report = load_efficientnet_lite0(&mut three, &file).unwrap();
    assert!(report.head_replaced);
    assert_eq!(report.applied, 245, "{report:?}");

    let x = Tensor::<4>::random(
        [1, 3, 64, 64],
        burn::tensor::Distribution::Uniform(-1.0, 1.0),
        &device,
    );
    let a = values(full.features(x.clone()));
    let b = values(three.features(x.clone()));
    assert_eq!(a, b, "backbone must be identical");
    assert_eq!(three.forward(x).dims(), [1, 3]);
}

#[test]
fn missing_file_is_a_one_line_error_naming_it() {
    let device = Device::default();
    let mut net = EfficientNetLite0::new(&device, 3);
    let err = load_efficientnet_lite0(&mut net, Path::new("/nonexistent/w.safetensors"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("/nonexistent/w.safetensors"), "{err}");
    assert!(!err.contains('\n'));
}
