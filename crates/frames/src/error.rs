//! The one error type of the frames crate.

/// What can go wrong when integrating events into frames.
///
/// Event indices are relative to the event slice handed to the function.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An event lies outside the sensor (SpikingJelly fails on these with a reshape or index error).
    #[error("event {index} at x={x}, y={y} lies outside the {width}x{height} (WxH) sensor")]
    OutOfRange {
        /// Index of the event in the slice.
        index: usize,
        /// Its column.
        x: u16,
        /// Its row.
        y: u16,
        /// Sensor width.
        width: usize,
        /// Sensor height.
        height: usize,
    },
    /// Tonic uses the polarity as the channel index; only 0 and 1 have a channel.
    #[error("event {index} has polarity {p}; Tonic modes need polarity 0 or 1 (channel index)")]
    BadPolarity {
        /// Index of the event in the slice.
        index: usize,
        /// Its polarity.
        p: u8,
    },
    /// The frame specification cannot be applied (zero frames, non-positive duration or stride, ...).
    #[error("invalid frame specification: {reason}")]
    InvalidSpec {
        /// Why.
        reason: String,
    },
    /// The sensor has a zero side.
    #[error("invalid sensor size {width}x{height} (WxH): both sides must be at least 1")]
    InvalidSensor {
        /// Sensor width.
        width: usize,
        /// Sensor height.
        height: usize,
    },
    /// The output would not fit in memory (`T * 2 * H * W` overflows `usize`).
    #[error("{frames} frames of 2x{height}x{width} do not fit in memory")]
    TooLarge {
        /// Number of frames requested.
        frames: usize,
        /// Sensor height.
        height: usize,
        /// Sensor width.
        width: usize,
    },
    /// A caller-provided buffer has the wrong length.
    #[error("output buffer holds {got} counts but {needed} are needed ({frames} frames)")]
    BufferSize {
        /// Counts the frames need.
        needed: usize,
        /// Length of the buffer given.
        got: usize,
        /// Number of frames of the sample.
        frames: usize,
    },
    /// In a batch written into one buffer, a sample gives a different frame count than the others.
    #[error(
        "sample {sample} gives {frames} frames, but the batch buffer is laid out for {expected}"
    )]
    FrameCountMismatch {
        /// Index of the sample in the batch.
        sample: usize,
        /// Its frame count.
        frames: usize,
        /// The frame count the buffer expects.
        expected: usize,
    },
    /// The event file could not be decoded (the events crate's error, with file and byte offset).
    #[error(transparent)]
    Decode(#[from] snnkit_events::Error),
    /// An error in one sample of a batch (the cause is the source).
    #[error("sample {sample}")]
    Sample {
        /// Index of the sample in the batch.
        sample: usize,
        /// What went wrong.
        source: Box<Error>,
    },
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, Error>;
