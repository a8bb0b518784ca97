//! A faster 2-D convolution for the CPU backend, through burn's backend-extension
//! mechanism.
//!
//! Why: flex's convolutions (forward, and the weight and input gradients that burn's
//! autodiff builds from them) reach 66–79 GFLOP/s on AlexNet's layers on two cores, while
//! the matrix product underneath reaches 180–205 on the same shapes (`cargo run --release
//! -p model --example conv_profile`). Here each image is unrolled once (im2col) and the
//! whole layer is one matrix product per image, images spread over the threads; the
//! gradients are the two transposed products of the same unrolled matrix.
//!
//! Only the plain case takes this path: f32, groups 1, dilation 1, square kernel and
//! stride, symmetric padding (explicit, or SAME where it is symmetric), on the flex device
//! (with or without autodiff).
//! Everything else goes through burn's own `Conv2d::forward`, unchanged.

use burn::backend::tensor::FloatTensor;
use burn::backend::{backend_extension, Backend, Dispatch, Flex, TensorMetadata};
use burn::nn::conv::Conv2d;
use burn::nn::PaddingConfig2d;
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
use burn::tensor::{DType, Device, Tensor, TensorData};
use burn_autodiff::checkpoint::base::Checkpointer;
use burn_autodiff::checkpoint::strategy::CheckpointStrategy;
use burn_autodiff::grads::Gradients;
use burn_autodiff::ops::{Backward, Ops, OpsKind};
use burn_autodiff::Autodiff;
use burn_flex::FlexTensor;
use std::sync::OnceLock;

/// The three products of a plain 2-D convolution (no bias; see the module doc).
#[backend_extension(Flex, Autodiff)]
pub trait FastConv: Backend {
    /// `x` [N, C, H, W] convolved with `weight` [O, C, k, k] at `stride`, zero `padding`
    /// on every side: [N, O, Ho, Wo].
    fn fast_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        stride: usize,
        padding: usize,
    ) -> FloatTensor<Self>;

    /// The gradient of the loss with respect to the weight [O, C, k, k], from the input
    /// `x` and the output gradient `grad` [N, O, Ho, Wo].
    fn fast_conv2d_weight_grad(
        x: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        kernel: usize,
        stride: usize,
        padding: usize,
    ) -> FloatTensor<Self> {
        // burn's own rule: a convolution of the batch-swapped input by the batch-swapped
        // output gradient, the stride becoming the dilation.
        let swapped = Self::conv2d(
            Self::float_swap_dims(x, 0, 1),
            Self::float_swap_dims(grad, 0, 1),
            None,
            ConvOptions::new([1, 1], [padding, padding], [stride, stride], 1),
        );
        let w = Self::float_swap_dims(swapped, 0, 1);
        let [o, c, _, _] = w.shape().dims();
        Self::float_slice(
            w,
            &[
                (0..o).into(),
                (0..c).into(),
                (0..kernel).into(),
                (0..kernel).into(),
            ],
        )
    }

    /// The gradient of the loss with respect to an input of `height` × `width`, from the
    /// output gradient `grad` and the weight.
    fn fast_conv2d_input_grad(
        grad: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        height: usize,
        width: usize,
        stride: usize,
        padding: usize,
    ) -> FloatTensor<Self> {
        let [_, _, ho, wo] = grad.shape().dims();
        let k = weight.shape().dims::<4>()[2];
        let out_pad = |n: usize, o: usize| n + 2 * padding - k - (o - 1) * stride;
        Self::conv_transpose2d(
            grad,
            weight,
            None,
            ConvTransposeOptions::new(
                [stride, stride],
                [padding, padding],
                [out_pad(height, ho), out_pad(width, wo)],
                [1, 1],
                1,
            ),
        )
    }
}

/// The layer's stride and padding when it is the plain case this module handles.
fn plain(conv: &Conv2d) -> Option<(usize, usize)> {
    let [s0, s1] = conv.stride;
    let [k0, k1] = conv.kernel_size;
    let padding = match conv.padding {
        PaddingConfig2d::Valid => 0,
        PaddingConfig2d::Explicit(a, b, c, d) if a == b && b == c && c == d => a,
        // TensorFlow's SAME is symmetric for an odd kernel at stride 1 (and none at 1×1,
        // EfficientNet's pointwise convolutions); at stride 2 it pads one side more.
        PaddingConfig2d::Same if k0 % 2 == 1 && (s0 == 1 || k0 == 1) => (k0 - 1) / 2,
        _ => return None,
    };
    (s0 == s1 && k0 == k1 && conv.dilation == [1, 1] && conv.groups == 1).then_some((s0, padding))
}

/// The stride and padding of `conv` applied to `x` when this module's path takes it:
/// the plain case, f32, on the flex device.
/// `MAMMORECALL_FASTCONV=0` turns the path off (burn's convolution everywhere), for A/B
/// measurements.
fn fast_path(conv: &Conv2d, x: &Tensor<4>) -> Option<(usize, usize)> {
    static ENABLED: OnceLock<bool> = OnceLock::new();
    let enabled =
        *ENABLED.get_or_init(|| std::env::var("MAMMORECALL_FASTCONV").map_or(true, |v| v != "0"));
    let flex = x.device().without_autodiff() == Device::flex();
    plain(conv).filter(|_| enabled && flex && x.dtype() == DType::F32)
}

/// `conv.forward(x)`, by this module's products where the case is plain and the tensors
/// live on the flex device.
pub fn conv2d(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let Some((stride, padding)) = fast_path(conv, &x) else {
        return conv.forward(x);
    };
    let y = Tensor::from_dispatch(<Dispatch as FastConv>::fast_conv2d(
        x.into_dispatch(),
        conv.weight.val().into_dispatch(),
        stride,
        padding,
    ));
    match &conv.bias {
        Some(b) => {
            let o = b.dims()[0];
            y + b.val().reshape([1, o, 1, 1])
        }
        None => y,
    }
}

impl<B: Backend + FastConv, C: CheckpointStrategy> FastConv for Autodiff<B, C> {
    fn fast_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        stride: usize,
        padding: usize,
    ) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct ConvBackward;

        impl<B: Backend + FastConv> Backward<B, 2> for ConvBackward {
            type State = (FloatTensor<B>, FloatTensor<B>, usize, usize);

            fn backward(
                self,
                ops: Ops<Self::State, 2>,
                grads: &mut Gradients,
                _checkpointer: &mut Checkpointer,
            ) {
                let [node_x, node_w] = ops.parents;
                let grad = grads.consume::<B>(&ops.node);
                let (x, w, stride, padding) = ops.state;
                let [_, _, h, width] = x.shape().dims();
                let k = w.shape().dims::<4>()[2];
                if let Some(node) = node_x {
                    let g = B::fast_conv2d_input_grad(grad.clone(), w, h, width, stride, padding);
                    grads.register::<B>(node.id, g);
                }
                if let Some(node) = node_w {
                    let g = B::fast_conv2d_weight_grad(x, grad, k, stride, padding);
                    grads.register::<B>(node.id, g);
                }
            }
        }

        let parents = [x.node(), weight.node()];
        let (x, weight) = (x.into_primitive(), weight.into_primitive());
        // The inputs are kept as the backward state (what burn's own convolution
        // checkpoints too); without a tracked parent nothing is kept.
        match ConvBackward
            .prepare::<C>(parents)
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let y = B::fast_conv2d(x.clone(), weight.clone(), stride, padding);
                prep.finish((x, weight, stride, padding), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::fast_conv2d(x, weight, stride, padding)),
        }
    }
}

/// The tensor in contiguous layout (the same storage, no copy, when it already is).
fn contiguous(t: &FlexTensor) -> FlexTensor {
    t.to_contiguous()
}

/// The f32 values of a contiguous tensor, borrowed.
fn f32s(t: &FlexTensor) -> &[f32] {
    t.as_slice::<f32>()
        .expect("fastconv takes contiguous f32 tensors")
}

fn flex_tensor(data: Vec<f32>, shape: [usize; 4]) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(data, shape))
}

impl FastConv for Flex {
    fn fast_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        stride: usize,
        padding: usize,
    ) -> FloatTensor<Self> {
        let [n, c, h, w] = x.shape().dims();
        let [o, _, k, _] = weight.shape().dims();
        let g = Geometry::new(c, h, w, k, stride, padding);
        let (x, weight) = (contiguous(&x), contiguous(&weight));
        let y = kernels::forward(f32s(&x), f32s(&weight), n, o, &g);
        flex_tensor(y, [n, o, g.ho, g.wo])
    }

    fn fast_conv2d_weight_grad(
        x: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        kernel: usize,
        stride: usize,
        padding: usize,
    ) -> FloatTensor<Self> {
        let [n, c, h, w] = x.shape().dims();
        let o = grad.shape().dims::<4>()[1];
        let g = Geometry::new(c, h, w, kernel, stride, padding);
        let (x, grad) = (contiguous(&x), contiguous(&grad));
        let dw = kernels::weight_grad(f32s(&x), f32s(&grad), n, o, &g);
        flex_tensor(dw, [o, c, kernel, kernel])
    }

    fn fast_conv2d_input_grad(
        grad: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        height: usize,
        width: usize,
        stride: usize,
        padding: usize,
    ) -> FloatTensor<Self> {
        let [n, o, _, _] = grad.shape().dims();
        let [_, c, k, _] = weight.shape().dims();
        let g = Geometry::new(c, height, width, k, stride, padding);
        let (grad, weight) = (contiguous(&grad), contiguous(&weight));
        let dx = kernels::input_grad(f32s(&grad), f32s(&weight), n, o, &g);
        flex_tensor(dx, [n, c, height, width])
    }
}

/// The sizes of one convolution (per image).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Geometry {
    c: usize,
    h: usize,
    w: usize,
    k: usize,
    s: usize,
    p: usize,
    ho: usize,
    wo: usize,
}

impl Geometry {
    fn new(c: usize, h: usize, w: usize, k: usize, s: usize, p: usize) -> Self {
        assert!(
            s > 0 && h + 2 * p >= k && w + 2 * p >= k,
            "convolution: a {k}×{k} kernel does not fit a {h}×{w} input padded by {p}"
        );
        Geometry {
            c,
            h,
            w,
            k,
            s,
            p,
            ho: (h + 2 * p - k) / s + 1,
            wo: (w + 2 * p - k) / s + 1,
        }
    }

    /// Rows of the unrolled image: one per (channel, kernel row, kernel column).
    fn rows(&self) -> usize {
        self.c * self.k * self.k
    }

    /// Columns of the unrolled image: one per output pixel.
    fn cols(&self) -> usize {
        self.ho * self.wo
    }

    /// The output columns `lo..hi` whose input column `ox * s + kx - p` is inside the image.
    fn valid(&self, kx: usize, out: usize, size: usize) -> (usize, usize) {
        let lo = if self.p > kx {
            (self.p - kx).div_ceil(self.s)
        } else {
            0
        }
        .min(out);
        let hi = if size + self.p > kx {
            ((size - 1 + self.p - kx) / self.s + 1).min(out)
        } else {
            0
        }
        .max(lo);
        (lo, hi)
    }
}

pub(crate) mod kernels {
    //! The convolution products on plain f32 slices in NCHW order.

    use super::Geometry;
    use gemm::{gemm, Parallelism};
    use rayon::prelude::*;

    /// Unrolls one image [C, H, W] into `col` [C·k·k, Ho·Wo].
    fn im2col(x: &[f32], g: &Geometry, col: &mut [f32]) {
        let n_out = g.cols();
        for c in 0..g.c {
            for ky in 0..g.k {
                let (ylo, yhi) = g.valid(ky, g.ho, g.h);
                for kx in 0..g.k {
                    let row = &mut col[((c * g.k + ky) * g.k + kx) * n_out..][..n_out];
                    let (xlo, xhi) = g.valid(kx, g.wo, g.w);
                    row[..ylo * g.wo].fill(0.0);
                    row[yhi * g.wo..].fill(0.0);
                    for oy in ylo..yhi {
                        let src = &x[(c * g.h + oy * g.s + ky - g.p) * g.w..][..g.w];
                        let dst = &mut row[oy * g.wo..][..g.wo];
                        dst[..xlo].fill(0.0);
                        dst[xhi..].fill(0.0);
                        if g.s == 1 {
                            let start = xlo + kx - g.p;
                            dst[xlo..xhi].copy_from_slice(&src[start..start + xhi - xlo]);
                        } else {
                            for (ox, d) in dst.iter_mut().enumerate().take(xhi).skip(xlo) {
                                *d = src[ox * g.s + kx - g.p];
                            }
                        }
                    }
                }
            }
        }
    }

    /// Adds the unrolled gradient `col` [C·k·k, Ho·Wo] back onto one image's gradient.
    fn col2im(col: &[f32], g: &Geometry, dx: &mut [f32]) {
        let n_out = g.cols();
        for c in 0..g.c {
            for ky in 0..g.k {
                let (ylo, yhi) = g.valid(ky, g.ho, g.h);
                for kx in 0..g.k {
                    let row = &col[((c * g.k + ky) * g.k + kx) * n_out..][..n_out];
                    let (xlo, xhi) = g.valid(kx, g.wo, g.w);
                    for oy in ylo..yhi {
                        let dst = &mut dx[(c * g.h + oy * g.s + ky - g.p) * g.w..][..g.w];
                        let src = &row[oy * g.wo..][..g.wo];
                        if g.s == 1 {
                            let start = xlo + kx - g.p;
                            for (d, s) in
                                dst[start..start + xhi - xlo].iter_mut().zip(&src[xlo..xhi])
                            {
                                *d += s;
                            }
                        } else {
                            for (ox, s) in src.iter().enumerate().take(xhi).skip(xlo) {
                                dst[ox * g.s + kx - g.p] += s;
                            }
                        }
                    }
                }
            }
        }
    }

    /// `dst` (m × n, row stride `dst_rs`) = or += `lhs` (m × k) · `rhs` (k × n), each
    /// given by its (column, row) strides.
    #[allow(clippy::too_many_arguments)]
    fn matmul(
        dst: &mut [f32],
        dst_rs: usize,
        accumulate: bool,
        lhs: (&[f32], usize, usize),
        rhs: (&[f32], usize, usize),
        (m, n, k): (usize, usize, usize),
        par: Parallelism,
    ) {
        let last = |cs: usize, rs: usize, rows: usize, cols: usize| {
            if rows == 0 || cols == 0 {
                0
            } else {
                (rows - 1) * rs + (cols - 1) * cs + 1
            }
        };
        // The products below read and write only inside these slices.
        assert!(dst.len() >= last(1, dst_rs, m, n));
        assert!(lhs.0.len() >= last(lhs.1, lhs.2, m, k));
        assert!(rhs.0.len() >= last(rhs.1, rhs.2, k, n));
        // SAFETY: the bounds were checked above; `dst` does not alias `lhs` or `rhs`
        // (it is a distinct `&mut` borrow).
        unsafe {
            gemm(
                m,
                n,
                k,
                dst.as_mut_ptr(),
                1,
                dst_rs as isize,
                accumulate,
                lhs.0.as_ptr(),
                lhs.1 as isize,
                lhs.2 as isize,
                rhs.0.as_ptr(),
                rhs.1 as isize,
                rhs.2 as isize,
                1.0,
                1.0,
                false,
                false,
                false,
                par,
            );
        }
    }

    /// Parallel over images when there are enough of them, inside the product otherwise.
    fn inner_parallelism(n: usize) -> Parallelism {
        if n >= rayon::current_num_threads() {
            Parallelism::None
        } else {
            Parallelism::Rayon(0)
        }
    }

    /// Forward: y[n] = W · im2col(x[n]).
    pub(crate) fn forward(x: &[f32], w: &[f32], n: usize, o: usize, g: &Geometry) -> Vec<f32> {
        let (kk, cols) = (g.rows(), g.cols());
        let mut y = vec![0f32; n * o * cols];
        if y.is_empty() {
            return y;
        }
        let par = inner_parallelism(n);
        y.par_chunks_mut(o * cols)
            .zip(x.par_chunks(g.c * g.h * g.w))
            .for_each_init(
                || vec![0f32; kk * cols],
                |col, (y, x)| {
                    im2col(x, g, col);
                    matmul(
                        y,
                        cols,
                        false,
                        (w, 1, kk),
                        (col, 1, cols),
                        (o, cols, kk),
                        par,
                    );
                },
            );
        y
    }

    /// Images per partial sum of the weight gradient. Fixed, not the thread count: the
    /// order of the floating-point sums, and so the trained weights, must not depend on
    /// how many threads a machine (or a Slurm task) has.
    const IMAGES_PER_PART: usize = 4;

    /// Weight gradient: dW = Σ_n grad[n] · im2col(x[n])ᵀ, summed over fixed groups of
    /// images in parallel, then over the groups in order (the same result on any number
    /// of threads).
    pub(crate) fn weight_grad(
        x: &[f32],
        grad: &[f32],
        n: usize,
        o: usize,
        g: &Geometry,
    ) -> Vec<f32> {
        let (kk, cols) = (g.rows(), g.cols());
        let per = IMAGES_PER_PART;
        let parts = n.div_ceil(per).max(1);
        let par = inner_parallelism(parts);
        let sums: Vec<Vec<f32>> = (0..parts)
            .into_par_iter()
            .map(|t| {
                let mut acc = vec![0f32; o * kk];
                let mut col = vec![0f32; kk * cols];
                for (j, i) in (t * per..((t + 1) * per).min(n)).enumerate() {
                    im2col(&x[i * g.c * g.h * g.w..][..g.c * g.h * g.w], g, &mut col);
                    let gi = &grad[i * o * cols..][..o * cols];
                    matmul(
                        &mut acc,
                        kk,
                        j > 0,
                        (gi, 1, cols),
                        (&col, cols, 1),
                        (o, kk, cols),
                        par,
                    );
                }
                acc
            })
            .collect();
        let mut total = vec![0f32; o * kk];
        for s in &sums {
            for (t, v) in total.iter_mut().zip(s) {
                *t += v;
            }
        }
        total
    }

    /// Input gradient: dx[n] = col2im(Wᵀ · grad[n]).
    pub(crate) fn input_grad(
        grad: &[f32],
        w: &[f32],
        n: usize,
        o: usize,
        g: &Geometry,
    ) -> Vec<f32> {
        let (kk, cols) = (g.rows(), g.cols());
        let mut dx = vec![0f32; n * g.c * g.h * g.w];
        if dx.is_empty() {
            return dx;
        }
        let par = inner_parallelism(n);
        dx.par_chunks_mut(g.c * g.h * g.w)
            .zip(grad.par_chunks(o * cols))
            .for_each_init(
                || vec![0f32; kk * cols],
                |col, (dx, gi)| {
                    matmul(
                        col,
                        cols,
                        false,
                        (w, kk, 1),
                        (gi, 1, cols),
                        (kk, cols, o),
                        par,
                    );
                    col2im(col, g, dx);
                },
            );
        dx
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::conv::Conv2dConfig;
    use burn::tensor::Distribution;

    /// The fast path against burn's own convolution, forward and both gradients, over
    /// strides, paddings and sizes that cover the edge handling (AlexNet's own included).
    #[test]
    fn matches_burns_convolution_and_its_gradients() {
        let device = Device::flex().autodiff();
        let explicit = |p| PaddingConfig2d::Explicit(p, p, p, p);
        for (c, o, k, s, p, h, w, padding) in [
            (3, 4, 11, 4, 2, 31, 27, explicit(2)),
            (2, 3, 5, 1, 2, 9, 7, explicit(2)),
            (4, 5, 3, 1, 1, 6, 6, explicit(1)),
            (3, 2, 3, 2, 0, 8, 9, explicit(0)),
            (1, 2, 1, 1, 0, 5, 4, explicit(0)),
            (2, 2, 3, 3, 4, 4, 5, explicit(4)),
            // TF SAME where it is symmetric (EfficientNet's pointwise convolutions).
            (8, 6, 1, 1, 0, 7, 6, PaddingConfig2d::Same),
            (3, 4, 3, 1, 1, 6, 5, PaddingConfig2d::Same),
            (3, 4, 5, 1, 2, 9, 8, PaddingConfig2d::Same),
            (5, 3, 1, 2, 0, 7, 8, PaddingConfig2d::Same),
        ] {
            let conv = Conv2dConfig::new([c, o], [k, k])
                .with_stride([s, s])
                .with_padding(padding)
                .init(&device);
            assert_eq!(plain(&conv), Some((s, p)));
            let x: Tensor<4> =
                Tensor::random([3, c, h, w], Distribution::Normal(0.0, 1.0), &device)
                    .require_grad();
            assert_eq!(fast_path(&conv, &x), Some((s, p)), "the fast path is taken");
            let ours = conv2d(&conv, x.clone());
            let theirs = conv.forward(x.clone());
            let close = |a: Tensor<4>, b: Tensor<4>, what: &str| {
                let (a, b) = (
                    a.into_data().try_to_vec::<f32>().unwrap(),
                    b.into_data().try_to_vec::<f32>().unwrap(),
                );
                assert_eq!(a.len(), b.len(), "{what}");
                for (i, (u, v)) in a.iter().zip(&b).enumerate() {
                    assert!(
                        (u - v).abs() <= 1e-4 * (1.0 + v.abs()),
                        "{what} [{i}]: {u} vs {v} (c{c} o{o} k{k} s{s} p{p} {h}×{w})"
                    );
                }
            };
            close(ours.clone(), theirs.clone(), "forward");
            // A loss that weighs every output differently, so each gradient entry counts.
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
            let bias = conv.bias.as_ref().unwrap();
            let (a, b) = (bias.grad(&g_ours).unwrap(), bias.grad(&g_theirs).unwrap());
            close(
                a.reshape([1, 1, 1, o]),
                b.reshape([1, 1, 1, o]),
                "bias gradient",
            );
        }
    }

    /// The same bits on 1, 2 and 3 threads, for a batch split over threads and for a
    /// single image (whose products are split inside instead).
    #[test]
    fn results_do_not_depend_on_the_thread_count() {
        let g = Geometry::new(3, 13, 11, 3, 1, 1);
        let o = 5;
        let fill = |len: usize, seed: u32| -> Vec<f32> {
            (0..len as u32)
                .map(|i| ((i.wrapping_mul(2_654_435_761) ^ seed) % 1000) as f32 / 500.0 - 1.0)
                .collect()
        };
        for n in [1, 9] {
            let x = fill(n * g.c * g.h * g.w, 1);
            let w = fill(o * g.rows(), 2);
            let grad = fill(n * o * g.cols(), 3);
            let run = |threads: usize| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap()
                    .install(|| {
                        (
                            kernels::forward(&x, &w, n, o, &g),
                            kernels::weight_grad(&x, &grad, n, o, &g),
                            kernels::input_grad(&grad, &w, n, o, &g),
                        )
                    })
            };
            let one = run(1);
            assert_eq!(run(2), one, "2 threads, batch {n}");
            assert_eq!(run(3), one, "3 threads, batch {n}");
        }
    }

    #[test]
    fn other_layouts_keep_burns_path() {
        let device = Device::flex();
        let dilated = Conv2dConfig::new([2, 2], [3, 3])
            .with_dilation([2, 2])
            .init(&device);
        assert_eq!(plain(&dilated), None);
        let grouped = Conv2dConfig::new([2, 2], [3, 3])
            .with_groups(2)
            .init(&device);
        assert_eq!(plain(&grouped), None);
        let asym = Conv2dConfig::new([2, 2], [3, 3])
            .with_padding(PaddingConfig2d::Explicit(1, 0, 1, 0))
            .init(&device);
        assert_eq!(plain(&asym), None);
        // SAME at stride 2 pads the bottom and right one more.
        let same2 = Conv2dConfig::new([2, 2], [3, 3])
            .with_stride([2, 2])
            .with_padding(PaddingConfig2d::Same)
            .init(&device);
        assert_eq!(plain(&same2), None);
        let x: Tensor<4> = Tensor::zeros([1, 2, 5, 5], &device);
        let plain_conv = Conv2dConfig::new([2, 2], [3, 3]).init(&device);
        assert!(fast_path(&plain_conv, &x).is_some());
        assert!(fast_path(&plain_conv, &x.cast(DType::F64)).is_none());
    }
}
