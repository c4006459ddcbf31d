//! Decode-straight-to-frames (`integrate_file_by_number`, the ranged decoders of AEDAT 3.1,
//! AEDAT 2.0, ATIS, EVT 2.0, EVT 3.0 and DAT): never panics, and agrees with decoding the events
//! first and integrating them — same frames, or both refuse the file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use snnkit_events::{read_file, Format, ReadOptions};
use snnkit_frames::{integrate, integrate_file_by_number, FrameSpec, SensorSize};
use std::path::PathBuf;
use std::sync::OnceLock;

const FORMATS: [Format; 6] = [
    Format::Aedat3,
    Format::Aedat2,
    Format::AtisBin,
    Format::Evt2,
    Format::Evt3,
    Format::Dat,
];

fuzz_target!(|input: &[u8]| {
    let Some((&sel, data)) = input.split_first() else {
        return;
    };
    let format = FORMATS[(sel & 7) as usize % FORMATS.len()];
    // Small and large sensors (a small one makes out-of-range events, a refusal both ways,
    // common); few frames on the large ones, whose zeroed buffers would dominate the run time.
    let (sensor, most_frames) = match sel >> 6 {
        0 => (
            SensorSize {
                width: 64,
                height: 48,
            },
            16,
        ),
        1 => (
            SensorSize {
                width: 128,
                height: 128,
            },
            16,
        ),
        2 => (
            SensorSize {
                width: 346,
                height: 260,
            },
            4,
        ),
        _ => (
            SensorSize {
                width: 1280,
                height: 720,
            },
            1,
        ),
    };
    let frames = 1 + (sel >> 3 & 7) as usize % most_frames;
    // One file per process, rewritten per input: creating a temporary file each time halved the rate.
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    let path = PATH.get_or_init(|| {
        let dir = if std::path::Path::new("/dev/shm").is_dir() {
            "/dev/shm".into()
        } else {
            std::env::temp_dir()
        };
        dir.join(format!("snnkit-fuzz-fused-{}", std::process::id()))
    });
    std::fs::write(path, data).expect("write the input file");
    let opts = ReadOptions {
        format: Some(format),
        ..Default::default()
    };
    let fused = integrate_file_by_number(path.as_path(), &opts, sensor, frames);
    let spec = FrameSpec::SplitByNumber { frames };
    let reference = read_file(path.as_path(), &opts)
        .map_err(|e| e.to_string())
        .and_then(|rec| integrate(rec.events.as_ref(), sensor, &spec).map_err(|e| e.to_string()));
    match (fused, reference) {
        (Ok(Some(a)), Ok(b)) => assert_eq!(a, b, "{format:?}: fused frames differ"),
        (Ok(None), _) => {}
        (Ok(Some(_)), Err(e)) => {
            panic!("{format:?}: fused accepts what the reference refuses: {e}")
        }
        (Err(e), Ok(_)) => panic!("{format:?}: fused refuses what the reference accepts: {e}"),
        (Err(_), Err(_)) => {}
    }
});
