//! AEDAT 2.0 decoder (both layouts, with and without the CIFAR10-DVS profile): never panics;
//! whatever the DVS128 writer can hold re-encodes and decodes to the same events.
#![no_main]

use libfuzzer_sys::fuzz_target;
use snnkit_events::aedat2::{encode, Aedat2WriteOptions};
use snnkit_events::{decode_bytes, Aedat2Layout, Format, Profile, ReadOptions};

fuzz_target!(|data: &[u8]| {
    let sel = data.last().copied().unwrap_or(0);
    let profile = (sel & 2 == 2).then_some(Profile::Cifar10Dvs);
    let opts = ReadOptions {
        strict: sel & 1 == 1,
        profile,
        aedat2_layout: match sel >> 2 & 3 {
            1 => Some(Aedat2Layout::Dvs128),
            2 => Some(Aedat2Layout::Davis),
            _ => None,
        },
        ..Default::default()
    };
    let Ok(rec) = decode_bytes(Format::Aedat2, data, &opts) else {
        return;
    };
    assert!(rec.events.len() <= data.len() / 8);
    // The writer refuses what its layout cannot hold (x or y >= 128, t outside u32); never panics.
    let Ok(bytes) = encode(&rec.events, &Aedat2WriteOptions { profile }) else {
        return;
    };
    let back = ReadOptions {
        profile,
        ..Default::default()
    };
    let again = decode_bytes(Format::Aedat2, &bytes, &back).expect("re-decodes");
    let mut want = rec.events.clone();
    // Polarity is one bit in the file: any non-zero p is ON.
    want.p.iter_mut().for_each(|p| *p = (*p != 0) as u8);
    assert_eq!(again.events, want);
});
