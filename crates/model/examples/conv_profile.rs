//! Where a CPU training step of AlexNet goes: each convolution's forward pass, its weight
//! gradient and its input gradient (computed as burn's autodiff computes them) at batch 50,
//! timed on the default backend, with the GFLOP/s each reaches: burn's own operations
//! (flex) and this crate's `fastconv` products.
//!
//! `cargo run --release -p model --example conv_profile`

use burn::backend::Dispatch;
use burn::tensor::module::{conv2d, conv_transpose2d};
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
use burn::tensor::{Device, Distribution, Tensor};
use model::fastconv::FastConv;
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
    // [burn's, ours] × [forward, weight gradient, input gradient]
    let mut tot = [[0.0; 3]; 2];
    for (cin, cout, k, s, p, h) in layers {
        let ho = (h + 2 * p - k) / s + 1;
        let x: Tensor<4> = Tensor::random([b, cin, h, h], Distribution::Default, &d);
        let w: Tensor<4> = Tensor::random([cout, cin, k, k], Distribution::Default, &d);
        let g: Tensor<4> = Tensor::random([b, cout, ho, ho], Distribution::Default, &d);
        let burn = [
            t(|| {
                let o = ConvOptions::new([s, s], [p, p], [1, 1], 1);
                let _ = conv2d(x.clone(), w.clone(), None, o).into_data();
            }),
            t(|| {
                let o = ConvOptions::new([1, 1], [p, p], [s, s], 1);
                let y = conv2d(
                    x.clone().swap_dims(0, 1),
                    g.clone().swap_dims(0, 1),
                    None,
                    o,
                );
                let _ = y.into_data();
            }),
            t(|| {
                let pad_out = (h + 2 * p - k) - (ho - 1) * s;
                let o = ConvTransposeOptions::new([s, s], [p, p], [pad_out; 2], [1, 1], 1);
                let _ = conv_transpose2d(g.clone(), w.clone(), None, o).into_data();
            }),
        ];
        let ours = [
            t(|| {
                let y = <Dispatch as FastConv>::fast_conv2d(
                    x.clone().into_dispatch(),
                    w.clone().into_dispatch(),
                    s,
                    p,
                );
                let _ = Tensor::<4>::from_dispatch(y).into_data();
            }),
            t(|| {
                let y = <Dispatch as FastConv>::fast_conv2d_weight_grad(
                    x.clone().into_dispatch(),
                    g.clone().into_dispatch(),
                    k,
                    s,
                    p,
                );
                let _ = Tensor::<4>::from_dispatch(y).into_data();
            }),
            t(|| {
                let y = <Dispatch as FastConv>::fast_conv2d_input_grad(
                    g.clone().into_dispatch(),
                    w.clone().into_dispatch(),
                    h,
                    h,
                    s,
                    p,
                );
                let _ = Tensor::<4>::from_dispatch(y).into_data();
            }),
        ];
        let gf = 2.0 * (b * cout * ho * ho * cin * k * k) as f64 / 1e9;
        println!("conv {cin}->{cout} k{k} s{s}, {ho}² out, {gf:.1} GFLOP each (ms, GFLOP/s):");
        for (name, times) in [("burn", burn), ("ours", ours)] {
            let cell = |t: f64| format!("{:6.0} ms {:4.0}", t * 1e3, gf / t);
            println!(
                "  {name}: forward {}  weight grad {}  input grad {}",
                cell(times[0]),
                cell(times[1]),
                cell(times[2])
            );
        }
        for i in 0..3 {
            tot[0][i] += burn[i];
            tot[1][i] += ours[i];
        }
    }
    for (name, t) in [("burn", tot[0]), ("ours", tot[1])] {
        println!(
            "total {name}: forward {:.0} ms, weight grad {:.0} ms, input grad {:.0} ms",
            t[0] * 1e3,
            t[1] * 1e3,
            t[2] * 1e3
        );
    }
}
