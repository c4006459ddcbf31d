//! AEDAT 3.1 decoder: never panics; decoded files re-encode and decode to the same events.
#![no_main]

use libfuzzer_sys::fuzz_target;
use snnkit_events::{aedat3, decode_bytes, Format, ReadOptions};

fuzz_target!(|data: &[u8]| {
    let strict = data.first().is_some_and(|b| b & 1 == 1);
    let opts = ReadOptions {
        strict,
        ..Default::default()
    };
    if let Ok(rec) = decode_bytes(Format::Aedat3, data, &opts) {
        assert!(rec.events.len() <= data.len() / 8);
        if let Ok(bytes) = aedat3::encode(&rec.events, &aedat3::Aedat3WriteOptions::default()) {
            let again = decode_bytes(Format::Aedat3, &bytes, &ReadOptions::default());
            // The writer's DVS128 source line implies a 128x128 sensor: only in-range events round-trip.
            if rec.events.x.iter().all(|&x| x < 128) && rec.events.y.iter().all(|&y| y < 128) {
                assert_eq!(again.expect("re-decode").events, rec.events);
            }
        }
    }
});
