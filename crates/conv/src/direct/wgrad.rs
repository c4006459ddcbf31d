//! Direct weight gradient, AVX-512 or AVX2 (see the parent module for the padded layout).

use super::{avx2, fill_padded_at, task_segments, Seg, Simd, TaskRows, TILE_TARGET_FLOATS};
use crate::kernel::with_scratch;
use rayon::prelude::*;

/// Weight gradient `sum_n corr(x[n], gout[n])` as `[cout][cin][k][k]`, for `k` in 3, 5, 7
/// (see [`wgrad_supported`]). Panics if the CPU lacks `simd`.
///
/// Per task (a tile of rows, or a few whole small images), the input is padded as in the
/// forward pass and cut into the same 16-column row segments; the output gradient is read in
/// place with masked loads, so columns past the row end add nothing. The micro-kernel takes
/// `UCO` output channels and the `k` taps of one kernel row `(ci, dy, 0..k)`, runs over all
/// segments of the task with `UCO * k` vector accumulators (`UCO * k <= 24` with AVX-512; see
/// `avx2.rs` for the AVX2 sizes), and reduces each to one sum.
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
        simd.supported() && wgrad_supported(k),
        "direct weight gradient for k = {k} on {simd:?}"
    );
    let (p, hw, lanes) = (k / 2, h * w, simd.lanes());
    let wp = w + 2 * p;
    assert_eq!(x.len(), n * cin * hw, "input length");
    assert_eq!(gout.len(), n * cout * hw, "gradient length");
    let fit = (TILE_TARGET_FLOATS / (wp * cin).max(1)).max(1).min(h);
    let tiles = h.div_ceil(fit);
    let rpt = h.div_ceil(tiles);
    let tiles = h.div_ceil(rpt);
    // Small images are grouped (`group` images per task) so each accumulator runs over at
    // least ~64 16-float row segments before its horizontal sum: that sum is the overhead here.
    let segs_per_image = h * w.div_ceil(lanes);
    let plane_full = (h + 2 * p) * wp;
    let group = if tiles == 1 {
        (64 * 16 / lanes)
            .div_ceil(segs_per_image)
            .min(2 * TILE_TARGET_FLOATS / (cin * plane_full).max(1))
            // Keep at least one task per thread.
            .min(n.div_ceil(rayon::current_num_threads()))
            .clamp(1, n.max(1))
    } else {
        1
    };
    let tasks = if tiles == 1 {
        n.div_ceil(group)
    } else {
        n * tiles
    };
    let wlen = cout * cin * k * k;

    let tile = |t: usize, acc: &mut [f32]| {
        // Either rows y0..y0+rows of one image, or whole images img0..img0+count.
        let (img0, count, y0, rows) = if tiles == 1 {
            let img0 = t * group;
            (img0, group.min(n - img0), 0, h)
        } else {
            let y0 = (t % tiles) * rpt;
            (t / tiles, 1, y0, rpt.min(h - y0))
        };
        let plane = (rows + 2 * p) * wp;
        let ci_stride = count * plane;
        let xlen = cin * ci_stride + lanes + k;
        with_scratch(xlen, |xp| {
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
            let t = WTile {
                cin,
                cout,
                k,
                h,
                wp,
                ci_stride,
                hw,
                segs,
            };
            // SAFETY: the CPU supports `simd` (checked above); buffer lengths are checked
            // inside.
            unsafe {
                match (simd, k) {
                    (Simd::Avx512, 3) => wgrad_tile::<8, 3>(&t, xp, gout, acc),
                    (Simd::Avx512, 5) => wgrad_tile::<4, 5>(&t, xp, gout, acc),
                    (Simd::Avx512, _) => wgrad_tile::<3, 7>(&t, xp, gout, acc),
                    (Simd::Avx2, 3) => avx2::wgrad_tile::<3, 3>(&t, xp, gout, acc),
                    (Simd::Avx2, 5) => avx2::wgrad_tile::<2, 5>(&t, xp, gout, acc),
                    (Simd::Avx2, _) => avx2::wgrad_tile::<1, 7>(&t, xp, gout, acc),
                }
            }
        });
    };

    let threads = rayon::current_num_threads().min(tasks).max(1);
    let mut accs: Vec<Vec<f32>> = (0..threads)
        .into_par_iter()
        .map(|c| {
            let mut acc = vec![0.0; wlen];
            (c * tasks / threads..(c + 1) * tasks / threads).for_each(|i| tile(i, &mut acc));
            acc
        })
        .collect();
    let mut total = accs.swap_remove(0);
    for a in &accs {
        total.iter_mut().zip(a).for_each(|(t, v)| *t += v);
    }
    total
}

/// Kernel sizes the direct weight gradient handles.
pub(crate) fn wgrad_supported(k: usize) -> bool {
    matches!(k, 3 | 5 | 7)
}

/// One task's geometry for the weight gradient.
pub(super) struct WTile {
    pub(super) cin: usize,
    pub(super) cout: usize,
    pub(super) k: usize,
    /// Image height (rows outside `0..h` are the zero halo).
    pub(super) h: usize,
    pub(super) wp: usize,
    /// Distance between input channel planes in the padded buffer.
    pub(super) ci_stride: usize,
    /// Distance between output-gradient channels.
    pub(super) hw: usize,
    /// Row segments in row-major order ([`task_segments`]); `out` is the output-gradient offset.
    pub(super) segs: Vec<Seg>,
}

impl WTile {
    /// For each kernel row `dy`, the run of segments whose input row `y + dy - k / 2` is a real
    /// row: the others would only multiply the zero halo. Segments are sorted by row, so each
    /// run is contiguous.
    pub(super) fn tap_ranges(&self) -> Vec<std::ops::Range<usize>> {
        let p = self.k / 2;
        (0..self.k)
            .map(|dy| {
                // Real input rows y + dy - p in 0..h: y in p - dy .. h + p - dy.
                let (lo_y, hi_y) = (p.saturating_sub(dy), (self.h + p).saturating_sub(dy));
                let lo = self.segs.partition_point(|s| s.y < lo_y);
                let hi = self.segs.partition_point(|s| s.y < hi_y);
                lo..hi.max(lo)
            })
            .collect()
    }
}

/// Adds one task's weight gradient into `acc [cout][cin][K][K]`; `gout` is the whole output
/// gradient.
///
/// # Safety
/// Needs AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(clippy::needless_range_loop)]
unsafe fn wgrad_tile<const UCO: usize, const K: usize>(
    t: &WTile,
    xp: &[f32],
    gout: &[f32],
    acc: &mut [f32],
) {
    use std::arch::x86_64::*;
    assert_eq!(t.k, K);
    assert_eq!(acc.len(), t.cout * t.cin * K * K);
    // Largest indices read: input (last plane, kernel row, tap, lane) and gradient (last
    // channel; masked lanes are not read).
    for seg in &t.segs {
        assert!((t.cin - 1) * t.ci_stride + (K - 1) * t.wp + (K - 1) + seg.x + 16 <= xp.len());
        assert!((t.cout - 1) * t.hw + seg.out + seg.mask.count_ones() as usize <= gout.len());
    }
    let ranges = t.tap_ranges();
    for cb in 0..t.cout.div_ceil(UCO) {
        // Channels past the end repeat the last one; their sums are dropped.
        let gptr: [*const f32; UCO] =
            std::array::from_fn(|c| gout.as_ptr().add((cb * UCO + c).min(t.cout - 1) * t.hw));
        for ci in 0..t.cin {
            for (dy, segs) in ranges.iter().enumerate() {
                if segs.is_empty() {
                    continue;
                }
                let xr = xp.as_ptr().add(ci * t.ci_stride + dy * t.wp);
                let mut s = [[_mm512_setzero_ps(); K]; UCO];
                for seg in &t.segs[segs.clone()] {
                    let (xs, g_off, mask) = (xr.add(seg.x), seg.out, seg.mask);
                    if UCO * (K + 1) <= 28 {
                        // Few enough registers to hold all gradient vectors: load them once,
                        // then one input vector per tap.
                        let mut gv = [_mm512_setzero_ps(); UCO];
                        for c in 0..UCO {
                            gv[c] = _mm512_maskz_loadu_ps(mask, gptr[c].add(g_off));
                        }
                        for dx in 0..K {
                            let xv = _mm512_loadu_ps(xs.add(dx));
                            for c in 0..UCO {
                                s[c][dx] = _mm512_fmadd_ps(gv[c], xv, s[c][dx]);
                            }
                        }
                    } else {
                        // Otherwise hold the K input vectors and stream the gradient ones.
                        let mut xv = [_mm512_setzero_ps(); K];
                        for dx in 0..K {
                            xv[dx] = _mm512_loadu_ps(xs.add(dx));
                        }
                        for c in 0..UCO {
                            let gv = _mm512_maskz_loadu_ps(mask, gptr[c].add(g_off));
                            for dx in 0..K {
                                s[c][dx] = _mm512_fmadd_ps(gv, xv[dx], s[c][dx]);
                            }
                        }
                    }
                }
                // Indexing by value (not iterating by reference) keeps `s` in registers.
                for c in 0..UCO {
                    let co = cb * UCO + c;
                    if co >= t.cout {
                        break;
                    }
                    let base = ((co * t.cin + ci) * K + dy) * K;
                    for dx in 0..K {
                        acc[base + dx] += _mm512_reduce_add_ps(s[c][dx]);
                    }
                }
            }
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn wgrad_tile<const UCO: usize, const K: usize>(
    _: &WTile,
    _: &[f32],
    _: &[f32],
    _: &mut [f32],
) {
    unreachable!("direct kernel is only used where the CPU supports it")
}
