//! Blosc (zstd, lz4) and LZF compressed DSEC-layout event files, written by h5py + hdf5plugin,
//! open without a filter plugin (the filters are built into the hdf5 crate) and decode to the
//! same events as an uncompressed copy. Python comes from `SNNKIT_PYTHON`, else
//! `target/pyenv/bin/python`, else `python3`; without h5py and hdf5plugin the test says why and
//! passes (tools/scripts/setup.sh installs them).

use snnkit_events::{read_file, Format, ReadOptions};
use std::path::{Path, PathBuf};
use std::process::Command;

fn python() -> Option<PathBuf> {
    let python = std::env::var_os("SNNKIT_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/pyenv/bin/python");
            if venv.exists() {
                venv
            } else {
                PathBuf::from("python3")
            }
        });
    match Command::new(&python)
        .args(["-c", "import h5py, numpy, hdf5plugin"])
        .output()
    {
        Ok(o) if o.status.success() => Some(python),
        Ok(o) => {
            println!(
                "skipping: {} cannot import h5py/numpy/hdf5plugin ({})",
                python.display(),
                String::from_utf8_lossy(&o.stderr)
                    .lines()
                    .last()
                    .unwrap_or("")
            );
            None
        }
        Err(e) => {
            println!("skipping: cannot run {}: {e}", python.display());
            None
        }
    }
}

const SCRIPT: &str = r#"
import sys, h5py, numpy as np, hdf5plugin
out = sys.argv[1]
rng = np.random.default_rng(5)
n = 50_000
t = np.cumsum(rng.integers(0, 40, n)).astype(np.uint32)
x = rng.integers(0, 640, n).astype(np.uint16)
y = rng.integers(0, 480, n).astype(np.uint16)
p = rng.integers(0, 2, n).astype(np.uint8)
filters = {
    "plain": {},
    "blosc_zstd": hdf5plugin.Blosc(cname="zstd", clevel=5, shuffle=hdf5plugin.Blosc.SHUFFLE),
    "blosc_lz4": hdf5plugin.Blosc(cname="lz4", clevel=5, shuffle=hdf5plugin.Blosc.BITSHUFFLE),
    "lzf": {"compression": "lzf"},
}
for name, f in filters.items():
    with h5py.File(f"{out}/{name}.h5", "w") as h:
        kw = dict(f) if isinstance(f, dict) else dict(**f)
        for col, a in (("x", x), ("y", y), ("t", t), ("p", p)):
            h.create_dataset(f"events/{col}", data=a, chunks=(8192,) if kw else None, **kw)
        h.create_dataset("t_offset", data=np.int64(1_600_000_000_000_000))
        if kw:
            assert h["events/t"].compression is not None or h["events/t"]._filters, name
"#;

#[test]
fn blosc_and_lzf_dsec_files_decode_without_a_plugin() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(&py)
        .args(["-c", SCRIPT, dir.path().to_str().unwrap()])
        // The filters must come from the Rust side, not a plugin folder h5py knows about.
        .env_remove("HDF5_PLUGIN_PATH")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let read = |name: &str| {
        read_file(
            &dir.path().join(format!("{name}.h5")),
            &ReadOptions::default(),
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    let plain = read("plain");
    assert_eq!(plain.format, Format::Hdf5);
    assert_eq!(plain.events.len(), 50_000);
    assert!(plain.events.t[0] >= 1_600_000_000_000_000, "t_offset added");
    let plain_size = std::fs::metadata(dir.path().join("plain.h5"))
        .unwrap()
        .len();
    for name in ["blosc_zstd", "blosc_lz4", "lzf"] {
        let rec = read(name);
        assert_eq!(rec.events, plain.events, "{name}");
        let size = std::fs::metadata(dir.path().join(format!("{name}.h5")))
            .unwrap()
            .len();
        assert!(
            size < plain_size,
            "{name}: {size} bytes is not compressed ({plain_size})"
        );
    }
}
