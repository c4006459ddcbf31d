#!/usr/bin/env bash
# snnkit against PyTorch 2.0.1 on this machine, side by side: builds the release CLI, then runs
# tools/bench/conv_step_vs_torch.py (the `bench conv` shapes and both `bench step` SMA-VGG8 settings,
# back to back, 2 threads each) once at the native ISA and once with both sides held to AVX2.
# Extra arguments go to the Python script (e.g. --rounds 1 --only step). PYTHON selects the
# interpreter that has torch and spikingjelly (default: /work/peers/bin/python, else python3).
#
#   tools/scripts/bench_vs_torch.sh --markdown
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-/work/peers/bin/python}
[ -x "$PY" ] || PY=python3
if ! "$PY" -c 'import torch, spikingjelly' 2>/dev/null; then
    echo "bench_vs_torch: $PY has no torch/spikingjelly; set PYTHON to an interpreter that has them" >&2
    exit 1
fi
cargo build --release --locked -p snnkit
"$PY" tools/bench/conv_step_vs_torch.py --python "$PY" "$@"
if grep -qw avx512f /proc/cpuinfo 2>/dev/null; then
    "$PY" tools/bench/conv_step_vs_torch.py --python "$PY" --isa avx2 "$@"
fi
