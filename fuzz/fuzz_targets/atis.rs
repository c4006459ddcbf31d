//! ATIS .bin decoder, both overflow modes: never panics; SpikingJelly mode round-trips.
#![no_main]

use libfuzzer_sys::fuzz_target;
use snnkit_events::{atis, decode_bytes, AtisOverflow, Format, Profile, ReadOptions};

fuzz_target!(|data: &[u8]| {
    let sj = decode_bytes(Format::AtisBin, data, &ReadOptions::default());
    if let Ok(rec) = &sj {
        assert_eq!(rec.events.len(), data.len() / 5);
        assert_eq!(atis::encode(&rec.events).expect("encodable"), data);
    }
    let tonic = ReadOptions {
        atis_overflow: AtisOverflow::Tonic,
        profile: Some(Profile::NCaltech101),
        ..Default::default()
    };
    let _ = decode_bytes(Format::AtisBin, data, &tonic);
});
