//! Where a CPU training step of AlexNet goes: each convolution's forward pass, its weight
//! gradient and its input gradient (computed as burn's autodiff computes them) at batch 50,
//! timed on the default backend, with the GFLOP/s each reaches. Compare with the matrix
//! product's own rate to see what a faster convolution could take.
//!
//! `cargo run --release -p model --example conv_profile`

use burn::tensor::module::{conv2d, conv_transpose2d};
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
use burn::tensor::{Device, Distribution, Tensor};
use std::time::Instant;

/// Best of three timed runs after a warm-up, in seconds.
fn t<F: FnMut()>(mut f: F) -> f64 {
    f();
    let mut best = f64::MAX;
    for _ in 0..3 {
        let s = Instant::now();
        f();
        best = best.min(s.elapsed().as_secs_f64());
    }
    best
}

fn main() {
    let d = Device::flex();
    let b = 50;
    // (cin, cout, k, stride, pad, hin)
    // AlexNet's convolutions (torchvision sizes) on a 227² input.
    let layers = [
        (3, 64, 11, 4, 2, 227),
        (64, 192, 5, 1, 2, 27),
        (192, 384, 3, 1, 1, 13),
        (384, 256, 3, 1, 1, 13),
        (256, 256, 3, 1, 1, 13),
    ];
    let mut tot = [0.0; 3];
    for (cin, cout, k, s, p, h) in layers {
        let ho = (h + 2 * p - k) / s + 1;
        let x: Tensor<4> = Tensor::random([b, cin, h, h], Distribution::Default, &d);
        let w: Tensor<4> = Tensor::random([cout, cin, k, k], Distribution::Default, &d);
        let g: Tensor<4> = Tensor::random([b, cout, ho, ho], Distribution::Default, &d);
        let fwd = t(|| {
            let y = conv2d(
                x.clone(),
                w.clone(),
                None,
                ConvOptions::new([s, s], [p, p], [1, 1], 1),
            );
            let _ = y.into_data();
        });
        let wg = t(|| {
            let y = conv2d(
                x.clone().swap_dims(0, 1),
                g.clone().swap_dims(0, 1),
                None,
                ConvOptions::new([1, 1], [p, p], [s, s], 1),
            );
            let _ = y.into_data();
        });
        let pad_out = (h + 2 * p - k) - (ho - 1) * s;
        let xg = t(|| {
            let y = conv_transpose2d(
                g.clone(),
                w.clone(),
                None,
                ConvTransposeOptions::new([s, s], [p, p], [pad_out, pad_out], [1, 1], 1),
            );
            let _ = y.into_data();
        });
        let gf = 2.0 * (b * cout * ho * ho * cin * k * k) as f64 / 1e9;
        println!("conv {cin}->{cout} k{k} s{s} out {ho}: {gf:.1} GFLOP each; fwd {:.0} ms ({:.0} GF/s), wgrad {:.0} ms ({:.0}), xgrad {:.0} ms ({:.0})", fwd * 1e3, gf / fwd, wg * 1e3, gf / wg, xg * 1e3, gf / xg);
        tot[0] += fwd;
        tot[1] += wg;
        tot[2] += xg;
    }
    println!(
        "total fwd {:.0} ms wgrad {:.0} ms xgrad {:.0} ms",
        tot[0] * 1e3,
        tot[1] * 1e3,
        tot[2] * 1e3
    );
}
