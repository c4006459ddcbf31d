//! `snnkit events` on the Prophesee fixtures: `.npy` output equals the expected events, and a
//! conversion to each event format reads back to the same `.npy`.

use ndarray::Array2;
use ndarray_npy::ReadNpyExt;
use std::path::{Path, PathBuf};
use std::process::Command;

fn shared() -> Option<PathBuf> {
    snnkit_testdata::shared_with("fixtures/prophesee")
}

fn snnkit(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_snnkit"))
        .args(args)
        .output()
        .expect("snnkit runs")
}

fn npy(p: &Path) -> Array2<i64> {
    Array2::<i64>::read_npy(std::fs::File::open(p).unwrap()).unwrap()
}

#[test]
fn prophesee_fixtures_through_the_cli() {
    let Some(s) = shared() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for name in [
        "real_evt2.raw",
        "real_evt3_vect.raw",
        "real_dat2.dat",
        "long_evt3.raw",
    ] {
        let input = s.join("fixtures/prophesee").join(name);
        let stem = name.rsplit_once('.').unwrap().0;
        let want = npy(&s.join(format!("fixtures/prophesee/expected/{stem}.npy")));
        let out = d.join("o.npy");
        let o = snnkit(&[
            "events",
            input.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(
            o.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert_eq!(npy(&out), want, "{name}");
        for (file, extra) in [
            ("c.raw", &["--out-format", "evt2"][..]),
            ("c.raw", &[][..]),
            ("c.aedat4", &[][..]),
            ("c.aedat", &[][..]),
            ("c.h5", &[][..]),
        ] {
            let c = d.join(file);
            let mut args = vec![
                "events",
                input.to_str().unwrap(),
                "--out",
                c.to_str().unwrap(),
                "--quiet",
            ];
            args.extend_from_slice(extra);
            let o = snnkit(&args);
            assert!(
                o.status.success(),
                "{name} -> {file}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            let o = snnkit(&[
                "events",
                c.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
            ]);
            assert!(
                o.status.success(),
                "{file}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            assert_eq!(npy(&out), want, "{name} -> {file} {extra:?} -> npy");
        }
    }
    // Bad requests: one-line errors naming the file, no panic.
    let input = s.join("fixtures/prophesee/real_evt2.raw");
    for (out, extra) in [
        ("x.txt", None),
        ("x.dat", Some("evt2")),
        ("x.raw", Some("dat")),
    ] {
        let out = d.join(out);
        let mut args = vec![
            "events",
            input.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ];
        if let Some(f) = extra {
            args.extend(["--out-format", f]);
        }
        let o = snnkit(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            !o.status.success() && err.starts_with("error:") && !err.contains("panicked"),
            "{err}"
        );
    }
    let cut = d.join("cut.raw");
    let bytes = std::fs::read(&input).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() - 3]).unwrap();
    let o = snnkit(&[
        "events",
        cut.to_str().unwrap(),
        "--out",
        d.join("o.npy").to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("cut.raw: byte") && err.contains("file ends early"),
        "{err}"
    );
}

/// `snnkit convert --dataset n-cars` on a tree written with the DAT writer.
#[test]
fn convert_ncars_tree() {
    use snnkit_events::{dat, Event, Events};
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("ncars");
    for split in ["train", "test"] {
        for (c, class) in ["background", "cars"].into_iter().enumerate() {
            let d = root.join(split).join(class);
            std::fs::create_dir_all(&d).unwrap();
            for i in 0..2u16 {
                let ev: Events = (0..64u16)
                    .map(|k| Event {
                        t: 10 * k as i64,
                        x: (k * 5 + i) % 120,
                        y: (k * 3 + c as u16) % 100,
                        p: (k % 2) as u8,
                    })
                    .collect();
                let opts = dat::DatWriteOptions {
                    sensor_size: Some((120, 100)),
                };
                dat::write(&d.join(format!("obj_{i:06}_td.dat")), &ev, &opts).unwrap();
            }
        }
    }
    let cache = dir.path().join("cache");
    let o = snnkit(&[
        "convert",
        "--dataset",
        "n-cars",
        "--root",
        root.to_str().unwrap(),
        "--frames",
        "4",
        "--split-by",
        "number",
        "--out",
        cache.to_str().unwrap(),
        "--quiet",
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let text = v.to_string();
    assert!(text.contains("n-cars"), "{text}");
    for split in ["train", "test"] {
        let h5 = cache.join(format!("n-cars/frames4_number/{split}.h5"));
        assert!(h5.is_file(), "{} missing; {text}", h5.display());
        let o = snnkit(&["cache", "info", h5.to_str().unwrap(), "--json"]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let info = String::from_utf8_lossy(&o.stdout);
        assert!(
            info.contains("background") && info.contains("cars"),
            "{info}"
        );
        assert!(info.contains("100") && info.contains("120"), "{info}");
    }
}
