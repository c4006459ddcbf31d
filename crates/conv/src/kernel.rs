//! Tiled implicit-GEMM kernels for stride-1 "same" convolution on raw f32 slices.
//!
//! # Why this layout
//!
//! A tile of input rows is copied (with its zero halo) into a padded, channels-last scratch
//! buffer `xp[(r * wp + c) * cin + ci]`, `wp = w + 2p`. Output pixels are indexed on the padded
//! width grid `j = y * wp + x` (`x < wp`; columns `x >= w` are junk and dropped afterwards).
//! For a fixed kernel row `dy`, the im2col matrix with rows `(dx, ci)` and columns `j` is then
//! the plain strided view `xp[dy * wp * cin + (dx * cin + ci) + j * cin]`: row stride 1, column
//! stride `cin`. So each convolution is `k` GEMMs of depth `k * cin` over views of a buffer
//! one tile large, with no im2col copy; the `gemm` crate packs those views into its own
//! cache-sized panels as it goes. The junk columns cost `2p / w` extra work.
//!
//! Weights are used in the layout `[cout][dy][dx][ci]` (`wr`), which makes the `dy` slice of
//! the weight matrix a strided view as well.

use gemm::Parallelism;
use rayon::prelude::*;
use std::cell::RefCell;

/// Floats a tile's scratch buffers aim for (1 MiB): about the L2 cache of one core.
const TILE_TARGET_FLOATS: usize = 256 * 1024;

/// Problem geometry: `x [n, cin, h, w]`, kernel `k x k`, output `[n, cout, h, w]`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Geom {
    pub n: usize,
    pub cin: usize,
    pub cout: usize,
    pub h: usize,
    pub w: usize,
    pub k: usize,
}

impl Geom {
    fn pad(&self) -> usize {
        self.k / 2
    }

    fn wp(&self) -> usize {
        self.w + 2 * self.pad()
    }

    /// Rows per tile: whole images when they fit the target, otherwise equal row blocks.
    fn rows_per_tile(&self) -> usize {
        let per_row = self.wp() * self.cin.max(self.cout);
        let fit = (TILE_TARGET_FLOATS / per_row.max(1)).max(1);
        let tiles = self.h.div_ceil(fit.min(self.h).max(1));
        self.h.div_ceil(tiles.max(1))
    }

    fn tiles_per_image(&self) -> usize {
        self.h.div_ceil(self.rows_per_tile())
    }

    /// Length of the padded channels-last scratch for a tile of `rows` output rows. The tail
    /// of `2p * cin` zeros covers what the junk columns of the last row read past the end.
    fn xp_len(&self, rows: usize) -> usize {
        let p = self.pad();
        ((rows + 2 * p) * self.wp() + 2 * p) * self.cin
    }
}

thread_local! {
    /// Per-thread scratch, grown to the largest tile seen and reused across calls.
    static SCRATCH: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` on this thread's scratch buffer (at least `len` floats, contents unspecified).
///
/// The buffer is taken out of the thread-local for the duration, not borrowed: while `f` waits
/// on nested rayon work, this thread may run another tile that needs scratch too, and that one
/// then allocates its own instead of hitting a `RefCell` double borrow.
pub(crate) fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    let mut buf = SCRATCH.with(|s| std::mem::take(&mut *s.borrow_mut()));
    if buf.len() < len {
        buf.resize(len, 0.0);
    }
    let r = f(&mut buf[..len]);
    SCRATCH.with(|s| {
        let mut s = s.borrow_mut();
        if s.len() < buf.len() {
            *s = buf;
        }
    });
    r
}

/// A raw output pointer that tasks writing disjoint parts of one output (tiles of rows, images,
/// channel blocks) may share across threads; also used by [`crate::direct`].
#[derive(Clone, Copy)]
pub(crate) struct SyncPtr(pub(crate) *mut f32);
// SAFETY: every user writes a range no other task touches (see each call site's SAFETY note).
unsafe impl Send for SyncPtr {}
unsafe impl Sync for SyncPtr {}

impl SyncPtr {
    /// A method (not field access) so closures capture the whole `Sync` wrapper.
    pub(crate) fn get(self) -> *mut f32 {
        self.0
    }
}

/// Runs `task(i, parallelism)` for every tile index: in parallel over tiles when there are
/// enough of them to keep every thread busy, otherwise one by one with a multi-threaded GEMM.
fn for_each_tile(tasks: usize, task: impl Fn(usize, Parallelism) + Sync) {
    let threads = rayon::current_num_threads();
    if tasks >= threads {
        (0..tasks)
            .into_par_iter()
            .for_each(|i| task(i, Parallelism::None));
    } else {
        (0..tasks).for_each(|i| task(i, Parallelism::Rayon(0)));
    }
}

/// Copies input rows `y0 - p .. y0 + rows + p` of one image (`[cin, h, w]`) into the padded
/// channels-last tile `xp` (see the module docs), zeros outside the image.
fn fill_padded_nhwc(g: &Geom, img: &[f32], y0: usize, rows: usize, xp: &mut [f32]) {
    let (p, wp, c) = (g.pad(), g.wp(), g.cin);
    xp.fill(0.0);
    for r in 0..rows + 2 * p {
        let Some(yy) = (y0 + r).checked_sub(p).filter(|&yy| yy < g.h) else {
            continue;
        };
        let dst_row = &mut xp[(r * wp + p) * c..(r * wp + p + g.w) * c];
        for ci in 0..c {
            let src = &img[(ci * g.h + yy) * g.w..(ci * g.h + yy + 1) * g.w];
            for (xx, &v) in src.iter().enumerate() {
                dst_row[xx * c + ci] = v;
            }
        }
    }
}

/// Rearranges weights `[cout, cin, k, k]` into `[cout][dy][dx][ci]`.
pub(crate) fn weights_to_wr(w: &[f32], cout: usize, cin: usize, k: usize) -> Vec<f32> {
    let mut wr = vec![0.0; w.len()];
    for co in 0..cout {
        for ci in 0..cin {
            for t in 0..k * k {
                wr[(co * k * k + t) * cin + ci] = w[(co * cin + ci) * k * k + t];
            }
        }
    }
    wr
}

/// Weights of the input-gradient convolution in the standard layout: `[cin][cout][k][k]`
/// holding `w[co][ci][k-1-dy][k-1-dx]` (kernel flipped, in/out channels swapped).
pub(crate) fn flip_transpose(w: &[f32], cout: usize, cin: usize, k: usize) -> Vec<f32> {
    let mut wt = vec![0.0; w.len()];
    let kk = k * k;
    for co in 0..cout {
        for ci in 0..cin {
            for t in 0..kk {
                wt[(ci * cout + co) * kk + (kk - 1 - t)] = w[(co * cin + ci) * kk + t];
            }
        }
    }
    wt
}

/// Rearranges a weight gradient from `[cout][dy][dx][ci]` back to `[cout, cin, k, k]`.
pub(crate) fn wr_to_weights(wr: &[f32], cout: usize, cin: usize, k: usize) -> Vec<f32> {
    let mut w = vec![0.0; wr.len()];
    for co in 0..cout {
        for t in 0..k * k {
            for ci in 0..cin {
                w[(co * cin + ci) * k * k + t] = wr[(co * k * k + t) * cin + ci];
            }
        }
    }
    w
}

/// Forward convolution: `out [n, cout, h, w] = conv(x [n, cin, h, w], wr)`, `wr` in
/// `[cout][dy][dx][ci]` layout. `out` is fully overwritten.
pub(crate) fn conv_forward(g: &Geom, x: &[f32], wr: &[f32], out: &mut [f32]) {
    let (hw, wp, k) = (g.h * g.w, g.wp(), g.k);
    assert_eq!(x.len(), g.n * g.cin * hw, "input length");
    assert_eq!(wr.len(), g.cout * k * k * g.cin, "weight length");
    assert_eq!(out.len(), g.n * g.cout * hw, "output length");
    if k == 1 {
        return pointwise_forward(g, x, wr, out);
    }
    let rpt = g.rows_per_tile();
    let tpi = g.tiles_per_image();
    let out_ptr = SyncPtr(out.as_mut_ptr());
    for_each_tile(g.n * tpi, |task, par| {
        let (img, tile) = (task / tpi, task % tpi);
        let y0 = tile * rpt;
        let rows = rpt.min(g.h - y0);
        let xp_len = g.xp_len(rows);
        let cols = rows * wp;
        with_scratch(xp_len + g.cout * cols, |buf| {
            let (xp, op) = buf.split_at_mut(xp_len);
            fill_padded_nhwc(
                g,
                &x[img * g.cin * hw..(img + 1) * g.cin * hw],
                y0,
                rows,
                xp,
            );
            let kc = k * g.cin;
            for dy in 0..k {
                // SAFETY: op is cout x cols (row stride cols); the weight view reads
                // wr[co*k*k*cin + dy*k*cin + 0..k*cin]; the input view's largest index is
                // (dy*wp + cols - 1)*cin + k*cin - 1 < xp_len (see Geom::xp_len).
                unsafe {
                    gemm::gemm(
                        g.cout,
                        cols,
                        kc,
                        op.as_mut_ptr(),
                        1,
                        cols as isize,
                        dy > 0,
                        wr.as_ptr().add(dy * kc),
                        1,
                        (k * kc) as isize,
                        xp.as_ptr().add(dy * wp * g.cin),
                        g.cin as isize,
                        1,
                        1.0,
                        1.0,
                        false,
                        false,
                        false,
                        par,
                    );
                }
            }
            // Drop the junk columns while copying the tile into its rows of the output.
            for co in 0..g.cout {
                for r in 0..rows {
                    let src = &op[co * cols + r * wp..co * cols + r * wp + g.w];
                    let dst_off = ((img * g.cout + co) * g.h + y0 + r) * g.w;
                    // SAFETY: (img, co, y0 + r) rows are written by this task only and lie
                    // inside `out` (length checked above).
                    unsafe {
                        std::ptr::copy_nonoverlapping(
                            src.as_ptr(),
                            out_ptr.get().add(dst_off),
                            g.w,
                        );
                    }
                }
            }
        });
    });
}

/// Weight gradient: returns `sum_n corr(x[n], gout[n])` in `[cout][dy][dx][ci]` layout.
pub(crate) fn conv_weight_grad(g: &Geom, x: &[f32], gout: &[f32]) -> Vec<f32> {
    let (hw, wp, k) = (g.h * g.w, g.wp(), g.k);
    assert_eq!(x.len(), g.n * g.cin * hw, "input length");
    assert_eq!(gout.len(), g.n * g.cout * hw, "gradient length");
    let rpt = g.rows_per_tile();
    let tpi = g.tiles_per_image();
    let wlen = g.cout * k * k * g.cin;

    let tile = |task: usize, acc: &mut [f32], par: Parallelism| {
        if k == 1 {
            return pointwise_weight_grad(
                g,
                &x[task * g.cin * hw..],
                &gout[task * g.cout * hw..],
                acc,
                par,
            );
        }
        let (img, t) = (task / tpi, task % tpi);
        let y0 = t * rpt;
        let rows = rpt.min(g.h - y0);
        let xp_len = g.xp_len(rows);
        let cols = rows * wp;
        with_scratch(xp_len + g.cout * cols, |buf| {
            let (xp, gop) = buf.split_at_mut(xp_len);
            fill_padded_nhwc(
                g,
                &x[img * g.cin * hw..(img + 1) * g.cin * hw],
                y0,
                rows,
                xp,
            );
            // Output gradient on the padded width grid, zeros in the junk columns so they
            // add nothing to the correlation.
            gop.fill(0.0);
            for co in 0..g.cout {
                for r in 0..rows {
                    let src_off = ((img * g.cout + co) * g.h + y0 + r) * g.w;
                    gop[co * cols + r * wp..co * cols + r * wp + g.w]
                        .copy_from_slice(&gout[src_off..src_off + g.w]);
                }
            }
            let kc = k * g.cin;
            for dy in 0..k {
                // SAFETY: acc is cout x (k*kc) and this writes its dy block; gop is
                // cout x cols; the input view (transposed) reads the same range as in
                // conv_forward, inside xp.
                unsafe {
                    gemm::gemm(
                        g.cout,
                        kc,
                        cols,
                        acc.as_mut_ptr().add(dy * kc),
                        1,
                        (k * kc) as isize,
                        true,
                        gop.as_ptr(),
                        1,
                        cols as isize,
                        xp.as_ptr().add(dy * wp * g.cin),
                        1,
                        g.cin as isize,
                        1.0,
                        1.0,
                        false,
                        false,
                        false,
                        par,
                    );
                }
            }
        });
    };
    let tasks = if k == 1 { g.n } else { g.n * tpi };
    accumulate_over_tiles(tasks, wlen, tile)
}

/// Runs `tile(i, acc, parallelism)` for every tile and returns the sum of the accumulators:
/// one accumulator per thread (contiguous runs of tiles), added up at the end.
fn accumulate_over_tiles(
    tasks: usize,
    wlen: usize,
    tile: impl Fn(usize, &mut [f32], Parallelism) + Sync,
) -> Vec<f32> {
    let threads = rayon::current_num_threads();
    if tasks < threads {
        let mut acc = vec![0.0; wlen];
        (0..tasks).for_each(|i| tile(i, &mut acc, Parallelism::Rayon(0)));
        return acc;
    }
    let chunks = threads.min(tasks);
    let mut accs: Vec<Vec<f32>> = (0..chunks)
        .into_par_iter()
        .map(|c| {
            let mut acc = vec![0.0; wlen];
            let (lo, hi) = (c * tasks / chunks, (c + 1) * tasks / chunks);
            (lo..hi).for_each(|i| tile(i, &mut acc, Parallelism::None));
            acc
        })
        .collect();
    let mut total = accs.swap_remove(0);
    for a in &accs {
        total.iter_mut().zip(a).for_each(|(t, v)| *t += v);
    }
    total
}

/// 1x1 kernels need no padding or layout change: per image, `out = wr [cout, cin] * x [cin, hw]`.
fn pointwise_forward(g: &Geom, x: &[f32], wr: &[f32], out: &mut [f32]) {
    let hw = g.h * g.w;
    let out_ptr = SyncPtr(out.as_mut_ptr());
    for_each_tile(g.n, |img, par| {
        let xi = &x[img * g.cin * hw..(img + 1) * g.cin * hw];
        // SAFETY: image `img` of `out` (cout x hw, checked by the caller) is written by this
        // task only; wr is cout x cin and xi cin x hw, both row-major.
        unsafe {
            gemm::gemm(
                g.cout,
                hw,
                g.cin,
                out_ptr.get().add(img * g.cout * hw),
                1,
                hw as isize,
                false,
                wr.as_ptr(),
                1,
                g.cin as isize,
                xi.as_ptr(),
                1,
                hw as isize,
                1.0,
                1.0,
                false,
                false,
                false,
                par,
            );
        }
    });
}

/// 1x1 weight gradient of one image: `acc [cout, cin] += gout [cout, hw] * x^T [hw, cin]`.
fn pointwise_weight_grad(g: &Geom, x: &[f32], gout: &[f32], acc: &mut [f32], par: Parallelism) {
    let hw = g.h * g.w;
    assert!(x.len() >= g.cin * hw && gout.len() >= g.cout * hw && acc.len() == g.cout * g.cin);
    // SAFETY: lengths checked just above.
    unsafe {
        gemm::gemm(
            g.cout,
            g.cin,
            hw,
            acc.as_mut_ptr(),
            1,
            g.cin as isize,
            true,
            gout.as_ptr(),
            1,
            hw as isize,
            x.as_ptr(),
            hw as isize,
            1,
            1.0,
            1.0,
            false,
            false,
            false,
            par,
        );
    }
}
