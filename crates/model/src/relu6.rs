//! ReLU6 in one pass over the tensor, forward and backward, for the CPU backend (a
//! backend extension, as [`crate::fastconv`]).
//!
//! Why: `clamp(0, 6)` is, in burn, two comparisons and two masked fills forward and two
//! masked fills backward, each a separate pass over an activation (EfficientNet's
//! expanded activations are the largest it has), and flex's masked fill is a branchy
//! single-threaded loop: `perf` gave it 18 % of an EfficientNet training step.
//!
//! The same values and gradients as `clamp(0, 6)`: the gradient passes where
//! `0 ≤ x ≤ 6` (burn's strict masks), NaN stays NaN.

use burn::backend::tensor::FloatTensor;
use burn::backend::{
    backend_extension, get_or_init_device_settings, Backend, Dispatch, Flex, TensorMetadata,
};
use burn::tensor::{DType, Device, Tensor, TensorData};
use burn_autodiff::checkpoint::base::Checkpointer;
use burn_autodiff::checkpoint::strategy::CheckpointStrategy;
use burn_autodiff::grads::Gradients;
use burn_autodiff::ops::{Backward, Ops, OpsKind};
use burn_autodiff::Autodiff;
use burn_flex::FlexTensor;
use rayon::prelude::*;

/// ReLU6 and its gradient.
#[backend_extension(Flex, Autodiff)]
pub trait FastRelu6: Backend {
    /// `min(max(x, 0), 6)`.
    fn fast_relu6(x: FloatTensor<Self>) -> FloatTensor<Self>;

    /// `grad` where `0 ≤ x ≤ 6`, zero elsewhere.
    fn fast_relu6_backward(x: FloatTensor<Self>, grad: FloatTensor<Self>) -> FloatTensor<Self> {
        let bools = get_or_init_device_settings::<Self>(&x.device()).bool_dtype;
        let below = Self::float_lower_elem(x.clone(), 0.0.into(), bools);
        let above = Self::float_greater_elem(x, 6.0.into(), bools);
        Self::float_mask_fill(grad, Self::bool_or(below, above), 0.0.into())
    }
}

/// `x.clamp(0, 6)`, in one pass where the tensor is f32 on the flex device.
pub fn relu6<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    if x.device().without_autodiff() != Device::flex() || x.dtype() != DType::F32 {
        return x.clamp(0.0, 6.0);
    }
    Tensor::from_dispatch(<Dispatch as FastRelu6>::fast_relu6(x.into_dispatch()))
}

/// Elements per parallel chunk (large enough that a chunk outweighs its scheduling).
const CHUNK: usize = 1 << 15;

/// The element range of `t`'s storage when it can be written in place: uniquely owned,
/// dense and contiguous.
fn in_place_range(t: &FlexTensor) -> Option<(usize, usize)> {
    if t.is_unique() && t.layout().is_dense_unique_storage() {
        t.layout().contiguous_offsets()
    } else {
        None
    }
}

fn clamp6(v: f32) -> f32 {
    // NaN passes through, as burn's clamp leaves it.
    v.clamp(0.0, 6.0)
}

// Not `!(0.0..=6.0).contains(&x)`: a NaN input passes the gradient, as burn's masks do.
#[allow(clippy::manual_range_contains)]
fn pass6(x: f32, g: f32) -> f32 {
    if x < 0.0 || x > 6.0 {
        0.0
    } else {
        g
    }
}

impl FastRelu6 for Flex {
    fn fast_relu6(x: FloatTensor<Self>) -> FloatTensor<Self> {
        let mut x = x;
        // In place when nothing else holds the input (inference, mostly).
        if let Some((start, end)) = in_place_range(&x) {
            if let Some(s) = x.try_storage_mut::<f32>() {
                s[start..end]
                    .par_chunks_mut(CHUNK)
                    .for_each(|c| c.iter_mut().for_each(|v| *v = clamp6(*v)));
                return x;
            }
        }
        let x = x.to_contiguous();
        let shape = x.shape();
        let src = x.as_slice::<f32>().expect("contiguous f32");
        let mut out = vec![0f32; src.len()];
        out.par_chunks_mut(CHUNK)
            .zip(src.par_chunks(CHUNK))
            .for_each(|(o, s)| o.iter_mut().zip(s).for_each(|(o, &v)| *o = clamp6(v)));
        FlexTensor::from_data(TensorData::new(out, shape))
    }

    fn fast_relu6_backward(x: FloatTensor<Self>, grad: FloatTensor<Self>) -> FloatTensor<Self> {
        let x = x.to_contiguous();
        let xs = x.as_slice::<f32>().expect("contiguous f32");
        let mut grad = grad;
        if let Some((start, end)) = in_place_range(&grad) {
            if let Some(g) = grad.try_storage_mut::<f32>() {
                g[start..end]
                    .par_chunks_mut(CHUNK)
                    .zip(xs.par_chunks(CHUNK))
                    .for_each(|(g, x)| g.iter_mut().zip(x).for_each(|(g, &x)| *g = pass6(x, *g)));
                return grad;
            }
        }
        let grad = grad.to_contiguous();
        let shape = grad.shape();
        let gs = grad.as_slice::<f32>().expect("contiguous f32");
        let mut out = vec![0f32; gs.len()];
        out.par_chunks_mut(CHUNK)
            .zip(xs.par_chunks(CHUNK).zip(gs.par_chunks(CHUNK)))
            .for_each(|(o, (x, g))| {
                for ((o, &x), &g) in o.iter_mut().zip(x).zip(g) {
                    *o = pass6(x, g);
                }
            });
        FlexTensor::from_data(TensorData::new(out, shape))
    }
}

impl<B: Backend + FastRelu6, C: CheckpointStrategy> FastRelu6 for Autodiff<B, C> {
    fn fast_relu6(x: FloatTensor<Self>) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct Relu6Backward;

        impl<B: Backend + FastRelu6> Backward<B, 1> for Relu6Backward {
            type State = FloatTensor<B>;

            fn backward(
                self,
                ops: Ops<Self::State, 1>,
                grads: &mut Gradients,
                _checkpointer: &mut Checkpointer,
            ) {
                let [node] = ops.parents;
                let grad = grads.consume::<B>(&ops.node);
                if let Some(node) = node {
                    grads.register::<B>(node.id, B::fast_relu6_backward(ops.state, grad));
                }
            }
        }

        let parents = [x.node()];
        let x = x.into_primitive();
        // Kept state: the input (memory-bound ops would need a retro-forward for
        // checkpointing; the input is what the backward reads).
        match Relu6Backward
            .prepare::<C>(parents)
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let y = B::fast_relu6(x.clone());
                prep.finish(x, y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::fast_relu6(x)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    /// Values and gradients equal to `clamp(0, 6)`, including the edges 0 and 6 and NaN.
    #[test]
    fn matches_clamp_and_its_gradient() {
        let device = Device::flex().autodiff();
        let mut v: Vec<f32> =
            Tensor::<1>::random([70_007], Distribution::Uniform(-4.0, 10.0), &device)
                .into_data()
                .try_to_vec::<f32>()
                .unwrap();
        v[..6].copy_from_slice(&[0.0, 6.0, -0.0, f32::NAN, 6.000_001, -1e-7]);
        let x: Tensor<2> = Tensor::<1>::from_data(TensorData::new(v, [70_007]), &device)
            .reshape([7, 10_001])
            .require_grad();
        let ours = relu6(x.clone());
        let theirs = x.clone().clamp(0.0, 6.0);
        let same = |a: Tensor<2>, b: Tensor<2>, what: &str| {
            let a = a.into_data().try_to_vec::<f32>().unwrap();
            let b = b.into_data().try_to_vec::<f32>().unwrap();
            for (i, (u, w)) in a.iter().zip(&b).enumerate() {
                assert!(
                    u.to_bits() == w.to_bits() || (u.is_nan() && w.is_nan()),
                    "{what} [{i}]: {u} vs {w}"
                );
            }
        };
        same(ours.clone(), theirs.clone(), "forward");
        let w: Tensor<2> = Tensor::random([7, 10_001], Distribution::Normal(0.0, 1.0), &device);
        let g_ours = (ours * w.clone()).sum().backward();
        let g_theirs = (theirs * w).sum().backward();
        same(
            x.grad(&g_ours).unwrap(),
            x.grad(&g_theirs).unwrap(),
            "gradient",
        );
        // Without autodiff a fresh input is clamped in place.
        let plain = Device::flex();
        let fresh = || Tensor::<2>::from_data(x.clone().into_data(), &plain);
        same(relu6(fresh()), fresh().clamp(0.0, 6.0), "in place");
        // A transposed (non-contiguous) input.
        let t = x.clone().swap_dims(0, 1);
        same(relu6(t.clone()), t.clamp(0.0, 6.0), "transposed");
    }
}
