#!/usr/bin/env bash
# The main command: installs missing system packages, builds snnkit (release) and runs the demo on the
# embedded synthetic dataset: synth -> convert -> train (SMA-AZO VGG8) -> eval. Extra arguments go to `snnkit demo`.
set -euo pipefail
cd "$(dirname "$0")/../.."
SNNKIT_SKIP_PYTHON=1 tools/scripts/setup.sh
cargo build --release --locked -p snnkit
exec target/release/snnkit demo "$@"
