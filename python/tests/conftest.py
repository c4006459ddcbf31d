"""Shared helpers: where ../shared is, and how to read its expected arrays.

The fixtures and the reference outputs (SpikingJelly afb1322, Tonic d0cb6df) live in
``../shared/fixtures`` beside the repository (or ``$SNNKIT_SHARED``); tests that need them skip,
saying why, when it is absent, and fail instead under ``SNNKIT_REQUIRE_SHARED=1`` (CI), as the Rust
tests do (``crates/testdata``).
"""

import os
import pathlib

import numpy as np
import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]


def shared_root():
    env = os.environ.get("SNNKIT_SHARED")
    return pathlib.Path(env) if env else REPO.parent / "shared"


def shared_dir():
    path = shared_root()
    return path if (path / "fixtures" / "expected" / "SUMMARY.json").is_file() else None


def require_shared():
    """Whether a missing fixture fails the test (``SNNKIT_REQUIRE_SHARED`` set, not empty or ``0``)."""
    return os.environ.get("SNNKIT_REQUIRE_SHARED", "") not in ("", "0")


@pytest.fixture(scope="session")
def fixtures():
    path = shared_dir()
    if path is None:
        where = shared_root() / "fixtures" / "expected" / "SUMMARY.json"
        if require_shared():
            pytest.fail(f"SNNKIT_REQUIRE_SHARED=1 but {where} does not exist (set SNNKIT_SHARED)")
        pytest.skip(f"{where} not found (set SNNKIT_SHARED to the shared folder)")
    return path / "fixtures"


def dense(path, shape=None):
    """An expected array: a dense ``.npy``, or a ``.coo.npy`` (rows t, c, y, x, value) of ``shape``."""
    a = np.load(path)
    if shape is None:
        return a
    out = np.zeros(shape, dtype=np.float32)
    t, c, y, x, v = a.T
    out[t, c, y, x] = v
    return out


def txyp(events):
    """The int64 [N, 4] (t, x, y, p) array of a structured event array."""
    return np.stack([events[k].astype(np.int64) for k in "txyp"], axis=1)
