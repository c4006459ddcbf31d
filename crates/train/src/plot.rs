//! PNG plots: training curves (`curves.png`), confusion matrices, and the analysis figures of
//! `snnkit explain` (heatmaps, spike counts, scale importance), drawn with plotters' bitmap
//! backend. Text uses the bundled DejaVu Sans (the private `font` module), so no system font library is
//! needed.

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
    // Positions in this module were laid out for text 7 px tall at scale 1; the typeface's box is
    // taller, so lift it by the difference to keep labels centred where they were.
    let lift = ((font::size(scale) - 7.0 * scale as f64) / 2.0).round() as i32;
    let _ = area.draw_text(s, &font::style(scale, color), (x, y - lift));
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

/// A "nice" tick step (1, 2 or 5 × 10^k) giving at most `max_ticks` intervals up to `vmax`, and
/// the axis top (a multiple of the step at or above `vmax`).
pub fn nice_ticks(vmax: f64, max_ticks: usize) -> (f64, f64) {
    let vmax = if vmax.is_finite() && vmax > 0.0 {
        vmax
    } else {
        1.0
    };
    let raw = vmax / max_ticks.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|&s| s >= raw * (1.0 - 1e-9))
        .unwrap_or(10.0 * mag);
    (step, (vmax / step - 1e-9).ceil() * step)
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
        "epoch",
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
    let tmp = tmp_png(path)?;
    {
        let root = BitMapBackend::new(tmp.temp_path(), (1000, 400)).into_drawing_area();
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
            "Loss",
            &[
                Series {
                    name: "train",
                    color: blue,
                    points: pts(&|m| m.train_loss),
                },
                Series {
                    name: "test",
                    color: orange,
                    points: pts(&|m| m.test_loss),
                },
            ],
            None,
        )?;
        panel(
            &r,
            path,
            "Accuracy (%)",
            &[
                Series {
                    name: "train",
                    color: blue,
                    points: pts(&|m| 100.0 * m.train_acc),
                },
                Series {
                    name: "test",
                    color: orange,
                    points: pts(&|m| 100.0 * m.test_acc),
                },
            ],
            Some((0.0, 100.0)),
        )?;
        root.present().map_err(|e| perr(path, e))?;
    }
    tmp.commit().map_err(|e| Error::io(path, e))
}

/// A confusion matrix (`confusion[true][predicted]`) as a PNG heat map with counts, row-normalised
/// colours, class names on the rows (`index name`) and class indices on the columns.
pub fn confusion(
    path: &Path,
    confusion: &[Vec<u64>],
    class_names: &[String],
    title: &str,
) -> Result<()> {
    let k = confusion.len().max(1);
    let cell = (600 / k as i32).clamp(6, 48);
    let row_label = |i: usize| match class_names.get(i) {
        Some(n) => format!("{i} {n}"),
        None => i.to_string(),
    };
    let left = (0..k)
        .map(|i| font::text_width(&row_label(i), 1))
        .max()
        .unwrap_or(0)
        .clamp(20, 220)
        + 30;
    let top = 56;
    let w = (left + cell * k as i32 + 20) as u32;
    let h = (top + cell * k as i32 + 48) as u32;
    let tmp = tmp_png(path)?;
    {
        let root = BitMapBackend::new(tmp.temp_path(), (w.max(320), h)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| perr(path, e))?;
        text(&root, title, 10, 8, 2, &BLACK);
        text(
            &root,
            "rows: true class, columns: predicted class (colour = share of the row)",
            10,
            32,
            1,
            &BLACK,
        );
        for (i, row) in confusion.iter().enumerate() {
            let total: u64 = row.iter().sum();
            for (j, &c) in row.iter().enumerate() {
                let f = if total > 0 {
                    c as f64 / total as f64
                } else {
                    0.0
                };
                let (r, g, b) = viridis(f);
                let color = if c == 0 {
                    RGBColor(245, 245, 245)
                } else {
                    RGBColor(r, g, b)
                };
                let (x, y) = (left + j as i32 * cell, top + i as i32 * cell);
                root.draw(&Rectangle::new(
                    [(x, y), (x + cell, y + cell)],
                    color.filled(),
                ))
                .map_err(|e| perr(path, e))?;
                let s = c.to_string();
                if cell >= 8 + font::text_width(&s, 1) && c > 0 {
                    let ink = if f > 0.6 { BLACK } else { WHITE };
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
                let s = row_label(i);
                text(
                    &root,
                    &s,
                    left - 6 - font::text_width(&s, 1),
                    top + i as i32 * cell + cell / 2 - 3,
                    1,
                    &BLACK,
                );
                let s = i.to_string();
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
        text(
            &root,
            "predicted",
            left + cell * k as i32 / 2 - font::text_width("predicted", 1) / 2,
            top + k as i32 * cell + 26,
            1,
            &BLACK,
        );
        root.draw(&Rectangle::new(
            [(left, top), (left + cell * k as i32, top + cell * k as i32)],
            BLACK,
        ))
        .map_err(|e| perr(path, e))?;
        root.present().map_err(|e| perr(path, e))?;
    }
    tmp.commit().map_err(|e| Error::io(path, e))
}

/// Matplotlib's viridis (a perceptually uniform colormap) at 11 stops, linearly interpolated.
const VIRIDIS: [(u8, u8, u8); 11] = [
    (0x44, 0x01, 0x54),
    (0x48, 0x24, 0x75),
    (0x41, 0x44, 0x87),
    (0x35, 0x5f, 0x8d),
    (0x2a, 0x78, 0x8e),
    (0x21, 0x91, 0x8c),
    (0x22, 0xa8, 0x84),
    (0x44, 0xbf, 0x70),
    (0x7a, 0xd1, 0x51),
    (0xbd, 0xdf, 0x26),
    (0xfd, 0xe7, 0x25),
];

/// Viridis colour of `v` in [0, 1] (clamped).
pub fn viridis(v: f64) -> (u8, u8, u8) {
    let x = if v.is_finite() {
        v.clamp(0.0, 1.0)
    } else {
        0.0
    } * 10.0;
    let i = (x.floor() as usize).min(9);
    let f = x - i as f64;
    let (a, b) = (VIRIDIS[i], VIRIDIS[i + 1]);
    let mix = |p: u8, q: u8| (p as f64 + (q as f64 - p as f64) * f).round() as u8;
    (mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Min-max normalisation of a 2-D map (all zeros when constant).
fn normalise(m: &[Vec<f32>]) -> Vec<Vec<f64>> {
    let (lo, hi) = m
        .iter()
        .flatten()
        .fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    m.iter()
        .map(|r| {
            r.iter()
                .map(|&v| {
                    if hi > lo {
                        ((v - lo) / (hi - lo)) as f64
                    } else {
                        0.0
                    }
                })
                .collect()
        })
        .collect()
}

fn sum_t(m: &[Vec<Vec<f32>>]) -> Vec<Vec<f32>> {
    let mut out = m.first().cloned().unwrap_or_default();
    for step in m.iter().skip(1) {
        for (o, r) in out.iter_mut().zip(step) {
            for (a, b) in o.iter_mut().zip(r) {
                *a += b;
            }
        }
    }
    out
}

/// Fig. 3-style firing-rate heatmap: one panel per time step and one for the sum over time. Each
/// panel is the layer's spikes summed over channels (`map` `[T][h][w]`), min-max normalised and
/// coloured with viridis at 60% opacity over the input frame (`frame` `[T][H][W]`, grey).
pub fn heatmap_overlay(
    path: &Path,
    frame: &[Vec<Vec<f32>>],
    map: &[Vec<Vec<f32>>],
    title: &str,
) -> Result<()> {
    let t = frame.len().min(map.len());
    let (fh, fw) = (
        frame.first().map_or(0, |f| f.len()),
        frame.first().and_then(|f| f.first()).map_or(0, |r| r.len()),
    );
    let (mh, mw) = (
        map.first().map_or(0, |f| f.len()),
        map.first().and_then(|f| f.first()).map_or(0, |r| r.len()),
    );
    if t == 0 || fh == 0 || fw == 0 || mh == 0 || mw == 0 {
        return Err(perr(path, "empty frame or spike map"));
    }
    let scale = (128 / fw.max(fh)).max(1) as i32;
    let (pw, ph) = (fw as i32 * scale, fh as i32 * scale);
    let gap = 8;
    let panels = t + 1;
    let (top, left) = (44, 10);
    let w = (left * 2 + panels as i32 * (pw + gap)) as u32;
    let h = (top + ph + 40) as u32;
    let tmp = tmp_png(path)?;
    {
        let root = BitMapBackend::new(tmp.temp_path(), (w.max(300), h)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| perr(path, e))?;
        text(&root, title, left, 8, 1, &BLACK);
        for p in 0..panels {
            let (f, m, label) = if p < t {
                (frame[p].clone(), map[p].clone(), format!("t = {p}"))
            } else {
                (
                    sum_t(&frame[..t]),
                    sum_t(&map[..t]),
                    "sum over t".to_string(),
                )
            };
            let fmax = f.iter().flatten().fold(0f32, |a, &v| a.max(v));
            let heat = normalise(&m);
            let x0 = left + p as i32 * (pw + gap);
            text(&root, &label, x0, top - 12, 1, &BLACK);
            for y in 0..fh {
                for x in 0..fw {
                    let g = if fmax > 0.0 { f[y][x] / fmax } else { 0.0 } as f64;
                    let v = heat[y * mh / fh][x * mw / fw];
                    let (r, gg, b) = viridis(v);
                    let bg = 255.0 * (1.0 - g);
                    let c = |cv: u8| (0.4 * bg + 0.6 * cv as f64).round() as u8;
                    let (px, py) = (x0 + x as i32 * scale, top + y as i32 * scale);
                    root.draw(&Rectangle::new(
                        [(px, py), (px + scale, py + scale)],
                        RGBColor(c(r), c(gg), c(b)).filled(),
                    ))
                    .map_err(|e| perr(path, e))?;
                }
            }
        }
        // Colour bar: 0 (min) to 1 (max) of each panel.
        let (bx, by) = (left, top + ph + 14);
        for i in 0..100 {
            let (r, g, b) = viridis(i as f64 / 99.0);
            root.draw(&Rectangle::new(
                [(bx + i, by), (bx + i + 1, by + 8)],
                RGBColor(r, g, b).filled(),
            ))
            .map_err(|e| perr(path, e))?;
        }
        text(&root, "min", bx, by + 12, 1, &BLACK);
        text(
            &root,
            "max",
            bx + 100 - font::text_width("max", 1),
            by + 12,
            1,
            &BLACK,
        );
        text(
            &root,
            "spikes summed over channels, min-max per panel",
            bx + 110,
            by,
            1,
            &BLACK,
        );
        root.present().map_err(|e| perr(path, e))?;
    }
    tmp.commit().map_err(|e| Error::io(path, e))
}

const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// Horizontal bars of spikes per sample for each LIF layer; one bar per series (network), side
/// by side, with a legend. `series`: (label, [(layer, value)]).
pub fn spike_counts(path: &Path, series: &[(String, Vec<(String, f64)>)]) -> Result<()> {
    let mut layers: Vec<String> = Vec::new();
    for (_, v) in series {
        for (l, _) in v {
            if !layers.contains(l) {
                layers.push(l.clone());
            }
        }
    }
    let ns = series.len().max(1) as i32;
    let bar = 10;
    let row = bar * ns + 8;
    let label_w = layers
        .iter()
        .map(|l| font::text_width(l, 1))
        .max()
        .unwrap_or(0)
        + 16;
    let (top, plot_w) = (50 + 14 * ns, 420);
    let w = (label_w + plot_w + 80) as u32;
    let h = (top + row * layers.len() as i32 + 40) as u32;
    let vmax = series
        .iter()
        .flat_map(|(_, v)| v.iter().map(|p| p.1))
        .fold(0f64, f64::max);
    let (step, vmax) = nice_ticks(vmax, 5);
    let tmp = tmp_png(path)?;
    {
        let root = BitMapBackend::new(tmp.temp_path(), (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| perr(path, e))?;
        text(&root, "Spikes per sample and LIF layer", 10, 8, 2, &BLACK);
        for (i, (name, _)) in series.iter().enumerate() {
            let y = 32 + 14 * i as i32;
            root.draw(&Rectangle::new(
                [(10, y), (24, y + 7)],
                PALETTE[i % 6].filled(),
            ))
            .map_err(|e| perr(path, e))?;
            text(&root, name, 30, y, 1, &BLACK);
        }
        let x0 = label_w;
        for i in 0..=((vmax / step).round() as usize) {
            let v = step * i as f64;
            let x = x0 + (plot_w as f64 * v / vmax) as i32;
            root.draw(&PathElement::new(
                vec![(x, top - 4), (x, top + row * layers.len() as i32)],
                RGBColor(220, 220, 220),
            ))
            .map_err(|e| perr(path, e))?;
            let l = tick_label(v);
            text(
                &root,
                &l,
                x - font::text_width(&l, 1) / 2,
                top + row * layers.len() as i32 + 6,
                1,
                &BLACK,
            );
        }
        for (li, layer) in layers.iter().enumerate() {
            let y0 = top + li as i32 * row;
            text(&root, layer, 8, y0 + row / 2 - 5, 1, &BLACK);
            for (si, (_, v)) in series.iter().enumerate() {
                if let Some((_, val)) = v.iter().find(|(l, _)| l == layer) {
                    let len = (plot_w as f64 * val / vmax).round() as i32;
                    let y = y0 + si as i32 * bar;
                    root.draw(&Rectangle::new(
                        [(x0, y), (x0 + len.max(1), y + bar - 2)],
                        PALETTE[si % 6].filled(),
                    ))
                    .map_err(|e| perr(path, e))?;
                    text(&root, &tick_label(*val), x0 + len + 4, y + 1, 1, &BLACK);
                }
            }
        }
        root.present().map_err(|e| perr(path, e))?;
    }
    tmp.commit().map_err(|e| Error::io(path, e))
}

/// Fig. 4-style grouped bars: for each class, the mean softmax weight of every scale, in two
/// panels (temporal `W_α` and channel `W_β`). `temporal[class][scale]`, `channel[class][scale]`.
pub fn scale_importance(
    path: &Path,
    module: &str,
    kernels: &[usize],
    classes: &[String],
    temporal: &[Vec<f64>],
    channel: &[Vec<f64>],
) -> Result<()> {
    let n = kernels.len().max(1) as i32;
    // Bars wide enough that each class name fits under its group (up to 18 characters).
    let name_w = classes
        .iter()
        .map(|c| font::text_width(&c.chars().take(18).collect::<String>(), 1))
        .max()
        .unwrap_or(0);
    let bar = ((name_w + 4) / n).clamp(8, 30);
    let group = bar * n + 14;
    let (left, top, ph) = (50, 60, 180);
    let pw = (group * classes.len().max(1) as i32).max(200);
    let w = (left + pw + 30) as u32;
    let h = (2 * (ph + 70) + top) as u32;
    let tmp = tmp_png(path)?;
    {
        let root = BitMapBackend::new(tmp.temp_path(), (w.max(420), h)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| perr(path, e))?;
        text(
            &root,
            &format!("Scale importance of {module} per class"),
            10,
            8,
            2,
            &BLACK,
        );
        for (i, k) in kernels.iter().enumerate() {
            let x = 10 + 70 * i as i32;
            root.draw(&Rectangle::new(
                [(x, 34), (x + 14, 41)],
                PALETTE[i % 6].filled(),
            ))
            .map_err(|e| perr(path, e))?;
            text(&root, &format!("kernel {k}"), x + 18, 34, 1, &BLACK);
        }
        for (pi, (title, data)) in [
            ("temporal weight W_alpha (mean over steps)", temporal),
            (
                "channel weight W_beta (mean over channels and steps)",
                channel,
            ),
        ]
        .iter()
        .enumerate()
        {
            let y0 = top + pi as i32 * (ph + 70) + 16;
            text(&root, title, left, y0 - 14, 1, &BLACK);
            let vmax = data.iter().flatten().fold(0f64, |a, &v| a.max(v));
            let (step, vmax) = nice_ticks(vmax, 5);
            for i in 0..=((vmax / step).round() as usize) {
                let v = step * i as f64;
                let y = y0 + ph - (ph as f64 * v / vmax) as i32;
                root.draw(&PathElement::new(
                    vec![(left, y), (left + pw, y)],
                    RGBColor(220, 220, 220),
                ))
                .map_err(|e| perr(path, e))?;
                let l = format!("{v:.2}");
                text(
                    &root,
                    &l,
                    left - 6 - font::text_width(&l, 1),
                    y - 3,
                    1,
                    &BLACK,
                );
            }
            for (ci, vals) in data.iter().enumerate() {
                let gx = left + ci as i32 * group + 7;
                for (si, v) in vals.iter().enumerate() {
                    let hgt = (ph as f64 * v / vmax).round() as i32;
                    let x = gx + si as i32 * bar;
                    root.draw(&Rectangle::new(
                        [(x, y0 + ph - hgt), (x + bar - 1, y0 + ph)],
                        PALETTE[si % 6].filled(),
                    ))
                    .map_err(|e| perr(path, e))?;
                }
                let name: String = classes
                    .get(ci)
                    .map(|c| c.chars().take(18).collect())
                    .unwrap_or_default();
                text(&root, &name, gx, y0 + ph + 6, 1, &BLACK);
            }
            root.draw(&Rectangle::new([(left, y0), (left + pw, y0 + ph)], BLACK))
                .map_err(|e| perr(path, e))?;
        }
        root.present().map_err(|e| perr(path, e))?;
    }
    tmp.commit().map_err(|e| Error::io(path, e))
}

/// The atomic file a plot is drawn into (`.stem.XXXX.png` next to `path`: the image encoder picks
/// the format from the extension). Dropped without a commit (a drawing error), it is removed.
fn tmp_png(path: &Path) -> Result<snnkit_fsutil::AtomicFile> {
    snnkit_fsutil::AtomicFile::create(path).map_err(|e| Error::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_ticks_are_1_2_5_steps() {
        assert_eq!(nice_ticks(2404.0, 5), (500.0, 2500.0));
        assert_eq!(nice_ticks(0.43, 5), (0.1, 0.5));
        assert_eq!(nice_ticks(10.0, 5), (2.0, 10.0));
        assert_eq!(nice_ticks(0.0, 5), (0.2, 1.0));
    }

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
        confusion(
            &c,
            &[vec![3, 1], vec![0, 4]],
            &["left".into(), "right".into()],
            "Confusion",
        )
        .unwrap();
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
