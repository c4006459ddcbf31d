//! AEDAT 2.0 decoder (both layouts, with and without the CIFAR10-DVS profile): never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use snnkit_events::{decode_bytes, Aedat2Layout, Format, Profile, ReadOptions};

fuzz_target!(|data: &[u8]| {
    let sel = data.last().copied().unwrap_or(0);
    let opts = ReadOptions {
        strict: sel & 1 == 1,
        profile: (sel & 2 == 2).then_some(Profile::Cifar10Dvs),
        aedat2_layout: match sel >> 2 & 3 {
            1 => Some(Aedat2Layout::Dvs128),
            2 => Some(Aedat2Layout::Davis),
            _ => None,
        },
        ..Default::default()
    };
    if let Ok(rec) = decode_bytes(Format::Aedat2, data, &opts) {
        assert!(rec.events.len() <= data.len() / 8);
    }
});
