//! The candle custom ops: forward with its own backward, and the two gradient ops.

use crate::kernel::{self, Geom};
use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp2, Layout, Result, Shape, Tensor};

/// Borrows the f32 data of a contiguous CPU storage.
fn f32_slice<'a>(s: &'a CpuStorage, l: &Layout, what: &str) -> Result<&'a [f32]> {
    let CpuStorage::F32(v) = s else {
        candle_core::bail!("snnkit-conv: {what} must be f32, got {:?}", s.dtype());
    };
    let Some((start, end)) = l.contiguous_offsets() else {
        candle_core::bail!("snnkit-conv: {what} must be contiguous");
    };
    Ok(&v[start..end])
}

/// Checks `x [n, cin, h, w]` against `w [cout, cin, k, k]` (odd square `k`).
fn geometry(xl: &Layout, wl: &Layout) -> Result<Geom> {
    let (n, cin, h, w) = xl.shape().dims4()?;
    let (cout, wcin, kh, kw) = wl.shape().dims4()?;
    if wcin != cin {
        candle_core::bail!("snnkit-conv: input has {cin} channels, weight expects {wcin}");
    }
    if kh != kw || kh % 2 != 1 {
        candle_core::bail!("snnkit-conv: expects an odd square kernel, got {kh}x{kw}");
    }
    Ok(Geom {
        n,
        cin,
        cout,
        h,
        w,
        k: kh,
    })
}

/// `conv2d(x, w, padding = k / 2, stride = 1)`; backward through [`InputGrad`] and
/// [`WeightGrad`]. Second derivatives are not supported.
pub(crate) struct Conv2dSame;

impl CustomOp2 for Conv2dSame {
    fn name(&self) -> &'static str {
        "snnkit-conv2d-same"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let g = geometry(l1, l2)?;
        let x = f32_slice(s1, l1, "input")?;
        let w = f32_slice(s2, l2, "weight")?;
        let wr = kernel::weights_to_wr(w, g.cout, g.cin, g.k);
        let mut out = vec![0.0f32; g.n * g.cout * g.h * g.w];
        kernel::conv_forward(&g, x, &wr, &mut out);
        Ok((CpuStorage::F32(out), Shape::from((g.n, g.cout, g.h, g.w))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        // Skip the gradients nobody asked for (the network input usually needs none).
        if !x.track_op() && !w.track_op() {
            return Ok((None, None));
        }
        let grad = grad.contiguous()?;
        let gx = if x.track_op() {
            Some(grad.apply_op2_no_bwd(w, &InputGrad)?)
        } else {
            None
        };
        let gw = if w.track_op() {
            Some(x.apply_op2_no_bwd(&grad, &WeightGrad { k: w.dim(2)? })?)
        } else {
            None
        };
        Ok((gx, gw))
    }
}

/// `(grad_out [n, cout, h, w], w [cout, cin, k, k]) -> grad_x [n, cin, h, w]`: a same
/// convolution of the output gradient with the kernel flipped and its channels swapped.
pub(crate) struct InputGrad;

impl CustomOp2 for InputGrad {
    fn name(&self) -> &'static str {
        "snnkit-conv2d-same-grad-input"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (n, gc, h, wd) = l1.shape().dims4()?;
        let (cout, cin, kh, kw) = l2.shape().dims4()?;
        if gc != cout || kh != kw || kh % 2 != 1 {
            candle_core::bail!(
                "snnkit-conv: gradient {:?} does not match weight {:?}",
                l1.shape(),
                l2.shape()
            );
        }
        let gy = f32_slice(s1, l1, "output gradient")?;
        let w = f32_slice(s2, l2, "weight")?;
        let g = Geom {
            n,
            cin: cout,
            cout: cin,
            h,
            w: wd,
            k: kh,
        };
        let wr = kernel::weights_to_wr_transposed(w, cout, cin, kh);
        let mut out = vec![0.0f32; n * cin * h * wd];
        kernel::conv_forward(&g, gy, &wr, &mut out);
        Ok((CpuStorage::F32(out), Shape::from((n, cin, h, wd))))
    }
}

/// `(x [n, cin, h, w], grad_out [n, cout, h, w]) -> grad_w [cout, cin, k, k]`. The kernel
/// size is not in either shape, so the op carries it.
pub(crate) struct WeightGrad {
    /// Kernel size (odd).
    pub k: usize,
}

impl CustomOp2 for WeightGrad {
    fn name(&self) -> &'static str {
        "snnkit-conv2d-same-grad-weight"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (n, cin, h, wd) = l1.shape().dims4()?;
        let (gn, cout, gh, gw) = l2.shape().dims4()?;
        if (gn, gh, gw) != (n, h, wd) || self.k % 2 != 1 {
            candle_core::bail!(
                "snnkit-conv: input {:?} does not match output gradient {:?} (k = {})",
                l1.shape(),
                l2.shape(),
                self.k
            );
        }
        let x = f32_slice(s1, l1, "input")?;
        let gy = f32_slice(s2, l2, "output gradient")?;
        let g = Geom {
            n,
            cin,
            cout,
            h,
            w: wd,
            k: self.k,
        };
        let gwr = kernel::conv_weight_grad(&g, x, gy);
        let gw = kernel::wr_to_weights(&gwr, cout, cin, self.k);
        Ok((
            CpuStorage::F32(gw),
            Shape::from((cout, cin, self.k, self.k)),
        ))
    }
}
