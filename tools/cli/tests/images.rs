//! The CLI on the image path: `snnkit synth --images`, `snnkit train --preset
//! ms-resnet18-synthetic --data ROOT` killed after its first checkpoint and continued with
//! `--resume` (same weights as an uninterrupted run), and `snnkit eval --data` (top-1 and top-5).

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn snnkit() -> Command {
    Command::new(env!("CARGO_BIN_EXE_snnkit"))
}

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn train(root: &Path, out: &Path, resume: bool) -> Command {
    let mut c = snnkit();
    c.args([
        "train",
        "--preset",
        "ms-resnet18-synthetic",
        "--epochs",
        "3",
        "--quiet",
    ])
    .arg("--data")
    .arg(root)
    .arg("--out")
    .arg(out);
    if resume {
        c.arg("--resume");
    }
    c
}

#[test]
fn synth_train_kill_resume_eval() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("images");
    let s = ok(snnkit()
        .args([
            "synth",
            "--images",
            "--train-per-class",
            "16",
            "--val-per-class",
            "6",
            "--json",
        ])
        .arg("--out")
        .arg(&root)
        .output()
        .unwrap());
    let v: serde_json::Value = serde_json::from_str(&s).unwrap();
    assert_eq!(
        (v["train_images"].as_u64(), v["val_images"].as_u64()),
        (Some(64), Some(24))
    );

    // --cache is refused for an image preset, with the reason.
    let e = snnkit()
        .args(["train", "--preset", "ms-resnet18-synthetic", "--cache"])
        .arg(&root)
        .arg("--out")
        .arg(dir.path().join("x"))
        .output()
        .unwrap();
    assert!(!e.status.success());
    assert!(String::from_utf8_lossy(&e.stderr).contains("--data"));

    let full = dir.path().join("full");
    ok(train(&root, &full, false).output().unwrap());

    // Kill the second run once its first checkpoint exists, then continue it.
    let split = dir.path().join("split");
    let mut child = train(&root, &split, false).spawn().unwrap();
    let start = Instant::now();
    while !split.join("last.safetensors").exists() {
        assert!(start.elapsed() < Duration::from_secs(300), "no checkpoint");
        if child.try_wait().unwrap().is_some() {
            break; // finished before we could kill it: resuming a finished run is a no-op
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    ok(train(&root, &split, true).output().unwrap());
    let (a, b) = (
        std::fs::read(full.join("last.safetensors")).unwrap(),
        std::fs::read(split.join("last.safetensors")).unwrap(),
    );
    // The files also hold wall-clock-free metadata only, so equal runs give equal bytes.
    let ta = safetensors::SafeTensors::deserialize(&a).unwrap();
    let tb = safetensors::SafeTensors::deserialize(&b).unwrap();
    let mut names: Vec<_> = ta.names();
    names.sort();
    for n in names {
        assert_eq!(
            ta.tensor(n).unwrap().data(),
            tb.tensor(n).unwrap().data(),
            "{n}"
        );
    }

    let rep = ok(snnkit()
        .args(["eval", "--json", "--checkpoint"])
        .arg(full.join("best.safetensors"))
        .arg("--data")
        .arg(&root)
        .arg("--out")
        .arg(dir.path().join("eval"))
        .output()
        .unwrap());
    let r: serde_json::Value = serde_json::from_str(&rep).unwrap();
    assert_eq!(r["samples"].as_u64(), Some(24));
    assert_eq!(r["top5"].as_f64(), Some(1.0));
    // The checkpoint's own test accuracy, recomputed (learning itself is checked by
    // tests/train_images.rs, on a longer run).
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(full.join("summary.json")).unwrap()).unwrap();
    let acc = r["accuracy"].as_f64().unwrap();
    assert!((acc - summary["best_test_acc"].as_f64().unwrap()).abs() < 1e-9);
    assert_eq!(r["class_names"].as_array().unwrap().len(), 4);
    assert!(dir.path().join("eval/confusion_test.png").is_file());
}
