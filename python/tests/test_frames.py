"""snnkit.to_frames against SpikingJelly's and Tonic's frames in ../shared/fixtures/expected
(SpikingJelly afb1322 ``integrate_events_by_fixed_frames_number`` / ``_by_fixed_duration``,
Tonic d0cb6df ``to_frame_numpy``; see expected/SUMMARY.json): bit for bit."""

import numpy as np
import pytest

import snnkit
from conftest import dense

NMNIST = "atis_bin/tonic_sample_nmnist.bin"

# (expected file, input, read kwargs, sensor_size, to_frames kwargs, dense shape of a .coo.npy)
SJ_CASES = [
    ("nmnist_sj_T10_number.npy", NMNIST, {}, (34, 34), {"frames": 10, "split_by": "number"}, None),
    ("nmnist_sj_T10_time.npy", NMNIST, {}, (34, 34, 2), {"frames": 10, "split_by": "time"}, None),
    ("nmnist_sj_duration50000.npy", NMNIST, {}, (34, 34), {"duration": 50000}, None),
    (
        "cifar10dvs_sj_T10_number.coo.npy",
        "synthetic/synthetic_cifar10dvs_dvs128.aedat",
        {"profile": "cifar10-dvs"},
        (128, 128),
        {"frames": 10},
        (10, 2, 128, 128),
    ),
    (
        "cifar10dvs_sj_T10_time.coo.npy",
        "synthetic/synthetic_cifar10dvs_dvs128.aedat",
        {"profile": "cifar10-dvs"},
        (128, 128),
        {"frames": 10, "split_by": "time"},
        (10, 2, 128, 128),
    ),
    (
        "ncaltech_like_sj_T5_number.coo.npy",
        "synthetic/synthetic_ncaltech101_like.bin",
        {},
        (240, 180),
        {"frames": 5, "split_by": "number"},
        (5, 2, 180, 240),
    ),
    (
        "ncaltech_like_sj_T5_time.coo.npy",
        "synthetic/synthetic_ncaltech101_like.bin",
        {"profile": "n-caltech101"},
        (240, 180, 2),
        {"frames": 5, "split_by": "time"},
        (5, 2, 180, 240),
    ),
    (
        "tonic_sample_sj_T8_number.coo.npy",
        "aedat4/tonic_sample.aedat4",
        {},
        (320, 240),
        {"frames": 8, "split_by": "number"},
        (8, 2, 240, 320),
    ),
]


@pytest.mark.parametrize("expected, path, read_kw, sensor, kw, shape", SJ_CASES, ids=[c[0] for c in SJ_CASES])
def test_spikingjelly_bit_for_bit(fixtures, expected, path, read_kw, sensor, kw, shape):
    ev = snnkit.read(fixtures / path, **read_kw)
    got = snnkit.to_frames(ev, sensor, **kw)
    want = dense(fixtures / "expected" / expected, shape)
    assert got.dtype == np.float32
    assert got.shape == want.shape
    assert got.tobytes() == want.astype(np.float32).tobytes()


TONIC_CASES = [
    ("nmnist_tonic_n_time_bins10.npy", {"n_time_bins": 10}),
    ("nmnist_tonic_n_event_bins10.npy", {"n_event_bins": 10}),
    ("nmnist_tonic_time_window50000.npy", {"time_window": 50000}),
    ("nmnist_tonic_event_count1000.npy", {"event_count": 1000}),
]


@pytest.mark.parametrize("expected, kw", TONIC_CASES, ids=[c[0] for c in TONIC_CASES])
def test_tonic_modes_bit_for_bit(fixtures, expected, kw):
    ev = snnkit.read(fixtures / NMNIST)
    got = snnkit.to_frames(ev, (34, 34, 2), **kw)
    want = np.load(fixtures / "expected" / expected)
    assert got.dtype == np.int16 == want.dtype
    assert got.shape == want.shape and got.tobytes() == want.tobytes()


def tonic_style(ev):
    """The same events as Tonic lays them out: fields x, y, t, p in that order, int64/bool."""
    out = np.zeros(len(ev), dtype=[("x", "<i8"), ("y", "<i8"), ("t", "<i8"), ("p", "?")])
    for k in "xytp":
        out[k] = ev[k]
    return out


def test_tonic_style_arrays_and_views(fixtures):
    ev = snnkit.read(fixtures / NMNIST)
    ref = snnkit.to_frames(ev, (34, 34), frames=10, split_by="time")
    assert np.array_equal(snnkit.to_frames(tonic_style(ev), (34, 34), frames=10, split_by="time"), ref)
    # A big-endian copy, and a strided view of every other event.
    be = ev.astype([("t", ">i8"), ("x", ">u2"), ("y", ">i4"), ("p", "u1")])
    assert np.array_equal(snnkit.to_frames(be, (34, 34), frames=10, split_by="time"), ref)
    half = ev[::2]
    assert np.array_equal(
        snnkit.to_frames(half, (34, 34), frames=4),
        snnkit.to_frames(np.ascontiguousarray(half), (34, 34), frames=4),
    )


def test_frames_are_counts_of_every_event(fixtures):
    ev = snnkit.read(fixtures / "aedat4/tonic_sample.aedat4")
    f = snnkit.to_frames(ev, (320, 240), frames=16)
    assert f.shape == (16, 2, 240, 320) and f.flags["C_CONTIGUOUS"]
    assert f.sum() == len(ev)
    on = ev["p"] != 0
    assert f[:, 1].sum() == on.sum()
    # The first frame holds exactly the first N // T events.
    k = len(ev) // 16
    first = np.zeros((2, 240, 320), np.float32)
    np.add.at(first, (on[:k].astype(int), ev["y"][:k], ev["x"][:k]), 1)
    assert np.array_equal(f[0], first)


def test_empty_events():
    ev = np.zeros(0, dtype=[("t", "<i8"), ("x", "<u2"), ("y", "<u2"), ("p", "u1")])
    f = snnkit.to_frames(ev, (4, 3), frames=2)
    assert f.shape == (2, 2, 3, 4) and not f.any()


def small():
    ev = np.zeros(3, dtype=[("t", "<i8"), ("x", "<i8"), ("y", "<i8"), ("p", "<i8")])
    ev["t"] = [0, 10, 20]
    ev["x"] = [0, 1, 2]
    return ev


@pytest.mark.parametrize(
    "kw, match",
    [
        ({}, "exactly one of"),
        ({"frames": 2, "duration": 5}, "exactly one of"),
        ({"frames": 0}, "at least 1"),
        ({"frames": 2, "split_by": "space"}, "split_by"),
        ({"duration": 10, "overlap": 1.0}, "Tonic"),
        ({"event_count": 2, "overlap": 0.5}, "whole number"),
        ({"n_time_bins": 2, "overlap": 1.0}, r"\[0, 1\)"),
    ],
)
def test_bad_modes_are_value_errors(kw, match):
    with pytest.raises(ValueError, match=match):
        snnkit.to_frames(small(), (4, 4), **kw)


def test_bad_events_are_value_errors():
    with pytest.raises(ValueError, match="outside the 2x4"):
        snnkit.to_frames(small(), (2, 4), frames=1)
    neg = small()
    neg["x"][1] = -1
    with pytest.raises(ValueError, match=r"events\[1\]: x = -1"):
        snnkit.to_frames(neg, (4, 4), frames=1)
    with pytest.raises(ValueError, match="no field 'p'"):
        snnkit.to_frames(np.zeros(2, dtype=[("t", "<i8"), ("x", "<i8"), ("y", "<i8")]), (4, 4), frames=1)
    with pytest.raises(ValueError, match="structured array"):
        snnkit.to_frames(np.zeros((3, 4), np.int64), (4, 4), frames=1)
    floats = np.zeros(2, dtype=[("t", "<f8"), ("x", "<i8"), ("y", "<i8"), ("p", "<i8")])
    with pytest.raises(ValueError, match="field 't'"):
        snnkit.to_frames(floats, (4, 4), frames=1)
    for size in [(4,), (4, 4, 1), "44"]:
        with pytest.raises(ValueError, match="sensor_size|polarities"):
            snnkit.to_frames(small(), size, frames=1)
    tonic_p = small()
    tonic_p["p"][0] = 2
    assert snnkit.to_frames(tonic_p, (4, 4), frames=1)[0, 1].sum() == 1  # SpikingJelly: p != 0 is ON
    with pytest.raises(ValueError, match="polarity 2"):
        snnkit.to_frames(tonic_p, (4, 4), n_event_bins=1)
