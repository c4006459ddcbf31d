//! AEDAT 4.0 decoder (flatbuffer offsets, LZ4/zstd payloads, XML): never panics; whatever
//! decodes re-encodes (with each compression) and decodes to the same events.
#![no_main]

use libfuzzer_sys::fuzz_target;
use snnkit_events::aedat4::{encode, Aedat4WriteOptions, Compression};
use snnkit_events::{decode_bytes, Format, ReadOptions};

fuzz_target!(|data: &[u8]| {
    let Ok(rec) = decode_bytes(Format::Aedat4, data, &ReadOptions::default()) else {
        return;
    };
    let max = |v: &[u16]| v.iter().copied().max().map_or(1, |m| m as u32 + 1);
    let width = rec.width.map_or(0, u32::from).max(max(&rec.events.x));
    let height = rec.height.map_or(0, u32::from).max(max(&rec.events.y));
    let (Ok(width), Ok(height)) = (u16::try_from(width), u16::try_from(height)) else {
        return;
    };
    let compression = match data.last().copied().unwrap_or(0) % 3 {
        0 => Compression::None,
        1 => Compression::Lz4,
        _ => Compression::Zstd,
    };
    let opts = Aedat4WriteOptions {
        compression,
        width,
        height,
        ..Default::default()
    };
    // The writer refuses what the format cannot hold (coordinates >= 32768); never panics.
    let Ok(bytes) = encode(&rec.events, &opts) else {
        return;
    };
    let again = decode_bytes(Format::Aedat4, &bytes, &ReadOptions::default()).expect("re-decodes");
    let mut want = rec.events.clone();
    want.p.iter_mut().for_each(|p| *p = (*p != 0) as u8);
    assert_eq!(again.events, want);
});
