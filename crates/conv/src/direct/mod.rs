//! Direct convolution kernels (forward/input gradient, and weight gradient) for AVX-512F
//! (16-float zmm vectors) and AVX2 + FMA (8-float ymm vectors), chosen at run time (see
//! [`crate::isa`]); [`crate::kernel`] holds the portable GEMM path.
//!
//! # Why this layout
//!
//! A tile of input rows (or a few whole small images side by side) is copied with its zero halo
//! into a padded NCHW buffer (row stride `wp = w + 2p`). Output rows are cut into segments of
//! one vector (16 or 8 columns, masked at the row end); for every tap `(dy, dx)` the inputs that
//! feed a segment are one contiguous unaligned load at `segment start + dy * wp + dx` in that
//! buffer. The forward micro-kernel keeps `UC` output channels x `NV` segments in vector
//! accumulators (8 x 3 = 24 of the 32 zmm registers; 4 x 2 = 8 of the 16 ymm ones); per
//! `(ci, dy, dx)` step it does `NV` loads, `UC` weight broadcasts (weights stored
//! `[co block][ci][dy][dx][UC]` so they stream) and `UC * NV` FMAs, then stores straight into
//! the NCHW output with masked stores. Both instruction sets share the tiling; only the
//! micro-kernels differ.

// Off x86-64 the kernels compile to stubs that are never called (the portable GEMM path runs),
// so their helpers and geometry types are unused there.
#![cfg_attr(not(target_arch = "x86_64"), allow(dead_code, unused_imports))]

mod avx2;
pub(crate) mod blocked;
mod wgrad;

pub(crate) use wgrad::{conv_weight_grad, wgrad_supported};

use crate::kernel::{with_scratch, SyncPtr};
use rayon::prelude::*;

/// Segments per AVX-512 forward micro-tile.
const NV: usize = 3;
/// Floats a tile's padded input aims for (1 MiB, about one core's L2).
const TILE_TARGET_FLOATS: usize = 256 * 1024;

/// The vector instruction set a direct kernel runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Simd {
    /// 16-float zmm vectors, 32 registers.
    Avx512,
    /// 8-float ymm vectors with FMA, 16 registers.
    Avx2,
}

impl Simd {
    /// The direct family for `isa`, if it has one.
    pub(crate) fn of(isa: crate::Isa) -> Option<Simd> {
        match isa {
            crate::Isa::Avx512 => Some(Simd::Avx512),
            crate::Isa::Avx2 => Some(Simd::Avx2),
            crate::Isa::Portable => None,
        }
    }

    pub(crate) fn supported(self) -> bool {
        match self {
            Simd::Avx512 => crate::Isa::Avx512.supported(),
            Simd::Avx2 => crate::Isa::Avx2.supported(),
        }
    }

    /// Floats per vector: the width of a row segment.
    pub(crate) fn lanes(self) -> usize {
        match self {
            Simd::Avx512 => 16,
            Simd::Avx2 => 8,
        }
    }

    /// Row segments per forward micro-tile.
    fn nv(self) -> usize {
        match self {
            Simd::Avx512 => NV,
            Simd::Avx2 => 2,
        }
    }

    /// Output channels per forward micro-tile (and per packed weight block).
    pub(crate) fn uc(self) -> usize {
        match self {
            Simd::Avx512 => 8,
            Simd::Avx2 => 4,
        }
    }
}

/// Weights `[cout][cin][k][k]` rearranged to `[cout / uc][cin][k][k][uc]` (`uc` =
/// [`Simd::uc`]), channels padded with zeros up to a multiple of `uc`.
pub(crate) fn pack_weights(simd: Simd, w: &[f32], cout: usize, cin: usize, k: usize) -> Vec<f32> {
    let uc = simd.uc();
    let mut out = vec![0.0; cout.div_ceil(uc) * cin * k * k * uc];
    pack_blocks(w, cout, cin, k, uc, &mut out);
    out
}

/// Writes weights `[cout][cin][k][k]` into `out` as `[cout / block][cin][k][k][block]`; the
/// padding channels of the last block are left as they are (zeros in a fresh buffer).
pub(crate) fn pack_blocks(
    w: &[f32],
    cout: usize,
    cin: usize,
    k: usize,
    block: usize,
    out: &mut [f32],
) {
    let kk = k * k;
    assert!(
        out.len() >= cout.div_ceil(block) * cin * kk * block,
        "packed weight buffer"
    );
    for co in 0..cout {
        let (b, c) = (co / block, co % block);
        for ci in 0..cin {
            for t in 0..kk {
                out[((b * cin + ci) * kk + t) * block + c] = w[(co * cin + ci) * kk + t];
            }
        }
    }
}

/// Same convolution `out [n, cout, h, w] = conv(x [n, cin, h, w], w)` with weights already
/// packed by [`pack_weights`] for the same `simd`. `out` is fully overwritten. Panics if the
/// CPU lacks `simd`.
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
    wpk: &[f32],
    out: &mut [f32],
) {
    assert!(simd.supported(), "direct kernel needs {simd:?}");
    let (p, hw, lanes, uc) = (k / 2, h * w, simd.lanes(), simd.uc());
    let wp = w + 2 * p;
    assert_eq!(x.len(), n * cin * hw, "input length");
    assert_eq!(
        wpk.len(),
        cout.div_ceil(uc) * cin * k * k * uc,
        "weight length"
    );
    assert_eq!(out.len(), n * cout * hw, "output length");
    // Rows per tile: whole images when the padded input fits the target, else equal blocks.
    let fit = (TILE_TARGET_FLOATS / (wp * cin).max(1)).max(1).min(h);
    let tiles = h.div_ceil(fit);
    let rpt = h.div_ceil(tiles);
    let tiles = h.div_ceil(rpt);
    // Whole small images are grouped so that the same row of every image in the group fills a
    // whole number of NV-segment micro-tiles (16x16 images: one zmm segment per row, so rows of
    // 3 images side by side). A micro-tile then lies in one image row, and the kernel rows that
    // read only the zero halo for that row are skipped (see `tap_rows`).
    let segs_per_row = w.div_ceil(lanes);
    let nv = simd.nv();
    let group = if tiles == 1 {
        let g = nv / gcd(segs_per_row, nv);
        let fits = g * cin * (h + 2 * p) * wp <= 2 * TILE_TARGET_FLOATS;
        if fits && g <= n {
            g
        } else {
            1
        }
    } else {
        1
    };
    let out_ptr = SyncPtr(out.as_mut_ptr());
    let threads = rayon::current_num_threads();
    let tasks = if group > 1 {
        n.div_ceil(group)
    } else {
        n * tiles
    };

    let task = |t: usize, inner_parallel: bool| {
        // Either rows y0..y0+rows of one image, or whole images img0..img0+count.
        let (img0, count, y0, rows) = if group > 1 {
            let img0 = t * group;
            (img0, group.min(n - img0), 0, h)
        } else {
            let y0 = (t % tiles) * rpt;
            (t / tiles, 1, y0, rpt.min(h - y0))
        };
        let plane = (rows + 2 * p) * wp;
        let ci_stride = count * plane;
        let len = cin * ci_stride + lanes + k;
        with_scratch(len, |xp| {
            xp.fill(0.0);
            for slot in 0..count {
                let img = img0 + slot;
                let xi = &x[img * cin * hw..(img + 1) * cin * hw];
                fill_padded_at(xi, h, w, p, y0, rows, xp, ci_stride, slot * plane);
            }
            let segs = task_segments(
                TaskRows {
                    count,
                    y0,
                    rows,
                    plane,
                    image_stride: cout * hw,
                    first_image: img0 * cout * hw,
                },
                w,
                wp,
                lanes,
            );
            let xp = &*xp;
            let geom = TileGeom {
                cin,
                cout,
                k,
                h,
                wp,
                ci_stride,
                hw,
                out_len: n * cout * hw,
                segs,
            };
            let blocks = cout.div_ceil(uc);
            let run_block = |b: usize| {
                let wblk = &wpk[b * cin * k * k * uc..(b + 1) * cin * k * k * uc];
                // SAFETY: the CPU supports `simd` (checked above); each (images, channel
                // block, rows) region of `out` is written by exactly one call.
                unsafe {
                    match simd {
                        Simd::Avx512 => channel_block(&geom, xp, wblk, b, out_ptr),
                        Simd::Avx2 => avx2::channel_block(&geom, xp, wblk, b, out_ptr),
                    }
                };
            };
            if inner_parallel {
                (0..blocks).into_par_iter().for_each(run_block);
            } else {
                (0..blocks).for_each(run_block);
            }
        });
    };
    if tasks >= threads {
        (0..tasks).into_par_iter().for_each(|t| task(t, false));
    } else {
        (0..tasks).for_each(|t| task(t, true));
    }
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// What one task's channel blocks need to know.
struct TileGeom {
    cin: usize,
    cout: usize,
    k: usize,
    /// Image height (rows outside `0..h` are the zero halo).
    h: usize,
    wp: usize,
    /// Distance between input channel planes in the padded buffer.
    ci_stride: usize,
    /// Distance between output channels.
    hw: usize,
    /// Length of the whole output, for the bounds check.
    out_len: usize,
    /// Row segments in row-major order across the task's images.
    segs: Vec<Seg>,
}

/// Copies input rows `y0 - p .. y0 + rows + p` of one image `[cin, h, w]` into an already
/// zeroed padded NCHW buffer: `cin` planes of `(rows + 2p) x wp`, `ci_stride` apart, starting
/// at `base` (several images can sit side by side in one buffer, each in its own slot).
#[allow(clippy::too_many_arguments)]
fn fill_padded_at(
    img: &[f32],
    h: usize,
    w: usize,
    p: usize,
    y0: usize,
    rows: usize,
    xp: &mut [f32],
    ci_stride: usize,
    base: usize,
) {
    let wp = w + 2 * p;
    let cin = img.len() / (h * w);
    for ci in 0..cin {
        for r in 0..rows + 2 * p {
            let Some(yy) = (y0 + r).checked_sub(p).filter(|&yy| yy < h) else {
                continue;
            };
            let dst = base + ci * ci_stride + r * wp + p;
            xp[dst..dst + w].copy_from_slice(&img[(ci * h + yy) * w..(ci * h + yy + 1) * w]);
        }
    }
}

/// One row segment of a task: `lanes` (16 or 8) output columns of one image row, fewer (masked)
/// at the end of a row.
#[derive(Clone, Copy, Debug)]
pub(super) struct Seg {
    /// Offset of the segment's first input column (tap `(0, 0)`) in the padded buffer.
    pub(super) x: usize,
    /// Offset of the segment's first output (or output-gradient) value in channel 0.
    pub(super) out: usize,
    /// Lane mask: bit `i` set for the segment's first `len` columns.
    pub(super) mask: u16,
    /// Image row of the segment (`0..h`).
    pub(super) y: usize,
}

/// Which rows of which images a task covers, and where they sit in the padded buffer and in
/// the output.
pub(super) struct TaskRows {
    /// Images side by side in the padded buffer (one slot each).
    pub(super) count: usize,
    /// First image row of the task.
    pub(super) y0: usize,
    /// Rows per image.
    pub(super) rows: usize,
    /// Floats per image slot and input channel in the padded buffer.
    pub(super) plane: usize,
    /// Floats per image in the output (`channels * h * w`).
    pub(super) image_stride: usize,
    /// Output offset of the task's first image.
    pub(super) first_image: usize,
}

/// The task's row segments in row-major order across its images (row `r` of every image, then
/// row `r + 1`), so segments that share a row are neighbours and a run of them shares the
/// kernel rows it can skip.
pub(super) fn task_segments(t: TaskRows, w: usize, wp: usize, lanes: usize) -> Vec<Seg> {
    let mut segs = Vec::with_capacity(t.count * t.rows * w.div_ceil(lanes));
    for r in 0..t.rows {
        let y = t.y0 + r;
        for slot in 0..t.count {
            for c0 in (0..w).step_by(lanes) {
                let len = (w - c0).min(lanes);
                segs.push(Seg {
                    x: slot * t.plane + r * wp + c0,
                    out: t.first_image + slot * t.image_stride + y * w + c0,
                    mask: if len == 16 {
                        u16::MAX
                    } else {
                        (1u16 << len) - 1
                    },
                    y,
                });
            }
        }
    }
    segs
}

/// Kernel rows `dy` that read at least one real input row for output rows `y_min..=y_max` of an
/// image `h` rows high with kernel size `k`: the others read only the zero halo and add nothing.
pub(super) fn tap_rows(y_min: usize, y_max: usize, h: usize, k: usize) -> std::ops::Range<usize> {
    let p = k / 2;
    // Input row y + dy - p must lie in 0..h for some y in y_min..=y_max.
    p.saturating_sub(y_max)..(h + p - y_min).min(k)
}

/// All micro-tiles of one block of `UC` output channels over one task's 16-column row
/// segments (AVX-512).
///
/// # Safety
/// Needs AVX-512F; `out` must be the full `[n, cout, h, w]` output and no other thread may
/// write channels `b * UC ..` of this task's segments meanwhile.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(clippy::needless_range_loop)]
unsafe fn channel_block(g: &TileGeom, xp: &[f32], wblk: &[f32], b: usize, out: SyncPtr) {
    use std::arch::x86_64::*;
    const UC: usize = 8;
    // The weight pointer below walks exactly this many floats.
    assert_eq!(
        wblk.len(),
        g.cin * g.k * g.k * UC,
        "packed weight block length"
    );
    // Largest input index a segment reads beyond its offset, for the bounds checks below.
    let reach = (g.cin - 1) * g.ci_stride + (g.k - 1) * g.wp + (g.k - 1) + 15;
    let last_co = (b * UC + UC).min(g.cout) - 1;
    for group in g.segs.chunks(NV) {
        // A short last group repeats its last segment (computed twice, stored twice).
        let sg: [Seg; NV] = std::array::from_fn(|v| group[v.min(group.len() - 1)]);
        for s in &sg {
            assert!(s.x + reach < xp.len(), "padded tile too short");
            assert!(last_co * g.hw + s.out + s.mask.count_ones() as usize <= g.out_len);
        }
        let taps = tap_rows(sg[0].y, sg[NV - 1].y, g.h, g.k);
        let mut acc = [[_mm512_setzero_ps(); NV]; UC];
        for ci in 0..g.cin {
            let xc = xp.as_ptr().add(ci * g.ci_stride);
            for dy in taps.clone() {
                let xr = xc.add(dy * g.wp);
                let mut wptr = wblk.as_ptr().add(((ci * g.k + dy) * g.k) * UC);
                for dx in 0..g.k {
                    let xs = xr.add(dx);
                    let xv: [__m512; NV] =
                        std::array::from_fn(|v| _mm512_loadu_ps(xs.add(sg[v].x)));
                    for (c, a) in acc.iter_mut().enumerate() {
                        let wv = _mm512_set1_ps(*wptr.add(c));
                        for v in 0..NV {
                            a[v] = _mm512_fmadd_ps(wv, xv[v], a[v]);
                        }
                    }
                    wptr = wptr.add(UC);
                }
            }
        }
        // Indexing by value (not iterating by reference) keeps `acc` in registers.
        for c in 0..UC {
            let co = b * UC + c;
            if co >= g.cout {
                break;
            }
            for v in 0..NV {
                let s = sg[v];
                _mm512_mask_storeu_ps(out.get().add(co * g.hw + s.out), s.mask, acc[c][v]);
            }
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn channel_block(_: &TileGeom, _: &[f32], _: &[f32], _: usize, _: SyncPtr) {
    unreachable!("direct kernel is only used where the CPU supports it")
}
