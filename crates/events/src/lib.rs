//! Readers and writers for neuromorphic event files.
//!
//! Every reader produces the same in-memory representation, [`Events`]: a struct of arrays with
//! timestamps in microseconds (`i64`), pixel coordinates (`u16`) and polarity (`u8`, 0 or 1).

mod types;

pub use types::{Event, Events, EventsRef};
