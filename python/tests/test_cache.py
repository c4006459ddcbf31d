"""The cache round trip: snnkit.convert on a small N-MNIST-layout tree (made in a temp folder
from the shared N-MNIST sample, cut to different lengths), then FrameCache and Loader against
snnkit.to_frames of each sample's raw file; pickling, forked workers, and the errors."""

import multiprocessing
import os
import pickle

import numpy as np
import pytest

import snnkit

T = 4
PER_CLASS = {"Train": 2, "Test": 1}


@pytest.fixture(scope="module")
def nmnist_root(tmp_path_factory, fixtures):
    """ROOT/{Train,Test}/<digit>/*.bin: ATIS files of 300 + 37 * k events (all distinct)."""
    data = (fixtures / "atis_bin/tonic_sample_nmnist.bin").read_bytes()
    root = tmp_path_factory.mktemp("nmnist")
    k = 0
    for split, n in PER_CLASS.items():
        for digit in range(10):
            d = root / split / str(digit)
            d.mkdir(parents=True)
            for j in range(n):
                events = 300 + 37 * k
                (d / f"{j:05}.bin").write_bytes(data[: 5 * events])
                k += 1
    return root


@pytest.fixture(scope="module")
def cache_dir(nmnist_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("cache")
    summary = snnkit.convert("n-mnist", nmnist_root, out, T, "number", jobs=2, progress=False)
    assert summary["dataset"] == "n-mnist" and summary["setting"] == f"frames{T}_number"
    splits = {s["split"]: s for s in summary["splits"]}
    assert splits["train"]["samples"] == 20 and splits["test"]["samples"] == 10
    assert summary["samples"] == 30
    return out / "n-mnist" / f"frames{T}_number"


def expected_sample(root, source):
    """SpikingJelly's frames of the raw file a cache entry came from."""
    rel = source.split("#")[0]
    ev = snnkit.read(root / rel, profile="n-mnist")
    return snnkit.to_frames(ev, (34, 34), frames=T, split_by="number")


def test_frame_cache_equals_frames_of_each_raw_file(cache_dir, nmnist_root):
    cache = snnkit.FrameCache(cache_dir / "train.h5")
    assert len(cache) == 20
    assert cache.class_names == [str(d) for d in range(10)]
    assert cache.sample_shape == (T, 2, 34, 34)
    sources = cache.sources()
    assert len(sources) == 20
    for i in range(len(cache)):
        frames, label = cache[i]
        assert frames.dtype == np.float32 and frames.shape == (T, 2, 34, 34)
        assert label == int(sources[i].split("/")[1])  # Train/<digit>/...
        assert np.array_equal(frames, expected_sample(nmnist_root, sources[i]))
    assert list(cache.labels) == [cache[i][1] for i in range(20)]
    last, _ = cache[-1]
    assert np.array_equal(last, cache[19][0])
    with pytest.raises(IndexError):
        cache[20]
    info = cache.info
    assert info["dataset"] == "n-mnist" and info["split"] == "train" and info["frames"] == T


def test_transform_and_pickle(cache_dir):
    cache = snnkit.FrameCache(cache_dir / "test.h5", transform=np.sign)
    frames, label = cache[3]
    assert set(np.unique(frames)) <= {0.0, 1.0}
    clone = pickle.loads(pickle.dumps(cache))
    assert isinstance(clone, snnkit.FrameCache) and len(clone) == len(cache) == 10
    assert clone.transform is np.sign
    f2, l2 = clone[3]
    assert l2 == label and np.array_equal(f2, frames)


def _sum_of(args):
    cache, i = args
    frames, label = cache[i]
    return float(frames.sum()), label


def test_forked_workers_read_after_the_parent_used_threads(cache_dir):
    cache = snnkit.FrameCache(cache_dir / "train.h5")
    want = [(float(cache[i][0].sum()), cache[i][1]) for i in range(len(cache))]
    # Start rayon's global pool in the parent: a forked child must not wait on its dead threads.
    big = np.zeros(1 << 20, dtype=[("t", "<i8"), ("x", "<u2"), ("y", "<u2"), ("p", "u1")])
    snnkit.to_frames(big, (34, 34), frames=8)
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(2) as pool:
        got = pool.map_async(_sum_of, [(cache, i) for i in range(len(cache))]).get(timeout=60)
        # And rayon work in a forked child (decode + bin on the child's own pool).
        sums = pool.map_async(_frames_sum, [big] * 2).get(timeout=60)
    assert got == want
    assert sums == [float(len(big))] * 2


def _frames_sum(ev):
    return float(snnkit.to_frames(ev, (34, 34), frames=8).sum())


def test_loader_batches_in_file_order(cache_dir):
    cache = snnkit.FrameCache(cache_dir / "train.h5")
    loader = snnkit.Loader(cache_dir / "train.h5", batch_size=6, shuffle=False)
    assert len(loader) == 4 and loader.num_samples == 20
    assert loader.sample_shape == (T, 2, 34, 34)
    start = 0
    for frames, labels in loader:
        b = len(labels)
        assert frames.dtype == np.float32 and frames.shape == (T, b, 2, 34, 34)
        assert labels.dtype == np.int64
        for k in range(b):
            f, l = cache[start + k]
            assert np.array_equal(frames[:, k], f) and labels[k] == l
        start += b
    assert start == 20


def test_loader_shuffles_and_augments_deterministically(cache_dir):
    cache = snnkit.FrameCache(cache_dir / "train.h5")
    samples = [cache[i] for i in range(len(cache))]
    path = cache_dir / "train.h5"
    loader = snnkit.Loader(path, batch_size=4, shuffle=True, seed=7, hflip=True, drop_last=True)
    assert len(loader) == 5
    epoch0 = [(f.copy(), l.copy()) for f, l in loader]
    epoch1 = [(f.copy(), l.copy()) for f, l in loader]  # the next iter() is the next epoch
    again = [(f.copy(), l.copy()) for f, l in snnkit.Loader(path, 4, True, 7, True, drop_last=True).epoch(0)]
    assert all(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) for a, b in zip(epoch0, again))
    assert any(not np.array_equal(a[1], b[1]) for a, b in zip(epoch0, epoch1))
    seen = []
    flipped = 0
    for frames, labels in epoch0:
        for k, label in enumerate(labels):
            f = frames[:, k]
            # Every batch entry is one cache sample, as stored or mirrored left-right.
            match = [i for i, (s, l) in enumerate(samples) if l == label and (np.array_equal(f, s) or np.array_equal(f, s[..., ::-1]))]
            assert len(match) == 1
            flipped += not np.array_equal(f, samples[match[0]][0])
            seen.append(match[0])
    assert sorted(seen) == list(range(20))  # a permutation: each sample once
    assert 0 < flipped < 20


def test_loader_releases_the_gil_and_stops_early(cache_dir):
    loader = snnkit.Loader(cache_dir / "test.h5", batch_size=3, prefetch=1)
    it = iter(loader)
    assert it.__length_hint__() == 4
    next(it)
    del it  # dropping a half-read epoch stops its thread
    assert sum(len(l) for _, l in loader) == 10


def test_cache_errors(cache_dir, tmp_path, fixtures):
    with pytest.raises(FileNotFoundError, match="nope.h5"):
        snnkit.FrameCache(tmp_path / "nope.h5")
    with pytest.raises(FileNotFoundError):
        snnkit.Loader(tmp_path / "nope.h5", 2)
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not hdf5 at all" * 10)
    with pytest.raises(OSError, match="junk.h5"):
        snnkit.FrameCache(junk)
    # An HDF5 file that is not a cache (an event file in the DSEC layout).
    with pytest.raises(ValueError, match="not a valid snnkit cache"):
        snnkit.FrameCache(fixtures / "synthetic/dsec_layout_from_tonic_sample.h5")
    with pytest.raises(ValueError, match="batch_size"):
        snnkit.Loader(cache_dir / "train.h5", 0)
    with pytest.raises(ValueError, match="frames=T"):
        snnkit.convert("n-mnist", tmp_path, tmp_path / "c")
    with pytest.raises(ValueError, match="n-mnist|Train"):
        snnkit.convert("n-mnist", tmp_path / "no-root", tmp_path / "c", 4, progress=False)
    with pytest.raises(ValueError, match="unknown dataset|nmnist"):
        snnkit.convert("nmnist", tmp_path, tmp_path / "c", 4, progress=False)


def test_torch_dataloader_with_workers(cache_dir):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed in this environment")
    cache = snnkit.FrameCache(cache_dir / "train.h5")
    dl = torch.utils.data.DataLoader(cache, batch_size=4, shuffle=False, num_workers=2)
    seen = 0
    for frames, labels in dl:
        assert frames.dtype == torch.float32 and frames.shape[1:] == (T, 2, 34, 34)
        for k in range(len(labels)):
            f, l = cache[seen + k]
            assert np.array_equal(frames[k].numpy(), f) and int(labels[k]) == l
        seen += len(labels)
    assert seen == len(cache)
