//! PNG plots: training curves (`curves.png`) and confusion matrices, drawn with plotters'
//! bitmap backend. Text is drawn with a 5×7 pixel font of this crate, so no system font
//! library is needed.

use crate::error::{Error, Result};
use crate::font;
use crate::metrics::EpochMetrics;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;

type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

fn perr(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Plot {
        path: path.into(),
        message: e.to_string(),
    }
}

/// Draws `text` on `area` in pixel coordinates relative to the area.
fn text(area: &Area, s: &str, x: i32, y: i32, scale: u32, color: &RGBColor) {
    font::render(s, x, y, scale, |px, py| {
        let _ = area.draw_pixel((px, py), color);
    });
}

/// A short tick label: integer, or up to three significant digits.
fn tick_label(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if a >= 100.0 || (v.fract() == 0.0 && a < 1e6) {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.1}")
    } else if a >= 0.01 {
        format!("{v:.2}")
    } else {
        format!("{v:.0e}")
    }
}

struct Series<'a> {
    name: &'a str,
    color: RGBColor,
    points: Vec<(f64, f64)>,
}

/// One panel: axes with ticks, a title, the series and a legend.
/// `y_fixed` pins the y range (accuracy: 0–100) and puts the legend at the bottom, where rising
/// curves are not; otherwise the range follows the data and the legend sits at the top.
fn panel(
    area: &Area,
    path: &Path,
    title: &str,
    series: &[Series],
    y_fixed: Option<(f64, f64)>,
) -> Result<()> {
    let (w, h) = area.dim_in_pixel();
    let (w, h) = (w as i32, h as i32);
    let (left, right, top, bottom) = (62, 14, 30, 34);
    let all: Vec<(f64, f64)> = series
        .iter()
        .flat_map(|s| s.points.iter().copied())
        .filter(|p| p.1.is_finite())
        .collect();
    let (mut x0, mut x1) = all
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let (mut y0, mut y1) = all
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.1), b.max(p.1)));
    if all.is_empty() {
        (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    if y1 <= y0 {
        y1 = y0 + 1.0;
    }
    let pad = (y1 - y0) * 0.05;
    y0 = (y0 - pad).max(if y0 >= 0.0 { 0.0 } else { f64::MIN });
    y1 += pad;
    if let Some((a, b)) = y_fixed {
        (y0, y1) = (a, b);
    }
    let px = |x: f64| left + ((x - x0) / (x1 - x0) * (w - left - right) as f64).round() as i32;
    let py =
        |y: f64| h - bottom - ((y - y0) / (y1 - y0) * (h - top - bottom) as f64).round() as i32;
    let grey = RGBColor(200, 200, 200);
    // Axes box and grid at five ticks per axis.
    for i in 0..=4 {
        let yv = y0 + (y1 - y0) * i as f64 / 4.0;
        let yy = py(yv);
        area.draw(&PathElement::new(vec![(left, yy), (w - right, yy)], grey))
            .map_err(|e| perr(path, e))?;
        let lbl = tick_label(yv);
        text(
            area,
            &lbl,
            left - 6 - font::text_width(&lbl, 1),
            yy - 3,
            1,
            &BLACK,
        );
        // Epochs are integers: put the x ticks on whole numbers when the range allows.
        let mut xv = x0 + (x1 - x0) * i as f64 / 4.0;
        if x1 - x0 >= 4.0 {
            xv = xv.round();
        }
        let xx = px(xv);
        let lbl = tick_label(xv);
        text(
            area,
            &lbl,
            xx - font::text_width(&lbl, 1) / 2,
            h - bottom + 6,
            1,
            &BLACK,
        );
    }
    area.draw(&Rectangle::new(
        [(left, top), (w - right, h - bottom)],
        BLACK,
    ))
    .map_err(|e| perr(path, e))?;
    text(area, title, left, 8, 2, &BLACK);
    text(
        area,
        "EPOCH",
        (left + w - right) / 2 - 15,
        h - 14,
        1,
        &BLACK,
    );
    for (i, s) in series.iter().enumerate() {
        let pts: Vec<(i32, i32)> = s
            .points
            .iter()
            .filter(|p| p.1.is_finite())
            .map(|&(x, y)| (px(x), py(y)))
            .collect();
        area.draw(&PathElement::new(pts.clone(), s.color.stroke_width(2)))
            .map_err(|e| perr(path, e))?;
        for p in &pts {
            area.draw(&Circle::new(*p, 2, s.color.filled()))
                .map_err(|e| perr(path, e))?;
        }
        // Legend in the top-right corner.
        let lx = w - right - 90;
        let ly = match y_fixed {
            Some(_) => h - bottom - 12 - 14 * (series.len() - 1 - i) as i32,
            None => top + 8 + 14 * i as i32,
        };
        area.draw(&Rectangle::new(
            [(lx, ly), (lx + 14, ly + 6)],
            s.color.filled(),
        ))
        .map_err(|e| perr(path, e))?;
        text(area, s.name, lx + 20, ly, 1, &BLACK);
    }
    Ok(())
}

/// Loss and accuracy per epoch (train and test) side by side, as a PNG.
pub fn curves(path: &Path, history: &[EpochMetrics]) -> Result<()> {
    let tmp = tmp_png(path);
    {
        let root = BitMapBackend::new(&*tmp, (1000, 400)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| perr(path, e))?;
        let (l, r) = root.split_horizontally(500);
        let pts = |f: &dyn Fn(&EpochMetrics) -> f64| {
            history.iter().map(|m| (m.epoch as f64, f(m))).collect()
        };
        let blue = RGBColor(31, 119, 180);
        let orange = RGBColor(255, 127, 14);
        panel(
            &l,
            path,
            "LOSS",
            &[
                Series {
                    name: "TRAIN",
                    color: blue,
                    points: pts(&|m| m.train_loss),
                },
                Series {
                    name: "TEST",
                    color: orange,
                    points: pts(&|m| m.test_loss),
                },
            ],
            None,
        )?;
        panel(
            &r,
            path,
            "ACCURACY %",
            &[
                Series {
                    name: "TRAIN",
                    color: blue,
                    points: pts(&|m| 100.0 * m.train_acc),
                },
                Series {
                    name: "TEST",
                    color: orange,
                    points: pts(&|m| 100.0 * m.test_acc),
                },
            ],
            Some((0.0, 100.0)),
        )?;
        root.present().map_err(|e| perr(path, e))?;
    }
    std::fs::rename(&*tmp, path).map_err(|e| Error::io(path, e))
}

/// A confusion matrix (`confusion[true][predicted]`) as a PNG heat map with counts, row-normalised
/// colours and class indices on the axes.
pub fn confusion(path: &Path, confusion: &[Vec<u64>], title: &str) -> Result<()> {
    let k = confusion.len().max(1);
    let cell = (600 / k as i32).clamp(6, 48);
    let (left, top) = (60, 50);
    let w = (left + cell * k as i32 + 20) as u32;
    let h = (top + cell * k as i32 + 40) as u32;
    let tmp = tmp_png(path);
    {
        let root = BitMapBackend::new(&*tmp, (w.max(260), h)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| perr(path, e))?;
        text(&root, title, 10, 8, 2, &BLACK);
        text(&root, "ROWS TRUE, COLUMNS PREDICTED", 10, 30, 1, &BLACK);
        for (i, row) in confusion.iter().enumerate() {
            let total: u64 = row.iter().sum();
            for (j, &c) in row.iter().enumerate() {
                let f = if total > 0 {
                    c as f64 / total as f64
                } else {
                    0.0
                };
                let shade = (255.0 * (1.0 - f)).round() as u8;
                let color = RGBColor(shade, shade, 255);
                let (x, y) = (left + j as i32 * cell, top + i as i32 * cell);
                root.draw(&Rectangle::new(
                    [(x, y), (x + cell, y + cell)],
                    color.filled(),
                ))
                .map_err(|e| perr(path, e))?;
                let s = c.to_string();
                if cell >= 8 + font::text_width(&s, 1) && c > 0 {
                    let ink = if f > 0.5 { WHITE } else { BLACK };
                    text(
                        &root,
                        &s,
                        x + (cell - font::text_width(&s, 1)) / 2,
                        y + cell / 2 - 3,
                        1,
                        &ink,
                    );
                }
            }
            if cell >= 12 || i % 10 == 0 {
                let s = i.to_string();
                text(
                    &root,
                    &s,
                    left - 6 - font::text_width(&s, 1),
                    top + i as i32 * cell + cell / 2 - 3,
                    1,
                    &BLACK,
                );
                text(
                    &root,
                    &s,
                    left + i as i32 * cell + (cell - font::text_width(&s, 1)) / 2,
                    top + k as i32 * cell + 6,
                    1,
                    &BLACK,
                );
            }
        }
        root.draw(&Rectangle::new(
            [(left, top), (left + cell * k as i32, top + cell * k as i32)],
            BLACK,
        ))
        .map_err(|e| perr(path, e))?;
        root.present().map_err(|e| perr(path, e))?;
    }
    std::fs::rename(&*tmp, path).map_err(|e| Error::io(path, e))
}

/// Temporary name next to `path` (renamed over it once complete). Keeps the `.png` extension,
/// which the image encoder uses to pick the format. Removed on drop, so a drawing error leaves no
/// stray file (after the rename there is nothing left to remove).
fn tmp_png(path: &Path) -> TmpPng {
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    TmpPng(path.with_file_name(format!(".{name}.tmp{}.png", std::process::id())))
}

struct TmpPng(std::path::PathBuf);

impl std::ops::Deref for TmpPng {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TmpPng {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curves_and_confusion_write_pngs_without_system_fonts() {
        let dir = tempfile::tempdir().unwrap();
        let hist: Vec<EpochMetrics> = (1..=4)
            .map(|e| EpochMetrics {
                epoch: e,
                lr: 1e-3,
                train_loss: 1.0 / e as f64,
                train_acc: 0.2 * e as f64,
                test_loss: 1.2 / e as f64,
                test_acc: 0.18 * e as f64,
                test_top5: 0.0,
                best_test_acc: 0.18 * e as f64,
                best_epoch: e,
                train_samples: 10,
                train_seconds: 1.0,
                eval_seconds: 0.1,
                train_samples_per_s: 10.0,
                firing_rates: Default::default(),
            })
            .collect();
        let p = dir.path().join("curves.png");
        curves(&p, &hist).unwrap();
        let bytes = std::fs::read(&p).unwrap();
        assert_eq!(&bytes[1..4], b"PNG");
        let c = dir.path().join("confusion.png");
        confusion(&c, &[vec![3, 1], vec![0, 4]], "CONFUSION").unwrap();
        assert_eq!(&std::fs::read(&c).unwrap()[1..4], b"PNG");
        let mut names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["confusion.png", "curves.png"],
            "no temporary files left"
        );
    }
}
