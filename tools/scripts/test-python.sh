#!/usr/bin/env bash
# Builds the Python package (python/, pyo3 + maturin) into the venv target/pyenv and runs its pytest tests.
#
# The wheel is built with cargo's dev profile (`MATURIN_PEP517_ARGS=--profile dev`), whose dependencies are
# already compiled at opt-level 3 by `cargo test`, instead of maturin's default release profile, which would
# compile every dependency again. `pip install ./python` (release) is what users run; see docs/python.md.
# Tests that need ../shared skip, saying why, when it is absent; the PyTorch test runs only where torch is
# installed. Set SNNKIT_SKIP_PYTHON=1 to skip all of this.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [[ ${SNNKIT_SKIP_PYTHON:-0} == 1 ]]; then
  echo "test-python: skipped (SNNKIT_SKIP_PYTHON=1)" >&2
  exit 0
fi
venv=${SNNKIT_PY_VENV:-$(pwd)/target/pyenv}
export PATH="$venv/bin:$PATH" # the maturin build backend runs the `maturin` command
start=$(date +%s)
MATURIN_PEP517_ARGS="--profile dev --locked" "$venv/bin/python" -m pip install -q --no-build-isolation --no-deps \
  --force-reinstall ./python
echo "test-python: built and installed the snnkit package in $(($(date +%s) - start)) s" >&2
# The CLI built by `cargo test` lets the tests compare error messages with the CLI's.
export SNNKIT_CLI=${SNNKIT_CLI:-$(pwd)/target/debug/snnkit}
"$venv/bin/python" -m pytest -q python/tests
