//! The plots' typeface: DejaVu Sans, bundled (`assets/DejaVuSans.ttf`, Bitstream Vera licence in
//! `assets/LICENSE-DejaVu.txt`) and rasterised by plotters' `ab_glyph` backend, so plots need no
//! system font library and look the same everywhere.

use plotters::style::{FontDesc, FontFamily, FontStyle, RGBColor, TextStyle};
use std::sync::Once;

static TTF: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

/// The family name the font is registered under.
pub const FAMILY: &str = "DejaVu Sans";

/// Registers the bundled font with plotters (once per process).
pub fn ensure() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The bytes are a valid TTF compiled into the binary; a failure would show as missing
        // text, never as a crash.
        if plotters::style::register_font(FAMILY, FontStyle::Normal, TTF).is_err() {
            tracing::warn!("the bundled plot font could not be registered");
        }
    });
}

/// Pixel height of text at `scale` (1 = labels, 2 = titles).
pub fn size(scale: u32) -> f64 {
    match scale {
        0 | 1 => 12.0,
        2 => 17.0,
        s => 8.0 * s as f64,
    }
}

/// The text style at `scale` in `color`.
pub fn style(scale: u32, color: &RGBColor) -> TextStyle<'static> {
    ensure();
    FontDesc::new(FontFamily::Name(FAMILY), size(scale), FontStyle::Normal).color(color)
}

/// Width in pixels of `text` at `scale`.
pub fn text_width(text: &str, scale: u32) -> i32 {
    ensure();
    FontDesc::new(FontFamily::Name(FAMILY), size(scale), FontStyle::Normal)
        .box_size(text)
        .map(|(w, _)| w as i32)
        .unwrap_or((text.chars().count() as f64 * size(scale) * 0.6) as i32)
}
