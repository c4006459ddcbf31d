//! Where each output pixel comes from: torchvision 0.15's `RandomResizedCrop`, `Resize` +
//! `CenterCrop` and `RandomCrop(padding)` reduced to one [`Window`] per axis.

use rand::Rng;

/// One axis of a transform: the source span `[start, start + len)` (in source pixels; parts
/// outside the image read as zero, like torchvision's zero padding) is resized to `out_total`
/// pixels, of which the outputs `[out_offset, out_offset + out_len)` are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// First source pixel of the span (may be negative: zero padding).
    pub start: i64,
    /// Span length in source pixels (≥ 1).
    pub len: usize,
    /// Size the span is resized to.
    pub out_total: usize,
    /// First kept output pixel (may be negative or run past `out_total`: zero padding).
    pub out_offset: i64,
    /// Kept output pixels.
    pub out_len: usize,
}

impl Window {
    /// A plain crop: `len` source pixels from `start`, no resizing.
    pub fn crop(start: i64, len: usize) -> Self {
        Self {
            start,
            len,
            out_total: len,
            out_offset: 0,
            out_len: len,
        }
    }
}

/// Python's `round()` on a float: ties go to the even integer.
pub fn py_round(v: f64) -> i64 {
    v.round_ties_even() as i64
}

/// torchvision `RandomResizedCrop.get_params` (0.15): up to ten tries of a random area in
/// `scale` × the image area and a log-uniform aspect ratio in `ratio`; when none fits, the
/// central crop clamped to the ratio range (or the whole image). Returns `(top, left, h, w)`.
pub fn random_resized_crop_params(
    height: usize,
    width: usize,
    scale: [f64; 2],
    ratio: [f64; 2],
    rng: &mut impl Rng,
) -> (usize, usize, usize, usize) {
    let area = (height * width) as f64;
    let (lr0, lr1) = (ratio[0].ln(), ratio[1].ln());
    for _ in 0..10 {
        let target_area = area * uniform(rng, scale[0], scale[1]);
        let aspect = uniform(rng, lr0, lr1).exp();
        let w = py_round((target_area * aspect).sqrt());
        let h = py_round((target_area / aspect).sqrt());
        if 0 < w && w as usize <= width && 0 < h && h as usize <= height {
            let (w, h) = (w as usize, h as usize);
            let top = rng.random_range(0..=height - h);
            let left = rng.random_range(0..=width - w);
            return (top, left, h, w);
        }
    }
    // Fallback to the central crop.
    let in_ratio = width as f64 / height as f64;
    let (rmin, rmax) = (ratio[0].min(ratio[1]), ratio[0].max(ratio[1]));
    let (w, h) = if in_ratio < rmin {
        (width, py_round(width as f64 / rmin) as usize)
    } else if in_ratio > rmax {
        (py_round(height as f64 * rmax) as usize, height)
    } else {
        (width, height)
    };
    ((height - h) / 2, (width - w) / 2, h, w)
}

/// `torch.empty(1).uniform_(a, b)`: `a + (b - a) * U[0, 1)` (also for `a == b`).
fn uniform(rng: &mut impl Rng, a: f64, b: f64) -> f64 {
    a + (b - a) * rng.random::<f64>()
}

/// torchvision `Resize(size)` with one number: the shorter side becomes `size`, the longer
/// `int(size * long / short)`. Returns `(new_h, new_w)`.
pub fn resize_shorter(height: usize, width: usize, size: usize) -> (usize, usize) {
    let (short, long) = if width <= height {
        (width, height)
    } else {
        (height, width)
    };
    let new_long = (size as f64 * long as f64 / short as f64) as usize;
    if width <= height {
        (new_long, size)
    } else {
        (size, new_long)
    }
}

/// torchvision `center_crop`'s offset of a `crop`-pixel window in an `image`-pixel axis:
/// `int(round((image - crop) / 2))`, or minus the left padding `(crop - image) // 2` when the
/// crop is larger (the image is zero-padded first).
pub fn center_offset(image: usize, crop: usize) -> i64 {
    if crop > image {
        -(((crop - image) / 2) as i64)
    } else {
        py_round((image - crop) as f64 / 2.0)
    }
}

/// Both axes of a training random resized crop to `size × size`: `(rows, cols)`.
pub fn random_resized_crop(
    height: usize,
    width: usize,
    size: usize,
    scale: [f64; 2],
    ratio: [f64; 2],
    rng: &mut impl Rng,
) -> (Window, Window) {
    let (top, left, h, w) = random_resized_crop_params(height, width, scale, ratio, rng);
    let axis = |start: usize, len: usize| Window {
        start: start as i64,
        len,
        out_total: size,
        out_offset: 0,
        out_len: size,
    };
    (axis(top, h), axis(left, w))
}

/// torchvision `RandomCrop(size, padding)`: zero-pad by `padding` on every side, then a uniform
/// `size × size` window (when the padded image is smaller than `size`, it is padded further on
/// the right and bottom, as `pad_if_needed` would not do; torchvision raises there).
pub fn random_crop(
    height: usize,
    width: usize,
    size: usize,
    padding: usize,
    rng: &mut impl Rng,
) -> (Window, Window) {
    let mut axis = |n: usize| {
        let room = (n + 2 * padding).saturating_sub(size);
        let off = rng.random_range(0..=room) as i64 - padding as i64;
        Window::crop(off, size)
    };
    let rows = axis(height);
    (rows, axis(width))
}

/// Evaluation: `Resize(resize)` (shorter side; `0` = no resize) then `CenterCrop(crop)`.
pub fn resize_center_crop(
    height: usize,
    width: usize,
    resize: usize,
    crop: usize,
) -> (Window, Window) {
    let (rh, rw) = if resize == 0 {
        (height, width)
    } else {
        resize_shorter(height, width, resize)
    };
    let axis = |n: usize, r: usize| Window {
        start: 0,
        len: n,
        out_total: r,
        out_offset: center_offset(r, crop),
        out_len: crop,
    };
    (axis(height, rh), axis(width, rw))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn torchvision_rounding_and_sizes() {
        assert_eq!((py_round(2.5), py_round(3.5), py_round(-0.5)), (2, 4, 0));
        // ImageNet's typical 500x375 (w x h) image: Resize(256) -> 341x256.
        assert_eq!(resize_shorter(375, 500, 256), (256, 341));
        assert_eq!(resize_shorter(500, 375, 256), (341, 256));
        assert_eq!(resize_shorter(256, 256, 288), (288, 288));
        // center_crop: round((341 - 224) / 2) = round(58.5) = 58 (ties to even).
        assert_eq!(center_offset(341, 224), 58);
        assert_eq!(center_offset(256, 224), 16);
        assert_eq!(center_offset(20, 25), -2);
    }

    #[test]
    fn random_resized_crops_follow_the_rules() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..2000 {
            let (h, w) = (rng.random_range(1..300usize), rng.random_range(1..300usize));
            let (top, left, ch, cw) =
                random_resized_crop_params(h, w, [0.08, 1.0], [0.75, 4.0 / 3.0], &mut rng);
            assert!(ch >= 1 && cw >= 1 && top + ch <= h && left + cw <= w);
        }
        // A scale range no crop can satisfy forces the fallback: a 100x10 (w x h) strip is
        // wider than 4:3, so the central crop keeps the height and round(10 * 4/3) = 13 columns.
        let p = random_resized_crop_params(10, 100, [2.0, 3.0], [0.75, 4.0 / 3.0], &mut rng);
        assert_eq!(p, (0, (100 - 13) / 2, 10, 13));
        let p = random_resized_crop_params(100, 10, [2.0, 3.0], [0.75, 4.0 / 3.0], &mut rng);
        assert_eq!(p, ((100 - 13) / 2, 0, 13, 10));
        let p = random_resized_crop_params(30, 35, [2.0, 3.0], [0.75, 4.0 / 3.0], &mut rng);
        assert_eq!(p, (0, 0, 30, 35));
        // Areas spread over the scale range.
        let areas: Vec<f64> = (0..4000)
            .map(|_| {
                let (_, _, h, w) =
                    random_resized_crop_params(400, 400, [0.08, 1.0], [0.75, 4.0 / 3.0], &mut rng);
                (h * w) as f64 / 160000.0
            })
            .collect();
        let mean = areas.iter().sum::<f64>() / areas.len() as f64;
        assert!((0.45..0.6).contains(&mean), "mean area share {mean}");
    }

    #[test]
    fn random_crop_with_padding_stays_in_the_padded_image() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..500 {
            let (r, c) = random_crop(32, 32, 32, 4, &mut rng);
            assert!((-4..=4).contains(&r.start) && (-4..=4).contains(&c.start));
            assert_eq!((r.len, r.out_len), (32, 32));
            seen.insert(r.start);
        }
        assert_eq!(seen.len(), 9);
    }
}
