"""snnkit.read and snnkit.info on every event file in ../shared/fixtures against the reference
decoders' outputs in fixtures/expected (SpikingJelly afb1322, Tonic d0cb6df, PyPI aedat 2.2.0;
see expected/SUMMARY.json), and the exception types and messages on bad files."""

import os
import pathlib
import subprocess

import numpy as np
import pytest

import snnkit
from conftest import REPO, txyp

EXPECTED_DTYPE = np.dtype([("t", "<i8"), ("x", "<u2"), ("y", "<u2"), ("p", "u1")])


def test_dtype_and_fields(fixtures):
    ev = snnkit.read(fixtures / "atis_bin/tonic_sample_nmnist.bin", profile="n-mnist")
    assert ev.dtype == EXPECTED_DTYPE
    assert ev.dtype.names == ("t", "x", "y", "p")  # Tonic's field names
    assert ev.ndim == 1 and len(ev) == 4325


@pytest.mark.parametrize(
    "path, kwargs, expected",
    [
        ("synthetic/synthetic_user00_test.aedat", {}, "gesture_sj_load_aedat_v3_txyp.npy"),
        ("synthetic/synthetic_user00_test.aedat", {"profile": "dvs128-gesture"}, "gesture_sj_load_aedat_v3_txyp.npy"),
        ("atis_bin/tonic_sample_nmnist.bin", {"profile": "n-mnist"}, "nmnist_sj_events_txyp.npy"),
        ("atis_bin/tonic_sample_nmnist.bin", {"atis_overflow": "tonic"}, "nmnist_sj_events_txyp.npy"),
        ("synthetic/synthetic_atis_overflow.bin", {}, "atis_overflow_sj_events_txyp.npy"),
        ("synthetic/synthetic_cifar10dvs_dvs128.aedat", {"profile": "cifar10-dvs"}, "cifar10dvs_sj_events_txyp.npy"),
        ("aedat4/tonic_sample.aedat4", {}, "tonic_sample_aedat4_events_txyp.npy"),
    ],
)
def test_events_equal_reference(fixtures, path, kwargs, expected):
    ev = snnkit.read(fixtures / path, **kwargs)
    want = np.load(fixtures / "expected" / expected)
    assert np.array_equal(txyp(ev), want)


def test_atis_overflow_tonic_mode(fixtures):
    ev = snnkit.read(fixtures / "synthetic/synthetic_atis_overflow.bin", atis_overflow="tonic")
    want = np.load(fixtures / "expected/atis_overflow_tonic_events_xytp.npy")
    got = np.stack([ev[k].astype(np.int64) for k in "xytp"], axis=1)
    assert np.array_equal(got, want)


def test_cifar10dvs_raw_fields_match_tonic(fixtures):
    # Without a profile: the raw address fields; Tonic's read_dvs_128 returns (y_raw, x_raw, p_raw).
    ev = snnkit.read(fixtures / "synthetic/synthetic_cifar10dvs_dvs128.aedat")
    want = np.load(fixtures / "expected/cifar10dvs_tonic_read_dvs_128_xytp.npy")
    got = np.stack([ev["y"], ev["x"], ev["t"], ev["p"]], axis=1).astype(np.int64)
    assert np.array_equal(got, want)


def test_aedat31_timestamp_overflow(fixtures):
    ev = snnkit.read(fixtures / "synthetic/synthetic_aedat31_tsoverflow.aedat")
    assert np.array_equal(ev["t"], np.load(fixtures / "expected/aedat31_tsoverflow_sj_t.npy"))
    assert (ev["t"] >= 1 << 31).all()


def test_strict_drops_the_invalid_event(fixtures):
    f = fixtures / "synthetic/synthetic_user00_test.aedat"
    assert len(snnkit.read(f)) == 1900
    assert len(snnkit.read(f, strict=True)) == 1899


def test_hdf5_layouts(fixtures):
    want = np.load(fixtures / "expected/tonic_sample_aedat4_events_txyp.npy")[:20_000]
    dsec = snnkit.read(fixtures / "synthetic/dsec_layout_from_tonic_sample.h5")
    assert np.array_equal(txyp(dsec), want)
    utils = snnkit.read(fixtures / "synthetic/event_utils_layout_from_tonic_sample.h5", format="hdf5")
    want[:, 0] -= want[0, 0]
    assert np.array_equal(txyp(utils), want)


def test_aedat2_files(fixtures):
    assert len(snnkit.read(fixtures / "aedat2/tonic_sample_aedat_header.aedat")) == 0
    bar = snnkit.read(fixtures / "aedat2/pyaedattools_TranslatingBarX.aedat")
    assert len(bar) == 10_000 and (bar["p"] == 1).all()
    assert (bar["t"][0], bar["t"][-1]) == (100_000, 10_000_000)
    assert (bar["x"].min(), bar["x"].max()) == (89, 188)
    square = snnkit.read(fixtures / "aedat2/pyaedattools_TranslatingSquare.aedat", aedat2_layout="davis")
    assert len(square) == 16_000 and square["x"].min() == 30 and square["y"].max() == 169
    ncal = snnkit.read(fixtures / "synthetic/synthetic_ncaltech101_like.bin", profile="n-caltech101")
    assert len(ncal) == 2000


PROPHESEE = ["real_evt2.raw", "real_evt3.raw", "real_evt3_vect.raw", "real_dat2.dat", "long_evt2.raw", "long_evt3.raw"]


@pytest.mark.parametrize("name", PROPHESEE)
def test_prophesee(fixtures, name):
    path = fixtures / "prophesee" / name
    try:
        ev = snnkit.read(path)
    except ValueError as e:
        if "unknown event-file format" in str(e):
            pytest.skip(f"this build's events crate does not read Prophesee files yet ({e})")
        raise
    want = np.load(fixtures / "prophesee/expected" / (pathlib.Path(name).stem + ".npy"))
    assert np.array_equal(txyp(ev), want)


def test_info_is_what_inspect_prints(fixtures):
    f = fixtures / "aedat4/tonic_sample.aedat4"
    d = snnkit.info(f)
    ev = snnkit.read(f)
    assert d["file"] == str(f)
    assert d["format"] == "aedat4"
    assert (d["width"], d["height"]) == (320, 240)
    assert d["events"] == len(ev) == 111_954
    assert (d["t_min"], d["t_max"]) == (int(ev["t"].min()), int(ev["t"].max()))
    assert d["on"] == int((ev["p"] != 0).sum()) and d["on"] + d["off"] == len(ev)
    empty = snnkit.info(fixtures / "aedat2/tonic_sample_aedat_header.aedat")
    assert empty["events"] == 0 and empty["t_min"] is None
    assert (empty["width"], empty["height"]) == (346, 260)
    headerless = snnkit.info(fixtures / "aedat2/pyaedattools_TranslatingBarX.aedat")
    assert headerless["width"] is None


def test_info_matches_the_cli(fixtures):
    cli = cli_binary()
    f = fixtures / "atis_bin/tonic_sample_nmnist.bin"
    out = subprocess.run([cli, "inspect", str(f), "--profile", "n-mnist", "--json"], capture_output=True, check=True)
    import json

    assert snnkit.info(f, profile="n-mnist") == json.loads(out.stdout)


def cli_binary():
    cli = os.environ.get("SNNKIT_CLI") or str(REPO / "target/debug/snnkit")
    if not os.access(cli, os.X_OK):
        pytest.skip(f"the snnkit CLI is not built ({cli}); set SNNKIT_CLI to compare messages")
    return cli


def test_missing_file_is_file_not_found(tmp_path):
    missing = tmp_path / "nope.aedat"
    with pytest.raises(FileNotFoundError) as e:
        snnkit.read(missing)
    assert str(missing) in str(e.value)
    with pytest.raises(FileNotFoundError):
        snnkit.info(str(missing))


def test_unknown_format_is_value_error(tmp_path):
    f = tmp_path / "noise.xyz"
    f.write_bytes(b"\x00\x01\x02 not an event file")
    with pytest.raises(ValueError, match="unknown event-file format"):
        snnkit.read(f)


def test_bad_names_are_value_errors(fixtures):
    f = fixtures / "atis_bin/tonic_sample_nmnist.bin"
    with pytest.raises(ValueError, match="aedat5"):
        snnkit.read(f, format="aedat5")
    with pytest.raises(ValueError, match="n-mnist"):
        snnkit.read(f, profile="mnist")
    with pytest.raises(ValueError, match="atis_overflow"):
        snnkit.read(f, atis_overflow="both")


def damaged_aedat4(fixtures, tmp_path):
    data = (fixtures / "aedat4/tonic_sample.aedat4").read_bytes()
    bad = tmp_path / "cut.aedat4"
    bad.write_bytes(data[: len(data) // 2])
    return bad


def test_damaged_file_names_file_and_byte(fixtures, tmp_path):
    bad = damaged_aedat4(fixtures, tmp_path)
    with pytest.raises(ValueError) as e:
        snnkit.read(bad)
    msg = str(e.value)
    assert str(bad) in msg and "byte " in msg and "\n" not in msg
    # Outside the profile's sensor: ValueError with the offending event's offset.
    with pytest.raises(ValueError, match="outside the 34x34 sensor"):
        snnkit.read(fixtures / "synthetic/synthetic_atis_overflow.bin", profile="n-mnist")


@pytest.mark.parametrize("kind", ["damaged", "missing", "unknown"])
def test_messages_equal_the_cli(fixtures, tmp_path, kind):
    cli = cli_binary()
    if kind == "damaged":
        bad = damaged_aedat4(fixtures, tmp_path)
    elif kind == "missing":
        bad = tmp_path / "missing.aedat"
    else:
        bad = tmp_path / "noise.dat"
        bad.write_bytes(b"nothing")
    out = subprocess.run([cli, "events", str(bad), "--out", str(tmp_path / "o.npy")], capture_output=True)
    assert out.returncode != 0
    with pytest.raises((ValueError, OSError)) as e:
        snnkit.read(bad)
    assert out.stderr.decode().strip() == f"error: {e.value}"


def test_path_like_and_str_paths(fixtures):
    f = fixtures / "atis_bin/tonic_sample_nmnist.bin"
    assert np.array_equal(snnkit.read(f), snnkit.read(str(f)))
    assert np.array_equal(snnkit.read(os.fspath(f), format="atis-bin"), snnkit.read(f))


def test_read_returns_an_array_it_owns(fixtures):
    ev = snnkit.read(fixtures / "atis_bin/tonic_sample_nmnist.bin")
    assert ev.flags["C_CONTIGUOUS"] and ev.flags["OWNDATA"] and ev.flags["WRITEABLE"]
