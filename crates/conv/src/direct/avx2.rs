//! AVX2 + FMA micro-kernels: the same tiling as the AVX-512 ones (see the parent module) on
//! 8-float ymm vectors. With 16 registers the forward tile is 4 output channels x 2 segments
//! (8 accumulators, 2 input vectors, 1 broadcast weight: room to spare, so nothing spills; 4 x 3
//! filled all 16 and spilled accumulators); AVX2 has no mask registers, so partial row segments
//! use `vmaskmovps` with a lane mask built from the segment length.

use super::{tap_rows, Seg, TileGeom};
use crate::kernel::SyncPtr;

/// Output channels per AVX2 forward micro-tile (must equal `Simd::Avx2.uc()`).
const UC: usize = 4;
/// Segments per AVX2 forward micro-tile (must equal `Simd::Avx2.nv()`).
const NV: usize = 2;

/// Lane mask for a prefix of `len` (0..=8) of 8 lanes: all bits set in the lanes to keep.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
pub(super) unsafe fn prefix_mask(len: u32) -> std::arch::x86_64::__m256i {
    use std::arch::x86_64::*;
    _mm256_cmpgt_epi32(
        _mm256_set1_epi32(len as i32),
        _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
    )
}

/// All micro-tiles of one block of `UC` output channels over one task's 8-column row segments.
///
/// # Safety
/// Needs AVX2 and FMA; `out` must be the full `[n, cout, h, w]` output and no other thread may
/// write channels `b * UC ..` of this task's segments meanwhile.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::needless_range_loop)]
pub(super) unsafe fn channel_block(g: &TileGeom, xp: &[f32], wblk: &[f32], b: usize, out: SyncPtr) {
    use std::arch::x86_64::*;
    // The weight pointer below walks exactly this many floats.
    assert_eq!(
        wblk.len(),
        g.cin * g.k * g.k * UC,
        "packed weight block length"
    );
    // Largest input index a segment reads beyond its offset, for the bounds checks below.
    let reach = (g.cin - 1) * g.ci_stride + (g.k - 1) * g.wp + (g.k - 1) + 7;
    let last_co = (b * UC + UC).min(g.cout) - 1;
    for group in g.segs.chunks(NV) {
        // A short last group repeats its last segment (computed twice, stored twice).
        let sg: [Seg; NV] = std::array::from_fn(|v| group[v.min(group.len() - 1)]);
        for s in &sg {
            assert!(s.x + reach < xp.len(), "padded tile too short");
            assert!(last_co * g.hw + s.out + s.mask.count_ones() as usize <= g.out_len);
        }
        let taps = tap_rows(sg[0].y, sg[NV - 1].y, g.h, g.k);
        let mut acc = [[_mm256_setzero_ps(); NV]; UC];
        for ci in 0..g.cin {
            let xc = xp.as_ptr().add(ci * g.ci_stride);
            for dy in taps.clone() {
                let xr = xc.add(dy * g.wp);
                let mut wptr = wblk.as_ptr().add(((ci * g.k + dy) * g.k) * UC);
                for dx in 0..g.k {
                    let xs = xr.add(dx);
                    let xv: [__m256; NV] =
                        std::array::from_fn(|v| _mm256_loadu_ps(xs.add(sg[v].x)));
                    for (c, a) in acc.iter_mut().enumerate() {
                        let wv = _mm256_broadcast_ss(&*wptr.add(c));
                        for v in 0..NV {
                            a[v] = _mm256_fmadd_ps(wv, xv[v], a[v]);
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
                let dst = out.get().add(co * g.hw + s.out);
                if s.mask == 0xff {
                    _mm256_storeu_ps(dst, acc[c][v]);
                } else {
                    _mm256_maskstore_ps(dst, prefix_mask(s.mask.count_ones()), acc[c][v]);
                }
            }
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
pub(super) unsafe fn channel_block(_: &TileGeom, _: &[f32], _: &[f32], _: usize, _: SyncPtr) {
    unreachable!("direct kernel is only used where the CPU supports it")
}

/// Adds one task's weight gradient into `acc [cout][cin][K][K]` (8-column segments; see
/// `wgrad.rs` for the AVX-512 twin). `UCO` output channels x `K` taps of one kernel row are
/// accumulated over all segments; the `UCO` gradient vectors are loaded once per segment and
/// the `K` input vectors streamed, so `UCO * K + UCO + 1 <= 16` registers (3 x 3, 2 x 5,
/// 1 x 7).
///
/// # Safety
/// Needs AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::needless_range_loop)]
pub(super) unsafe fn wgrad_tile<const UCO: usize, const K: usize>(
    t: &super::wgrad::WTile,
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
        assert!((t.cin - 1) * t.ci_stride + (K - 1) * t.wp + (K - 1) + seg.x + 8 <= xp.len());
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
                let mut s = [[_mm256_setzero_ps(); K]; UCO];
                for seg in &t.segs[segs.clone()] {
                    let xs = xr.add(seg.x);
                    let mut gv = [_mm256_setzero_ps(); UCO];
                    if seg.mask == 0xff {
                        for c in 0..UCO {
                            gv[c] = _mm256_loadu_ps(gptr[c].add(seg.out));
                        }
                    } else {
                        // Row end: lanes past it read nothing and add zero.
                        let m = prefix_mask(seg.mask.count_ones());
                        for c in 0..UCO {
                            gv[c] = _mm256_maskload_ps(gptr[c].add(seg.out), m);
                        }
                    }
                    for dx in 0..K {
                        let xv = _mm256_loadu_ps(xs.add(dx));
                        for c in 0..UCO {
                            s[c][dx] = _mm256_fmadd_ps(gv[c], xv, s[c][dx]);
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
                        acc[base + dx] += hsum(s[c][dx]);
                    }
                }
            }
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
pub(super) unsafe fn wgrad_tile<const UCO: usize, const K: usize>(
    _: &super::wgrad::WTile,
    _: &[f32],
    _: &[f32],
    _: &mut [f32],
) {
    unreachable!("direct kernel is only used where the CPU supports it")
}

/// Sum of the 8 lanes.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn hsum(v: std::arch::x86_64::__m256) -> f32 {
    use std::arch::x86_64::*;
    let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    let s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    _mm_cvtss_f32(s)
}
