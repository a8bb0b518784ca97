//! ReLU followed by max-pooling in one pass, forward and backward, for the CPU backend (a
//! backend extension, as [`crate::fastconv`]).
//!
//! Why: AlexNet pools its two largest activations (conv1's and conv2's outputs) right
//! after their ReLU. In burn that is a ReLU pass, then flex's max-pool with indices (7 %
//! of an AlexNet training step in `perf`), and backward a scatter by those indices plus a
//! masked ReLU pass. Since the maximum commutes with ReLU, `max_pool(relu(x))` is the
//! window maximum floored at 0: one read of `x` forward; backward, the gradient goes to
//! the window's first largest element when that is positive (where ReLU passes it).
//!
//! Only the plain case takes this path: f32 on the flex device, square kernel and
//! stride, no padding, dilation 1, floor rounding. Everything else goes through burn's
//! `relu` and `MaxPool2d::forward`.

use burn::backend::tensor::FloatTensor;
use burn::backend::{
    backend_extension, get_or_init_device_settings, Backend, Dispatch, Flex, TensorMetadata,
};
use burn::nn::pool::MaxPool2d;
use burn::nn::PaddingConfig2d;
use burn::tensor::activation::relu;
use burn::tensor::{DType, Device, Tensor, TensorData};
use burn_autodiff::checkpoint::base::Checkpointer;
use burn_autodiff::checkpoint::strategy::CheckpointStrategy;
use burn_autodiff::grads::Gradients;
use burn_autodiff::ops::{Backward, Ops, OpsKind};
use burn_autodiff::Autodiff;
use burn_flex::FlexTensor;
use rayon::prelude::*;

/// ReLU then max-pooling and its gradient.
#[backend_extension(Flex, Autodiff)]
pub trait FastReluPool: Backend {
    /// `max_pool(relu(x))` with a `kernel`² window at `stride`, no padding:
    /// [N, C, H, W] → [N, C, (H − k)/s + 1, (W − k)/s + 1].
    fn fast_relu_pool(x: FloatTensor<Self>, kernel: usize, stride: usize) -> FloatTensor<Self>;

    /// The gradient with respect to `x` from the output gradient `grad`.
    fn fast_relu_pool_backward(
        x: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        kernel: usize,
        stride: usize,
    ) -> FloatTensor<Self> {
        // burn's own rule: the pool's gradient to each window's argmax, then ReLU's mask.
        let settings = get_or_init_device_settings::<Self>(&x.device());
        let (k, s) = ([kernel, kernel], [stride, stride]);
        let pooled = Self::max_pool2d_with_indices(
            x.clone(),
            k,
            s,
            [0, 0],
            [1, 1],
            false,
            settings.int_dtype,
        );
        let dx = Self::max_pool2d_with_indices_backward(
            x.clone(),
            k,
            s,
            [0, 0],
            [1, 1],
            false,
            grad,
            pooled.indices,
        )
        .x_grad;
        let off = Self::float_lower_equal_elem(x, 0.0.into(), settings.bool_dtype);
        Self::float_mask_fill(dx, off, 0.0.into())
    }
}

/// The kernel and stride of `pool` when it is the plain case this module handles.
fn plain(pool: &MaxPool2d) -> Option<(usize, usize)> {
    let [k0, k1] = pool.kernel_size;
    let [s0, s1] = pool.stride;
    let unpadded = matches!(pool.padding, PaddingConfig2d::Valid)
        || matches!(pool.padding, PaddingConfig2d::Explicit(0, 0, 0, 0));
    (k0 == k1 && s0 == s1 && s0 > 0 && unpadded && pool.dilation == [1, 1] && !pool.ceil_mode)
        .then_some((k0, s0))
}

/// `pool.forward(relu(x))`, in one pass where the case is plain and the tensor is f32 on
/// the flex device.
pub fn relu_max_pool(pool: &MaxPool2d, x: Tensor<4>) -> Tensor<4> {
    let [_, _, h, w] = x.dims();
    let flex = x.device().without_autodiff() == Device::flex() && x.dtype() == DType::F32;
    match plain(pool) {
        Some((k, s)) if flex && h >= k && w >= k => Tensor::from_dispatch(
            <Dispatch as FastReluPool>::fast_relu_pool(x.into_dispatch(), k, s),
        ),
        _ => pool.forward(relu(x)),
    }
}

/// The sizes of one pooled plane.
#[derive(Clone, Copy)]
struct Plane {
    w: usize,
    k: usize,
    s: usize,
    ho: usize,
    wo: usize,
}

impl Plane {
    fn new(h: usize, w: usize, k: usize, s: usize) -> Self {
        assert!(h >= k && w >= k && s > 0, "pool: {k}×{k} window on {h}×{w}");
        Plane {
            w,
            k,
            s,
            ho: (h - k) / s + 1,
            wo: (w - k) / s + 1,
        }
    }

    /// Where output (oy, ox)'s window has its largest element, if that is above 0 (the
    /// first in row-major order among equals).
    fn peak(&self, x: &[f32], oy: usize, ox: usize) -> Option<usize> {
        let (mut m, mut at) = (0f32, usize::MAX);
        for ky in 0..self.k {
            let start = (oy * self.s + ky) * self.w + ox * self.s;
            for (i, &v) in x[start..start + self.k].iter().enumerate() {
                // Selects, not a branch: on real activations `v > m` is a coin toss.
                let above = v > m;
                m = if above { v } else { m };
                at = if above { start + i } else { at };
            }
        }
        (at != usize::MAX).then_some(at)
    }

    /// Output row `oy`'s window maxima floored at 0, into `max`.
    fn maxima(&self, x: &[f32], oy: usize, max: &mut [f32]) {
        max.fill(0.0);
        for ky in 0..self.k {
            let base = (oy * self.s + ky) * self.w;
            let row = &x[base..base + self.w];
            for kx in 0..self.k {
                for (ox, m) in max.iter_mut().enumerate() {
                    // NaN never replaces the running maximum (as `v > m` would not).
                    let v = row[ox * self.s + kx];
                    *m = if v > *m { v } else { *m };
                }
            }
        }
    }
}

impl FastReluPool for Flex {
    fn fast_relu_pool(x: FloatTensor<Self>, kernel: usize, stride: usize) -> FloatTensor<Self> {
        let [n, c, h, w] = x.shape().dims();
        let p = Plane::new(h, w, kernel, stride);
        let x = x.to_contiguous();
        let xs = x.as_slice::<f32>().expect("contiguous f32");
        let mut out = vec![0f32; n * c * p.ho * p.wo];
        if !out.is_empty() {
            out.par_chunks_mut(p.ho * p.wo)
                .zip(xs.par_chunks(h * w))
                .for_each(|(o, x)| {
                    for (oy, row) in o.chunks_mut(p.wo).enumerate() {
                        p.maxima(x, oy, row);
                    }
                });
        }
        FlexTensor::from_data(TensorData::new(out, [n, c, p.ho, p.wo]))
    }

    fn fast_relu_pool_backward(
        x: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        kernel: usize,
        stride: usize,
    ) -> FloatTensor<Self> {
        let [n, c, h, w] = x.shape().dims();
        let p = Plane::new(h, w, kernel, stride);
        let (x, grad) = (x.to_contiguous(), grad.to_contiguous());
        let xs = x.as_slice::<f32>().expect("contiguous f32");
        let gs = grad.as_slice::<f32>().expect("contiguous f32");
        let mut dx = vec![0f32; n * c * h * w];
        if !dx.is_empty() {
            dx.par_chunks_mut(h * w)
                .zip(xs.par_chunks(h * w).zip(gs.par_chunks(p.ho * p.wo)))
                .for_each(|(d, (x, g))| {
                    for (oy, g) in g.chunks(p.wo).enumerate() {
                        for (ox, &g) in g.iter().enumerate() {
                            if let Some(at) = p.peak(x, oy, ox) {
                                d[at] += g;
                            }
                        }
                    }
                });
        }
        FlexTensor::from_data(TensorData::new(dx, [n, c, h, w]))
    }
}

impl<B: Backend + FastReluPool, C: CheckpointStrategy> FastReluPool for Autodiff<B, C> {
    fn fast_relu_pool(x: FloatTensor<Self>, kernel: usize, stride: usize) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct ReluPoolBackward;

        impl<B: Backend + FastReluPool> Backward<B, 1> for ReluPoolBackward {
            type State = (FloatTensor<B>, usize, usize);

            fn backward(
                self,
                ops: Ops<Self::State, 1>,
                grads: &mut Gradients,
                _checkpointer: &mut Checkpointer,
            ) {
                let [node] = ops.parents;
                let grad = grads.consume::<B>(&ops.node);
                if let Some(node) = node {
                    let (x, k, s) = ops.state;
                    grads.register::<B>(node.id, B::fast_relu_pool_backward(x, grad, k, s));
                }
            }
        }

        let parents = [x.node()];
        let x = x.into_primitive();
        // Kept state: the input, which the backward scans again for each window's peak.
        match ReluPoolBackward
            .prepare::<C>(parents)
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let y = B::fast_relu_pool(x.clone(), kernel, stride);
                prep.finish((x, kernel, stride), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::fast_relu_pool(x, kernel, stride)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::pool::MaxPool2dConfig;
    use burn::tensor::Distribution;

    /// Values and gradients equal to burn's `relu` then `MaxPool2d`, for AlexNet's pool
    /// and others, on inputs with negative windows and ties at the top.
    #[test]
    fn matches_relu_then_max_pool_and_its_gradient() {
        let device = Device::flex().autodiff();
        for (k, s, h, w) in [
            (3, 2, 13, 13),
            (3, 2, 12, 9),
            (2, 2, 6, 7),
            (3, 1, 5, 6),
            (3, 3, 3, 3),
        ] {
            let pool = MaxPool2dConfig::new([k, k]).with_strides([s, s]).init();
            assert_eq!(plain(&pool), Some((k, s)));
            let mut v: Vec<f32> =
                Tensor::<1>::random([2 * 3 * h * w], Distribution::Normal(0.0, 1.0), &device)
                    .into_data()
                    .try_to_vec::<f32>()
                    .unwrap();
            // A tie between the two largest values of a window, and a window of zeros.
            v[0] = 5.0;
            v[1] = 5.0;
            for y in 0..k {
                for x in 0..k {
                    v[h * w + y * w + x] = 0.0;
                }
            }
            let x: Tensor<4> = Tensor::<1>::from_data(TensorData::new(v, [2 * 3 * h * w]), &device)
                .reshape([2, 3, h, w])
                .require_grad();
            let ours = relu_max_pool(&pool, x.clone());
            let theirs = pool.forward(relu(x.clone()));
            let same = |a: Tensor<4>, b: Tensor<4>, what: &str| {
                let a = a.into_data().try_to_vec::<f32>().unwrap();
                let b = b.into_data().try_to_vec::<f32>().unwrap();
                assert_eq!(a.len(), b.len(), "{what}");
                for (i, (u, v)) in a.iter().zip(&b).enumerate() {
                    assert!(
                        u.to_bits() == v.to_bits() || (*u == 0.0 && *v == 0.0),
                        "{what} [{i}]: {u} vs {v} (k{k} s{s} {h}×{w})"
                    );
                }
            };
            same(ours.clone(), theirs.clone(), "forward");
            let weights: Tensor<4> =
                Tensor::random(ours.shape(), Distribution::Normal(0.0, 1.0), &device);
            let g_ours = (ours * weights.clone()).sum().backward();
            let g_theirs = (theirs * weights).sum().backward();
            same(
                x.grad(&g_ours).unwrap(),
                x.grad(&g_theirs).unwrap(),
                "gradient",
            );
        }
    }

    #[test]
    fn other_pools_keep_burns_path() {
        let padded = MaxPool2dConfig::new([3, 3])
            .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
            .init();
        assert_eq!(plain(&padded), None);
        let dilated = MaxPool2dConfig::new([3, 3]).with_dilation([2, 2]).init();
        assert_eq!(plain(&dilated), None);
        let ceil = MaxPool2dConfig::new([3, 3]).with_ceil_mode(true).init();
        assert_eq!(plain(&ceil), None);
        // A padded pool still computes relu then pool, through burn.
        let device = Device::flex();
        let x: Tensor<4> = Tensor::random([1, 2, 5, 5], Distribution::Normal(0.0, 1.0), &device);
        let a = relu_max_pool(&padded, x.clone()).into_data();
        let b = padded.forward(relu(x)).into_data();
        assert_eq!(a, b);
    }
}
