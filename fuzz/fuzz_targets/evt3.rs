//! Evt3 decoder: never panics; whatever decodes re-encodes and decodes to the same events.
#![no_main]

use libfuzzer_sys::fuzz_target;
use snnkit_events::{decode_bytes, evt3, Format, ReadOptions};

fuzz_target!(|data: &[u8]| {
    if let Ok(rec) = decode_bytes(Format::Evt3, data, &ReadOptions::default()) {
        let opts = evt3::RawWriteOptions {
            sensor_size: rec.width.zip(rec.height),
        };
        // Writers refuse what their format cannot hold (decreasing EVT times); never panic.
        if let Ok(bytes) = evt3::encode(&rec.events, &opts) {
            let again =
                decode_bytes(Format::Evt3, &bytes, &ReadOptions::default()).expect("re-decodes");
            assert_eq!(again.events, rec.events);
        }
    }
});
