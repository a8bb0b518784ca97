//! Both networks train on an autodiff device: gradients reach the first layer, batch norm
//! updates its running statistics, and dropout is active; on a plain device it is inference.

use burn::tensor::{Device, Distribution, Tensor};
use model::alexnet::AlexNet;
use model::efficientnet::EfficientNetLite0;

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().expect("f32 tensor")
}

#[test]
fn efficientnet_gradients_batchnorm_and_dropout() {
    let device = Device::default().autodiff();
    let net = EfficientNetLite0::new(&device, 3);
    let x = Tensor::<4>::random([2, 3, 64, 64], Distribution::Uniform(-1.0, 1.0), &device);
    let before = values(net.bn0.running_mean.value());
    let logits = net.forward(x.clone());
    let grads = logits.clone().sum().backward();
    let g = net
        .conv_stem
        .weight
        .val()
        .grad(&grads)
        .expect("stem weight has a gradient");
    let g = values(g);
    assert!(g.iter().all(|v| v.is_finite()));
    assert!(g.iter().any(|v| *v != 0.0), "gradient is all zero");
    let after = values(net.bn0.running_mean.value_sync());
    assert_ne!(
        before, after,
        "training-mode batch norm updates running statistics"
    );
    // Dropout 0.2 on the pooled features: two training forwards differ.
    let again = values(net.forward(x.clone()));
    assert_ne!(values(logits), again);

    // On a plain device the same network is deterministic inference.
    let plain = Device::default();
    let net = EfficientNetLite0::new(&plain, 3);
    let x = Tensor::<4>::random([1, 3, 64, 64], Distribution::Uniform(-1.0, 1.0), &plain);
    assert_eq!(values(net.forward(x.clone())), values(net.forward(x)));
}

#[test]
fn alexnet_gradients_reach_conv1() {
    let device = Device::default().autodiff();
    let net = AlexNet::new(&device, 1, 2);
    let x = Tensor::<4>::random([1, 1, 227, 227], Distribution::Uniform(-1.0, 1.0), &device);
    let grads = net.forward(x).sum().backward();
    let g = values(net.conv1.weight.val().grad(&grads).expect("conv1 gradient"));
    assert_eq!(g.len(), 64 * 11 * 11);
    assert!(g.iter().all(|v| v.is_finite()) && g.iter().any(|v| *v != 0.0));
}
