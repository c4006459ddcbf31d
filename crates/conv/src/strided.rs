//! General 2-D convolution (any kernel size, stride and zero padding) for the CPU: im2col per
//! image and one GEMM through the `gemm` crate, forward and both gradients (input gradient =
//! GEMM with the transposed weights, then col2im; weight gradient = GEMM against the im2col
//! matrix, accumulated per rayon task). The MS-ResNet's stride-2 3×3 convs, 7×7 stride-2 stem and
//! 1×1 stride-2 shortcuts run here; candle's own backward for these goes through its
//! `conv_transpose2d`, a direct loop.

use candle_core::{CpuStorage, CustomOp2, Layout, Result, Shape, Tensor};
use gemm::Parallelism;
use rayon::prelude::*;

use crate::op::f32_slice;

/// Geometry of `x [n, cin, h, w]` * `w [cout, cin, kh, kw]` with `stride`, `pad`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SGeom {
    pub n: usize,
    pub cin: usize,
    pub cout: usize,
    pub h: usize,
    pub w: usize,
    pub kh: usize,
    pub kw: usize,
    pub stride: usize,
    pub pad: usize,
}

impl SGeom {
    pub fn ho(&self) -> usize {
        (self.h + 2 * self.pad - self.kh) / self.stride + 1
    }
    pub fn wo(&self) -> usize {
        (self.w + 2 * self.pad - self.kw) / self.stride + 1
    }
    /// GEMM depth `cin·kh·kw`.
    fn depth(&self) -> usize {
        self.cin * self.kh * self.kw
    }
    fn valid(&self) -> bool {
        self.stride > 0
            && self.h + 2 * self.pad >= self.kh
            && self.w + 2 * self.pad >= self.kw
            && self.kh > 0
            && self.kw > 0
    }
}

/// Input coordinate of output `o` and kernel tap `d`, if inside the image.
#[inline(always)]
fn src(o: usize, d: usize, stride: usize, pad: usize, len: usize) -> Option<usize> {
    (o * stride + d).checked_sub(pad).filter(|&i| i < len)
}

/// `cols[(ci·kh + dy)·kw + dx][oy·wo + ox] = x[ci][oy·s + dy − p][ox·s + dx − p]` (0 outside).
fn im2col(g: &SGeom, x: &[f32], cols: &mut [f32]) {
    let (ho, wo) = (g.ho(), g.wo());
    for ci in 0..g.cin {
        let img = &x[ci * g.h * g.w..(ci + 1) * g.h * g.w];
        for dy in 0..g.kh {
            for dx in 0..g.kw {
                let row = ((ci * g.kh + dy) * g.kw + dx) * ho * wo;
                let out = &mut cols[row..row + ho * wo];
                for oy in 0..ho {
                    let o = &mut out[oy * wo..(oy + 1) * wo];
                    match src(oy, dy, g.stride, g.pad, g.h) {
                        None => o.fill(0.0),
                        Some(iy) => {
                            let line = &img[iy * g.w..(iy + 1) * g.w];
                            for (ox, v) in o.iter_mut().enumerate() {
                                *v = src(ox, dx, g.stride, g.pad, g.w).map_or(0.0, |ix| line[ix]);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Adjoint of [`im2col`]: adds every column entry back onto its input pixel.
fn col2im_add(g: &SGeom, cols: &[f32], gx: &mut [f32]) {
    let (ho, wo) = (g.ho(), g.wo());
    for ci in 0..g.cin {
        let img = &mut gx[ci * g.h * g.w..(ci + 1) * g.h * g.w];
        for dy in 0..g.kh {
            for dx in 0..g.kw {
                let row = ((ci * g.kh + dy) * g.kw + dx) * ho * wo;
                let c = &cols[row..row + ho * wo];
                for oy in 0..ho {
                    let Some(iy) = src(oy, dy, g.stride, g.pad, g.h) else {
                        continue;
                    };
                    let line = &mut img[iy * g.w..(iy + 1) * g.w];
                    for (ox, &v) in c[oy * wo..(oy + 1) * wo].iter().enumerate() {
                        if let Some(ix) = src(ox, dx, g.stride, g.pad, g.w) {
                            line[ix] += v;
                        }
                    }
                }
            }
        }
    }
}

/// `dst [m × n] (+)= lhs [m × k] · rhs [k × n]`, every matrix given by (column, row) strides.
#[allow(clippy::too_many_arguments)]
fn matmul(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [f32],
    accumulate: bool,
    lhs: &[f32],
    (lhs_cs, lhs_rs): (isize, isize),
    rhs: &[f32],
    (rhs_cs, rhs_rs): (isize, isize),
) {
    // SAFETY: the callers size `dst` as m·n row-major and pass strides that keep every lhs/rhs
    // index inside its slice (the shapes come from one checked geometry).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            lhs.as_ptr(),
            lhs_cs,
            lhs_rs,
            rhs.as_ptr(),
            rhs_cs,
            rhs_rs,
            if accumulate { 1.0 } else { 0.0 },
            1.0,
            false,
            false,
            false,
            Parallelism::None,
        );
    }
}

/// Images per rayon task: enough GEMM work per task, and at least as many tasks as threads.
fn images_per_task(n: usize) -> usize {
    n.div_ceil(rayon::current_num_threads().max(1)).max(1)
}

pub(crate) fn forward(g: &SGeom, x: &[f32], w: &[f32]) -> Vec<f32> {
    let (hw_in, hw_out, kd) = (g.cin * g.h * g.w, g.ho() * g.wo(), g.depth());
    let mut out = vec![0f32; g.n * g.cout * hw_out];
    if out.is_empty() || kd == 0 {
        return out;
    }
    let per = images_per_task(g.n);
    out.par_chunks_mut(per * g.cout * hw_out)
        .enumerate()
        .for_each(|(ti, chunk)| {
            let mut cols = vec![0f32; kd * hw_out];
            for (j, o) in chunk.chunks_mut(g.cout * hw_out).enumerate() {
                let ni = ti * per + j;
                im2col(g, &x[ni * hw_in..(ni + 1) * hw_in], &mut cols);
                matmul(
                    g.cout,
                    hw_out,
                    kd,
                    o,
                    false,
                    w,
                    (1, kd as isize),
                    &cols,
                    (1, hw_out as isize),
                );
            }
        });
    out
}

pub(crate) fn input_grad(g: &SGeom, gy: &[f32], w: &[f32]) -> Vec<f32> {
    let (hw_in, hw_out, kd) = (g.cin * g.h * g.w, g.ho() * g.wo(), g.depth());
    let mut gx = vec![0f32; g.n * hw_in];
    if gx.is_empty() || hw_out == 0 || g.cout == 0 {
        return gx;
    }
    let per = images_per_task(g.n);
    gx.par_chunks_mut(per * hw_in)
        .enumerate()
        .for_each(|(ti, chunk)| {
            let mut cols = vec![0f32; kd * hw_out];
            for (j, gxi) in chunk.chunks_mut(hw_in).enumerate() {
                let ni = ti * per + j;
                let gyi = &gy[ni * g.cout * hw_out..(ni + 1) * g.cout * hw_out];
                // cols [kd × hw_out] = Wᵀ [kd × cout] · gy [cout × hw_out]
                matmul(
                    kd,
                    hw_out,
                    g.cout,
                    &mut cols,
                    false,
                    w,
                    (kd as isize, 1),
                    gyi,
                    (1, hw_out as isize),
                );
                col2im_add(g, &cols, gxi);
            }
        });
    gx
}

pub(crate) fn weight_grad(g: &SGeom, x: &[f32], gy: &[f32]) -> Vec<f32> {
    let (hw_in, hw_out, kd) = (g.cin * g.h * g.w, g.ho() * g.wo(), g.depth());
    let size = g.cout * kd;
    if g.n == 0 || hw_out == 0 || size == 0 {
        return vec![0f32; size];
    }
    let per = images_per_task(g.n);
    (0..g.n.div_ceil(per))
        .into_par_iter()
        .map(|ti| {
            let mut acc = vec![0f32; size];
            let mut cols = vec![0f32; kd * hw_out];
            for ni in ti * per..((ti + 1) * per).min(g.n) {
                im2col(g, &x[ni * hw_in..(ni + 1) * hw_in], &mut cols);
                let gyi = &gy[ni * g.cout * hw_out..(ni + 1) * g.cout * hw_out];
                // gW [cout × kd] += gy [cout × hw_out] · colsᵀ [hw_out × kd]
                matmul(
                    g.cout,
                    kd,
                    hw_out,
                    &mut acc,
                    true,
                    gyi,
                    (1, hw_out as isize),
                    &cols,
                    (hw_out as isize, 1),
                );
            }
            acc
        })
        .reduce(
            || vec![0f32; size],
            |mut a, b| {
                a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                a
            },
        )
}

fn geometry(xl: &Layout, wl: &Layout, stride: usize, pad: usize) -> Result<SGeom> {
    let (n, cin, h, w) = xl.shape().dims4()?;
    let (cout, wcin, kh, kw) = wl.shape().dims4()?;
    if wcin != cin {
        candle_core::bail!("snnkit-conv: input has {cin} channels, weight expects {wcin}");
    }
    let g = SGeom {
        n,
        cin,
        cout,
        h,
        w,
        kh,
        kw,
        stride,
        pad,
    };
    if !g.valid() {
        candle_core::bail!(
            "snnkit-conv: kernel {kh}x{kw} with padding {pad} does not fit input {h}x{w} (stride {stride})"
        );
    }
    Ok(g)
}

/// `conv2d(x, w, padding, stride)` with its own backward ([`StridedInputGrad`],
/// [`StridedWeightGrad`]).
pub(crate) struct Conv2dStrided {
    pub stride: usize,
    pub pad: usize,
    /// Profile part the backward is recorded under ([`crate::profile`]).
    pub bwd_part: &'static str,
}

impl CustomOp2 for Conv2dStrided {
    fn name(&self) -> &'static str {
        "snnkit-conv2d-strided"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let g = geometry(l1, l2, self.stride, self.pad)?;
        let x = f32_slice(s1, l1, "input")?;
        let w = f32_slice(s2, l2, "weight")?;
        let out = forward(&g, x, w);
        Ok((
            CpuStorage::F32(out),
            Shape::from((g.n, g.cout, g.ho(), g.wo())),
        ))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        if !x.track_op() && !w.track_op() {
            return Ok((None, None));
        }
        let _p = crate::profile::scope(self.bwd_part);
        let grad = grad.contiguous()?;
        let (_, _, h, wd) = x.dims4()?;
        let gx = if x.track_op() {
            Some(grad.apply_op2_no_bwd(
                w,
                &StridedInputGrad {
                    stride: self.stride,
                    pad: self.pad,
                    h,
                    w: wd,
                },
            )?)
        } else {
            None
        };
        let gw = if w.track_op() {
            let (_, _, kh, kw) = w.dims4()?;
            Some(x.apply_op2_no_bwd(
                &grad,
                &StridedWeightGrad {
                    stride: self.stride,
                    pad: self.pad,
                    kh,
                    kw,
                },
            )?)
        } else {
            None
        };
        Ok((gx, gw))
    }
}

/// `(grad_out [n, cout, ho, wo], w [cout, cin, kh, kw]) -> grad_x [n, cin, h, w]`; the input
/// size is not recoverable from the output size under a stride, so the op carries it.
pub(crate) struct StridedInputGrad {
    pub stride: usize,
    pub pad: usize,
    pub h: usize,
    pub w: usize,
}

impl CustomOp2 for StridedInputGrad {
    fn name(&self) -> &'static str {
        "snnkit-conv2d-strided-grad-input"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (n, gc, gho, gwo) = l1.shape().dims4()?;
        let (cout, cin, kh, kw) = l2.shape().dims4()?;
        let g = SGeom {
            n,
            cin,
            cout,
            h: self.h,
            w: self.w,
            kh,
            kw,
            stride: self.stride,
            pad: self.pad,
        };
        if gc != cout || !g.valid() || (gho, gwo) != (g.ho(), g.wo()) {
            candle_core::bail!(
                "snnkit-conv: gradient {:?} does not match weight {:?} on {}x{}",
                l1.shape(),
                l2.shape(),
                self.h,
                self.w
            );
        }
        let gy = f32_slice(s1, l1, "output gradient")?;
        let w = f32_slice(s2, l2, "weight")?;
        let out = input_grad(&g, gy, w);
        Ok((CpuStorage::F32(out), Shape::from((n, cin, self.h, self.w))))
    }
}

/// `(x [n, cin, h, w], grad_out [n, cout, ho, wo]) -> grad_w [cout, cin, kh, kw]`.
pub(crate) struct StridedWeightGrad {
    pub stride: usize,
    pub pad: usize,
    pub kh: usize,
    pub kw: usize,
}

impl CustomOp2 for StridedWeightGrad {
    fn name(&self) -> &'static str {
        "snnkit-conv2d-strided-grad-weight"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (n, cin, h, w) = l1.shape().dims4()?;
        let (gn, cout, gho, gwo) = l2.shape().dims4()?;
        let g = SGeom {
            n,
            cin,
            cout,
            h,
            w,
            kh: self.kh,
            kw: self.kw,
            stride: self.stride,
            pad: self.pad,
        };
        if gn != n || !g.valid() || (gho, gwo) != (g.ho(), g.wo()) {
            candle_core::bail!(
                "snnkit-conv: gradient {:?} does not match input {:?}",
                l2.shape(),
                l1.shape()
            );
        }
        let x = f32_slice(s1, l1, "input")?;
        let gy = f32_slice(s2, l2, "output gradient")?;
        let out = weight_grad(&g, x, gy);
        Ok((
            CpuStorage::F32(out),
            Shape::from((cout, cin, self.kh, self.kw)),
        ))
    }
}
