#!/usr/bin/env python3
"""snnkit against PyTorch, side by side on this machine: the `snnkit bench conv` shapes and the two
`snnkit bench step` SMA-VGG8 settings, timed back to back (snnkit, then PyTorch, per item), in
`--rounds` rounds; the table gives the median over rounds of each side's median and the ratio
snnkit / PyTorch (below 1 = snnkit faster).

Both sides get the same thread count (`--threads`, default 2: `RAYON_NUM_THREADS` for snnkit,
`torch.set_num_threads` for PyTorch). `--isa avx2` holds both to AVX2: snnkit with
`SNNKIT_CONV_ISA=avx2`, PyTorch with `ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2`.

The PyTorch side is `tools/bench/vgg8_step_torch.py` in a separate process per item (the ISA
variables must be set before torch loads), run with `--python` (default: the peers venv
/work/peers/bin/python when it exists, else `python3`). snnkit is `--snnkit` (default
target/release/snnkit; build it with `cargo build --release -p snnkit`). The wrapper
`tools/scripts/bench_vs_torch.sh` builds it and runs this.

    python3 tools/bench/conv_step_vs_torch.py                 # native ISA
    python3 tools/bench/conv_step_vs_torch.py --isa avx2      # AVX2 on both sides
    python3 tools/bench/conv_step_vs_torch.py --only step --rounds 1 --markdown
"""
import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

# `snnkit bench conv`'s standard shapes: N, Cin, Cout, H, W, k.
CONV_SHAPES = [
    (32, 2, 64, 64, 64, 3),
    (32, 64, 128, 32, 32, 3),
    (32, 128, 128, 32, 32, 1),
    (32, 128, 128, 32, 32, 3),
    (32, 128, 128, 32, 32, 5),
    (32, 128, 128, 32, 32, 7),
    (32, 256, 256, 16, 16, 7),
    (64, 64, 64, 48, 48, 3),
]

# The two `bench step` settings of issue 16: (label, snnkit/PyTorch step arguments).
STEPS = [
    ("SMA-VGG8 full width, T=16 B=2 32x32", ["--size", "32", "--batch-size", "2", "--frames", "16"]),
    ("SMA-VGG8 8-16-32-32-32, T=16 B=4 64x64",
     ["--widths", "8,16,32,32,32", "--head", "64,32", "--size", "64", "--batch-size", "4",
      "--frames", "16"]),
]


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            info = f.read()
    except OSError:
        return platform.processor() or platform.machine(), False
    name = next((l.split(":", 1)[1].strip() for l in info.splitlines()
                 if l.startswith("model name")), platform.machine())
    flags = next((l for l in info.splitlines() if l.startswith("flags")), "")
    return name, " avx512f" in flags


def load():
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "?"


def run_json(cmd, env):
    p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        sys.exit(f"error: {' '.join(cmd)} exited {p.returncode}: {p.stderr.strip()[-2000:]}")
    return json.loads(p.stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--isa", choices=["native", "avx2"], default="native",
                    help="avx2: force AVX2 kernels in snnkit and PyTorch (default: native)")
    ap.add_argument("--rounds", type=int, default=3, help="back-to-back rounds (default 3)")
    ap.add_argument("--threads", type=int, default=2, help="threads per side (default 2)")
    ap.add_argument("--only", choices=["conv", "step", "all"], default="all")
    ap.add_argument("--conv-iters", type=int, default=5, help="timed runs per conv measurement")
    ap.add_argument("--step-iters", type=int, default=3, help="timed steps per step measurement")
    ap.add_argument("--snnkit", default=os.path.join(ROOT, "target", "release", "snnkit"))
    peers = "/work/peers/bin/python"
    ap.add_argument("--python", default=peers if os.path.exists(peers) else "python3",
                    help="Python with PyTorch 2.0.1 and spikingjelly 0.0.0.0.14")
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table")
    ap.add_argument("--json", action="store_true", help="print every measurement as JSON")
    a = ap.parse_args()
    if not os.access(a.snnkit, os.X_OK):
        sys.exit(f"error: {a.snnkit} not found; build it with `cargo build --release -p snnkit`")
    if a.rounds < 1:
        sys.exit("error: --rounds must be at least 1")

    base = dict(os.environ)
    base.pop("SNNKIT_CONV_ISA", None)
    ours = dict(base, RAYON_NUM_THREADS=str(a.threads))
    torch_env = dict(base, OMP_NUM_THREADS=str(a.threads))
    if a.isa == "avx2":
        ours["SNNKIT_CONV_ISA"] = "avx2"
        torch_env.update(ATEN_CPU_CAPABILITY="avx2", ONEDNN_MAX_CPU_ISA="AVX2")
    torch_py = [a.python, os.path.join(HERE, "vgg8_step_torch.py"), "--threads", str(a.threads)]

    items = []  # (label, unit, snnkit command, torch command, extract)
    if a.only in ("conv", "all"):
        for s in CONV_SHAPES:
            shape = ",".join(map(str, s))
            items.append((
                "conv {},{}->{},{}x{},k{} f+b".format(*s), "ms",
                [a.snnkit, "bench", "conv", "--no-candle", "--json", "--shape", shape,
                 "--iters", str(a.conv_iters)],
                torch_py + ["conv", "--shape", shape, "--iters", str(a.conv_iters)],
                lambda j: j[0]["fwd_bwd_ms"], lambda j: j["result"][0]["fwd_bwd_ms"]))
    if a.only in ("step", "all"):
        for label, args in STEPS:
            it = ["--iters", str(a.step_iters), "--warmup", "1"]
            items.append((
                label, "s",
                [a.snnkit, "bench", "step", "--no-breakdown", "--json"] + args + it,
                torch_py + ["step"] + args + it,
                lambda j: j["median_step_s"], lambda j: j["result"]["median_step_s"]))

    cpu, avx512 = cpu_name()
    start = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    load0 = load()
    results = {label: ([], []) for label, *_ in items}
    torch_cap = None
    for r in range(a.rounds):
        for label, _, ours_cmd, torch_cmd, get_ours, get_torch in items:
            print(f"round {r + 1}/{a.rounds}: {label} ...", file=sys.stderr, flush=True)
            results[label][0].append(get_ours(run_json(ours_cmd, ours)))
            j = run_json(torch_cmd, torch_env)
            torch_cap = j.get("aten_cpu_capability")
            results[label][1].append(get_torch(j))
    load1 = load()

    rows = []
    for label, unit, *_ in items:
        o, t = (statistics.median(v) for v in results[label])
        rows.append((label, unit, o, t, o / t, results[label]))
    head = (f"{cpu} ({'AVX-512' if avx512 else 'no AVX-512'}), {a.threads} threads per side, "
            f"ISA {a.isa} (snnkit {'SNNKIT_CONV_ISA=avx2' if a.isa == 'avx2' else 'auto'}; "
            f"PyTorch ATen {torch_cap}{', ONEDNN_MAX_CPU_ISA=AVX2' if a.isa == 'avx2' else ''}), "
            f"{start}, load average {load0} -> {load1}, median of {a.rounds} rounds")
    if a.json:
        print(json.dumps({"setting": head, "rows": [
            {"what": l, "unit": u, "snnkit": o, "pytorch": t, "ratio": q, "snnkit_rounds": rr[0],
             "pytorch_rounds": rr[1]} for l, u, o, t, q, rr in rows]}, indent=1))
        return
    print(head)
    if a.markdown:
        print("\n| what | snnkit | PyTorch 2.0.1 | ratio |\n|---|---|---|---|")
        for l, u, o, t, q, _ in rows:
            print(f"| {l} | {fmt(o, u)} | {fmt(t, u)} | {q:.2f} |")
    else:
        print(f"{'what':<42} {'snnkit':>11} {'PyTorch':>11} {'ratio':>6}")
        for l, u, o, t, q, _ in rows:
            print(f"{l:<42} {fmt(o, u):>11} {fmt(t, u):>11} {q:>6.2f}")


def fmt(v, unit):
    return f"{v:.1f} ms" if unit == "ms" else f"{v:.3f} s"


if __name__ == "__main__":
    main()
