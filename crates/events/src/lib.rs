//! Readers and writers for neuromorphic event files.
//!
//! Every reader produces the same in-memory representation, [`Events`]: a struct of arrays with
//! timestamps in microseconds (`i64`), pixel coordinates (`u16`) and polarity (`u8`, 0 or 1).
//!
//! | format | module | read | write |
//! |---|---|---|---|
//! | AEDAT 2.0 (jAER; CIFAR10-DVS) | [`aedat2`] | DVS128 and DAVIS layouts | DVS128 layout |
//! | AEDAT 3.1 (cAER; DVS128 Gesture) | [`aedat3`] | polarity packets | yes |
//! | AEDAT 4.0 (DV) | [`aedat4`] | lowest-id event stream, LZ4/zstd | yes |
//! | ATIS `.bin` (N-MNIST, N-Caltech101) | [`atis`] | SpikingJelly or Tonic overflow handling | yes |
//! | HDF5 (DSEC, event_utils layouts) | [`hdf5`] | both | DSEC layout |
//! | Prophesee EVT 2.0 `.raw` | [`evt2`] | yes, 34-bit time with wraps | yes |
//! | Prophesee EVT 3.0 `.raw` | [`evt3`] | yes, vectors, 24-bit time with wraps | yes |
//! | Prophesee / ATIS DAT `.dat` (N-CARS) | [`dat`] | version 2 and older | version 2 |
//!
//! Decoding never panics on bad input: a damaged file gives an [`Error`] naming the file and the
//! byte offset. Defaults match SpikingJelly; see `docs/formats.md` for every convention.
//!
//! ```
//! use snnkit_events::{aedat3, read_file, Event, Events, Format, ReadOptions};
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("two.aedat");
//! let events: Events = [Event { t: 5, x: 1, y: 2, p: 1 }, Event { t: 9, x: 3, y: 4, p: 0 }]
//!     .into_iter()
//!     .collect();
//! aedat3::write(&path, &events, &aedat3::Aedat3WriteOptions::default())?;
//! let rec = read_file(&path, &ReadOptions::default())?;
//! assert_eq!(rec.format, Format::Aedat3);
//! assert_eq!(rec.events, events);
//! assert_eq!((rec.width, rec.height), (Some(128), Some(128))); // from "#Source 1: DVS128"
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

pub use error::Error;

/// Version of the decoders' output. Bump it whenever any decoder returns different events (or a different
/// sensor size) for the same input bytes; caches record it and are rebuilt when it changes.
pub const DECODER_VERSION: u64 = 1;
pub use format::{
    Aedat2Layout, Aedat2Orientation, AtisOverflow, Format, ParseNameError, Profile, ReadOptions,
};
pub use read::{decode_bytes, detect_file, read_file};
pub use recording::{Recording, Summary};
pub use types::{Event, Events, EventsRef};

pub mod aedat2;
pub mod aedat3;
pub mod aedat4;
pub mod atis;
pub mod convert;
pub mod dat;
pub mod evt2;
pub mod evt3;
pub mod hdf5;
pub mod ranged;

mod error;
mod format;
mod prophesee;
mod read;
mod recording;
mod source;
mod types;
