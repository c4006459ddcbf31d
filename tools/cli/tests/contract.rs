//! The CLI contract (version 1) of `../shared/docs/architecture.md`, checked on the built binary
//! the way an outside script calls it: every subcommand's `--help`, the contract's flags, the
//! `inspect --json` keys, the `.npy` dtype and shape of `events` and `frames`, `convert` followed
//! by `cache info --json`, `bench step --json`, and exit codes (0 success, 2 usage error, 1
//! runtime error, with a one-line message).
//!
//! The inputs are made here (an AEDAT 3.1 file written with `snnkit_events`, a tiny `snnkit
//! synth` dataset, a small N-Caltech101-shaped tree), so these tests need no `../shared`;
//! `../shared/tools/contract-check` compares the same commands' outputs with SpikingJelly's on the
//! shared fixtures. The one-line error texts are `errors.rs`'s, the flag conventions `cli_*.rs`'s.

use snnkit_events::{aedat3, atis, Event, Events};
use std::path::Path;
use std::process::{Command, Output};

fn snnkit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_snnkit"))
        .args(args)
        .env_remove("SNNKIT_LOG")
        .output()
        .expect("snnkit runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs `args`, asserting exit 0.
fn ok(args: &[&str]) -> Output {
    let o = snnkit(args);
    assert_eq!(
        o.status.code(),
        Some(0),
        "snnkit {}: {}",
        args.join(" "),
        stderr(&o)
    );
    o
}

fn s(p: &Path) -> &str {
    p.to_str().expect("temporary paths are UTF-8")
}

/// A parsed `.npy` file: dtype descriptor, shape, and the data bytes.
struct Npy {
    descr: String,
    fortran: bool,
    shape: Vec<usize>,
    data: Vec<u8>,
}

/// Parses the `.npy` header (format 1.0 or 2.0) by hand, as NumPy writes it:
/// `{'descr': '<i8', 'fortran_order': False, 'shape': (5, 4), }`.
fn read_npy(path: &Path) -> Npy {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(&bytes[..6], b"\x93NUMPY", "{}: magic", path.display());
    let (len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 => (
            u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize,
            12,
        ),
        v => panic!("{}: npy version {v}", path.display()),
    };
    let header = std::str::from_utf8(&bytes[start..start + len]).unwrap();
    assert_eq!((start + len) % 16, 0, "data is 16-byte aligned: {header}");
    let field = |key: &str| -> &str {
        let at = header
            .find(&format!("'{key}':"))
            .unwrap_or_else(|| panic!("{key} in {header}"));
        header[at + key.len() + 3..].trim_start()
    };
    let descr = field("descr").split('\'').nth(1).unwrap().to_string();
    let fortran = field("fortran_order").starts_with("True");
    let shape_text = field("shape");
    let shape = shape_text[1..shape_text.find(')').unwrap()]
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| d.parse().unwrap())
        .collect();
    Npy {
        descr,
        fortran,
        shape,
        data: bytes[start + len..].to_vec(),
    }
}

/// `n` events: t rising by 3 µs from 10, coordinates spread over 128×128, every third ON.
fn sample_events(n: usize) -> Events {
    (0..n)
        .map(|i| Event {
            t: 10 + 3 * i as i64,
            x: (i * 7 % 128) as u16,
            y: (i * 13 % 128) as u16,
            p: u8::from(i % 3 == 0),
        })
        .collect()
}

/// The contract's flags per subcommand (architecture.md, "CLI contract (version 1)"), each with
/// a value when it takes one. `bench step --batch` is the contract's spelling; it may be a hidden
/// alias of `--batch-size`, so it is checked as accepted rather than as shown in the help.
/// A flag and its value (`None` for a switch).
type Flag = (&'static str, Option<&'static str>);

const CONTRACT: &[(&[&str], &[Flag])] = &[
    (
        &["inspect"],
        &[
            ("--format", Some("aedat3")),
            ("--profile", Some("dvs128-gesture")),
            ("--json", None),
        ],
    ),
    (
        &["events"],
        &[
            ("--format", Some("aedat3")),
            ("--profile", Some("dvs128-gesture")),
            ("--out", Some("o.npy")),
        ],
    ),
    (
        &["frames"],
        &[
            ("--format", Some("aedat3")),
            ("--profile", Some("dvs128-gesture")),
            ("--height", Some("128")),
            ("--width", Some("128")),
            ("--frames", Some("4")),
            ("--split-by", Some("number")),
            ("--out", Some("o.npy")),
        ],
    ),
    (
        &["convert"],
        &[
            ("--dataset", Some("synthetic")),
            ("--root", Some("raw")),
            ("--frames", Some("4")),
            ("--split-by", Some("time")),
            ("--out", Some("cache")),
            ("--jobs", Some("1")),
        ],
    ),
    (&["cache", "info"], &[("--json", None)]),
    (&["synth"], &[("--out", Some("raw")), ("--seed", Some("3"))]),
    (
        &["train"],
        &[
            ("--preset", Some("synthetic")),
            ("--config", Some("c.toml")),
            ("--cache", Some("cache")),
            ("--out", Some("run")),
            ("--epochs", Some("1")),
            ("--device", Some("cpu")),
            ("--resume", None),
        ],
    ),
    (
        &["eval"],
        &[
            ("--checkpoint", Some("best.safetensors")),
            ("--cache", Some("cache")),
            ("--json", None),
        ],
    ),
    (&["demo"], &[("--out", Some("runs/demo"))]),
    (
        &["bench", "step"],
        &[
            ("--widths", Some("2,2,2,2,2")),
            ("--head", Some("4,4")),
            ("--frames", Some("2")),
            ("--batch", Some("1")),
            ("--size", Some("32")),
            ("--json", None),
        ],
    ),
    (&["bench", "conv"], &[("--json", None)]),
];

/// Flags the contract names that may be hidden aliases (accepted, not listed in `--help`).
const ALIASES: &[(&str, &str)] = &[("bench step", "--batch")];

/// Subcommand names listed under `Commands:` in a help text (without `help`); a wrapped
/// description's continuation lines are indented deeper than the names.
fn commands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter(|l| !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_string)
        .collect()
}

#[test]
fn every_subcommand_has_help() {
    let top = stdout(&ok(&["--help"]));
    let names = commands(&top);
    // The contract's subcommands are all there (plus the project's others).
    for want in [
        "inspect", "events", "frames", "convert", "cache", "synth", "train", "eval", "demo",
        "bench",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} in:\n{top}");
    }
    let mut checked = 0;
    for name in &names {
        let help = stdout(&ok(&[name, "--help"]));
        assert!(help.contains("Usage: snnkit"), "{name}:\n{help}");
        for sub in commands(&help) {
            let h = stdout(&ok(&[name, &sub, "--help"]));
            assert!(h.contains(&format!("Usage: snnkit {name} {sub}")), "{h}");
            checked += 1;
        }
        checked += 1;
    }
    assert!(checked >= 12, "{checked} help texts");
    let v = stdout(&ok(&["--version"]));
    assert!(v.starts_with("snnkit "), "{v}");
}

#[test]
fn help_names_and_parser_accepts_the_contract_flags() {
    for (cmd, flags) in CONTRACT {
        let label = cmd.join(" ");
        let mut args: Vec<&str> = cmd.to_vec();
        args.push("--help");
        let help = stdout(&ok(&args));
        for (flag, _) in *flags {
            if ALIASES.contains(&(label.as_str(), flag)) {
                continue;
            }
            // `--flag` followed by a space, `=`, a value name or the line end in clap's layout.
            let shown = help.lines().any(|l| {
                l.trim_start()
                    .split([' ', ',', '=', '<'])
                    .any(|w| w == *flag)
            });
            assert!(shown, "snnkit {label} --help does not list {flag}:\n{help}");
        }
        // Every contract flag at once, before `--help`: clap stops at the first flag it does
        // not know or value it refuses (exit 2), so exit 0 means all of them parse.
        let mut args: Vec<&str> = cmd.to_vec();
        for (flag, value) in *flags {
            args.push(flag);
            args.extend(value.iter());
        }
        args.push("--help");
        let o = snnkit(&args);
        assert_eq!(
            o.status.code(),
            Some(0),
            "snnkit {}: {}",
            args.join(" "),
            stderr(&o)
        );
    }
}

#[test]
fn inspect_events_and_frames_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let n = 4000;
    let ev = sample_events(n);
    let file = d.join("rec.aedat");
    aedat3::write(&file, &ev, &aedat3::Aedat3WriteOptions::default()).unwrap();
    let on = ev.p.iter().filter(|&&p| p == 1).count() as u64;

    // inspect --json: one object with at least the contract's keys, and the file's facts.
    let o = ok(&["inspect", s(&file), "--profile", "dvs128-gesture", "--json"]);
    let j: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    for key in [
        "format", "width", "height", "events", "t_min", "t_max", "on", "off",
    ] {
        assert!(j.get(key).is_some(), "inspect --json lacks {key}: {j}");
    }
    assert_eq!(j["format"], "aedat3");
    assert_eq!(
        (j["width"].as_u64(), j["height"].as_u64()),
        (Some(128), Some(128))
    );
    assert_eq!(j["events"].as_u64(), Some(n as u64));
    assert_eq!(j["t_min"].as_i64(), Some(ev.t[0]));
    assert_eq!(j["t_max"].as_i64(), Some(ev.t[n - 1]));
    assert_eq!(
        (j["on"].as_u64(), j["off"].as_u64()),
        (Some(on), Some(n as u64 - on))
    );

    // events: int64 [N, 4], columns t, x, y, p, in file order (C order, little-endian).
    let out = d.join("ev.npy");
    ok(&["events", s(&file), "--out", s(&out)]);
    let a = read_npy(&out);
    assert_eq!((a.descr.as_str(), a.fortran), ("<i8", false));
    assert_eq!(a.shape, [n, 4]);
    let cells: Vec<i64> = a
        .data
        .chunks_exact(8)
        .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(cells.len(), n * 4);
    for (i, row) in cells.chunks_exact(4).enumerate() {
        let want = [ev.t[i], ev.x[i] as i64, ev.y[i] as i64, ev.p[i] as i64];
        assert_eq!(row, want, "row {i}");
    }

    // frames: float32 [T, 2, H, W]; split by number puts N/T events in each frame and ON
    // events in channel 1.
    let out = d.join("fr.npy");
    ok(&[
        "frames",
        s(&file),
        "--profile",
        "dvs128-gesture",
        "--frames",
        "4",
        "--split-by",
        "number",
        "--out",
        s(&out),
    ]);
    let f = read_npy(&out);
    assert_eq!((f.descr.as_str(), f.fortran), ("<f4", false));
    assert_eq!(f.shape, [4, 2, 128, 128]);
    let v: Vec<f32> = f
        .data
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    let plane = 128 * 128;
    for t in 0..4 {
        let frame: f32 = v[t * 2 * plane..(t + 1) * 2 * plane].iter().sum();
        assert_eq!(frame, (n / 4) as f32, "frame {t}");
    }
    let on_sum: f32 = (0..4)
        .map(|t| {
            v[(t * 2 + 1) * plane..(t * 2 + 2) * plane]
                .iter()
                .sum::<f32>()
        })
        .sum();
    assert_eq!(on_sum, on as f32);
    // --height/--width set the frame size; --duration gives [T, 2, H, W] too.
    ok(&[
        "frames",
        s(&file),
        "--height",
        "130",
        "--width",
        "140",
        "--duration",
        "3000",
        "--out",
        s(&out),
    ]);
    let f = read_npy(&out);
    assert_eq!(f.descr, "<f4");
    assert_eq!((f.shape.len(), &f.shape[1..]), (4, &[2, 130, 140][..]));
    assert!(f.shape[0] >= 3, "{:?}: 12 ms in 3 ms frames", f.shape);
}

/// `snnkit convert` on a tiny synthetic dataset, then `cache info --json` on each split.
#[test]
fn convert_then_cache_info_json() {
    let dir = tempfile::tempdir().unwrap();
    let (raw, cache) = (dir.path().join("raw"), dir.path().join("cache"));
    ok(&[
        "synth",
        "--out",
        s(&raw),
        "--users",
        "2",
        "--test-users",
        "1",
        "--classes",
        "rotate_cw,move_left",
        "--repeats",
        "1",
        "--events-per-gesture",
        "300",
    ]);
    let o = ok(&[
        "convert",
        "--dataset",
        "synthetic",
        "--root",
        s(&raw),
        "--frames",
        "3",
        "--split-by",
        "number",
        "--out",
        s(&cache),
        "--jobs",
        "1",
        "--quiet",
        "--json",
    ]);
    let summary: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(summary["dataset"], "synthetic");
    // CACHE_DIR/<dataset>/<setting>/<split>.h5
    for split in ["train", "test"] {
        let file = cache
            .join("synthetic/frames3_number")
            .join(format!("{split}.h5"));
        assert!(file.is_file(), "{}", file.display());
        let o = ok(&["cache", "info", s(&file), "--json"]);
        let j: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
        for key in [
            "format_version",
            "snnkit_version",
            "dataset",
            "split",
            "frames",
            "height",
            "width",
            "classes",
            "source_fingerprint",
            "created",
            "shape",
            "dtype",
            "samples",
        ] {
            assert!(j.get(key).is_some(), "cache info --json lacks {key}: {j}");
        }
        assert!(j["format_version"].as_u64().is_some_and(|v| v >= 1), "{j}");
        assert_eq!(
            (j["dataset"].as_str(), j["split"].as_str()),
            (Some("synthetic"), Some(split))
        );
        let n = j["samples"].as_u64().unwrap();
        assert!(n > 0, "{split}: {j}");
        let shape: Vec<u64> = serde_json::from_value(j["shape"].clone()).unwrap();
        assert_eq!(shape, [n, 3, 2, 128, 128]);
        let names: Vec<&str> = j["classes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names.len(), 2, "{j}");
        assert!(
            names.contains(&"rotate_cw") && names.contains(&"move_left"),
            "{j}"
        );
    }
}

/// N-Caltech101 with fewer than 101 class folders: refused by default (exit 1, the message names
/// the option), converted with `--allow-missing-classes`.
#[test]
fn convert_partial_ncaltech101() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("Caltech101");
    for (i, class) in ["airplanes", "Faces_easy"].iter().enumerate() {
        std::fs::create_dir_all(root.join(class)).unwrap();
        // 10 recordings per class: 9 train, 1 test (the 9:1 split).
        for k in 0..10 {
            let ev: Events = (0..20)
                .map(|j| Event {
                    t: 100 * j + k,
                    x: (j as u16 * 5 + i as u16) % 240,
                    y: (j as u16 * 3) % 180,
                    p: (j % 2) as u8,
                })
                .collect();
            atis::write(&root.join(class).join(format!("image_{k:04}.bin")), &ev).unwrap();
        }
    }
    let cache = dir.path().join("cache");
    let args = [
        "convert",
        "--dataset",
        "n-caltech101",
        "--root",
        s(&root),
        "--frames",
        "2",
        "--split-by",
        "number",
        "--out",
        s(&cache),
        "--jobs",
        "1",
        "--quiet",
    ];
    let o = snnkit(&args);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(
        err.contains("found 2 class folder(s)") && err.contains("--allow-missing-classes"),
        "{err}"
    );

    let mut args = args.to_vec();
    args.push("--allow-missing-classes");
    ok(&args);
    let file = cache.join("n-caltech101/frames2_number/train.h5");
    let j: serde_json::Value =
        serde_json::from_str(&stdout(&ok(&["cache", "info", s(&file), "--json"]))).unwrap();
    let names: Vec<&str> = j["classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Faces_easy", "airplanes"]);
    let shape: Vec<u64> = serde_json::from_value(j["shape"].clone()).unwrap();
    assert_eq!(shape[1..], [2, 2, 180, 240]);
    assert_eq!(j["samples"].as_u64(), Some(18));
    // Same fingerprint on reading back: the partial tree is what was converted.
    assert_eq!(j["fingerprint"]["status"], "match", "{}", j["fingerprint"]);
}

#[test]
fn bench_step_json_has_median_step_s() {
    let o = ok(&[
        "bench",
        "step",
        "--widths",
        "8,16,16,16,16",
        "--head",
        "16,16",
        "--frames",
        "4",
        "--batch",
        "1",
        "--size",
        "32",
        "--warmup",
        "0",
        "--iters",
        "1",
        "--json",
    ]);
    let j: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let m = j["median_step_s"].as_f64().unwrap_or_else(|| panic!("{j}"));
    assert!(m > 0.0 && m.is_finite(), "{j}");
}

/// Usage errors exit 2 and name what is wrong; runtime errors exit 1 with one line on stderr.
#[test]
fn exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rec.aedat");
    aedat3::write(&file, &sample_events(100), &Default::default()).unwrap();
    let out = dir.path().join("o.npy");
    let usage: &[(&[&str], &str)] = &[
        (&[], "Usage"),
        (&["frobnicate"], "frobnicate"),
        (&["inspect"], "<FILE>"),
        (&["inspect", s(&file), "--bogus"], "--bogus"),
        (&["events", s(&file)], "--out"),
        (
            &[
                "frames",
                s(&file),
                "--frames",
                "2",
                "--split-by",
                "diagonal",
                "--out",
                s(&out),
            ],
            "diagonal",
        ),
        (&["inspect", s(&file), "--format", "mp4"], "mp4"),
        (
            &[
                "convert",
                "--root",
                "x",
                "--out",
                "y",
                "--frames",
                "2",
                "--split-by",
                "time",
            ],
            "--dataset",
        ),
        (&["cache", "info"], "<FILE>"),
    ];
    for (args, needle) in usage {
        let o = snnkit(args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "snnkit {}: {err}", args.join(" "));
        assert!(err.contains(needle), "snnkit {}: {err}", args.join(" "));
    }
    let missing = dir.path().join("missing.aedat");
    let not_a_cache = dir.path().join("notes.h5");
    std::fs::write(&not_a_cache, "not HDF5\n").unwrap();
    let runtime: &[(&[&str], &Path)] = &[
        (&["inspect", s(&missing)], &missing),
        (&["events", s(&missing), "--out", s(&out)], &missing),
        (
            &[
                "frames",
                s(&missing),
                "--frames",
                "2",
                "--split-by",
                "time",
                "--out",
                s(&out),
            ],
            &missing,
        ),
        (&["cache", "info", s(&not_a_cache)], &not_a_cache),
    ];
    for (args, path) in runtime {
        let o = snnkit(args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "snnkit {}: {err}", args.join(" "));
        assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
        assert!(err.starts_with("error: "), "{err}");
        assert!(
            err.contains(&path.display().to_string()),
            "names the file: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
    assert!(!out.exists(), "no output is left behind by a failed run");
}
