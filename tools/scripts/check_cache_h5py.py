#!/usr/bin/env python3
"""Open an snnkit cache file (format version 1) with h5py and check its documented layout.

Usage: check_cache_h5py.py CACHE.h5 [--samples N] [--frames T] [--height H] [--width W]

Asserts the names, shapes, types and attributes of docs/cache-format.md, then prints a JSON summary on stdout
(shape, dtype, labels, sources, per-sample count sums) so a caller can compare it with snnkit's own reader.
Exits non-zero with a message on the first violation.
"""

import argparse
import json
import sys

import h5py
import numpy as np

REQUIRED_ATTRS = [
    "format_version", "snnkit_version", "dataset", "split", "frames", "height", "width",
    "class_names", "source_fingerprint", "created", "dtype",
]


def as_str(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def check(path, expect):
    with h5py.File(path, "r") as f:
        attrs = f.attrs
        for name in REQUIRED_ATTRS:
            assert name in attrs, f"attribute {name} missing"
        assert int(attrs["format_version"]) == 1, f"format_version {attrs['format_version']}"
        assert ("split_by" in attrs) != ("duration" in attrs), "exactly one of split_by / duration"
        if "split_by" in attrs:
            assert as_str(attrs["split_by"]) in ("number", "time")
        class_names = json.loads(as_str(attrs["class_names"]))
        assert isinstance(class_names, list) and all(isinstance(c, str) for c in class_names)
        t, h, w = int(attrs["frames"]), int(attrs["height"]), int(attrs["width"])

        for name in ("frames", "labels", "sources"):
            assert name in f, f"dataset /{name} missing"
        frames, labels, sources = f["frames"], f["labels"], f["sources"]
        n = frames.shape[0]
        assert frames.shape == (n, t, 2, h, w), f"/frames shape {frames.shape} vs attrs {(t, h, w)}"
        assert frames.dtype == np.dtype(as_str(attrs["dtype"])), f"/frames dtype {frames.dtype}"
        assert frames.dtype in (np.uint8, np.uint16, np.uint32)
        assert frames.chunks == (1, t, 2, h, w), f"/frames chunks {frames.chunks} (one sample per chunk)"
        compression = as_str(attrs.get("compression", ""))
        if compression.startswith("deflate:"):
            assert frames.compression == "gzip", f"/frames compression {frames.compression}"
            assert frames.compression_opts == int(compression.split(":")[1])
            wide = frames.dtype.itemsize > 1
            assert frames.shuffle == wide, f"/frames shuffle {frames.shuffle} for {frames.dtype} (on for 16/32-bit)"
        elif compression == "none":
            assert frames.compression is None
        else:
            assert compression == "", f"compression attribute {compression!r} (none or deflate:LEVEL)"
        assert labels.shape == (n,) and labels.dtype == np.uint16, f"/labels {labels.shape} {labels.dtype}"
        assert sources.shape == (n,), f"/sources {sources.shape}"
        if "lengths" in f:
            assert "duration" in attrs and f["lengths"].shape == (n,)
        for key, want in (("samples", n), ("frames", t), ("height", h), ("width", w)):
            if expect.get(key) is not None:
                assert expect[key] == want, f"{key}: expected {expect[key]}, file has {want}"

        label_values = labels[()]
        assert n == 0 or int(label_values.max()) < len(class_names), "label out of range"
        source_values = [as_str(s) for s in sources[()]]
        assert all("#" in s for s in source_values), "sources are '<file>#<segment>'"
        sums = [int(frames[i].astype(np.uint64).sum()) for i in range(n)]
        return {
            "shape": list(frames.shape),
            "dtype": str(frames.dtype),
            "dataset": as_str(attrs["dataset"]),
            "split": as_str(attrs["split"]),
            "class_names": class_names,
            "labels": [int(v) for v in label_values],
            "sources": source_values,
            "sums": sums,
        }


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("cache")
    for key in ("samples", "frames", "height", "width"):
        p.add_argument(f"--{key}", type=int)
    args = p.parse_args()
    try:
        summary = check(args.cache, vars(args))
    except AssertionError as e:
        print(f"error: {args.cache}: {e}", file=sys.stderr)
        return 1
    json.dump(summary, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
