//! Pillow's bilinear resampling (`Image.resize(..., Image.BILINEAR)`, which torchvision 0.15 calls
//! for PIL images), bit for bit: antialiased (the triangle filter widens by the downscale
//! factor), 22-bit fixed-point coefficients, horizontal pass first with a rounded 8-bit
//! intermediate, then the vertical pass. Mirrors `libImaging/Resample.c` (`precompute_coeffs`,
//! `normalize_coeffs_8bpc`, `ImagingResampleHorizontal_8bpc`, `ImagingResampleVertical_8bpc`).

use crate::geometry::Window;
use snnkit_datasets::RgbImage;

/// Pillow's `PRECISION_BITS` for 8-bit images: `32 - 8 - 2`.
const PRECISION_BITS: u32 = 22;

/// Coefficients of one axis: per kept output pixel, the first span pixel it reads, and its
/// weights (fixed point, `ksize` slots each, unused slots zero).
struct Axis {
    first: Vec<usize>,
    count: Vec<usize>,
    k: Vec<i32>,
    ksize: usize,
}

fn bilinear(x: f64) -> f64 {
    let x = x.abs();
    if x < 1.0 {
        1.0 - x
    } else {
        0.0
    }
}

/// `precompute_coeffs(inSize = len, in0 = 0, in1 = len, outSize = out_total)` for the kept
/// outputs only; outputs outside `[0, out_total)` (center-crop padding) get no taps.
fn axis(win: &Window) -> Axis {
    let (in_size, out_size) = (win.len, win.out_total);
    let scale = in_size as f64 / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = filterscale; // bilinear support = 1
    let ksize = (support.ceil() as usize) * 2 + 1;
    let mut first = Vec::with_capacity(win.out_len);
    let mut count = Vec::with_capacity(win.out_len);
    let mut k = vec![0i32; win.out_len * ksize];
    let mut pre = vec![0f64; ksize];
    for (o, kk) in k.chunks_exact_mut(ksize).enumerate() {
        let xx = win.out_offset + o as i64;
        if xx < 0 || xx >= out_size as i64 {
            first.push(0);
            count.push(0);
            continue;
        }
        let center = (xx as f64 + 0.5) * scale;
        let ss = 1.0 / filterscale;
        // C's (int) truncates towards zero.
        let xmin = ((center - support + 0.5) as i64).max(0) as usize;
        let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize;
        let n = xmax.saturating_sub(xmin).min(ksize);
        let mut ww = 0.0;
        for (x, p) in pre.iter_mut().enumerate().take(n) {
            let w = bilinear((x as f64 + xmin as f64 - center + 0.5) * ss);
            *p = w;
            ww += w;
        }
        for (p, q) in pre.iter().zip(kk.iter_mut()).take(n) {
            let w = if ww != 0.0 { p / ww } else { *p };
            let fx = w * f64::from(1u32 << PRECISION_BITS);
            *q = if w < 0.0 {
                (-0.5 + fx) as i32
            } else {
                (0.5 + fx) as i32
            };
        }
        first.push(xmin);
        count.push(n);
    }
    Axis {
        first,
        count,
        k,
        ksize,
    }
}

#[inline(always)]
fn clip8(v: i32) -> u8 {
    if v >= (1 << PRECISION_BITS << 8) {
        255
    } else if v <= 0 {
        0
    } else {
        (v >> PRECISION_BITS) as u8
    }
}

/// Resamples `img` through the two windows into `out_h × out_w` interleaved RGB bytes
/// (`rows.out_len × cols.out_len`). Span pixels outside the image read as zero.
pub fn resample(img: &RgbImage, rows: &Window, cols: &Window, tmp: &mut Vec<u8>) -> Vec<u8> {
    let ax_h = axis(cols);
    let ax_v = axis(rows);
    let (ow, oh) = (cols.out_len, rows.out_len);
    // Span rows the vertical pass reads.
    let used = ax_v.count.iter().zip(&ax_v.first).filter(|(c, _)| **c > 0);
    let row0 = used.clone().map(|(_, f)| *f).min().unwrap_or(0);
    let row1 = used.map(|(c, f)| f + c).max().unwrap_or(0);
    let half = 1i32 << (PRECISION_BITS - 1);
    // Horizontal pass: span rows [row0, row1) -> tmp [row1 - row0, ow, 3].
    tmp.clear();
    tmp.resize((row1 - row0) * ow * 3, 0);
    for (r, trow) in (row0..row1).zip(tmp.chunks_exact_mut((ow * 3).max(1))) {
        let sy = rows.start + r as i64;
        if sy < 0 || sy >= img.height as i64 {
            continue; // a zero row stays zero: clip8(half) == 0
        }
        let src = &img.pixels[sy as usize * img.width * 3..(sy as usize + 1) * img.width * 3];
        for (o, px) in trow.chunks_exact_mut(3).enumerate() {
            let (f, n) = (ax_h.first[o], ax_h.count[o]);
            let k = &ax_h.k[o * ax_h.ksize..o * ax_h.ksize + n];
            let (mut s0, mut s1, mut s2) = (half, half, half);
            for (x, &w) in k.iter().enumerate() {
                let sx = cols.start + (f + x) as i64;
                if sx < 0 || sx >= img.width as i64 {
                    continue;
                }
                let p = &src[sx as usize * 3..sx as usize * 3 + 3];
                s0 += i32::from(p[0]) * w;
                s1 += i32::from(p[1]) * w;
                s2 += i32::from(p[2]) * w;
            }
            px[0] = clip8(s0);
            px[1] = clip8(s1);
            px[2] = clip8(s2);
        }
    }
    // Vertical pass: tmp -> out [oh, ow, 3].
    let mut out = vec![0u8; oh * ow * 3];
    for (o, orow) in out.chunks_exact_mut((ow * 3).max(1)).enumerate().take(oh) {
        let (f, n) = (ax_v.first[o], ax_v.count[o]);
        let k = &ax_v.k[o * ax_v.ksize..o * ax_v.ksize + n];
        for (c, v) in orow.iter_mut().enumerate() {
            let mut s = half;
            for (y, &w) in k.iter().enumerate() {
                s += i32::from(tmp[(f + y - row0) * ow * 3 + c]) * w;
            }
            *v = clip8(s);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn img(w: usize, h: usize) -> RgbImage {
        let px = (0..w * h * 3).map(|i| (i * 37 % 251) as u8).collect();
        RgbImage::new(w, h, px).unwrap()
    }

    #[test]
    fn identity_and_crop_copy_pixels() {
        let im = img(7, 5);
        let mut tmp = Vec::new();
        let out = resample(&im, &Window::crop(0, 5), &Window::crop(0, 7), &mut tmp);
        assert_eq!(out, im.pixels);
        // Padded crop: one zero row/column before, the image after.
        let out = resample(&im, &Window::crop(-1, 5), &Window::crop(-1, 7), &mut tmp);
        assert_eq!(&out[..7 * 3], &[0u8; 21]);
        assert_eq!(&out[7 * 3..7 * 3 + 3], &[0, 0, 0]);
        assert_eq!(&out[7 * 3 + 3..7 * 3 + 6], &im.pixels[..3]);
    }

    #[test]
    fn halving_averages_pixel_pairs_like_pillow() {
        // Pillow: a 4x1 row [0, 100, 200, 50] resized to 2x1 gives the 2-tap antialiased means
        // with weights (1/4, 3/4, 3/4, 1/4)/2 around each centre -> [round(37.5), ...].
        let px: Vec<u8> = [0u8, 100, 200, 50]
            .iter()
            .flat_map(|&v| [v, v, v])
            .collect();
        let im = RgbImage::new(4, 1, px).unwrap();
        let cols = Window {
            start: 0,
            len: 4,
            out_total: 2,
            out_offset: 0,
            out_len: 2,
        };
        let out = resample(&im, &Window::crop(0, 1), &cols, &mut Vec::new());
        // Centre 1.0 (scale 2): taps x = 0, 1, 2 with filter((x - 1 + 0.5) / 2) = 0.75, 0.75, 0.25
        // -> (0*0.75 + 100*0.75 + 200*0.25) / 1.75 = 71.43 -> 71. Centre 3.0: taps 1, 2, 3 with
        // 0.25, 0.75, 0.75 -> (25 + 150 + 37.5) / 1.75 = 121.43 -> 121.
        assert_eq!(&out, &[71, 71, 71, 121, 121, 121]);
    }

    #[test]
    fn uniform_images_stay_uniform_under_any_scale() {
        let im = RgbImage::new(13, 9, [7u8, 130, 250].repeat(13 * 9)).unwrap();
        for (len, total) in [(9, 4), (9, 20), (9, 9), (3, 11)] {
            let w = Window {
                start: 2,
                len: len.min(7),
                out_total: total,
                out_offset: 0,
                out_len: total,
            };
            let out = resample(&im, &Window::crop(0, 9), &w, &mut Vec::new());
            for p in out.chunks_exact(3) {
                assert_eq!(p, &[7, 130, 250], "len {len} total {total}");
            }
        }
    }
}
