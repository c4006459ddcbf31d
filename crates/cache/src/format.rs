//! Names, settings and types of cache format version 1 (see `docs/cache-format.md`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The cache format version this build writes and the only one it reads.
pub const FORMAT_VERSION: u64 = 1;

/// The event decoders' output version ([`snnkit_events::DECODER_VERSION`]); stored in every cache and part of
/// its settings key, so a cache made before a decoder change is rebuilt rather than served.
pub const DECODER_VERSION: u64 = snnkit_events::DECODER_VERSION;
/// The binning's output version ([`snnkit_frames::BINNING_VERSION`]); stored and keyed like
/// [`DECODER_VERSION`].
pub const BINNING_VERSION: u64 = snnkit_frames::BINNING_VERSION;

/// Dataset holding the frames, `[N, T, 2, H, W]`, one sample per chunk.
pub const FRAMES: &str = "frames";
/// Dataset holding the labels, `u16 [N]`.
pub const LABELS: &str = "labels";
/// Dataset holding where each sample came from, `[N]` UTF-8 strings `"<file relative to root>#<segment>"`.
pub const SOURCES: &str = "sources";
/// Dataset holding the number of real (unpadded) frames per sample, `u32 [N]`. Only in fixed-duration caches,
/// whose samples have different frame counts and are zero-padded to the longest.
pub const LENGTHS: &str = "lengths";

/// How events are integrated into frames (SpikingJelly's three modes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FrameSetting {
    /// `frames_number = frames`, `split_by = 'number'` or `'time'`: every sample has exactly `frames` frames.
    Frames {
        /// Frames per sample (T).
        frames: usize,
        /// How the sample's events are split into the T frames.
        split_by: SplitBy,
    },
    /// `duration = us` microseconds per frame: the frame count depends on the sample's time span.
    Duration {
        /// Frame length in microseconds (> 0).
        us: u64,
    },
}

impl FrameSetting {
    /// The folder name of this setting inside `CACHE_DIR/<dataset>/`, e.g. `frames16_number` or `duration50000us`.
    pub fn dir_name(&self) -> String {
        match self {
            FrameSetting::Frames { frames, split_by } => format!("frames{frames}_{split_by}"),
            FrameSetting::Duration { us } => format!("duration{us}us"),
        }
    }
}

/// SpikingJelly's `split_by`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SplitBy {
    /// Equal event counts per frame (the remainder goes to the last frame).
    Number,
    /// Equal time spans per frame.
    Time,
}

impl fmt::Display for SplitBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SplitBy::Number => "number",
            SplitBy::Time => "time",
        })
    }
}

impl FromStr for SplitBy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "number" => Ok(SplitBy::Number),
            "time" => Ok(SplitBy::Time),
            other => Err(format!(
                "unknown split_by {other:?} (expected number or time)"
            )),
        }
    }
}

/// Compression of the `/frames` chunks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    /// Chunks stored as they are.
    None,
    /// zlib/deflate at this level (1..=9), preceded by HDF5's byte shuffle for 16- and 32-bit counts.
    Deflate(u8),
}

impl Compression {
    /// The default: deflate level 3. Measured with `snnkit bench convert --compare ...` on a generated
    /// DVS128-Gesture-sized set (20 recordings, 168 M events, T = 16, uint16 counts; see `docs/cache-format.md`):
    /// level 3 costs about the same conversion CPU as level 1 and stores 12% fewer bytes; level 4 (zlib's lazy
    /// matcher) adds ~10% CPU for another 7%, level 6 +65% CPU over level 1 for 27% fewer bytes, level 9 ~18x the
    /// CPU. Chunks are compressed on the conversion workers, so the cost spreads over `--jobs`.
    pub const DEFAULT: Compression = Compression::Deflate(3);
}

impl Default for Compression {
    fn default() -> Self {
        Compression::DEFAULT
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Compression::None => f.write_str("none"),
            Compression::Deflate(level) => write!(f, "deflate:{level}"),
        }
    }
}

impl FromStr for Compression {
    type Err = String;
    /// Parses `none`, `deflate` (default level) or `deflate:LEVEL` with LEVEL in 1..=9.
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "none" => Ok(Compression::None),
            "deflate" => Ok(Compression::DEFAULT),
            other => {
                let level = other
                    .strip_prefix("deflate:")
                    .and_then(|l| l.parse::<u8>().ok())
                    .filter(|l| (1..=9).contains(l))
                    .ok_or_else(|| {
                        format!("unknown compression {other:?} (expected none, deflate or deflate:1..9)")
                    })?;
                Ok(Compression::Deflate(level))
            }
        }
    }
}

/// The unsigned integer type the counts are stored in: the smallest that holds every count of the split.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum CountType {
    /// `uint8`, counts up to 255.
    #[serde(rename = "uint8")]
    U8,
    /// `uint16`, counts up to 65535.
    #[serde(rename = "uint16")]
    U16,
    /// `uint32`.
    #[serde(rename = "uint32")]
    U32,
}

impl CountType {
    /// The smallest type that holds `max`.
    pub fn for_max(max: u32) -> CountType {
        if max <= u8::MAX as u32 {
            CountType::U8
        } else if max <= u16::MAX as u32 {
            CountType::U16
        } else {
            CountType::U32
        }
    }

    /// Bytes per count.
    pub fn size(self) -> usize {
        match self {
            CountType::U8 => 1,
            CountType::U16 => 2,
            CountType::U32 => 4,
        }
    }

    /// The numpy name written to the `dtype` attribute (`uint8`, `uint16`, `uint32`).
    pub fn name(self) -> &'static str {
        match self {
            CountType::U8 => "uint8",
            CountType::U16 => "uint16",
            CountType::U32 => "uint32",
        }
    }

    /// Inverse of [`CountType::name`].
    pub fn from_name(name: &str) -> Option<CountType> {
        match name {
            "uint8" => Some(CountType::U8),
            "uint16" => Some(CountType::U16),
            "uint32" => Some(CountType::U32),
            _ => None,
        }
    }

    /// From a byte size (1, 2 or 4).
    pub fn from_size(size: usize) -> Option<CountType> {
        match size {
            1 => Some(CountType::U8),
            2 => Some(CountType::U16),
            4 => Some(CountType::U32),
            _ => None,
        }
    }
}

/// Everything the writer needs to know about a split before the first sample; stored as file attributes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CacheMeta {
    /// Dataset name (`dvs128-gesture`, `synthetic`, ...).
    pub dataset: String,
    /// Split name (`train`, `test`).
    pub split: String,
    /// How events were integrated into frames.
    pub setting: FrameSetting,
    /// Sensor height (rows, H).
    pub height: usize,
    /// Sensor width (columns, W).
    pub width: usize,
    /// Class names, index = label.
    pub class_names: Vec<String>,
    /// [`crate::fingerprint`] of the raw files this split was converted from.
    pub source_fingerprint: String,
    /// Absolute dataset root at conversion time, used to re-check the fingerprint when the cache is opened.
    pub source_root: Option<String>,
    /// Chunk compression.
    pub compression: Compression,
}

impl CacheMeta {
    /// A canonical string of everything that must match for a temp file to be resumed (or a finished cache to
    /// count as up to date): the format, decoder and binning versions and all settings, but not timestamps or
    /// progress.
    pub fn settings_key(&self) -> String {
        let value = serde_json::json!({
            "format_version": FORMAT_VERSION,
            "decoder_version": DECODER_VERSION,
            "binning_version": BINNING_VERSION,
            "dataset": self.dataset,
            "split": self.split,
            "setting": self.setting,
            "height": self.height,
            "width": self.width,
            "class_names": self.class_names,
            "source_fingerprint": self.source_fingerprint,
            "compression": self.compression,
        });
        value.to_string()
    }
}

/// Attribute names (file-level attributes of `/`).
pub mod attr {
    /// `u64`, always [`super::FORMAT_VERSION`] for files this build writes.
    pub const FORMAT_VERSION: &str = "format_version";
    /// String, the snnkit version that wrote the file.
    pub const SNNKIT_VERSION: &str = "snnkit_version";
    /// `u64`, [`super::DECODER_VERSION`] of the build that wrote the file.
    pub const DECODER_VERSION: &str = "decoder_version";
    /// `u64`, [`super::BINNING_VERSION`] of the build that wrote the file.
    pub const BINNING_VERSION: &str = "binning_version";
    /// String.
    pub const DATASET: &str = "dataset";
    /// String.
    pub const SPLIT: &str = "split";
    /// `u64`, T (for fixed-duration caches: the longest sample, others are zero-padded).
    pub const FRAMES: &str = "frames";
    /// String `number` or `time`; present for frame-count settings.
    pub const SPLIT_BY: &str = "split_by";
    /// `u64` microseconds; present for fixed-duration settings.
    pub const DURATION: &str = "duration";
    /// `u64`.
    pub const HEIGHT: &str = "height";
    /// `u64`.
    pub const WIDTH: &str = "width";
    /// String, JSON list of class names.
    pub const CLASS_NAMES: &str = "class_names";
    /// String.
    pub const SOURCE_FINGERPRINT: &str = "source_fingerprint";
    /// String, absolute path of the dataset root at conversion time.
    pub const SOURCE_ROOT: &str = "source_root";
    /// String, UTC time the cache was completed (RFC 3339).
    pub const CREATED: &str = "created";
    /// String, numpy name of the count type of `/frames`.
    pub const DTYPE: &str = "dtype";
    /// String, `none` or `deflate:LEVEL`.
    pub const COMPRESSION: &str = "compression";
    /// String, the setting folder name (`frames16_number`).
    pub const SETTING: &str = "setting";
    /// String, JSON list of raw files skipped as unreadable (`--skip-bad`).
    pub const SKIPPED_FILES: &str = "skipped_files";
    /// String, [`super::CacheMeta::settings_key`].
    pub const SETTINGS_KEY: &str = "settings_key";
    /// `u64`, only in temp files: raw files fully written at the last checkpoint.
    pub const UNITS_DONE: &str = "units_done";
    /// `u64`, only in temp files: samples written at the last checkpoint.
    pub const SAMPLES_DONE: &str = "samples_done";
}
