//! Dat decoder: never panics; whatever decodes re-encodes and decodes to the same events.
#![no_main]

use libfuzzer_sys::fuzz_target;
use snnkit_events::{dat, decode_bytes, Format, ReadOptions};

fuzz_target!(|data: &[u8]| {
    if let Ok(rec) = decode_bytes(Format::Dat, data, &ReadOptions::default()) {
        let opts = dat::DatWriteOptions {
            sensor_size: rec.width.zip(rec.height),
        };
        // Writers refuse what their format cannot hold (decreasing EVT times); never panic.
        if let Ok(bytes) = dat::encode(&rec.events, &opts) {
            let again =
                decode_bytes(Format::Dat, &bytes, &ReadOptions::default()).expect("re-decodes");
            assert_eq!(again.events, rec.events);
        }
    }
});
