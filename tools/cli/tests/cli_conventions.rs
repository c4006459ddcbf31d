//! The CLI conventions of docs/cli.md, checked on the built binary: logs without a terminal,
//! `--quiet`, output paths, `--cache` forms and `cache info` on folders, exit codes, flag
//! aliases, the training edge cases, split-named eval outputs and the AEDAT 2.0 orientation.
//!
//! One tiny synthetic dataset (2 classes, 16 training and 8 test samples) is converted once into
//! two settings and shared by the tests; every training run is a 1- or 2-epoch run of a
//! 4-to-8-channel network.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

fn snnkit() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_snnkit"));
    c.env_remove("SNNKIT_PROGRESS_INTERVAL");
    c
}

fn run(args: &[&str]) -> Output {
    snnkit().args(args).output().expect("snnkit runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn ok(o: &Output, what: &str) {
    assert!(
        o.status.success(),
        "{what}: status {:?}\nstdout: {}\nstderr: {}",
        o.status,
        text(&o.stdout),
        text(&o.stderr)
    );
}

/// Asserts exit status `code` and a stderr naming `needle`.
fn fails(o: &Output, code: i32, needle: &str, what: &str) {
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(code), "{what}: {err}");
    assert!(
        err.contains(needle),
        "{what}: stderr lacks {needle:?}: {err}"
    );
    assert!(!err.contains("panicked"), "{what}: {err}");
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

/// The shared data: `root/raw` (synthetic recordings), `root/cache/synthetic/{frames4_number,
/// frames4_time}/{train,test}.h5` and `root/tiny.toml`.
struct Data {
    root: PathBuf,
}

impl Data {
    fn cache(&self) -> PathBuf {
        self.root.join("cache")
    }
    fn dataset(&self) -> PathBuf {
        self.cache().join("synthetic")
    }
    fn setting(&self) -> PathBuf {
        self.dataset().join("frames4_number")
    }
    fn config(&self) -> PathBuf {
        self.root.join("tiny.toml")
    }
    fn recording(&self) -> PathBuf {
        let mut v: Vec<PathBuf> = std::fs::read_dir(self.root.join("raw"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "aedat"))
            .collect();
        v.sort();
        v.remove(0)
    }
    /// A fresh run folder path (not created).
    fn run_dir(&self, name: &str) -> PathBuf {
        self.root.join("runs").join(name)
    }
}

fn data() -> &'static Data {
    static DATA: OnceLock<Data> = OnceLock::new();
    DATA.get_or_init(|| {
        // Kept for the whole test binary; the OS temp folder is cleaned by the system.
        let root = tempfile::tempdir().unwrap().keep();
        let raw = root.join("raw");
        let o = run(&[
            "synth",
            "--out",
            s(&raw),
            "--users",
            "3",
            "--test-users",
            "1",
            "--classes",
            "rotate_cw,move_left",
            "--samples-per-class",
            "4",
            "--gesture-ms",
            "100",
            "--events-per-gesture",
            "1500",
        ]);
        ok(&o, "synth");
        for split_by in ["number", "time"] {
            let o = run(&[
                "convert",
                "--dataset",
                "synthetic",
                "--root",
                s(&raw),
                "--frames",
                "4",
                "--split-by",
                split_by,
                "--out",
                s(&root.join("cache")),
                "--quiet",
            ]);
            ok(&o, "convert");
        }
        std::fs::write(
            root.join("tiny.toml"),
            "preset = \"synthetic\"\nepochs = 1\n[data]\nbatch_size = 1\neval_batch_size = 8\ndownsample = 1\n[model]\nwidths = [4, 8, 8, 8, 8]\nhead = [16, 16]\n",
        )
        .unwrap();
        Data { root }
    })
}

/// `snnkit train --config tiny.toml --out OUT [--cache SETTING] EXTRA...`.
fn train(d: &Data, out: &Path, extra: &[&str]) -> Output {
    let mut argv: Vec<String> = ["train", "--config", s(&d.config()), "--out", s(out)]
        .map(String::from)
        .to_vec();
    if !extra.contains(&"--cache") {
        argv.extend(["--cache".to_string(), s(&d.setting()).to_string()]);
    }
    argv.extend(extra.iter().map(|a| a.to_string()));
    snnkit().args(&argv).output().unwrap()
}

#[test]
fn train_logs_epochs_and_interval_progress_without_a_terminal() {
    let d = data();
    let out = d.run_dir("logs");
    // stderr is a pipe here, as under a job scheduler or `> log 2>&1`.
    let o = train(d, &out, &["--epochs", "2"]);
    ok(&o, "train");
    let err = text(&o.stderr);
    assert!(
        err.contains("epoch 1/2 train: loading first batch"),
        "{err}"
    );
    assert!(
        err.contains("epoch   1: lr") && err.contains("epoch   2: lr"),
        "{err}"
    );
    // Default interval (30 s): no progress line in a run of a few seconds.
    assert!(!err.contains("batches, loss"), "{err}");
    assert!(text(&o.stdout).contains("best test accuracy"));

    let out = d.run_dir("logs_interval");
    let o = snnkit()
        .env("SNNKIT_PROGRESS_INTERVAL", "0.02")
        .args([
            "train",
            "--config",
            s(&d.config()),
            "--cache",
            s(&d.setting()),
            "--out",
            s(&out),
        ])
        .output()
        .unwrap();
    ok(&o, "train with a short interval");
    let err = text(&o.stderr);
    let progress: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("epoch 1/1 train: ") && l.contains("/16 batches"))
        .collect();
    assert!(!progress.is_empty(), "no interval progress line: {err}");
    // Lines after the first batch carry the running loss and throughput.
    assert!(
        progress
            .iter()
            .any(|l| l.contains("loss ") && l.contains("samples/s")),
        "{err}"
    );
}

#[test]
fn quiet_train_prints_only_the_accuracy_line() {
    let d = data();
    let out = d.run_dir("quiet");
    let o = train(d, &out, &["--quiet"]);
    ok(&o, "train --quiet");
    let stdout = text(&o.stdout);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(stdout.starts_with("best test accuracy "), "{stdout}");
    assert!(!text(&o.stderr).contains("epoch"), "{}", text(&o.stderr));
}

#[test]
fn batch_larger_than_the_split_is_refused_before_the_run_folder_exists() {
    let d = data();
    let out = d.run_dir("too_big");
    let o = train(d, &out, &["--batch-size", "17"]);
    fails(&o, 1, "--batch-size", "batch 17 of 16 samples");
    assert!(text(&o.stderr).contains("16 training samples"));
    assert!(!out.exists(), "the refused run left {}", out.display());
}

#[test]
fn resume_says_complete_and_extends_with_a_new_horizon() {
    let d = data();
    let out = d.run_dir("resume");
    ok(&train(d, &out, &[]), "train 1 epoch");
    let metrics = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    let o = train(d, &out, &["--resume"]);
    ok(&o, "resume of a finished run");
    assert!(
        text(&o.stdout).contains("is complete"),
        "{}",
        text(&o.stdout)
    );
    assert_eq!(
        std::fs::read_to_string(out.join("metrics.jsonl")).unwrap(),
        metrics,
        "a complete run trained again"
    );
    // Extending: the cosine horizon is recomputed, so epoch 2 does not train at lr 0.
    let o = train(d, &out, &["--resume", "--epochs", "2"]);
    ok(&o, "resume --epochs 2");
    assert!(
        text(&o.stderr).contains("horizon is now 2 epochs"),
        "{}",
        text(&o.stderr)
    );
    let last = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    let m: serde_json::Value = serde_json::from_str(last.lines().last().unwrap()).unwrap();
    assert_eq!(m["epoch"], 2);
    assert!(m["lr"].as_f64().unwrap() > 1e-4, "{m}");

    // Eval: each split gets its own report files.
    let best = out.join("best.safetensors");
    let o = run(&[
        "eval",
        "--checkpoint",
        s(&best),
        "--cache",
        s(&d.setting()),
        "--quiet",
    ]);
    ok(&o, "eval");
    let o = run(&[
        "eval",
        "--checkpoint",
        s(&best),
        "--cache",
        s(&d.setting()),
        "--split",
        "train",
        "--json",
    ]);
    ok(&o, "eval --split train");
    let rep: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(rep["split"], "train");
    assert_eq!(rep["samples"], 16);
    for f in [
        "confusion_test.json",
        "confusion_test.png",
        "confusion_train.json",
        "confusion_train.png",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let test: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("confusion_test.json")).unwrap()).unwrap();
    assert_eq!(test["samples"], 8);

    // Every --cache form reaches the same files; several settings need --setting.
    let split_file = d.setting().join("test.h5");
    for form in [split_file, d.setting()] {
        let o = run(&[
            "eval",
            "--checkpoint",
            s(&best),
            "--cache",
            s(&form),
            "--json",
        ]);
        ok(&o, &format!("eval --cache {}", form.display()));
    }
    for form in [d.dataset(), d.cache()] {
        let o = run(&["eval", "--checkpoint", s(&best), "--cache", s(&form)]);
        fails(&o, 1, "frames4_number, frames4_time", "two settings");
        assert!(text(&o.stderr).contains("--setting"));
        let o = run(&[
            "eval",
            "--checkpoint",
            s(&best),
            "--cache",
            s(&form),
            "--setting",
            "frames4_number",
            "--json",
        ]);
        ok(&o, &format!("eval --cache {} --setting", form.display()));
        let rep: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert!(rep["cache_file"]
            .as_str()
            .unwrap()
            .ends_with("frames4_number/test.h5"));
    }
}

#[test]
fn train_takes_a_split_file_or_a_dataset_folder_with_setting() {
    let d = data();
    let out = d.run_dir("split_file");
    let file = d.setting().join("train.h5");
    let o = train(d, &out, &["--cache", s(&file), "--quiet"]);
    ok(&o, "train --cache train.h5");
    let out = d.run_dir("dataset_folder");
    let o = train(
        d,
        &out,
        &[
            "--cache",
            s(&d.dataset()),
            "--setting",
            "frames4_time",
            "--quiet",
        ],
    );
    ok(&o, "train --cache DATASET --setting");
    let cfg = std::fs::read_to_string(out.join("config.toml")).unwrap();
    assert!(cfg.contains("frames4_time"), "{cfg}");
}

#[test]
fn cache_info_accepts_folders() {
    let d = data();
    let o = run(&["cache", "info", s(&d.setting())]);
    ok(&o, "cache info SETTING");
    let out = text(&o.stdout);
    assert!(
        out.contains("synthetic / train") && out.contains("synthetic / test"),
        "{out}"
    );
    let o = run(&[
        "cache",
        "info",
        s(&d.dataset()),
        "--setting",
        "frames4_time",
        "--json",
    ]);
    ok(&o, "cache info DATASET --setting");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let list = v.as_array().expect("a list for a folder");
    assert_eq!(list.len(), 2);
    assert!(list.iter().all(|f| f["setting"] == "frames4_time"), "{v}");
    let o = run(&["cache", "info", s(&d.cache())]);
    fails(&o, 1, "frames4_number, frames4_time", "cache info ROOT");
    let o = run(&["cache", "info", s(&d.setting().join("train.h5")), "--json"]);
    ok(&o, "cache info FILE");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["split"], "train");
}

#[test]
fn outputs_create_folders_and_must_match_their_extension() {
    let d = data();
    let rec = d.recording();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("new/dir/x.npy");
    let o = run(&[
        "frames",
        s(&rec),
        "--frames",
        "4",
        "--split-by",
        "number",
        "--out",
        s(&out),
    ]);
    ok(&o, "frames --out new/dir/x.npy");
    assert!(out.is_file());
    let o = run(&[
        "events",
        s(&rec),
        "--out",
        s(&dir.path().join("a/b/ev.npy")),
    ]);
    ok(&o, "events --out a/b/ev.npy");
    for (cmd, out) in [("frames", "x.npz"), ("events", "ev.csv")] {
        let target = dir.path().join(out);
        let mut args = vec![cmd, s(&rec), "--out", s(&target)];
        if cmd == "frames" {
            args.extend(["--frames", "4", "--split-by", "number"]);
        }
        let o = run(&args);
        fails(&o, 2, "--out", &format!("{cmd} --out {out}"));
        assert!(!target.exists());
    }
}

#[test]
fn usage_errors_exit_2_and_name_the_flag() {
    let d = data();
    let rec = d.recording();
    let rec = s(&rec);
    let raw = d.root.join("raw");
    let cache = d.cache();
    let t = tempfile::tempdir().unwrap();
    let o = t.path().join("o.npy");
    let o = s(&o);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        // missing or conflicting modes
        (
            vec!["frames", rec, "--frames", "4", "--out", o],
            "--split-by",
        ),
        (
            vec![
                "frames",
                rec,
                "--frames",
                "4",
                "--split-by",
                "number",
                "--window",
                "5",
                "--out",
                o,
            ],
            "--window",
        ),
        (
            vec!["frames", rec, "--split-by", "number", "--out", o],
            "--frames",
        ),
        (vec!["frames", rec, "--out", o], "--frames"),
        (
            vec![
                "convert",
                "--dataset",
                "synthetic",
                "--root",
                s(&raw),
                "--frames",
                "4",
                "--out",
                s(&cache),
            ],
            "--split-by",
        ),
        (
            vec![
                "convert",
                "--dataset",
                "synthetic",
                "--root",
                s(&raw),
                "--out",
                s(&cache),
            ],
            "--frames",
        ),
        // bad values
        (
            vec![
                "frames",
                rec,
                "--frames",
                "0",
                "--split-by",
                "number",
                "--out",
                o,
            ],
            "--frames",
        ),
        (
            vec![
                "train",
                "--preset",
                "synthetic",
                "--cache",
                s(&cache),
                "--out",
                o,
                "--epochs",
                "0",
            ],
            "--epochs",
        ),
        (
            vec![
                "train",
                "--preset",
                "synthetic",
                "--cache",
                s(&cache),
                "--out",
                o,
                "--batch-size",
                "0",
            ],
            "--batch-size",
        ),
        // unknown names
        (
            vec![
                "convert",
                "--dataset",
                "foo",
                "--root",
                s(&raw),
                "--frames",
                "4",
                "--split-by",
                "number",
                "--out",
                s(&cache),
            ],
            "--dataset",
        ),
        (vec!["inspect", rec, "--profile", "foo"], "--profile"),
        (
            vec!["train", "--preset", "foo", "--cache", s(&cache), "--out", o],
            "--preset",
        ),
        (
            vec![
                "train",
                "--preset",
                "synthetic",
                "--cache",
                s(&cache),
                "--out",
                o,
                "--device",
                "tpu",
            ],
            "--device",
        ),
        (
            vec!["inspect", rec, "--orientation", "sideways"],
            "--orientation",
        ),
        // flags of another mode
        (
            vec!["synth", "--out", o, "--image-classes", "3"],
            "--images",
        ),
        (vec!["train", "--cache", s(&cache), "--out", o], "--preset"),
    ];
    for (args, flag) in cases {
        let out = run(&args);
        fails(&out, 2, flag, &args.join(" "));
    }
    // Runtime errors exit 1 and name the file.
    let missing = t.path().join("missing.aedat");
    let out = run(&["inspect", s(&missing)]);
    fails(&out, 1, "missing.aedat", "inspect of a missing file");
}

#[test]
fn old_spellings_are_hidden_aliases() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(&[
        "synth",
        "--out",
        s(&dir.path().join("d")),
        "--users",
        "2",
        "--test-users",
        "1",
        "--classes",
        "expand",
        "--repeats",
        "1",
        "--events-per-gesture",
        "100",
        "--json",
    ]);
    ok(&o, "synth --repeats");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["train_samples"], 1);
    let help = text(&run(&["synth", "--help"]).stdout);
    assert!(
        help.contains("--samples-per-class") && !help.contains("--repeats"),
        "{help}"
    );
    let help = text(&run(&["train", "--help"]).stdout);
    assert!(
        help.contains("--batch-size") && !help.contains("--batch "),
        "{help}"
    );
    // The settings are recorded as TOML.
    let cfg = std::fs::read_to_string(dir.path().join("d/synth_config.toml")).unwrap();
    assert!(cfg.contains("samples_per_class = 1"), "{cfg}");
    assert!(cfg.contains("classes = [\"expand\"]"), "{cfg}");
}

#[test]
fn a_closed_pipe_ends_quietly() {
    let d = data();
    let mut child = snnkit()
        .args(["cache", "info", s(&d.setting()), "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Close the reading end at once, like `| head -0`.
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    let err = text(&o.stderr);
    assert!(err.is_empty(), "{err}");
    use std::os::unix::process::ExitStatusExt;
    assert!(
        o.status.success() || o.status.signal() == Some(libc::SIGPIPE),
        "{:?}",
        o.status
    );
}

fn shared() -> Option<PathBuf> {
    let dir = std::env::var_os("SNNKIT_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")));
    if dir.join("fixtures/aedat2").is_dir() {
        Some(dir)
    } else {
        println!("skipping: ../shared not found at {}", dir.display());
        None
    }
}

fn npy_i64(p: &Path) -> Vec<[i64; 4]> {
    use ndarray_npy::ReadNpyExt;
    let a = ndarray::Array2::<i64>::read_npy(std::fs::File::open(p).unwrap()).unwrap();
    a.rows()
        .into_iter()
        .map(|r| [r[0], r[1], r[2], r[3]])
        .collect()
}

#[test]
fn aedat2_davis_orientation_option() {
    let Some(sh) = shared() else { return };
    let src = sh.join("fixtures/aedat2/pyaedattools_TranslatingSquare.aedat");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Without a `# AEChip:` line the DAVIS array size is unknown: upright is refused.
    let o = run(&[
        "events",
        s(&src),
        "--orientation",
        "upright",
        "--out",
        s(&d.join("u.npy")),
    ]);
    fails(&o, 1, "upright", "upright without a sensor size");
    // The same recording with the chip line jAER writes for a DAVIS240.
    let bytes = std::fs::read(&src).unwrap();
    let mut with_chip =
        b"#!AER-DAT2.0\r\n# AEChip: eu.seebetter.ini.chips.davis.DAVIS240C\r\n".to_vec();
    with_chip.extend_from_slice(&bytes["#!AER-DAT2.0\r\n".len()..]);
    assert!(bytes.starts_with(b"#!AER-DAT2.0\r\n"));
    let file = d.join("davis240.aedat");
    std::fs::write(&file, &with_chip).unwrap();
    let (default, native, upright) = (d.join("d.npy"), d.join("n.npy"), d.join("u.npy"));
    ok(&run(&["events", s(&file), "--out", s(&default)]), "events");
    ok(
        &run(&[
            "events",
            s(&file),
            "--orientation",
            "native",
            "--out",
            s(&native),
        ]),
        "events native",
    );
    ok(
        &run(&[
            "events",
            s(&file),
            "--orientation",
            "upright",
            "--out",
            s(&upright),
        ]),
        "events upright",
    );
    let (a, n, u) = (npy_i64(&default), npy_i64(&native), npy_i64(&upright));
    assert_eq!(a, n, "native is the default");
    assert!(!n.is_empty());
    assert_eq!(n.len(), u.len());
    for (e, f) in n.iter().zip(&u) {
        assert_eq!(
            [f[0], f[1], f[2], f[3]],
            [e[0], 239 - e[1], 179 - e[2], e[3]]
        );
    }
    // Frames follow: the upright frames are the native ones rotated by 180°.
    let (fnat, fup) = (d.join("fn.npy"), d.join("fu.npy"));
    for (o, extra) in [(&fnat, "native"), (&fup, "upright")] {
        ok(
            &run(&[
                "frames",
                s(&file),
                "--orientation",
                extra,
                "--frames",
                "2",
                "--split-by",
                "number",
                "--out",
                s(o),
            ]),
            "frames",
        );
    }
    use ndarray_npy::ReadNpyExt;
    let a = ndarray::Array4::<f32>::read_npy(std::fs::File::open(&fnat).unwrap()).unwrap();
    let b = ndarray::Array4::<f32>::read_npy(std::fs::File::open(&fup).unwrap()).unwrap();
    assert_eq!(a.shape(), [2, 2, 180, 240]);
    let mut rotated = a.clone();
    rotated.invert_axis(ndarray::Axis(2));
    rotated.invert_axis(ndarray::Axis(3));
    assert_eq!(b, rotated);
    assert!(a.sum() > 0.0);
}

#[test]
fn prophesee_headers_are_decoded_or_named() {
    let Some(sh) = shared() else { return };
    for f in ["real_evt2.raw", "real_evt3.raw", "real_dat2.dat"] {
        let o = run(&[
            "inspect",
            s(&sh.join("fixtures/prophesee").join(f)),
            "--json",
        ]);
        ok(&o, f);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert!(v["events"].as_u64().unwrap() > 0, "{f}: {v}");
    }
    let dir = tempfile::tempdir().unwrap();
    for (name, head, needle) in [
        ("a.raw", "% evt 2.1\n% end\n", "EVT 2.1"),
        (
            "b.raw",
            "% date 2024\n% format EVT4;width=640;height=480\n% end\n",
            "EVT4",
        ),
    ] {
        let p = dir.path().join(name);
        let mut b = head.as_bytes().to_vec();
        b.extend_from_slice(&[0u8; 64]);
        std::fs::write(&p, b).unwrap();
        let o = run(&["inspect", s(&p)]);
        fails(&o, 1, needle, name);
        assert!(text(&o.stderr).contains("not supported"));
    }
}
