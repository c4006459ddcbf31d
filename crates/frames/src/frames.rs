//! The frame container and the sensor size.

/// Sensor size in pixels. Frames are laid out `[T, 2, height, width]`; an event's row is `y`,
/// its column `x`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SensorSize {
    /// Number of columns (x ranges over `0..width`).
    pub width: usize,
    /// Number of rows (y ranges over `0..height`).
    pub height: usize,
}

impl SensorSize {
    /// Counts in one frame: `2 * height * width`.
    pub fn frame_len(&self) -> usize {
        2 * self.height * self.width
    }

    /// `2 * height * width` and `T` times that, or `None` when it overflows `usize`.
    pub(crate) fn checked_len(&self, frames: usize) -> Option<usize> {
        self.height
            .checked_mul(self.width)?
            .checked_mul(2)?
            .checked_mul(frames)
    }
}

impl From<(u16, u16)> for SensorSize {
    /// From `(width, height)`, the order of `snnkit_events::Profile::sensor_size()`.
    fn from((width, height): (u16, u16)) -> Self {
        SensorSize {
            width: width as usize,
            height: height as usize,
        }
    }
}

/// Event counts of `frames` frames, C-order `[frames, 2, height, width]`.
///
/// Channel 0 counts polarity 0 (OFF); channel 1 counts the rest (SpikingJelly) or polarity 1
/// (Tonic).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Frames {
    /// Number of frames `T`.
    pub frames: usize,
    /// Rows per frame.
    pub height: usize,
    /// Columns per frame.
    pub width: usize,
    /// The counts, `frames * 2 * height * width` of them.
    pub counts: Vec<u32>,
}

impl Frames {
    /// Number of channels, always 2 (OFF, ON).
    pub const CHANNELS: usize = 2;

    /// `[T, 2, H, W]`.
    pub fn shape(&self) -> [usize; 4] {
        [self.frames, Self::CHANNELS, self.height, self.width]
    }

    /// The counts of frame `i` (`[2, H, W]`), or `None` past the end.
    pub fn frame(&self, i: usize) -> Option<&[u32]> {
        let sensor = SensorSize {
            width: self.width,
            height: self.height,
        };
        let len = sensor.checked_len(1)?;
        let start = i.checked_mul(len)?;
        self.counts.get(start..start.checked_add(len)?)
    }

    /// Number of events counted in each frame.
    pub fn per_frame_sum(&self) -> Vec<u64> {
        (0..self.frames)
            .map(|i| {
                self.frame(i)
                    .map_or(0, |f| f.iter().map(|&c| c as u64).sum())
            })
            .collect()
    }

    /// Largest count of any cell (0 when there are none); picks the cache's storage type.
    pub fn max_count(&self) -> u32 {
        self.counts.iter().copied().max().unwrap_or(0)
    }

    /// The counts as `f32`, exactly SpikingJelly's `float32` frames (counts below 2^24 are exact).
    pub fn to_f32(&self) -> Vec<f32> {
        self.counts.iter().map(|&c| c as f32).collect()
    }

    /// The counts as Tonic's `int16` frames: Tonic accumulates in `int16`, which wraps past
    /// 32,767; the count modulo 2^16 reinterpreted as `i16` is exactly that.
    pub fn to_i16_wrapping(&self) -> Vec<i16> {
        self.counts.iter().map(|&c| c as u16 as i16).collect()
    }
}
