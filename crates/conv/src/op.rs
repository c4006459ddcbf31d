//! The candle custom ops: forward with its own backward, and the two gradient ops.

use crate::direct;
use crate::kernel::{self, Geom};
use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp2, Layout, Result, Shape, Tensor};

/// Borrows the f32 data of a contiguous CPU storage.
pub(crate) fn f32_slice<'a>(s: &'a CpuStorage, l: &Layout, what: &str) -> Result<&'a [f32]> {
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

/// Which implementation runs the forward convolution (and the input gradient).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Path {
    /// A direct kernel ([`direct`]) on AVX-512 or AVX2.
    Direct(direct::Simd),
    /// A channel-blocked direct kernel ([`direct::blocked`]) on AVX-512 or AVX2.
    Blocked(direct::Simd),
    /// Implicit GEMM through the `gemm` crate ([`kernel`]); any CPU.
    Gemm,
}

impl Path {
    /// The path for a kernel family ([`crate::isa`]).
    pub(crate) fn of(isa: crate::Isa) -> Path {
        direct::Simd::of(isa).map_or(Path::Gemm, Path::Direct)
    }
}

/// Which layout the direct kernels use: `SNNKIT_CONV_LAYOUT=rows|blocked` forces one (for
/// before/after comparisons; read once), otherwise [`default_path`] and [`weight_grad_path`]
/// choose per geometry.
fn forced_layout() -> Option<bool> {
    static LAYOUT: std::sync::OnceLock<Option<bool>> = std::sync::OnceLock::new();
    *LAYOUT.get_or_init(|| match std::env::var("SNNKIT_CONV_LAYOUT").as_deref() {
        Ok("blocked") => Some(true),
        Ok("rows") => Some(false),
        _ => None,
    })
}

/// Whether the channel-blocked kernels suit `g`: a supported kernel size, channel counts that
/// fill most of a 16-lane block, and enough images for one task per thread.
fn blocked_fits(g: &Geom) -> bool {
    direct::blocked::supported(g.k)
        && g.cin >= 16
        && g.cout >= 16
        && g.n >= rayon::current_num_threads()
}

/// The path this thread's forward convolutions (and input gradients) of geometry `g` use now
/// ([`crate::active_isa`]). Measured on AMD Zen 4 (`docs/conv.md` has the table):
///
/// - Images at most 8 columns wide (SMA-VGG8's deeper blocks at 32x32 input) run the
///   channel-blocked kernels: a row-segment vector would be at least half empty there
///   (32 x 256 -> 256 at 8x8, k = 7: 49 ms against 70 ms).
/// - With AVX-512, rows of 16 or 32 columns with k >= 3 run them too, on 16-pixel tiles
///   (32 x 256 -> 256 at 16x16, k = 7: 200 ms against 232 ms); 1x1 kernels and wider rows stay
///   on the row-segment kernels, which are as fast or faster there.
/// - With AVX2 they run wherever they fit except 1x1 kernels on rows wider than 8: their 2 x 4
///   micro-tile was as fast or faster than the 4 x 2 row tile at every measured k >= 3 shape
///   (32 x 128 -> 128 at 32x32, k = 5: 131 ms against 161 ms), slower at 1x1 (transposing the
///   output back to NCHW costs as much as the few multiply-adds per output).
/// - Without enough channels for the blocked layout, images at most 8 wide on the AVX-512
///   family run its 8-float AVX2 row kernels: no slower where a 512-bit FMA does twice the work
///   of a 256-bit one, about twice as fast where it is split in two halves (AMD Zen 4).
pub(crate) fn default_path(g: &Geom) -> Path {
    let Path::Direct(simd) = Path::of(crate::active_isa()) else {
        return Path::Gemm;
    };
    let suits = match simd {
        direct::Simd::Avx512 => g.w <= 8 || (g.k > 1 && g.w.is_multiple_of(16) && g.w <= 32),
        direct::Simd::Avx2 => g.w <= 8 || g.k > 1,
    };
    let blocked = forced_layout().unwrap_or(suits) && blocked_fits(g);
    match simd {
        _ if blocked => Path::Blocked(simd),
        direct::Simd::Avx512 if g.w <= 8 && crate::Isa::Avx2.supported() => {
            Path::Direct(direct::Simd::Avx2)
        }
        _ => Path::Direct(simd),
    }
}

/// The path this thread's weight gradients of geometry `g` use now: the channel-blocked kernel
/// whenever it fits (it needs no horizontal sums; measured faster at every SMA-VGG8 shape with
/// k >= 3, and at 8x8 with k = 1), else as [`default_path`].
pub(crate) fn weight_grad_path(g: &Geom) -> Path {
    let Path::Direct(simd) = Path::of(crate::active_isa()) else {
        return Path::Gemm;
    };
    let suits = g.k > 1 || g.w <= 8;
    if forced_layout().unwrap_or(suits) && blocked_fits(g) {
        Path::Blocked(simd)
    } else {
        default_path(g)
    }
}

/// Forward convolution of contiguous `x` with standard-layout weights `[cout][cin][k][k]`.
pub(crate) fn forward_with(path: Path, g: &Geom, x: &[f32], w: &[f32]) -> Vec<f32> {
    let mut out = vec![0.0f32; g.n * g.cout * g.h * g.w];
    if out.is_empty() || g.cin == 0 {
        // Empty output, or nothing to sum over: zeros (the kernels assume non-empty sizes).
        return out;
    }
    let path = match path {
        Path::Blocked(simd) if !direct::blocked::supported(g.k) => Path::Direct(simd),
        p => p,
    };
    if let Path::Blocked(simd) = path {
        direct::blocked::conv_forward(simd, g.n, g.cin, g.cout, g.h, g.w, g.k, x, w, &mut out);
    } else if let Path::Direct(simd) = path {
        let wpk = direct::pack_weights(simd, w, g.cout, g.cin, g.k);
        direct::conv_forward(simd, g.n, g.cin, g.cout, g.h, g.w, g.k, x, &wpk, &mut out);
    } else {
        let wr = kernel::weights_to_wr(w, g.cout, g.cin, g.k);
        kernel::conv_forward(g, x, &wr, &mut out);
    }
    out
}

/// Weight gradient `[cout][cin][k][k]` of contiguous `x` and output gradient `gy`.
pub(crate) fn weight_grad_with(path: Path, g: &Geom, x: &[f32], gy: &[f32]) -> Vec<f32> {
    if g.n * g.h * g.w * g.cin * g.cout == 0 {
        return vec![0.0; g.cout * g.cin * g.k * g.k];
    }
    match path {
        Path::Blocked(simd) if direct::blocked::supported(g.k) => {
            direct::blocked::conv_weight_grad(simd, g.n, g.cin, g.cout, g.h, g.w, g.k, x, gy)
        }
        Path::Direct(simd) | Path::Blocked(simd) if direct::wgrad_supported(g.k) => {
            direct::conv_weight_grad(simd, g.n, g.cin, g.cout, g.h, g.w, g.k, x, gy)
        }
        _ => {
            let gwr = kernel::conv_weight_grad(g, x, gy);
            kernel::wr_to_weights(&gwr, g.cout, g.cin, g.k)
        }
    }
}

fn forward(g: &Geom, x: &[f32], w: &[f32]) -> Vec<f32> {
    forward_with(default_path(g), g, x, w)
}

/// `conv2d(x, w, padding = k / 2, stride = 1)`; backward through [`InputGrad`] and
/// [`WeightGrad`]. Second derivatives are not supported.
pub(crate) struct Conv2dSame {
    /// Profile part the backward is recorded under ([`crate::profile`]).
    pub bwd_part: &'static str,
}

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
        let out = forward(&g, x, w);
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
        let _p = crate::profile::scope(self.bwd_part);
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
        let out = forward(&g, gy, &kernel::flip_transpose(w, cout, cin, kh));
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
        let gw = weight_grad_with(weight_grad_path(&g), &g, x, gy);
        Ok((
            CpuStorage::F32(gw),
            Shape::from((cout, cin, self.k, self.k)),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic values in [-1, 1) (a small LCG; no dependency needed).
    fn values(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }

    fn assert_close(a: &[f32], b: &[f32], what: &str, shape: impl std::fmt::Debug) {
        assert_eq!(a.len(), b.len());
        // `f32::max` drops NaN, so fold by hand (a NaN then fails the check below).
        let nan_max = |m: f32, d: f32| if d.is_nan() || d > m { d } else { m };
        let scale = b.iter().fold(0f32, |m, v| nan_max(m, v.abs()));
        let diff = a
            .iter()
            .zip(b)
            .fold(0f32, |m, (p, q)| nan_max(m, (p - q).abs()));
        assert!(
            diff <= 1e-5 * scale,
            "{what} {shape:?}: diff {diff} scale {scale}"
        );
    }

    /// Every direct kernel this CPU supports against the portable GEMM path (on an AVX-512
    /// machine that covers the AVX2 kernels too).
    #[test]
    fn direct_and_gemm_paths_agree() {
        let paths: Vec<Path> = crate::supported_isas()
            .into_iter()
            .map(Path::of)
            .filter(|p| *p != Path::Gemm)
            .flat_map(|p| match p {
                Path::Direct(simd) => vec![p, Path::Blocked(simd)],
                p => vec![p],
            })
            .collect();
        if paths.is_empty() {
            eprintln!("skipping: no direct kernel (AVX-512F or AVX2 + FMA) on this CPU");
            return;
        }
        // (n, cin, cout, h, w, k): channel counts off the 8-block, rows crossing the 48-wide
        // micro-tile, a single pixel, and a width above the tile target (several row tiles).
        let shapes = [
            (2, 3, 5, 7, 9, 3),
            (3, 2, 17, 11, 13, 5),
            (1, 4, 9, 1, 1, 7),
            (2, 16, 8, 6, 50, 3),
            (1, 40, 3, 9, 1500, 3),
            (1, 1, 1, 4, 3, 7),
            // Small images grouped into one task (3 per task, last task shorter).
            (5, 3, 4, 5, 7, 5),
            (4, 5, 9, 16, 16, 3),
            // 1x1 kernels.
            (3, 7, 10, 5, 21, 1),
            (1, 2, 3, 1, 1, 1),
            // Widths around the 8-column AVX2 segment, channel counts off its 4-block.
            (2, 3, 6, 4, 8, 3),
            (3, 5, 7, 3, 9, 5),
            (2, 4, 5, 2, 7, 7),
            (3, 2, 2, 8, 8, 3),
            // Channel-blocked layout: partial channel blocks, 16-pixel tiles (w = 32), edge
            // tiles on both sides, several input-channel chunks (k = 7, 40 channels).
            (3, 17, 33, 5, 32, 5),
            (2, 40, 20, 3, 16, 7),
            (5, 16, 16, 8, 8, 1),
        ];
        for (i, &(n, cin, cout, h, w, k)) in shapes.iter().enumerate() {
            let g = Geom {
                n,
                cin,
                cout,
                h,
                w,
                k,
            };
            let x = values(n * cin * h * w, 2 * i as u64);
            let wt = values(cout * cin * k * k, 2 * i as u64 + 1);
            let gy = values(n * cout * h * w, 2 * i as u64 + 7);
            let fwd = forward_with(Path::Gemm, &g, &x, &wt);
            let wgrad = weight_grad_with(Path::Gemm, &g, &x, &gy);
            for &path in &paths {
                let what = format!("{path:?} {:?}", shapes[i]);
                assert_close(&forward_with(path, &g, &x, &wt), &fwd, "forward", &what);
                let a = weight_grad_with(path, &g, &x, &gy);
                assert_close(&a, &wgrad, "weight grad", &what);
            }
        }
    }
}
