#!/usr/bin/env bash
# GPU readiness check (not part of CI): on a machine with an NVIDIA GPU, builds snnkit with
# `--features cuda` (installing a CUDA toolkit from PyPI with ../shared/tools/cuda-toolkit-from-pypi.sh
# when nvcc is missing), runs the model and trainer parity tests on the GPU (SNNKIT_TEST_DEVICE=cuda),
# `snnkit bench step --device cuda` for the full-width SMA-VGG8 settings, and two epochs of the demo
# with `--device cuda`, then prints one summary. Without a working GPU it stops at once, exit 1.
#
#   tools/scripts/gpu-check.sh            # everything
#   GPU_CHECK_SKIP_TESTS=1 tools/scripts/gpu-check.sh   # build, bench and demo only
set -uo pipefail
cd "$(dirname "$0")/../.."

if ! command -v nvidia-smi >/dev/null 2>&1; then
    echo "gpu-check: no GPU: nvidia-smi not found (this check needs an NVIDIA GPU and driver)" >&2
    exit 1
fi
# Only shell built-ins until the GPU is known to work (first line of a reply: ${VAR%%$'\n'*}).
if ! GPU=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1) || [ -z "$GPU" ]; then
    echo "gpu-check: no GPU: nvidia-smi failed: ${GPU%%$'\n'*}" >&2
    exit 1
fi
GPU=${GPU%%$'\n'*}

LOG=${GPU_CHECK_LOG:-target/gpu-check}
mkdir -p "$LOG"
declare -a SUMMARY=()
FAILED=0
# step NAME COMMAND...: runs it with output in $LOG/NAME.log, records pass/fail and seconds.
step() {
    local name=$1 t0=$SECONDS rc
    shift
    echo "gpu-check: $name: $*" >&2
    "$@" >"$LOG/$name.log" 2>&1
    rc=$?
    if [ $rc -eq 0 ]; then
        SUMMARY+=("ok    $name ($((SECONDS - t0)) s)")
    else
        SUMMARY+=("FAIL  $name (exit $rc, $((SECONDS - t0)) s; see $LOG/$name.log)")
        FAILED=1
    fi
    return $rc
}

SNNKIT_SKIP_PYTHON=1 tools/scripts/setup.sh >"$LOG/setup.log" 2>&1 || {
    echo "gpu-check: setup.sh failed; see $LOG/setup.log" >&2
    exit 1
}

if ! command -v nvcc >/dev/null 2>&1 && [ -z "${CUDA_HOME:-}" ]; then
    CUDA_SCRIPT=../shared/tools/cuda-toolkit-from-pypi.sh
    [ -n "${SNNKIT_SHARED:-}" ] && CUDA_SCRIPT=$SNNKIT_SHARED/tools/cuda-toolkit-from-pypi.sh
    if [ ! -x "$CUDA_SCRIPT" ] && [ ! -f "$CUDA_SCRIPT" ]; then
        echo "gpu-check: nvcc not found and $CUDA_SCRIPT is missing; install the CUDA toolkit" >&2
        exit 1
    fi
    cargo fetch --locked >"$LOG/fetch.log" 2>&1 || { echo "gpu-check: cargo fetch failed; see $LOG/fetch.log" >&2; exit 1; }
    # The script prints the `export ...` line to use; its libcuda stub is for linking only, the
    # real driver is found at run time.
    EXPORTS=$(bash "$CUDA_SCRIPT" 2>"$LOG/cuda-toolkit.log" | grep '^export ') || {
        echo "gpu-check: CUDA toolkit install failed; see $LOG/cuda-toolkit.log" >&2
        exit 1
    }
    eval "${EXPORTS%%#*}"
fi
if [ -z "${CUDA_COMPUTE_CAP:-}" ]; then
    CAP=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d '.')
    [ -n "$CAP" ] && export CUDA_COMPUTE_CAP=$CAP
fi

step build cargo build --release --locked -p snnkit --features cuda || {
    printf '%s\n' "${SUMMARY[@]}"
    exit 1
}
if [ -z "${GPU_CHECK_SKIP_TESTS:-}" ]; then
    export SNNKIT_TEST_DEVICE=cuda
    step model-parity cargo test --release --locked -p snnkit-model --features cuda --test parity
    step train-parity cargo test --release --locked -p snnkit-train --features cuda --test parity_train
    unset SNNKIT_TEST_DEVICE
fi
SNN=target/release/snnkit
step bench-step-32 "$SNN" bench step --device cuda --size 32 --batch-size 2 --frames 16 --json
step bench-step-64 "$SNN" bench step --device cuda --size 64 --batch-size 2 --frames 16 --json
step demo "$SNN" demo --device cuda --epochs 2 --out "$LOG/demo"

median() { grep -o '"median_step_s": *[0-9.e-]*' "$1" 2>/dev/null | head -1 | awk '{print $2}'; }
echo
echo "gpu-check summary: $GPU, $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null)"
printf '  %s\n' "${SUMMARY[@]}"
for s in 32 64; do
    m=$(median "$LOG/bench-step-$s.log")
    [ -n "$m" ] && echo "  SMA-VGG8 full width, T=16 B=2 ${s}x${s}: median step $m s on cuda"
done
acc=$(grep -iE 'accuracy|acc' "$LOG/demo.log" 2>/dev/null | tail -1)
[ -n "$acc" ] && echo "  demo: $acc"
exit $FAILED
