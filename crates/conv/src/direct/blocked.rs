//! Channel-blocked direct kernels: vectors run over output channels, not over image columns.
//!
//! # Why a second layout
//!
//! The row-segment kernels of the parent module put image columns in the vector lanes. On
//! images at most a few vectors wide (SMA-VGG8's deeper blocks: 8x8 and 16x16 at 32x32 input)
//! that leaves lanes empty or forces half-width vectors, and every tap is an unaligned load
//! that crosses a cache line. Here, as in oneDNN's `nChw16c` kernels, a vector holds `L` (16 or
//! 8) consecutive channels of one pixel:
//!
//! - the input of a task (a few whole images) is copied into `[ci / L][image][row][column][L]`
//!   with its zero halo, so one input value of one pixel is a scalar broadcast from a fixed
//!   offset, and `L` output channels of the same pixel are one aligned weight vector away;
//! - the **forward** micro-kernel keeps `B` blocks of `L` output channels x `X` pixels of one
//!   row in registers (AVX-512: 3 x 8 = 24 of 32, or 1 x 16 on rows of whole 16-pixel tiles;
//!   AVX2: 2 x 4 = 8 of 16) and, per input channel and tap, loads `B` weight vectors and
//!   broadcasts `X` inputs;
//! - the **weight gradient** keeps two blocks of `L` output channels x a few input channels
//!   for one tap `(dy, dx)` in registers and runs over exactly the pixels whose input for that
//!   tap is a real one: per pixel two output-gradient vectors and one broadcast per input
//!   channel, with no horizontal sums.
//!
//! Taps that read only the zero halo are skipped: whole kernel rows in the forward pass (as in
//! the row kernels) and, in tiles that start or end a row, the halo columns too; every halo
//! tap in the weight gradient. Width does not matter for the lanes, so no lane is ever empty;
//! channel counts that are not a multiple of `L` leave the last block partly empty instead.

use super::{tap_rows, Simd};
use crate::kernel::{with_scratch, SyncPtr};
use rayon::prelude::*;

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// Pixels a task aims for (whole images): a weight or output-gradient block loaded for the task
/// is reused once per pixel (1024 measured about 5 % faster than 256 at 16x16 and 8x8).
const TASK_PIXELS: usize = 1024;
/// Bytes of packed weights one forward pass over the task's pixels aims to touch (half of a
/// 1 MiB L2), which sets how many input channels a chunk holds.
const WEIGHT_CHUNK_BYTES: usize = 256 * 1024;

/// One SIMD vector of `L` f32 lanes. The kernels are written once over it and compiled inside
/// a `#[target_feature]` wrapper per instruction set, where these calls inline.
trait Vector: Copy {
    /// Lanes per vector.
    const L: usize;
    unsafe fn zero() -> Self;
    unsafe fn load(p: *const f32) -> Self;
    unsafe fn store(p: *mut f32, v: Self);
    /// All lanes set to `*p`.
    unsafe fn splat(p: *const f32) -> Self;
    /// `a * b + c`.
    unsafe fn fma(a: Self, b: Self, c: Self) -> Self;
    unsafe fn add(a: Self, b: Self) -> Self;
}

#[cfg(target_arch = "x86_64")]
impl Vector for __m512 {
    const L: usize = 16;
    #[inline(always)]
    unsafe fn zero() -> Self {
        _mm512_setzero_ps()
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        _mm512_loadu_ps(p)
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: Self) {
        _mm512_storeu_ps(p, v)
    }
    #[inline(always)]
    unsafe fn splat(p: *const f32) -> Self {
        _mm512_set1_ps(*p)
    }
    #[inline(always)]
    unsafe fn fma(a: Self, b: Self, c: Self) -> Self {
        _mm512_fmadd_ps(a, b, c)
    }
    #[inline(always)]
    unsafe fn add(a: Self, b: Self) -> Self {
        _mm512_add_ps(a, b)
    }
}

#[cfg(target_arch = "x86_64")]
impl Vector for __m256 {
    const L: usize = 8;
    #[inline(always)]
    unsafe fn zero() -> Self {
        _mm256_setzero_ps()
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        _mm256_loadu_ps(p)
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: Self) {
        _mm256_storeu_ps(p, v)
    }
    #[inline(always)]
    unsafe fn splat(p: *const f32) -> Self {
        _mm256_broadcast_ss(&*p)
    }
    #[inline(always)]
    unsafe fn fma(a: Self, b: Self, c: Self) -> Self {
        _mm256_fmadd_ps(a, b, c)
    }
    #[inline(always)]
    unsafe fn add(a: Self, b: Self) -> Self {
        _mm256_add_ps(a, b)
    }
}

/// Output-channel blocks and pixels per forward micro-tile for `simd` and image width `w`: with
/// AVX-512, 1 x 16 on rows that are whole 16-pixel tiles (a weight vector serves 16 pixels, so
/// half the weight traffic of 3 x 8; measured 15 % faster at 16x16, k = 7) and 3 x 8 otherwise
/// (24 of 32 zmm registers); with AVX2, 2 x 4 (8 of 16 ymm; 3 x 4 spilled).
fn tile_shape(simd: Simd, w: usize) -> (usize, usize) {
    match simd {
        Simd::Avx512 if w.is_multiple_of(16) => (1, 16),
        Simd::Avx512 => (3, 8),
        Simd::Avx2 => (2, 4),
    }
}

/// The sub-slice of `buf` starting at the first 64-byte boundary (`buf` needs 16 spare floats),
/// so that vectors at multiples of `L` floats never straddle a cache line.
fn aligned(buf: &mut [f32]) -> &mut [f32] {
    let off = buf.as_ptr().align_offset(64).min(16);
    &mut buf[off..]
}

/// Geometry of one task: `count` whole images side by side.
struct Task {
    /// Lanes per vector.
    l: usize,
    count: usize,
    h: usize,
    w: usize,
    k: usize,
    /// Padded width of a row in the blocked input (multiple of the forward tile, plus halo).
    wp: usize,
    /// Floats between input-channel blocks of the blocked input.
    cstride: usize,
}

impl Task {
    fn new(l: usize, count: usize, h: usize, w: usize, k: usize, row_multiple: usize) -> Task {
        let p = k / 2;
        let wp = w.div_ceil(row_multiple) * row_multiple + 2 * p;
        Task {
            l,
            count,
            h,
            w,
            k,
            wp,
            cstride: count * (h + 2 * p) * wp * l,
        }
    }

    /// Offset of pixel `(slot, padded row, padded column)` in one channel block.
    fn at(&self, slot: usize, row: usize, col: usize) -> usize {
        ((slot * (self.h + 2 * (self.k / 2)) + row) * self.wp + col) * self.l
    }

    /// Floats of the blocked input for `cin` channels.
    fn input_len(&self, cin: usize) -> usize {
        cin.div_ceil(self.l) * self.cstride
    }

    /// Copies images `img0 .. img0 + count` of `x [n, cin, h, w]` into the zeroed blocked buffer.
    fn fill_input(&self, x: &[f32], cin: usize, img0: usize, xb: &mut [f32]) {
        let (h, w, p, l) = (self.h, self.w, self.k / 2, self.l);
        for slot in 0..self.count {
            let img = &x[(img0 + slot) * cin * h * w..(img0 + slot + 1) * cin * h * w];
            for ci in 0..cin {
                let base = (ci / l) * self.cstride + ci % l;
                for y in 0..h {
                    let src = &img[(ci * h + y) * w..(ci * h + y + 1) * w];
                    let dst = base + self.at(slot, y + p, p);
                    for (xx, &v) in src.iter().enumerate() {
                        xb[dst + xx * l] = v;
                    }
                }
            }
        }
    }
}

/// Images per task: about [`TASK_PIXELS`] pixels, but at least two tasks per thread.
fn images_per_task(n: usize, hw: usize) -> usize {
    let threads = rayon::current_num_threads();
    TASK_PIXELS
        .div_ceil(hw.max(1))
        .min(n.div_ceil(2 * threads))
        .max(1)
}

/// Weights `[cout][cin][k][k]` as `[cout / l][cin][k][k][l]`, output channels padded with
/// zeros, starting on a 64-byte boundary inside the returned buffer (at the returned offset).
fn pack_weights(w: &[f32], cout: usize, cin: usize, k: usize, l: usize) -> (Vec<f32>, usize) {
    let mut buf = vec![0.0; cout.div_ceil(l) * cin * k * k * l + 16];
    let off = buf.as_ptr().align_offset(64).min(16);
    super::pack_blocks(w, cout, cin, k, l, &mut buf[off..]);
    (buf, off)
}

/// Whether the channel-blocked kernels handle kernel size `k`.
pub(crate) fn supported(k: usize) -> bool {
    matches!(k, 1 | 3 | 5 | 7)
}

/// Same convolution `out [n, cout, h, w] = conv(x [n, cin, h, w], w [cout, cin, k, k])`, `out`
/// fully overwritten. Panics if the CPU lacks `simd` or `k` is not [`supported`].
#[allow(clippy::too_many_arguments)]
pub(crate) fn conv_forward(
    simd: Simd,
    n: usize,
    cin: usize,
    cout: usize,
    h: usize,
    w: usize,
    k: usize,
    x: &[f32],
    wt: &[f32],
    out: &mut [f32],
) {
    assert!(
        simd.supported() && supported(k),
        "blocked kernel for k = {k} on {simd:?}"
    );
    let (hw, l) = (h * w, simd.lanes());
    let (ocb, xt) = tile_shape(simd, w);
    assert_eq!(x.len(), n * cin * hw, "input length");
    assert_eq!(wt.len(), cout * cin * k * k, "weight length");
    assert_eq!(out.len(), n * cout * hw, "output length");
    let (wbuf, woff) = pack_weights(wt, cout, cin, k, l);
    let wpk = &wbuf[woff..];
    // Input channels per pass, so a pass's weights (`ocb` blocks) stay in L2.
    let per_channel = ocb * l * k * k * 4;
    let chunk = (WEIGHT_CHUNK_BYTES / per_channel / l).max(1) * l;
    let count = images_per_task(n, hw);
    let tasks = n.div_ceil(count);
    let out_ptr = SyncPtr(out.as_mut_ptr());
    let cob = cout.div_ceil(l);

    (0..tasks).into_par_iter().for_each(|t| {
        let img0 = t * count;
        let task = Task::new(l, count.min(n - img0), h, w, k, xt);
        with_scratch(task.input_len(cin) + 16, |buf| {
            let xb = aligned(buf);
            xb.fill(0.0);
            task.fill_input(x, cin, img0, xb);
            let xb = &*xb;
            // Partial sums between input-channel chunks: [ocb][slot][h][wp][l].
            let chunks = cin.div_ceil(chunk);
            let part_len = if chunks > 1 {
                ocb * task.count * h * task.wp * l
            } else {
                0
            };
            let mut part = vec![0.0f32; part_len + 16];
            let part = aligned(&mut part);
            for b0 in (0..cob).step_by(ocb) {
                for c0 in (0..cin).step_by(chunk) {
                    let pass = FwdPass {
                        task: &task,
                        xb,
                        wpk,
                        cin,
                        cout,
                        b0,
                        ci: c0..(c0 + chunk).min(cin),
                        first: c0 == 0,
                        last: c0 + chunk >= cin,
                        img0,
                        out: out_ptr,
                        out_len: n * cout * hw,
                    };
                    // SAFETY: the CPU supports `simd` (checked above); buffer extents are
                    // checked in `fwd_pass`.
                    unsafe {
                        match (simd, cob - b0) {
                            (Simd::Avx512, _) if xt == 16 => fwd_512_wide(&pass, part),
                            (Simd::Avx512, 1) => fwd_512::<1>(&pass, part),
                            (Simd::Avx512, 2) => fwd_512::<2>(&pass, part),
                            (Simd::Avx512, _) => fwd_512::<3>(&pass, part),
                            (Simd::Avx2, 1) => fwd_256::<1>(&pass, part),
                            (Simd::Avx2, _) => fwd_256::<2>(&pass, part),
                        }
                    }
                }
            }
        });
    });
}

/// One forward pass: output-channel blocks `b0 ..` over input channels `ci` of one task.
struct FwdPass<'a> {
    task: &'a Task,
    xb: &'a [f32],
    wpk: &'a [f32],
    cin: usize,
    cout: usize,
    /// First output-channel block.
    b0: usize,
    ci: std::ops::Range<usize>,
    /// First chunk: start from zero (else from the partial sums).
    first: bool,
    /// Last chunk: write the output (else the partial sums).
    last: bool,
    img0: usize,
    out: SyncPtr,
    /// Length of the whole output, for the bounds check.
    out_len: usize,
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn fwd_512<const B: usize>(p: &FwdPass, part: &mut [f32]) {
    fwd_pass::<__m512, B, 8>(p, part)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn fwd_512_wide(p: &FwdPass, part: &mut [f32]) {
    fwd_pass::<__m512, 1, 16>(p, part)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn fwd_256<const B: usize>(p: &FwdPass, part: &mut [f32]) {
    fwd_pass::<__m256, B, 4>(p, part)
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn fwd_512<const B: usize>(_: &FwdPass, _: &mut [f32]) {
    unreachable!("direct kernel is only used where the CPU supports it")
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn fwd_512_wide(_: &FwdPass, _: &mut [f32]) {
    unreachable!("direct kernel is only used where the CPU supports it")
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn fwd_256<const B: usize>(_: &FwdPass, _: &mut [f32]) {
    unreachable!("direct kernel is only used where the CPU supports it")
}

/// Every `X`-pixel micro-tile of the task for `B` output-channel blocks.
#[inline(always)]
#[allow(clippy::needless_range_loop)] // indexing by value keeps the accumulators in registers
unsafe fn fwd_pass<V: Vector, const B: usize, const X: usize>(p: &FwdPass, part: &mut [f32]) {
    let t = p.task;
    let (l, k, h, w) = (V::L, t.k, t.h, t.w);
    let kk = k * k;
    let hw = h * w;
    // Bounds: the last channel block, halo row and column a micro-tile reads; the weights of
    // the last block; the partial sums of the last pixel.
    assert_eq!(l, t.l);
    assert!(t.input_len(p.cin) <= p.xb.len(), "blocked input too short");
    assert!(
        (p.b0 + B) * p.cin * kk * l <= p.wpk.len(),
        "packed weights too short"
    );
    assert!(p.first && p.last || B * t.count * h * t.wp * l <= part.len());
    assert!(
        (p.img0 + t.count) * p.cout * hw <= p.out_len,
        "output too short"
    );
    let wblk: [*const f32; B] =
        std::array::from_fn(|j| p.wpk.as_ptr().add((p.b0 + j) * p.cin * kk * l));
    let part_at = |j: usize, slot: usize, y: usize, x: usize| {
        ((j * t.count + slot) * h + y) * t.wp * l + x * l
    };
    for slot in 0..t.count {
        for y in 0..h {
            let dys = tap_rows(y, y, h, k);
            for x0 in (0..w).step_by(X) {
                let mut acc = [[V::zero(); X]; B];
                if !p.first {
                    for j in 0..B {
                        for q in 0..X {
                            acc[j][q] = V::load(part.as_ptr().add(part_at(j, slot, y, x0 + q)));
                        }
                    }
                }
                // Tap (0, 0) of pixel x0 in channel block 0.
                let xs = p.xb.as_ptr().add(t.at(slot, y, x0));
                let taps = TileTaps {
                    xs,
                    cstride: t.cstride,
                    row: t.wp * l,
                    k,
                    ci: p.ci.clone(),
                    dys: dys.clone(),
                };
                // A tile that starts or ends a row skips the taps that would read its halo.
                match (x0 == 0, x0 + X == w) {
                    (true, true) => tile_k::<V, B, X, true, true>(&taps, &wblk, &mut acc),
                    (true, false) => tile_k::<V, B, X, true, false>(&taps, &wblk, &mut acc),
                    (false, true) => tile_k::<V, B, X, false, true>(&taps, &wblk, &mut acc),
                    (false, false) => tile_k::<V, B, X, false, false>(&taps, &wblk, &mut acc),
                }
                if !p.last {
                    for j in 0..B {
                        for q in 0..X {
                            V::store(
                                part.as_mut_ptr().add(part_at(j, slot, y, x0 + q)),
                                acc[j][q],
                            );
                        }
                    }
                    continue;
                }
                // Pixels x0.. of L channels per vector -> NCHW rows of the output.
                let cols = X.min(w - x0);
                let dst0 = (p.img0 + slot) * p.cout * hw + y * w + x0;
                for j in 0..B {
                    let mut tmp = [[0.0f32; 16]; X];
                    for q in 0..X {
                        V::store(tmp[q].as_mut_ptr(), acc[j][q]);
                    }
                    for c in 0..l {
                        let co = (p.b0 + j) * l + c;
                        if co >= p.cout {
                            break;
                        }
                        let dst = p.out.get().add(dst0 + co * hw);
                        for q in 0..cols {
                            *dst.add(q) = tmp[q][c];
                        }
                    }
                }
            }
        }
    }
}

/// What one forward micro-tile reads: its input at tap (0, 0) in channel block 0, and the
/// channels and kernel rows it sums over.
struct TileTaps {
    xs: *const f32,
    /// Floats between input-channel blocks.
    cstride: usize,
    /// Floats between padded rows.
    row: usize,
    k: usize,
    ci: std::ops::Range<usize>,
    dys: std::ops::Range<usize>,
}

/// [`tile_taps`] with the kernel size as a constant (so its tap loops unroll and the skipped
/// taps vanish at compile time) for k = 1, 3, 5, 7.
#[inline(always)]
unsafe fn tile_k<V: Vector, const B: usize, const X: usize, const LEFT: bool, const RIGHT: bool>(
    t: &TileTaps,
    wblk: &[*const f32; B],
    acc: &mut [[V; X]; B],
) {
    match t.k {
        1 => tile_taps::<V, B, X, 1, LEFT, RIGHT>(t, wblk, acc),
        3 => tile_taps::<V, B, X, 3, LEFT, RIGHT>(t, wblk, acc),
        5 => tile_taps::<V, B, X, 5, LEFT, RIGHT>(t, wblk, acc),
        7 => tile_taps::<V, B, X, 7, LEFT, RIGHT>(t, wblk, acc),
        k => unreachable!("blocked kernels take k = 1, 3, 5, 7, not {k}"),
    }
}

/// Adds the taps of input channels `t.ci` and kernel rows `t.dys` into a micro-tile's
/// accumulators. `LEFT`: the tile's first pixel is column 0, so pixel `q` skips taps
/// `dx < p - q` (they read the left halo); `RIGHT`: its last pixel is the row's last column, so
/// pixel `q` skips taps `dx >= X + p - q`. On 8-wide images with k = 7 that is 12 of 56 taps.
#[inline(always)]
#[allow(clippy::needless_range_loop)] // indexing by value keeps the accumulators in registers
unsafe fn tile_taps<
    V: Vector,
    const B: usize,
    const X: usize,
    const K: usize,
    const LEFT: bool,
    const RIGHT: bool,
>(
    t: &TileTaps,
    wblk: &[*const f32; B],
    acc: &mut [[V; X]; B],
) {
    let (l, p) = (V::L, K / 2);
    for ci in t.ci.clone() {
        let xc = t.xs.add((ci / l) * t.cstride + ci % l);
        for dy in t.dys.clone() {
            let xr = xc.add(dy * t.row);
            let woff = (ci * K + dy) * K * l;
            for dx in 0..K {
                let wv: [V; B] = std::array::from_fn(|j| V::load(wblk[j].add(woff + dx * l)));
                for q in 0..X {
                    if (LEFT && q + dx < p) || (RIGHT && q + dx >= X + p) {
                        continue;
                    }
                    let xv = V::splat(xr.add((dx + q) * l));
                    for j in 0..B {
                        acc[j][q] = V::fma(wv[j], xv, acc[j][q]);
                    }
                }
            }
        }
    }
}

/// Weight gradient `sum_n corr(x[n], gout[n])` as `[cout][cin][k][k]`. Panics if the CPU lacks
/// `simd` or `k` is not [`supported`].
#[allow(clippy::too_many_arguments)]
pub(crate) fn conv_weight_grad(
    simd: Simd,
    n: usize,
    cin: usize,
    cout: usize,
    h: usize,
    w: usize,
    k: usize,
    x: &[f32],
    gout: &[f32],
) -> Vec<f32> {
    assert!(
        simd.supported() && supported(k),
        "blocked kernel for k = {k} on {simd:?}"
    );
    let (hw, l, kk) = (h * w, simd.lanes(), k * k);
    assert_eq!(x.len(), n * cin * hw, "input length");
    assert_eq!(gout.len(), n * cout * hw, "gradient length");
    let count = images_per_task(n, hw);
    let tasks = n.div_ceil(count);
    let cob = cout.div_ceil(l);
    let acc_len = cob * cin * kk * l;

    let task = |t: usize, acc: &mut [f32]| {
        let img0 = t * count;
        let task = Task::new(l, count.min(n - img0), h, w, k, 1);
        let gstride = task.count * hw * l;
        let (xlen, glen) = (task.input_len(cin), cob * gstride);
        with_scratch(xlen + glen + 32, |buf| {
            let (xb, gb) = aligned(buf).split_at_mut(xlen);
            let gb = aligned(gb);
            xb.fill(0.0);
            task.fill_input(x, cin, img0, xb);
            // Output gradient as [cout / l][slot][y][x][l] (no halo).
            gb[..glen].fill(0.0);
            for slot in 0..task.count {
                let img = &gout[(img0 + slot) * cout * hw..(img0 + slot + 1) * cout * hw];
                for co in 0..cout {
                    let base = (co / l) * gstride + slot * hw * l + co % l;
                    for (i, &v) in img[co * hw..(co + 1) * hw].iter().enumerate() {
                        gb[base + i * l] = v;
                    }
                }
            }
            let pass = WgradPass {
                task: &task,
                xb,
                gb,
                gstride,
                cin,
                cob,
            };
            // SAFETY: the CPU supports `simd` (checked above); extents are checked in
            // `wgrad_pass`.
            unsafe {
                match simd {
                    Simd::Avx512 => wgrad_512(&pass, acc),
                    Simd::Avx2 => wgrad_256(&pass, acc),
                }
            }
        });
    };

    // One accumulator per thread, [cout / l][cin][k][k][l], added up at the end.
    let threads = rayon::current_num_threads().min(tasks).max(1);
    let accs: Vec<Vec<f32>> = (0..threads)
        .into_par_iter()
        .map(|c| {
            let mut acc = vec![0.0; acc_len];
            (c * tasks / threads..(c + 1) * tasks / threads).for_each(|i| task(i, &mut acc));
            acc
        })
        .collect();
    let mut grad = vec![0.0; cout * cin * kk];
    for co in 0..cout {
        for ci in 0..cin {
            for tap in 0..kk {
                let at = (((co / l) * cin + ci) * kk + tap) * l + co % l;
                grad[(co * cin + ci) * kk + tap] = accs.iter().map(|a| a[at]).sum();
            }
        }
    }
    grad
}

/// What a task's weight-gradient kernel reads.
struct WgradPass<'a> {
    task: &'a Task,
    /// Blocked, padded input.
    xb: &'a [f32],
    /// Blocked output gradient.
    gb: &'a [f32],
    /// Floats between output-channel blocks of `gb`.
    gstride: usize,
    cin: usize,
    /// Output-channel blocks.
    cob: usize,
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn wgrad_512(p: &WgradPass, acc: &mut [f32]) {
    wgrad_pass::<__m512, 8, 2>(p, acc)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn wgrad_256(p: &WgradPass, acc: &mut [f32]) {
    wgrad_pass::<__m256, 4, 2>(p, acc)
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn wgrad_512(_: &WgradPass, _: &mut [f32]) {
    unreachable!("direct kernel is only used where the CPU supports it")
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn wgrad_256(_: &WgradPass, _: &mut [f32]) {
    unreachable!("direct kernel is only used where the CPU supports it")
}

/// Adds one task's weight gradient into `acc [cout / L][cin][k][k][L]`. For each group of
/// `OB` blocks of output channels, `CI` input channels and tap `(dy, dx)`: `OB x CI` vector sums
/// (lanes over output channels) over exactly the pixels whose input for that tap is a real one,
/// so neither halo rows nor halo columns cost anything. Per pixel: `OB` output-gradient vectors
/// and `OB x CI` multiply-adds on `CI` broadcasts. AVX-512 runs 2 x 8 (16 of 32 registers;
/// measured 5-10 % faster than 1 x 16 and than 3 x 8); AVX2 2 x 4 (8 of 16), which needs 6
/// loads per 8 multiply-adds where 1 x 8 needed 9 (5 % faster).
#[inline(always)]
#[allow(clippy::needless_range_loop)] // indexing by value keeps the accumulators in registers
unsafe fn wgrad_pass<V: Vector, const CI: usize, const OB: usize>(p: &WgradPass, acc: &mut [f32]) {
    let t = p.task;
    let (l, h, w, k) = (V::L, t.h, t.w, t.k);
    let (pad, kk) = (k / 2, k * k);
    // CI divides L, so a group of input channels never straddles two blocks.
    assert!(l == t.l && CI <= l && l % CI == 0);
    assert!(t.input_len(p.cin) <= p.xb.len(), "blocked input too short");
    assert!(
        p.cob * p.gstride <= p.gb.len(),
        "blocked gradient too short"
    );
    assert_eq!(acc.len(), p.cob * p.cin * kk * l, "accumulator length");
    for b0 in (0..p.cob).step_by(OB) {
        // A group past the last block repeats it; those sums are dropped.
        let gblk: [*const f32; OB] =
            std::array::from_fn(|o| p.gb.as_ptr().add((b0 + o).min(p.cob - 1) * p.gstride));
        for c0 in (0..p.cin).step_by(CI) {
            let xc = p.xb.as_ptr().add((c0 / l) * t.cstride + c0 % l);
            let nci = CI.min(p.cin - c0);
            for dy in 0..k {
                // Output rows and columns whose input row y + dy - pad / column x + dx - pad
                // is a real one.
                let rows = pad.saturating_sub(dy)..(h + pad).saturating_sub(dy).min(h);
                for dx in 0..k {
                    let cols = pad.saturating_sub(dx)..(w + pad).saturating_sub(dx).min(w);
                    let mut s = [[V::zero(); CI]; OB];
                    for slot in 0..t.count {
                        for y in rows.clone() {
                            let xr = xc.add(t.at(slot, y + dy, dx));
                            let g_off = (slot * h + y) * w * l;
                            for xx in cols.clone() {
                                let g: [V; OB] =
                                    std::array::from_fn(|o| V::load(gblk[o].add(g_off + xx * l)));
                                let xp = xr.add(xx * l);
                                for c in 0..CI {
                                    let xv = V::splat(xp.add(c));
                                    for o in 0..OB {
                                        s[o][c] = V::fma(xv, g[o], s[o][c]);
                                    }
                                }
                            }
                        }
                    }
                    for o in 0..OB.min(p.cob - b0) {
                        for c in 0..nci {
                            let a = acc
                                .as_mut_ptr()
                                .add(((((b0 + o) * p.cin + c0 + c) * k + dy) * k + dx) * l);
                            V::store(a, V::add(V::load(a), s[o][c]));
                        }
                    }
                }
            }
        }
    }
}
