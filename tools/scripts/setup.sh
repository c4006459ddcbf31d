#!/usr/bin/env bash
# Installs what a fresh Debian/Ubuntu machine lacks to build and test snnkit:
# the HDF5 C library and headers, pkg-config, and python3 with h5py (the cache interoperability test),
# pytest and maturin (the Python package's tests, tools/scripts/test-python.sh).
# With --ci (what .ci/run passes) also cargo-machete, which CI runs to find unused dependencies.
# Safe to run repeatedly; does nothing when everything is present.
set -euo pipefail
ci=0
[[ ${1:-} == --ci ]] && ci=1

need_apt=()
pkg-config --exists hdf5 2>/dev/null || [[ -e /usr/include/hdf5/serial/hdf5.h ]] || need_apt+=(libhdf5-dev)
command -v pkg-config >/dev/null || need_apt+=(pkg-config)
command -v cc >/dev/null || need_apt+=(build-essential)
if ((${#need_apt[@]})); then
  echo "setup: installing ${need_apt[*]} with apt-get" >&2
  sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi

if ! command -v cargo >/dev/null; then
  echo "setup: cargo not found; install Rust from https://rustup.rs" >&2
  exit 1
fi

# cargo-machete for CI's unused-dependency check: built from crates.io once (about a minute), then found on PATH.
machete_version=0.9.1
if ((ci)) && ! cargo machete --version 2>/dev/null | grep -q "$machete_version"; then
  echo "setup: installing cargo-machete $machete_version with cargo install --locked" >&2
  cargo install --locked --quiet cargo-machete --version "$machete_version"
fi

# Python with numpy, h5py and hdf5plugin (the cache interoperability test, the Blosc/LZF-compressed event-file
# test), pytest and maturin (the Python package), in a venv inside target/.
if [[ ${SNNKIT_SKIP_PYTHON:-0} != 1 ]] && command -v python3 >/dev/null; then
  venv=${SNNKIT_PY_VENV:-$(pwd)/target/pyenv}
  if ! "$venv/bin/python" -c 'import h5py, numpy, hdf5plugin, pytest' 2>/dev/null || [[ ! -x $venv/bin/maturin ]]; then
    echo "setup: creating $venv with numpy, h5py, hdf5plugin, pytest and maturin" >&2
    [[ -x $venv/bin/python ]] || python3 -m venv "$venv"
    "$venv/bin/python" -m pip install -q numpy h5py hdf5plugin pytest 'maturin>=1.9.4,<2'
  fi
fi
