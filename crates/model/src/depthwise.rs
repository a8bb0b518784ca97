//! The gradients of a depthwise 2-D convolution (one filter per channel) for the CPU
//! backend, through burn's backend-extension mechanism (as [`crate::fastconv`]).
//!
//! Why: EfficientNet's depthwise convolutions are few FLOPs, yet through burn they were
//! about 40 % of a training step in `perf`: flex computes a grouped convolution as a 3-D
//! one, its weight gradient as a convolution of batch-swapped tensors (transposed copies:
//! `copy_2d_tiled`, 22 %) and its input gradient as a transposed 3-D convolution (15 %).
//! Here both gradients are computed plane by plane ((image, channel) pairs), row by row
//! so the inner loop runs along a row; planes go to the threads. The weight gradient
//! sums each channel's images in order, so results do not depend on the thread count.
//! The forward pass stays burn's (as fast as a direct loop).
//!
//! Only the plain case takes this path: f32 on the flex device, groups = input channels
//! = output channels, square kernel and stride, dilation 1, any padding (TF SAME's
//! asymmetric one included). Everything else goes through burn's `Conv2d::forward`.

use burn::backend::tensor::FloatTensor;
use burn::backend::{backend_extension, Backend, Dispatch, Flex, TensorMetadata};
use burn::nn::conv::Conv2d;
use burn::nn::PaddingConfig2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{DType, Device, Tensor, TensorData};
use burn_autodiff::checkpoint::base::Checkpointer;
use burn_autodiff::checkpoint::strategy::CheckpointStrategy;
use burn_autodiff::grads::Gradients;
use burn_autodiff::ops::{Backward, Ops, OpsKind};
use burn_autodiff::Autodiff;
use burn_flex::FlexTensor;
use rayon::prelude::*;

/// burn's options for the same convolution (the generic fallbacks).
fn options(c: usize, stride: usize, pads: [usize; 4]) -> ConvOptions<2> {
    let [top, bottom, left, right] = pads;
    ConvOptions::new_with_padding([stride, stride], [(top, bottom), (left, right)], [1, 1], c)
}

/// A depthwise convolution and its two gradients (no bias). Padding is given as
/// top, bottom, left, right.
#[backend_extension(Flex, Autodiff)]
pub trait FastDepthwise: Backend {
    /// `x` [N, C, H, W] convolved channel by channel with `weight` [C, 1, k, k].
    #[allow(clippy::too_many_arguments)]
    fn fast_depthwise(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        stride: usize,
        top: usize,
        bottom: usize,
        left: usize,
        right: usize,
    ) -> FloatTensor<Self> {
        let c = weight.shape().dims::<4>()[0];
        Self::conv2d(
            x,
            weight,
            None,
            options(c, stride, [top, bottom, left, right]),
        )
    }

    /// The gradient with respect to the weight, from the input and the output gradient.
    #[allow(clippy::too_many_arguments)]
    fn fast_depthwise_weight_grad(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        stride: usize,
        top: usize,
        bottom: usize,
        left: usize,
        right: usize,
    ) -> FloatTensor<Self> {
        let c = weight.shape().dims::<4>()[0];
        let o = options(c, stride, [top, bottom, left, right]);
        Self::conv2d_weight_backward(x, weight, grad, o)
    }

    /// The gradient with respect to the input, from the weight and the output gradient.
    #[allow(clippy::too_many_arguments)]
    fn fast_depthwise_input_grad(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        stride: usize,
        top: usize,
        bottom: usize,
        left: usize,
        right: usize,
    ) -> FloatTensor<Self> {
        let c = weight.shape().dims::<4>()[0];
        let o = options(c, stride, [top, bottom, left, right]);
        Self::conv2d_x_backward(x, weight, grad, o)
    }
}

/// TensorFlow's SAME padding along one axis (burn's rule): before, after.
fn same(size: usize, k: usize, s: usize) -> (usize, usize) {
    let out = size.div_ceil(s);
    let total = if out > 0 {
        ((out - 1) * s + k).saturating_sub(size)
    } else {
        0
    };
    (total / 2, total - total / 2)
}

/// The stride and padding (top, bottom, left, right) of `conv` applied to an input of
/// `h` × `w` when it is the plain depthwise case.
fn plain(conv: &Conv2d, h: usize, w: usize) -> Option<(usize, [usize; 4])> {
    let [s0, s1] = conv.stride;
    let [k0, k1] = conv.kernel_size;
    let [o, per_group, _, _] = conv.weight.dims();
    let pads = match conv.padding {
        PaddingConfig2d::Valid => [0; 4],
        PaddingConfig2d::Explicit(top, left, bottom, right) => [top, bottom, left, right],
        PaddingConfig2d::Same => {
            let (t, b) = same(h, k0, s0);
            let (l, r) = same(w, k1, s1);
            [t, b, l, r]
        }
    };
    let fits = h + pads[0] + pads[1] >= k0 && w + pads[2] + pads[3] >= k1;
    (s0 == s1
        && s0 > 0
        && k0 == k1
        && conv.dilation == [1, 1]
        && conv.groups == o
        && per_group == 1
        && fits)
        .then_some((s0, pads))
}

/// `conv.forward(x)`, by this module's kernels where `conv` is depthwise and the tensor
/// is f32 on the flex device.
pub fn depthwise_conv2d(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let [_, c, h, w] = x.dims();
    let flex = x.device().without_autodiff() == Device::flex() && x.dtype() == DType::F32;
    let Some((stride, [t, b, l, r])) = plain(conv, h, w).filter(|_| flex && c == conv.groups)
    else {
        return conv.forward(x);
    };
    let y = Tensor::from_dispatch(<Dispatch as FastDepthwise>::fast_depthwise(
        x.into_dispatch(),
        conv.weight.val().into_dispatch(),
        stride,
        t,
        b,
        l,
        r,
    ));
    match &conv.bias {
        Some(bias) => {
            let o = bias.dims()[0];
            y + bias.val().reshape([1, o, 1, 1])
        }
        None => y,
    }
}

/// The sizes of one plane's convolution.
#[derive(Debug, Clone, Copy)]
struct Plane {
    h: usize,
    w: usize,
    k: usize,
    s: usize,
    top: usize,
    left: usize,
    ho: usize,
    wo: usize,
}

impl Plane {
    fn new(h: usize, w: usize, k: usize, s: usize, pads: [usize; 4]) -> Self {
        let [top, bottom, left, right] = pads;
        assert!(
            s > 0 && h + top + bottom >= k && w + left + right >= k,
            "depthwise convolution: a {k}×{k} kernel does not fit {h}×{w} padded by {pads:?}"
        );
        Plane {
            h,
            w,
            k,
            s,
            top,
            left,
            ho: (h + top + bottom - k) / s + 1,
            wo: (w + left + right - k) / s + 1,
        }
    }

    /// The input row of output row `oy` and kernel row `ky`, if inside the image.
    fn row(&self, oy: usize, ky: usize) -> Option<usize> {
        (oy * self.s + ky)
            .checked_sub(self.top)
            .filter(|&y| y < self.h)
    }

    /// The output columns `lo..hi` whose input column `ox·s + kx − left` is inside.
    fn cols(&self, kx: usize) -> (usize, usize) {
        let lo = self.left.saturating_sub(kx).div_ceil(self.s).min(self.wo);
        let hi = if self.w + self.left > kx {
            ((self.w - 1 + self.left - kx) / self.s + 1).min(self.wo)
        } else {
            0
        }
        .max(lo);
        (lo, hi)
    }

    /// Adds this plane's weight gradient (k × k) into `dw`.
    fn weight_grad(&self, x: &[f32], g: &[f32], dw: &mut [f32]) {
        for ky in 0..self.k {
            for kx in 0..self.k {
                let (lo, hi) = self.cols(kx);
                let mut acc = 0f32;
                for oy in 0..self.ho {
                    let Some(iy) = self.row(oy, ky) else { continue };
                    let xr = &x[iy * self.w..][..self.w];
                    let gr = &g[oy * self.wo..][..self.wo];
                    if self.s == 1 {
                        let start = lo + kx - self.left;
                        acc += gr[lo..hi]
                            .iter()
                            .zip(&xr[start..start + hi - lo])
                            .map(|(a, b)| a * b)
                            .sum::<f32>();
                    } else {
                        acc += (lo..hi)
                            .map(|ox| gr[ox] * xr[ox * self.s + kx - self.left])
                            .sum::<f32>();
                    }
                }
                dw[ky * self.k + kx] += acc;
            }
        }
    }

    /// This plane's input gradient into `dx` (overwritten).
    fn input_grad(&self, g: &[f32], wk: &[f32], dx: &mut [f32]) {
        dx.fill(0.0);
        for (oy, gr) in g.chunks(self.wo).enumerate() {
            for ky in 0..self.k {
                let Some(iy) = self.row(oy, ky) else { continue };
                let dr = &mut dx[iy * self.w..][..self.w];
                for kx in 0..self.k {
                    let wv = wk[ky * self.k + kx];
                    let (lo, hi) = self.cols(kx);
                    if self.s == 1 {
                        let start = lo + kx - self.left;
                        for (d, &v) in dr[start..start + hi - lo].iter_mut().zip(&gr[lo..hi]) {
                            *d += wv * v;
                        }
                    } else {
                        for (ox, &v) in gr.iter().enumerate().take(hi).skip(lo) {
                            dr[ox * self.s + kx - self.left] += wv * v;
                        }
                    }
                }
            }
        }
    }
}

fn flex_tensor(data: Vec<f32>, shape: [usize; 4]) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(data, shape))
}

fn f32s(t: &FlexTensor) -> &[f32] {
    t.as_slice::<f32>()
        .expect("depthwise takes contiguous f32 tensors")
}

impl FastDepthwise for Flex {
    // The forward pass stays burn's grouped convolution (the trait's default): a
    // plane-by-plane loop was no faster in training and 5 % slower at 512² inference.

    fn fast_depthwise_weight_grad(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        stride: usize,
        top: usize,
        bottom: usize,
        left: usize,
        right: usize,
    ) -> FloatTensor<Self> {
        let [n, c, h, w] = x.shape().dims();
        let k = weight.shape().dims::<4>()[2];
        let p = Plane::new(h, w, k, stride, [top, bottom, left, right]);
        let (x, grad) = (x.to_contiguous(), grad.to_contiguous());
        let (xs, gs) = (f32s(&x), f32s(&grad));
        let mut dw = vec![0f32; c * k * k];
        // One channel per task, its images summed in order: the same on any thread count.
        dw.par_chunks_mut(k * k).enumerate().for_each(|(ch, dw)| {
            for img in 0..n {
                let plane = img * c + ch;
                p.weight_grad(
                    &xs[plane * h * w..][..h * w],
                    &gs[plane * p.ho * p.wo..][..p.ho * p.wo],
                    dw,
                );
            }
        });
        flex_tensor(dw, [c, 1, k, k])
    }

    fn fast_depthwise_input_grad(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        stride: usize,
        top: usize,
        bottom: usize,
        left: usize,
        right: usize,
    ) -> FloatTensor<Self> {
        let [n, c, h, w] = x.shape().dims();
        let k = weight.shape().dims::<4>()[2];
        let p = Plane::new(h, w, k, stride, [top, bottom, left, right]);
        let (weight, grad) = (weight.to_contiguous(), grad.to_contiguous());
        let (ws, gs) = (f32s(&weight), f32s(&grad));
        let mut dx = vec![0f32; n * c * h * w];
        if !dx.is_empty() {
            dx.par_chunks_mut(h * w)
                .zip(gs.par_chunks(p.ho * p.wo))
                .enumerate()
                .for_each(|(i, (dx, g))| {
                    let ch = i % c;
                    p.input_grad(g, &ws[ch * k * k..][..k * k], dx);
                });
        }
        flex_tensor(dx, [n, c, h, w])
    }
}

impl<B: Backend + FastDepthwise, C: CheckpointStrategy> FastDepthwise for Autodiff<B, C> {
    fn fast_depthwise(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        stride: usize,
        top: usize,
        bottom: usize,
        left: usize,
        right: usize,
    ) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct DepthwiseBackward;

        type Geometry = (usize, usize, usize, usize, usize);

        impl<B: Backend + FastDepthwise> Backward<B, 2> for DepthwiseBackward {
            type State = (FloatTensor<B>, FloatTensor<B>, Geometry);

            fn backward(
                self,
                ops: Ops<Self::State, 2>,
                grads: &mut Gradients,
                _checkpointer: &mut Checkpointer,
            ) {
                let [node_x, node_w] = ops.parents;
                let grad = grads.consume::<B>(&ops.node);
                let (x, w, (s, t, b, l, r)) = ops.state;
                if let Some(node) = node_x {
                    let g = B::fast_depthwise_input_grad(
                        x.clone(),
                        w.clone(),
                        grad.clone(),
                        s,
                        t,
                        b,
                        l,
                        r,
                    );
                    grads.register::<B>(node.id, g);
                }
                if let Some(node) = node_w {
                    let g = B::fast_depthwise_weight_grad(x, w, grad, s, t, b, l, r);
                    grads.register::<B>(node.id, g);
                }
            }
        }

        let parents = [x.node(), weight.node()];
        let (x, weight) = (x.into_primitive(), weight.into_primitive());
        match DepthwiseBackward
            .prepare::<C>(parents)
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let y =
                    B::fast_depthwise(x.clone(), weight.clone(), stride, top, bottom, left, right);
                prep.finish((x, weight, (stride, top, bottom, left, right)), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::fast_depthwise(
                x, weight, stride, top, bottom, left, right,
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::conv::Conv2dConfig;
    use burn::tensor::Distribution;

    /// Forward, weight, input and bias gradients against burn's grouped convolution, for
    /// EfficientNet's kernels and strides under TF SAME padding (asymmetric at stride 2),
    /// explicit and valid padding, and odd sizes.
    #[test]
    fn matches_burns_grouped_convolution_and_its_gradients() {
        let device = Device::flex().autodiff();
        for (c, k, s, h, w, padding) in [
            (4, 3, 1, 9, 7, PaddingConfig2d::Same),
            (3, 3, 2, 9, 8, PaddingConfig2d::Same),
            (2, 5, 2, 11, 10, PaddingConfig2d::Same),
            (3, 5, 1, 6, 7, PaddingConfig2d::Same),
            (2, 3, 2, 4, 4, PaddingConfig2d::Same),
            (2, 3, 1, 5, 6, PaddingConfig2d::Valid),
            (3, 3, 2, 7, 9, PaddingConfig2d::Explicit(2, 1, 0, 3)),
        ] {
            let conv = Conv2dConfig::new([c, c], [k, k])
                .with_stride([s, s])
                .with_groups(c)
                .with_padding(padding.clone())
                .init(&device);
            assert!(plain(&conv, h, w).is_some(), "{padding:?}");
            let x: Tensor<4> =
                Tensor::random([3, c, h, w], Distribution::Normal(0.0, 1.0), &device)
                    .require_grad();
            let ours = depthwise_conv2d(&conv, x.clone());
            let theirs = conv.forward(x.clone());
            assert_eq!(ours.dims(), theirs.dims(), "{padding:?}");
            let close = |a: Tensor<4>, b: Tensor<4>, what: &str| {
                let (a, b) = (
                    a.into_data().try_to_vec::<f32>().unwrap(),
                    b.into_data().try_to_vec::<f32>().unwrap(),
                );
                assert_eq!(a.len(), b.len(), "{what}");
                for (i, (u, v)) in a.iter().zip(&b).enumerate() {
                    assert!(
                        (u - v).abs() <= 1e-4 * (1.0 + v.abs()),
                        "{what} [{i}]: {u} vs {v} (c{c} k{k} s{s} {h}×{w} {padding:?})"
                    );
                }
            };
            close(ours.clone(), theirs.clone(), "forward");
            let weights: Tensor<4> =
                Tensor::random(ours.shape(), Distribution::Normal(0.0, 1.0), &device);
            let g_ours = (ours * weights.clone()).sum().backward();
            let g_theirs = (theirs * weights).sum().backward();
            close(
                conv.weight.grad(&g_ours).unwrap(),
                conv.weight.grad(&g_theirs).unwrap(),
                "weight gradient",
            );
            close(
                x.grad(&g_ours).unwrap(),
                x.grad(&g_theirs).unwrap(),
                "input gradient",
            );
            let (a, b) = (
                conv.bias.as_ref().unwrap().grad(&g_ours).unwrap(),
                conv.bias.as_ref().unwrap().grad(&g_theirs).unwrap(),
            );
            close(
                a.reshape([1, 1, 1, c]),
                b.reshape([1, 1, 1, c]),
                "bias gradient",
            );
        }
    }

    #[test]
    fn other_convolutions_keep_burns_path() {
        let device = Device::flex();
        let full = Conv2dConfig::new([2, 2], [3, 3]).init(&device);
        assert!(plain(&full, 5, 5).is_none());
        let dilated = Conv2dConfig::new([2, 2], [3, 3])
            .with_groups(2)
            .with_dilation([2, 2])
            .init(&device);
        assert!(plain(&dilated, 5, 5).is_none());
        // Two channels per group is grouped, not depthwise.
        let grouped = Conv2dConfig::new([4, 4], [3, 3])
            .with_groups(2)
            .init(&device);
        assert!(plain(&grouped, 5, 5).is_none());
        let x: Tensor<4> = Tensor::random([1, 4, 5, 5], Distribution::Normal(0.0, 1.0), &device);
        let a = depthwise_conv2d(&grouped, x.clone()).into_data();
        assert_eq!(a, grouped.forward(x).into_data());
    }

    /// The same bits on 1 and 3 threads.
    #[test]
    fn results_do_not_depend_on_the_thread_count() {
        let device = Device::flex().autodiff();
        let conv = Conv2dConfig::new([5, 5], [3, 3])
            .with_stride([2, 2])
            .with_groups(5)
            .with_padding(PaddingConfig2d::Same)
            .init(&device);
        let x: Tensor<4> = Tensor::random([6, 5, 9, 9], Distribution::Normal(0.0, 1.0), &device);
        let run = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| {
                    let x = x.clone().require_grad();
                    let y = depthwise_conv2d(&conv, x.clone());
                    let g = (y.clone() * y.clone()).sum().backward();
                    (
                        y.into_data(),
                        conv.weight.grad(&g).unwrap().into_data(),
                        x.grad(&g).unwrap().into_data(),
                    )
                })
        };
        assert_eq!(run(1), run(3));
    }
}
