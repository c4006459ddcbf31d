"""Type stubs of snnkit's extension module (re-exported by the ``snnkit`` package)."""

import os
import pathlib
from typing import Any, Callable, Dict, Iterator, List, Literal, Optional, Tuple, Union

import numpy as np
import numpy.typing as npt

__version__: str

PathLike = Union[str, "os.PathLike[str]"]
Format = Literal["aedat2", "aedat3", "aedat4", "atis-bin", "hdf5"]
Profile = Literal["dvs128-gesture", "cifar10-dvs", "n-mnist", "n-caltech101"]

def read(
    path: PathLike,
    format: Optional[Format] = None,
    profile: Optional[Profile] = None,
    strict: bool = False,
    *,
    atis_overflow: Literal["spikingjelly", "tonic"] = "spikingjelly",
    aedat2_layout: Optional[Literal["dvs128", "davis"]] = None,
) -> npt.NDArray[np.void]:
    """Read an event file into a structured array with fields ``t`` (int64, µs), ``x``, ``y``
    (uint16), ``p`` (uint8), in file order.

    ``format`` is detected from the header when ``None``; ``profile`` sets the sensor size and
    SpikingJelly's coordinate convention of a dataset; ``strict`` drops AEDAT 3.1 events whose
    validity bit is 0 and AEDAT 2.0 external events; ``atis_overflow="tonic"`` handles ATIS
    overflow rows as Tonic does; ``aedat2_layout`` forces the AEDAT 2.0 address layout.

    Raises ``FileNotFoundError``/``OSError`` when the file cannot be read, ``ValueError`` for
    damaged or unknown data (the message names the file and the byte offset).
    """

def info(
    path: PathLike,
    format: Optional[Format] = None,
    profile: Optional[Profile] = None,
    strict: bool = False,
    *,
    atis_overflow: Literal["spikingjelly", "tonic"] = "spikingjelly",
    aedat2_layout: Optional[Literal["dvs128", "davis"]] = None,
) -> Dict[str, Any]:
    """What ``snnkit inspect --json`` prints: ``file``, ``format``, ``width``, ``height``,
    ``events``, ``t_min``, ``t_max``, ``on``, ``off``."""

def to_frames(
    events: npt.NDArray[np.void],
    sensor_size: Union[Tuple[int, int], Tuple[int, int, int]],
    frames: Optional[int] = None,
    split_by: Literal["number", "time"] = "number",
    duration: Optional[int] = None,
    *,
    time_window: Optional[float] = None,
    event_count: Optional[int] = None,
    n_time_bins: Optional[int] = None,
    n_event_bins: Optional[int] = None,
    overlap: float = 0.0,
    include_incomplete: bool = False,
    start_time: Optional[float] = None,
    end_time: Optional[float] = None,
) -> Union[npt.NDArray[np.float32], npt.NDArray[np.int16]]:
    """Integrate events into ``[T, 2, H, W]`` frames (channel 0 = OFF, 1 = ON, row = y).

    ``sensor_size`` is ``(width, height)`` or ``(width, height, 2)`` as Tonic gives it. Exactly one
    mode: ``frames`` + ``split_by`` or ``duration`` (SpikingJelly, ``float32``, bit for bit), or
    ``time_window``/``event_count``/``n_time_bins``/``n_event_bins`` with ``overlap``,
    ``include_incomplete``, ``start_time``, ``end_time`` (Tonic's ``ToFrame``, ``int16``).
    """

def convert(
    dataset: Literal["dvs128-gesture", "cifar10-dvs", "n-caltech101", "n-mnist", "synthetic"],
    root: PathLike,
    out: PathLike,
    frames: Optional[int] = None,
    split_by: Literal["number", "time"] = "number",
    jobs: int = 0,
    *,
    duration: Optional[int] = None,
    compression: Optional[str] = None,
    skip_bad: bool = False,
    force: bool = False,
    resume: bool = True,
    progress: bool = True,
) -> Dict[str, Any]:
    """Convert a dataset into ``out/<dataset>/<setting>/<split>.h5`` and return the summary that
    ``snnkit convert --json`` prints (``splits`` lists each file's ``path`` and ``samples``)."""

class FrameCache:
    """One cache split as a map-style dataset: ``cache[i] -> (frames float32 [T, 2, H, W], label)``.

    Picklable (as its path and transform), so a PyTorch ``DataLoader`` with workers can use it.
    """

    def __init__(
        self,
        path: PathLike,
        transform: Optional[Callable[[npt.NDArray[np.float32]], Any]] = None,
    ) -> None: ...
    def __len__(self) -> int: ...
    def __getitem__(self, index: int) -> Tuple[Any, int]: ...
    def __reduce__(self) -> Tuple[Any, ...]: ...
    @property
    def class_names(self) -> List[str]:
        """Class names, index = label."""
    @property
    def labels(self) -> npt.NDArray[np.int64]:
        """Labels of every sample."""
    @property
    def sample_shape(self) -> Tuple[int, int, int, int]:
        """``(T, 2, H, W)``."""
    @property
    def path(self) -> pathlib.Path: ...
    @property
    def transform(self) -> Optional[Callable[[npt.NDArray[np.float32]], Any]]: ...
    @property
    def info(self) -> Dict[str, Any]:
        """The file's attributes (dataset, split, frames, setting, height, width, dtype, ...)."""
    def sources(self) -> List[str]:
        """``"<file>#<segment>"`` of every sample."""

class Batches:
    """The batches of one epoch of a :class:`Loader`."""

    def __iter__(self) -> "Batches": ...
    def __next__(self) -> Tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]: ...
    def __length_hint__(self) -> int: ...

class Loader:
    """The Rust loader: ``for frames, labels in loader`` gives ``float32 [T, B, 2, H, W]`` and
    ``int64 [B]``; each ``iter(loader)`` is the next epoch, ``loader.epoch(n)`` epoch ``n``."""

    def __init__(
        self,
        path: PathLike,
        batch_size: int,
        shuffle: bool = True,
        seed: int = 0,
        hflip: bool = False,
        max_shift: int = 0,
        drop_last: bool = False,
        *,
        prefetch: int = 2,
    ) -> None: ...
    def __len__(self) -> int: ...
    def __iter__(self) -> Batches: ...
    def epoch(self, n: int) -> Batches: ...
    @property
    def num_samples(self) -> int: ...
    @property
    def class_names(self) -> List[str]: ...
    @property
    def sample_shape(self) -> Tuple[int, int, int, int]: ...
