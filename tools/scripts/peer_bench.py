#!/usr/bin/env python3
"""Times snnkit, faery and evlib reading the same AEDAT 4, EVT 2.0 and EVT 3.0 files, in one run.

Usage (from the repository root, after `cargo build --release -p snnkit`):

    /path/to/venv-with-faery-and-evlib/bin/python tools/scripts/peer_bench.py [--events 4000000]

The files are written by faery from one generated stream (1280x720, sorted timestamps, 4.5 us
apart on average, so a 4 M-event EVT 3.0 file wraps its 24-bit time once), so no reader gets a file
of its own making. Every reader must return the same number of events. Each reader's best of
`--repeats` wall times is printed with events/s and the ratio snnkit / peer:

* snnkit: `snnkit inspect FILE --json` (decode into columns, then the summary pass; the process
  start is included, which only counts against snnkit);
* faery: `faery.events_stream_from_file(FILE).to_array()`;
* evlib: `evlib.load_events(FILE, sort=False).collect()` (sort=False spares evlib a sort).

Figures depend on the machine: say which CPU and how many cores beside any you quote.
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

import numpy as np


def best_of(repeats, fn):
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=4_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument(
        "--snnkit",
        default=str(pathlib.Path(__file__).resolve().parents[2] / "target/release/snnkit"),
    )
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    a = ap.parse_args()

    import faery
    import evlib

    n = a.events
    rng = np.random.default_rng(1)
    ev = np.zeros(n, dtype=faery.EVENTS_DTYPE)
    ev["t"] = np.cumsum(rng.integers(0, 10, n)) + 1000
    ev["x"] = rng.integers(0, 1280, n)
    ev["y"] = rng.integers(0, 720, n)
    ev["p"] = rng.integers(0, 2, n).astype(bool)
    rows = []
    with tempfile.TemporaryDirectory() as d:
        files = {
            "aedat4": (pathlib.Path(d) / "b.aedat4", None),
            "evt2": (pathlib.Path(d) / "b2.raw", "evt2"),
            "evt3": (pathlib.Path(d) / "b3.raw", "evt3"),
        }
        for name, (path, version) in files.items():
            stream = faery.events_stream_from_array(ev, dimensions=(1280, 720))
            if version is None:
                stream.to_file(path, zero_t0=False)
            else:
                stream.to_file(path, version=version, zero_t0=False)
            # Page cache warm for everyone.
            path.read_bytes()

            def run_snnkit():
                out = subprocess.run(
                    [a.snnkit, "inspect", str(path), "--json"],
                    check=True,
                    capture_output=True,
                    text=True,
                )
                return json.loads(out.stdout)["events"]

            def run_faery():
                return len(faery.events_stream_from_file(path).to_array())

            def run_evlib():
                return evlib.load_events(str(path), sort=False).collect().height

            res = {}
            for who, fn in (("snnkit", run_snnkit), ("faery", run_faery), ("evlib", run_evlib)):
                try:
                    s, count = best_of(a.repeats, fn)
                    res[who] = (s, count)
                except Exception as e:  # a reader that cannot read the format is reported, not fatal
                    res[who] = (None, f"error: {str(e).splitlines()[0][:80]}")
            counts = {w: c for w, (s, c) in res.items() if s is not None}
            row = {"format": name, "bytes": path.stat().st_size, "events": n}
            for who, (s, c) in res.items():
                row[who + "_s"] = s
                row[who + "_events"] = c
                row[who + "_eps"] = (c / s) if s else None
            for who in ("faery", "evlib"):
                s_peer = res[who][0]
                row["snnkit_vs_" + who] = (s_peer / res["snnkit"][0]) if s_peer and res["snnkit"][0] else None
            row["counts_agree"] = len(set(counts.values())) <= 1
            rows.append(row)
    if a.json:
        print(json.dumps(rows))
        return
    print(f"{n} events per file, best of {a.repeats}, {os.cpu_count()} logical CPUs visible")
    print(f"{'format':8} {'snnkit':>14} {'faery':>14} {'evlib':>14} {'vs faery':>9} {'vs evlib':>9} counts")
    for r in rows:
        def cell(who):
            e = r[who + "_eps"]
            return f"{e / 1e6:9.1f} M ev/s" if e else f"{str(r[who + '_events'])[:14]:>14}"

        def ratio(who):
            v = r["snnkit_vs_" + who]
            return f"{v:8.2f}x" if v else f"{'-':>9}"

        agree = "equal" if r["counts_agree"] else "DIFFER"
        print(f"{r['format']:8} {cell('snnkit'):>14} {cell('faery'):>14} {cell('evlib'):>14} {ratio('faery')} {ratio('evlib')} {agree}")


if __name__ == "__main__":
    sys.exit(main())
