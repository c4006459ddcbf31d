#!/usr/bin/env python3
"""snnkit's Python package against Tonic, and FrameCache + DataLoader against the Rust loader.

Times, in one run on the same files:

1. read + frames: ``snnkit.read`` + ``snnkit.to_frames`` against Tonic's reader + ``to_frame_numpy``, on an
   AEDAT 3.1 file of about 8 M events (written by ``snnkit synth``, the project's synthetic DVS128 Gesture writer)
   and the shared AEDAT 4 sample (``../shared/fixtures/aedat4/tonic_sample.aedat4``). Both sides make the same
   frames (Tonic's ``n_event_bins=16``; checked equal); snnkit's SpikingJelly ``split_by="number"`` is timed too.
2. loading: ``snnkit.FrameCache`` through a PyTorch ``DataLoader`` (0 and 2 workers) against ``snnkit.Loader``
   (the Rust loader) over the train split of a converted synthetic cache, ``[16, 2, 128, 128]`` samples.

Run it in an environment with tonic, torch and aedat (the peers venv) and the snnkit wheel on the path, e.g.::

    maturin build --release -m python/Cargo.toml -o target/wheels-release
    python -m pip install --no-deps --target target/bench-site target/wheels-release/snnkit-*.whl
    PYTHONPATH=target/bench-site /work/peers/bin/python tools/bench/bench_python.py --cli target/release/snnkit

Prints a Markdown table (best of ``--repeat`` runs for read + frames; samples/s over whole epochs for loading).
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import time

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[2]


def best(fn, repeat):
    times = []
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def synth(cli, out, events_per_gesture):
    if not (out / "synth_config.txt").is_file():
        subprocess.run(
            [cli, "synth", "--out", str(out), "--users", "1", "--test-users", "0", "--repeats", "10",
             "--events-per-gesture", str(events_per_gesture)],
            check=True, stdout=subprocess.DEVNULL,
        )
    return next(out.glob("*.aedat"))


def read_frames_rows(name, path, tonic_read, sensor, repeat):
    import snnkit
    import tonic.functional as F

    w, h = sensor
    rows = []
    t_sn_read, ev = best(lambda: snnkit.read(path), repeat)
    t_sn_tonic_frames, f_sn = best(lambda: snnkit.to_frames(ev, (w, h, 2), n_event_bins=16), repeat)
    t_sn_sj_frames, _ = best(lambda: snnkit.to_frames(ev, (w, h), frames=16, split_by="number"), repeat)
    t_to_read, tev = best(lambda: tonic_read(path), repeat)
    t_to_frames, f_to = best(lambda: F.to_frame_numpy(tev, (w, h, 2), n_event_bins=16), repeat)
    assert len(tev) == len(ev), (len(tev), len(ev))
    assert np.array_equal(f_sn, f_to), "snnkit and Tonic frames differ"
    n = len(ev)
    sn = t_sn_read + t_sn_tonic_frames
    to = t_to_read + t_to_frames
    rows.append((f"{name}: read", n, t_sn_read, t_to_read))
    rows.append((f"{name}: frames (n_event_bins=16)", n, t_sn_tonic_frames, t_to_frames))
    rows.append((f"{name}: read + frames", n, sn, to))
    rows.append((f"{name}: SpikingJelly split_by=number T=16 (snnkit only)", n, t_sn_sj_frames, None))
    return rows


def loader_rows(cache, batch, epochs):
    import snnkit
    import torch

    fc = snnkit.FrameCache(cache)
    n = len(fc)
    rows = []
    for workers in (0, 2):
        dl = torch.utils.data.DataLoader(fc, batch_size=batch, shuffle=True, num_workers=workers,
                                         persistent_workers=workers > 0)
        for _ in dl:  # warm-up epoch (worker start, page cache)
            pass
        t0 = time.perf_counter()
        seen = 0
        for _ in range(epochs):
            for x, _ in dl:
                seen += x.shape[0]
        rows.append((f"FrameCache + DataLoader, {workers} workers", seen / (time.perf_counter() - t0)))
    lo = snnkit.Loader(cache, batch, shuffle=True, seed=0)
    for _ in lo:
        pass
    t0 = time.perf_counter()
    seen = 0
    for _ in range(epochs):
        for x, _ in lo:
            seen += x.shape[1]
    rows.append(("snnkit.Loader (Rust loader)", seen / (time.perf_counter() - t0)))
    lo = snnkit.Loader(cache, batch, shuffle=True, seed=0, hflip=True, max_shift=4)
    t0 = time.perf_counter()
    seen = 0
    for _ in range(epochs):
        for x, _ in lo:
            seen += x.shape[1]
    rows.append(("snnkit.Loader, hflip + max_shift=4", seen / (time.perf_counter() - t0)))
    return n, rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cli", default=str(REPO / "target/release/snnkit"), help="the snnkit CLI (for synth)")
    ap.add_argument("--work", default=str(REPO / "target/bench"), help="scratch folder")
    ap.add_argument("--shared", default=os.environ.get("SNNKIT_SHARED", str(REPO.parent / "shared")))
    ap.add_argument("--events-per-gesture", type=int, default=125_000, help="80 gestures: ~8 M events")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch", type=int, default=16)
    args = ap.parse_args()

    import snnkit
    import tonic
    import tonic.io
    import torch

    work = pathlib.Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    big = synth(args.cli, work / "aedat31_8m", args.events_per_gesture)
    aedat4 = pathlib.Path(args.shared) / "fixtures/aedat4/tonic_sample.aedat4"

    def tonic_aedat3(path):
        # The body of tonic.io.read_dvs_ibm, which in Tonic 1.7 fails to unpack the header's three values.
        version, start, _ = tonic.io.read_aedat_header_from_file(str(path))
        ev = tonic.io.get_aer_events_from_file(str(path), version, start)
        addr = ev["address"]
        x = (addr >> 17) & 0x00001FFF
        y = (addr >> 2) & 0x00001FFF
        p = (addr >> 1) & 0x00000001
        return tonic.io.make_structured_array(x, y, ev["timeStamp"], p)

    def tonic_aedat4(path):
        # The aedat package names the polarity field "on" (title "p"); Tonic's frames need the name "p".
        from numpy.lib import recfunctions

        return recfunctions.rename_fields(tonic.io.read_aedat4(str(path)), {"on": "p"})

    rows = read_frames_rows("AEDAT 3.1", big, tonic_aedat3, (128, 128), args.repeat)
    rows += read_frames_rows("AEDAT 4", aedat4, tonic_aedat4, (320, 240), max(args.repeat, 10))

    data = work / "synthetic"
    cache_root = work / "cache"
    if not (data / "synth_config.txt").is_file():
        subprocess.run([args.cli, "synth", "--out", str(data)], check=True, stdout=subprocess.DEVNULL)
    summary = snnkit.convert("synthetic", data, cache_root, 16, "number", progress=False)
    train = next(s["path"] for s in summary["splits"] if s["split"] == "train")
    n, lrows = loader_rows(train, args.batch, args.epochs)

    print(f"snnkit {snnkit.__version__}, tonic {tonic.__version__}, torch {torch.__version__}, "
          f"numpy {np.__version__}, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    print()
    print("| what | events | snnkit | Tonic | Tonic / snnkit |")
    print("|---|---|---|---|---|")
    for what, n_ev, sn, to in rows:
        ratio = f"{to / sn:.1f}x" if to else "-"
        to_s = f"{to * 1e3:.1f} ms" if to else "-"
        print(f"| {what} | {n_ev:,} | {sn * 1e3:.1f} ms | {to_s} | {ratio} |")
    print()
    print(f"| loading ({n} samples of [16, 2, 128, 128], batch {args.batch}) | samples/s |")
    print("|---|---|")
    for what, rate in lrows:
        print(f"| {what} | {rate:,.0f} |")
    print(json.dumps({"rows": rows, "loader": lrows}), file=sys.stderr)


if __name__ == "__main__":
    main()
