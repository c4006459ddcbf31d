//! Per-frame work of the loader: widen counts to f32, pool, flip and shift.

/// A stored count type the loader reads (`u8`, `u16`, `u32`).
pub(crate) trait Count: Copy + Send + Sync + 'static {
    fn to_f32(self) -> f32;
}

impl Count for u8 {
    fn to_f32(self) -> f32 {
        f32::from(self)
    }
}
impl Count for u16 {
    fn to_f32(self) -> f32 {
        f32::from(self)
    }
}
impl Count for u32 {
    fn to_f32(self) -> f32 {
        self as f32
    }
}
impl Count for f32 {
    fn to_f32(self) -> f32 {
        self
    }
}

/// What happens to one sample: the same for all of its frames.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct SampleAug {
    /// Mirror left-right (x → W − 1 − x).
    pub flip: bool,
    /// Translation in output pixels, applied after the flip; vacated pixels are zero.
    pub dx: i32,
    /// Vertical translation (positive = down).
    pub dy: i32,
}

/// Geometry of one frame in and out.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FrameGeom {
    pub h: usize,
    pub w: usize,
    /// Pooling factor (1 = none); output is `h / factor` × `w / factor` (remainder rows/columns dropped).
    pub factor: usize,
    /// Divide pooled sums by `factor²`.
    pub average: bool,
}

impl FrameGeom {
    pub fn out_h(&self) -> usize {
        self.h / self.factor
    }
    pub fn out_w(&self) -> usize {
        self.w / self.factor
    }
    pub fn in_len(&self) -> usize {
        2 * self.h * self.w
    }
    pub fn out_len(&self) -> usize {
        2 * self.out_h() * self.out_w()
    }
}

/// Transforms one `[2, H, W]` frame `src` into `dst` (`[2, H/f, W/f]` f32), using `tmp` as scratch.
pub(crate) fn transform_frame<C: Count>(
    src: &[C],
    g: FrameGeom,
    aug: SampleAug,
    tmp: &mut Vec<f32>,
    dst: &mut [f32],
) {
    if g.factor == 1 && aug == SampleAug::default() {
        // The common evaluation case: widen straight into the batch.
        for (d, &s) in dst.iter_mut().zip(src) {
            *d = s.to_f32();
        }
        return;
    }
    let (oh, ow) = (g.out_h(), g.out_w());
    if g.factor == 1 {
        place(src, oh, ow, aug, dst);
        return;
    }
    tmp.clear();
    tmp.resize(2 * oh * ow, 0.0);
    let f = g.factor;
    let scale = if g.average { 1.0 / (f * f) as f32 } else { 1.0 };
    for c in 0..2 {
        for oy in 0..oh {
            let out_row = &mut tmp[(c * oh + oy) * ow..][..ow];
            for i in 0..f {
                let in_row = &src[(c * g.h + oy * f + i) * g.w..][..ow * f];
                for (ox, o) in out_row.iter_mut().enumerate() {
                    *o += in_row[ox * f..][..f]
                        .iter()
                        .map(|v| v.to_f32())
                        .sum::<f32>();
                }
            }
            if g.average {
                out_row.iter_mut().for_each(|o| *o *= scale);
            }
        }
    }
    place(tmp.as_slice(), oh, ow, aug, dst);
}

/// Writes `src` (`[2, h, w]`) into `dst` flipped and shifted: `dst[c][y][x] = src[c][y − dy][x']` with
/// `x' = x − dx`, mirrored (`w − 1 − x'`) when flipping, and zero where that falls outside the frame. Works row by
/// row on contiguous runs so the plain case is a widening copy.
fn place<C: Count>(src: &[C], h: usize, w: usize, aug: SampleAug, dst: &mut [f32]) {
    let (hi, wi) = (h as i32, w as i32);
    // Output columns whose source column x − dx exists.
    let x_lo = aug.dx.clamp(0, wi) as usize;
    let x_hi = (wi + aug.dx).clamp(0, wi) as usize;
    for c in 0..2 {
        for y in 0..h {
            let dst_row = &mut dst[(c * h + y) * w..][..w];
            let sy = y as i32 - aug.dy;
            if !(0..hi).contains(&sy) || x_lo >= x_hi {
                dst_row.fill(0.0);
                continue;
            }
            let src_row = &src[(c * h + sy as usize) * w..][..w];
            dst_row[..x_lo].fill(0.0);
            dst_row[x_hi..].fill(0.0);
            let out = &mut dst_row[x_lo..x_hi];
            // Source columns x − dx for x in [x_lo, x_hi), i.e. [x_lo − dx, x_hi − dx).
            let (s_lo, s_hi) = (
                (x_lo as i32 - aug.dx) as usize,
                (x_hi as i32 - aug.dx) as usize,
            );
            if aug.flip {
                // Mirrored columns w − 1 − s for s ascending: a descending run.
                let run = &src_row[w - s_hi..w - s_lo];
                for (d, v) in out.iter_mut().zip(run.iter().rev()) {
                    *d = v.to_f32();
                }
            } else {
                for (d, v) in out.iter_mut().zip(&src_row[s_lo..s_hi]) {
                    *d = v.to_f32();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn geom(h: usize, w: usize, factor: usize, average: bool) -> FrameGeom {
        FrameGeom {
            h,
            w,
            factor,
            average,
        }
    }

    #[test]
    fn identity_widens() {
        let src: Vec<u8> = (0..2 * 3 * 4).map(|v| v as u8).collect();
        let mut dst = vec![0.0; src.len()];
        transform_frame(
            &src,
            geom(3, 4, 1, false),
            SampleAug::default(),
            &mut Vec::new(),
            &mut dst,
        );
        assert_eq!(dst, src.iter().map(|&v| v as f32).collect::<Vec<_>>());
    }

    #[test]
    fn flip_and_shift_move_a_single_event() {
        // One event at channel 1, y = 1, x = 0 of a 4x5 frame.
        let (h, w) = (4, 5);
        let mut src = vec![0u16; 2 * h * w];
        src[h * w + w] = 7;
        let find = |d: &[f32]| -> Vec<(usize, usize, usize, f32)> {
            d.iter()
                .enumerate()
                .filter(|(_, &v)| v != 0.0)
                .map(|(i, &v)| (i / (h * w), i % (h * w) / w, i % w, v))
                .collect()
        };
        let mut dst = vec![0.0; 2 * h * w];
        let g = geom(h, w, 1, false);
        transform_frame(
            &src,
            g,
            SampleAug {
                flip: true,
                dx: 0,
                dy: 0,
            },
            &mut Vec::new(),
            &mut dst,
        );
        assert_eq!(find(&dst), vec![(1, 1, 4, 7.0)]);
        transform_frame(
            &src,
            g,
            SampleAug {
                flip: false,
                dx: 2,
                dy: 1,
            },
            &mut Vec::new(),
            &mut dst,
        );
        assert_eq!(find(&dst), vec![(1, 2, 2, 7.0)]);
        // Flip first (x=4), then shift left by 1 (x=3) and up by 1 (y=0).
        transform_frame(
            &src,
            g,
            SampleAug {
                flip: true,
                dx: -1,
                dy: -1,
            },
            &mut Vec::new(),
            &mut dst,
        );
        assert_eq!(find(&dst), vec![(1, 0, 3, 7.0)]);
        // Shifted out of the frame: zero fill, nothing left.
        transform_frame(
            &src,
            g,
            SampleAug {
                flip: false,
                dx: -1,
                dy: 0,
            },
            &mut Vec::new(),
            &mut dst,
        );
        assert!(find(&dst).is_empty());
        transform_frame(
            &src,
            g,
            SampleAug {
                flip: false,
                dx: 0,
                dy: 3,
            },
            &mut Vec::new(),
            &mut dst,
        );
        assert!(find(&dst).is_empty());
    }

    #[test]
    fn pooling_sums_and_averages() {
        // 1 channel pair of 4x6 frames, factor 2 -> 2x3; an extra odd row/col would be dropped.
        let (h, w) = (5, 6);
        let src: Vec<u32> = (0..(2 * h * w) as u32).collect();
        let mut dst = vec![0.0; 2 * 2 * 3];
        transform_frame(
            &src,
            geom(h, w, 2, false),
            SampleAug::default(),
            &mut Vec::new(),
            &mut dst,
        );
        for c in 0..2 {
            for oy in 0..2 {
                for ox in 0..3 {
                    let mut s = 0;
                    for i in 0..2 {
                        for j in 0..2 {
                            s += src[(c * h + oy * 2 + i) * w + ox * 2 + j];
                        }
                    }
                    assert_eq!(dst[(c * 2 + oy) * 3 + ox], s as f32);
                }
            }
        }
        let total: f32 = dst.iter().sum();
        let mut avg = vec![0.0; dst.len()];
        transform_frame(
            &src,
            geom(h, w, 2, true),
            SampleAug::default(),
            &mut Vec::new(),
            &mut avg,
        );
        assert_eq!(avg.iter().sum::<f32>(), total / 4.0);
    }

    #[test]
    fn matches_naive_flip_shift_for_every_offset() {
        let (h, w) = (5, 7);
        let src: Vec<u16> = (0..2 * h * w).map(|v| v as u16 + 1).collect();
        let g = geom(h, w, 1, false);
        for flip in [false, true] {
            for dy in -6..=6 {
                for dx in -8..=8 {
                    let aug = SampleAug { flip, dx, dy };
                    let mut dst = vec![-1.0; 2 * h * w];
                    transform_frame(&src, g, aug, &mut Vec::new(), &mut dst);
                    for c in 0..2 {
                        for y in 0..h as i32 {
                            for x in 0..w as i32 {
                                let (sy, sx) = (y - dy, x - dx);
                                let want =
                                    if (0..h as i32).contains(&sy) && (0..w as i32).contains(&sx) {
                                        let sx = if flip { w as i32 - 1 - sx } else { sx };
                                        src[(c * h + sy as usize) * w + sx as usize] as f32
                                    } else {
                                        0.0
                                    };
                                let got = dst[(c * h + y as usize) * w + x as usize];
                                assert_eq!(
                                    got, want,
                                    "flip {flip} dx {dx} dy {dy} c {c} y {y} x {x}"
                                );
                            }
                        }
                    }
                }
            }
        }
    }
}
