//! AEDAT 4.0 decoder (flatbuffer offsets, LZ4/zstd payloads, XML): never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use snnkit_events::{decode_bytes, Format, ReadOptions};

fuzz_target!(|data: &[u8]| {
    let _ = decode_bytes(Format::Aedat4, data, &ReadOptions::default());
});
