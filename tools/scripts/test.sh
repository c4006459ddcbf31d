#!/usr/bin/env bash
# The test command: installs missing system packages, then runs every test of the workspace and the Python
# package's tests (tools/scripts/test-python.sh).
# Tests that need ../shared (fixtures, parity tensors) print why they skip when it is absent, and fail instead
# under SNNKIT_REQUIRE_SHARED=1 (.ci/run sets it).
set -euo pipefail
cd "$(dirname "$0")/../.."
tools/scripts/setup.sh
export SNNKIT_PYTHON=${SNNKIT_PYTHON:-$(pwd)/target/pyenv/bin/python}
cargo test --workspace --locked "$@"
tools/scripts/test-python.sh
