"""snnkit: neuromorphic event data for Python, in Rust.

* :func:`read` / :func:`info` — event files (AEDAT 2.0, 3.1, 4, ATIS ``.bin``, HDF5) into NumPy
  structured arrays with Tonic's field names ``t``, ``x``, ``y``, ``p``.
* :func:`to_frames` — events into ``[T, 2, H, W]`` frames: SpikingJelly's modes bit for bit,
  and Tonic's ``ToFrame`` modes under Tonic's names.
* :func:`convert` — a dataset into the HDF5 frame cache (one file per split).
* :class:`FrameCache` — one cache split as a map-style dataset (PyTorch ``DataLoader`` ready).
* :class:`Loader` — the Rust loader's shuffled, augmented, prefetched batches.

Errors are ``ValueError``, ``OSError`` or ``FileNotFoundError`` with the ``snnkit`` CLI's one-line
message (file, and byte offset for decode errors).
"""

from ._snnkit import (
    Batches,
    FrameCache,
    Loader,
    __version__,
    convert,
    info,
    read,
    to_frames,
)

__all__ = [
    "Batches",
    "FrameCache",
    "Loader",
    "__version__",
    "convert",
    "info",
    "read",
    "to_frames",
]
