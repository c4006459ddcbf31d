#!/usr/bin/env bash
# Image loader throughput next to torchvision on the same files: generates ImageNet-sized JPEGs
# (500x375, quality 90) with `snnkit synth --images`, then times `snnkit bench images` and
# torchvision's ImageFolder + DataLoader(num_workers=2) on them, train transform (and eval with
# EVAL=1). Needs a release build (target/release/snnkit) and a Python with torchvision
# (PYTHON, default /work/peers/bin/python).
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
snnkit="${SNNKIT:-$here/target/release/snnkit}"
python="${PYTHON:-/work/peers/bin/python}"
images="${IMAGES:-512}"
batch="${BATCH:-32}"
data="${DATA:-$(mktemp -d)}"
if [ ! -d "$data/train" ]; then
  "$snnkit" synth --images --out "$data" --image-classes 4 --train-per-class 64 \
    --val-per-class 64 --size 500x375 --format jpeg --quality 90
fi
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores"
for mode in train ${EVAL:+eval}; do
  flag=""; [ "$mode" = eval ] && flag="--eval"
  "$snnkit" bench images --root "$data" --batch "$batch" --images "$images" $flag --json
  "$python" "$here/tools/scripts/bench_images_torchvision.py" "$data" --batch "$batch" \
    --images "$images" --workers 2 $flag
done
