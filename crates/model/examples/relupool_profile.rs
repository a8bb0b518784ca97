//! ReLU + AlexNet's max-pool, forward and backward at batch 50: burn's ops against
//! `relupool`'s fused pass, through autodiff, and the fused products alone.
//! `cargo run --release -p model --example relupool_profile`
//! (Without the binary's `retain_freed_memory`, buffers over glibc's 32 MiB mmap limit
//! are fresh pages on every call: conv1's 39 MB gradient pays its page faults here.)
use burn::nn::pool::MaxPool2dConfig;
use burn::tensor::activation::relu;
use burn::tensor::{Device, Distribution, Tensor};
use std::time::Instant;

fn main() {
    flex_only();
    let d = Device::flex().autodiff();
    let pool = MaxPool2dConfig::new([3, 3]).with_strides([2, 2]).init();
    for (c, h) in [(64, 55), (192, 27)] {
        let x: Tensor<4> =
            Tensor::random([50, c, h, h], Distribution::Normal(0.0, 1.0), &d).require_grad();
        for fused in [false, true] {
            let mut best = [f64::MAX; 2];
            for _ in 0..4 {
                let t = Instant::now();
                let y = if fused {
                    model::relupool::relu_max_pool(&pool, x.clone())
                } else {
                    pool.forward(relu(x.clone()))
                };
                let _ = y.clone().inner().into_data();
                let f = t.elapsed().as_secs_f64();
                let t = Instant::now();
                let g = y.sum().backward();
                let _ = x.grad(&g).unwrap().into_data();
                best[0] = best[0].min(f);
                best[1] = best[1].min(t.elapsed().as_secs_f64());
            }
            println!(
                "{c}×{h}² {}: forward {:.1} ms, backward {:.1} ms",
                if fused { "fused" } else { "burn " },
                best[0] * 1e3,
                best[1] * 1e3
            );
        }
    }
}

/// The flex-level fused products alone (no autodiff), best of five.
fn flex_only() {
    use burn::tensor::TensorData;
    use burn_flex::{Flex, FlexTensor};
    use model::relupool::FastReluPool;
    for (c, h) in [(64usize, 55usize), (192, 27)] {
        let ho = (h - 3) / 2 + 1;
        let n = 50 * c * h * h;
        let xs: Vec<f32> = (0..n as u32)
            .map(|i| ((i.wrapping_mul(2_654_435_761) >> 7) % 2001) as f32 / 1000.0 - 1.0)
            .collect();
        let x = FlexTensor::from_data(TensorData::new(xs, [50, c, h, h]));
        let g = FlexTensor::from_data(TensorData::new(
            vec![1f32; 50 * c * ho * ho],
            [50, c, ho, ho],
        ));
        let mut best = [f64::MAX; 2];
        for _ in 0..5 {
            let t = Instant::now();
            let _y = <Flex as FastReluPool>::fast_relu_pool(x.clone(), 3, 2);
            best[0] = best[0].min(t.elapsed().as_secs_f64());
            let t = Instant::now();
            let _d = <Flex as FastReluPool>::fast_relu_pool_backward(x.clone(), g.clone(), 3, 2);
            best[1] = best[1].min(t.elapsed().as_secs_f64());
        }
        println!(
            "flex {c}×{h}²: forward {:.1} ms, backward {:.1} ms",
            best[0] * 1e3,
            best[1] * 1e3
        );
    }
}
