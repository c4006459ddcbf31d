//! A synthetic static-image dataset in the ImageFolder layout, so the image pipeline (loader,
//! ResNet training, evaluation) runs with no download.
//!
//! [`generate`] writes `OUT/train/<class>/<class>_NNNN.{png,jpg}`,
//! `OUT/val/<class>/<class>_NNNN.{png,jpg}` and `OUT/synth_config.toml`. Each class is a texture
//! ([`PATTERNS`]: horizontal stripes, vertical stripes, a checkerboard, concentric rings, ...)
//! drawn in a colour around the class's own hue on a dark background, with a random period, phase,
//! brightness and pixel noise. Every pattern survives a horizontal flip and a random resized crop
//! (none is told apart from another by its orientation's sign), so the training augmentation
//! keeps the labels valid. Every random choice comes from ChaCha8 seeded by the configured seed,
//! the split and the image index, so a set is reproducible file for file.

use crate::error::{io, Error, Result};
use crate::synthetic::write_atomic;
use image::ImageEncoder;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::f64::consts::PI;
use std::path::Path;

/// The texture of each class, in label order (class folders sort in this order too).
pub const PATTERNS: [&str; 8] = [
    "0_hstripes",
    "1_vstripes",
    "2_checker",
    "3_rings",
    "4_dots",
    "5_crosshatch",
    "6_blob",
    "7_plain",
];

/// File format of the written images.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    /// Lossless PNG.
    Png,
    /// Baseline JPEG at this quality (1..=100).
    Jpeg(u8),
}

impl ImageFormat {
    fn ext(self) -> &'static str {
        match self {
            ImageFormat::Png => "png",
            ImageFormat::Jpeg(_) => "jpg",
        }
    }
}

/// What [`generate`] writes.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageSynthConfig {
    /// Seed of every random choice.
    pub seed: u64,
    /// Number of classes (1..=8), the first entries of [`PATTERNS`].
    pub classes: usize,
    /// Training images per class.
    pub train_per_class: usize,
    /// Validation images per class.
    pub val_per_class: usize,
    /// Image width in pixels.
    pub width: usize,
    /// Image height in pixels.
    pub height: usize,
    /// PNG or JPEG.
    pub format: ImageFormat,
}

impl ImageSynthConfig {
    /// The configuration as TOML (`key = value` lines).
    pub fn to_toml(&self) -> String {
        let format = match self.format {
            ImageFormat::Png => "format = \"png\"\n".to_string(),
            ImageFormat::Jpeg(q) => format!("format = \"jpeg\"\nquality = {q}\n"),
        };
        format!(
            "# snnkit synth --images: the generator's settings\n\
             seed = {}\nclasses = {}\ntrain_per_class = {}\nval_per_class = {}\nwidth = {}\nheight = {}\n{format}",
            self.seed, self.classes, self.train_per_class, self.val_per_class, self.width, self.height,
        )
    }
}

impl Default for ImageSynthConfig {
    fn default() -> Self {
        Self {
            seed: 0,
            classes: 4,
            train_per_class: 48,
            val_per_class: 16,
            width: 48,
            height: 48,
            format: ImageFormat::Png,
        }
    }
}

impl ImageSynthConfig {
    /// Checks the class count (1..=8), that both splits hold images, that images are 8..=4096
    /// pixels on each side, and the JPEG quality (1..=100).
    pub fn validate(&self) -> Result<()> {
        let bad = |reason: String| Err(Error::InvalidConfig { reason });
        if !(1..=PATTERNS.len()).contains(&self.classes) {
            return bad(format!("classes must be 1..={}", PATTERNS.len()));
        }
        if self.train_per_class == 0 || self.val_per_class == 0 {
            return bad("both splits need at least one image per class".into());
        }
        if !(8..=4096).contains(&self.width) || !(8..=4096).contains(&self.height) {
            return bad(format!(
                "image size {}x{} is outside 8..=4096",
                self.width, self.height
            ));
        }
        if let ImageFormat::Jpeg(q) = self.format {
            if !(1..=100).contains(&q) {
                return bad(format!("JPEG quality {q} is outside 1..=100"));
            }
        }
        Ok(())
    }
}

/// Counts of what [`generate`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageSynthSummary {
    /// Training images.
    pub train_images: usize,
    /// Validation images.
    pub val_images: usize,
    /// Bytes written.
    pub bytes: u64,
}

/// Writes the dataset under `out` (see the module docs). Each file is written atomically;
/// `progress` is called with `(done, total)` after each image.
pub fn generate(
    cfg: &ImageSynthConfig,
    out: &Path,
    mut progress: impl FnMut(usize, usize),
) -> Result<ImageSynthSummary> {
    cfg.validate()?;
    let total = cfg.classes * (cfg.train_per_class + cfg.val_per_class);
    let mut done = 0;
    let mut bytes = 0u64;
    for (split_no, (split, per_class)) in
        [("train", cfg.train_per_class), ("val", cfg.val_per_class)]
            .into_iter()
            .enumerate()
    {
        for (class, name) in PATTERNS[..cfg.classes].iter().enumerate() {
            let dir = out.join(split).join(name);
            std::fs::create_dir_all(&dir).map_err(io(&dir))?;
            for k in 0..per_class {
                let stream = ((split_no as u64) << 40) | ((class as u64) << 32) | k as u64;
                let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
                rng.set_stream(stream);
                let pixels = draw(cfg, class, &mut rng);
                let encoded = encode(cfg, &pixels)?;
                let path = dir.join(format!("{name}_{k:04}.{}", cfg.format.ext()));
                write_atomic(&path, &encoded)?;
                bytes += encoded.len() as u64;
                done += 1;
                progress(done, total);
            }
        }
    }
    write_atomic(
        &out.join(crate::synthetic::CONFIG_FILE),
        cfg.to_toml().as_bytes(),
    )?;
    Ok(ImageSynthSummary {
        train_images: cfg.classes * cfg.train_per_class,
        val_images: cfg.classes * cfg.val_per_class,
        bytes,
    })
}

fn encode(cfg: &ImageSynthConfig, pixels: &[u8]) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    let (w, h) = (cfg.width as u32, cfg.height as u32);
    let t = image::ExtendedColorType::Rgb8;
    let res = match cfg.format {
        ImageFormat::Png => {
            image::codecs::png::PngEncoder::new(&mut buf).write_image(pixels, w, h, t)
        }
        ImageFormat::Jpeg(q) => image::codecs::jpeg::JpegEncoder::new_with_quality(&mut buf, q)
            .write_image(pixels, w, h, t),
    };
    res.map_err(|e| Error::InvalidConfig {
        reason: format!("encoding a synthetic image: {e}"),
    })?;
    Ok(buf)
}

/// HSV (h in turns) to RGB in 0..1.
fn hsv(h: f64, s: f64, v: f64) -> [f64; 3] {
    let h6 = h.rem_euclid(1.0) * 6.0;
    let c = v * s;
    let x = c * (1.0 - ((h6 % 2.0) - 1.0).abs());
    let (r, g, b) = match h6 as usize {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = v - c;
    [r + m, g + m, b + m]
}

/// Interleaved RGB pixels of one image of `class`.
fn draw(cfg: &ImageSynthConfig, class: usize, rng: &mut ChaCha8Rng) -> Vec<u8> {
    let (w, h) = (cfg.width, cfg.height);
    let side = w.min(h) as f64;
    // The class hue, spread around the circle, with a little jitter.
    let hue = class as f64 / cfg.classes as f64 + rng.random_range(-0.04..0.04);
    let fg = hsv(hue, rng.random_range(0.6..1.0), rng.random_range(0.7..1.0));
    let bg = hsv(
        rng.random::<f64>(),
        rng.random_range(0.0..0.5),
        rng.random_range(0.05..0.3),
    );
    let period = side * rng.random_range(0.12..0.25);
    let (px, py) = (rng.random_range(0.0..period), rng.random_range(0.0..period));
    let (cx, cy) = (
        w as f64 * rng.random_range(0.3..0.7),
        h as f64 * rng.random_range(0.3..0.7),
    );
    let noise = 0.08;
    let wave = |v: f64| (2.0 * PI * v / period).sin();
    let mut out = vec![0u8; w * h * 3];
    for y in 0..h {
        for x in 0..w {
            let (xf, yf) = (x as f64 + px, y as f64 + py);
            let on = match class {
                0 => wave(yf) > 0.0,
                1 => wave(xf) > 0.0,
                2 => (wave(xf) > 0.0) ^ (wave(yf) > 0.0),
                3 => wave(((x as f64 - cx).powi(2) + (y as f64 - cy).powi(2)).sqrt()) > 0.0,
                4 => wave(xf) > 0.5 && wave(yf) > 0.5,
                5 => wave((xf + yf) / 2f64.sqrt()) > 0.6 || wave((xf - yf) / 2f64.sqrt()) > 0.6,
                6 => (x as f64 - cx).powi(2) + (y as f64 - cy).powi(2) < (side * 0.3).powi(2),
                _ => true,
            };
            let base = if on { fg } else { bg };
            for (c, b) in base.iter().enumerate() {
                let v = b + rng.random_range(-noise..noise);
                out[(y * w + x) * 3 + c] = (v.clamp(0.0, 1.0) * 255.0).round() as u8;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ImageFolder, ImageSet, Split};

    #[test]
    fn writes_a_reproducible_image_folder() {
        let d = tempfile::tempdir().unwrap();
        let cfg = ImageSynthConfig {
            train_per_class: 3,
            val_per_class: 2,
            width: 20,
            height: 16,
            ..Default::default()
        };
        let s = generate(&cfg, d.path(), |_, _| {}).unwrap();
        assert_eq!((s.train_images, s.val_images), (12, 8));
        let tr = ImageFolder::open(d.path(), Split::Train).unwrap();
        assert_eq!(tr.class_names(), &PATTERNS[..4]);
        assert_eq!((tr.len(), tr.label(11)), (12, 3));
        let img = tr.load(4).unwrap();
        assert_eq!((img.width, img.height), (20, 16));
        // Same seed, same bytes; another seed, other bytes.
        let d2 = tempfile::tempdir().unwrap();
        generate(&cfg, d2.path(), |_, _| {}).unwrap();
        let rel = "val/1_vstripes/1_vstripes_0001.png";
        let a = std::fs::read(d.path().join(rel)).unwrap();
        assert_eq!(a, std::fs::read(d2.path().join(rel)).unwrap());
        let d3 = tempfile::tempdir().unwrap();
        generate(
            &ImageSynthConfig {
                seed: 1,
                ..cfg.clone()
            },
            d3.path(),
            |_, _| {},
        )
        .unwrap();
        assert_ne!(a, std::fs::read(d3.path().join(rel)).unwrap());
        let e = generate(&ImageSynthConfig { classes: 9, ..cfg }, d.path(), |_, _| {});
        assert!(e.unwrap_err().to_string().contains("classes"));
    }

    #[test]
    fn vertical_stripes_vary_along_x_only() {
        let cfg = ImageSynthConfig {
            width: 64,
            height: 64,
            ..Default::default()
        };
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let px = draw(&cfg, 1, &mut rng);
        // Averaged over y, columns differ (the stripes); averaged over x, rows do not (noise
        // averages out).
        let red = |x: usize, y: usize| px[(y * 64 + x) * 3] as f64;
        let var = |v: Vec<f64>| {
            let m = v.iter().sum::<f64>() / v.len() as f64;
            v.iter().map(|a| (a - m).powi(2)).sum::<f64>() / v.len() as f64
        };
        let dx = var((0..64)
            .map(|x| (0..64).map(|y| red(x, y)).sum::<f64>() / 64.0)
            .collect());
        let dy = var((0..64)
            .map(|y| (0..64).map(|x| red(x, y)).sum::<f64>() / 64.0)
            .collect());
        assert!(dx > 20.0 * dy, "dx {dx} dy {dy}");
    }
}
