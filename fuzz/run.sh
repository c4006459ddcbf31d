#!/usr/bin/env bash
# Runs every fuzz target (or those named) for a fixed time or number of executions and prints one
# table: target, executions, seconds, executions/s, result.
#
#   fuzz/run.sh                      # every target, 60 s each
#   FUZZ_SECONDS=600 fuzz/run.sh aedat4 fused
#   FUZZ_RUNS=10000000 fuzz/run.sh   # stop each target after 10 M executions instead
#
# Needs a nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`). Seeds come from
# ../shared/fixtures (small files whole, prefixes of large ones); corpora grow under fuzz/corpus/,
# crashes land in fuzz/artifacts/<target>/ and fail the run. FUZZ_SANITIZER (default: none) picks
# cargo-fuzz's sanitizer: the decoders are safe Rust apart from the memory map, so bounds and
# overflow checks (on in fuzz builds) catch what matters, at several times ASan's speed.
set -euo pipefail
cd "$(dirname "$0")"
shared=${SNNKIT_SHARED:-../../shared}
fixtures=$shared/fixtures
seconds=${FUZZ_SECONDS:-60}
runs=${FUZZ_RUNS:-}
sanitizer=${FUZZ_SANITIZER:-none}
max_len=${FUZZ_MAX_LEN:-65536}
all=(aedat2 aedat3 aedat4 atis evt2 evt3 dat fused)
targets=("${@:-${all[@]}}")
[ $# -eq 0 ] && targets=("${all[@]}")

# seed TARGET FILE [BYTES]: the file, or its first BYTES bytes, into the target's corpus.
seed() {
  local dir=corpus/$1 file=$2 bytes=${3:-}
  [ -f "$file" ] || return 0
  mkdir -p "$dir"
  local name=$dir/seed-$(basename "$file")${bytes:+-$bytes}
  [ -f "$name" ] && return 0
  if [ -n "$bytes" ]; then head -c "$bytes" "$file" >"$name"; else cp "$file" "$name"; fi
}
seed_all() {
  for b in 4096 16384; do
    seed aedat3 "$fixtures/synthetic/synthetic_user00_test.aedat" $b
    seed aedat3 "$fixtures/synthetic/synthetic_aedat31_tsoverflow.aedat" $b
    for f in "$fixtures"/aedat2/*.aedat "$fixtures/synthetic/synthetic_cifar10dvs_dvs128.aedat"; do seed aedat2 "$f" $b; done
    seed aedat4 "$fixtures/aedat4/tonic_sample.aedat4" $((b * 2))
    seed atis "$fixtures/atis_bin/tonic_sample_nmnist.bin" $b
    seed atis "$fixtures/synthetic/synthetic_atis_overflow.bin" $b
    for f in "$fixtures"/prophesee/*evt2*.raw; do seed evt2 "$f" $b; done
    for f in "$fixtures"/prophesee/*evt3*.raw; do seed evt3 "$f" $b; done
    seed dat "$fixtures/prophesee/real_dat2.dat" $b
  done
  # The fused target's first byte picks the format (index into its FORMATS table) and the frame count.
  local i=0
  for t in aedat3 aedat2 atis evt2 evt3 dat; do
    mkdir -p corpus/fused
    for f in corpus/$t/seed-*; do
      [ -f "$f" ] || continue
      # Bits 0-2: format, 3-5: frames - 1, 6-7: sensor (128x128, then 1280x720).
      for sensor in 1 3; do
        local out=corpus/fused/$(basename "$f")-$t-$sensor
        [ -f "$out" ] || { printf "\\x$(printf %02x $((i + 8 * 3 + 64 * sensor)))" >"$out"; cat "$f" >>"$out"; }
      done
    done
    i=$((i + 1))
  done
}
[ -d "$fixtures" ] && seed_all || echo "fuzz/run.sh: no fixtures at $fixtures; starting from empty corpora" >&2

limit=(-max_total_time="$seconds")
[ -n "$runs" ] && limit=(-runs="$runs")
printf '%-8s %12s %8s %10s  %s\n' target executions seconds execs/s result
status=0
for t in "${targets[@]}"; do
  mkdir -p corpus/"$t" artifacts/"$t" logs
  log=logs/$t.log
  start=$(date +%s)
  if cargo +nightly fuzz run -s "$sanitizer" "$t" corpus/"$t" -- "${limit[@]}" -max_len="$max_len" \
      -artifact_prefix=artifacts/"$t"/ -print_final_stats=1 >"$log" 2>&1; then
    result=ok
  else
    result="FAILED (see fuzz/$log)"
    status=1
  fi
  secs=$(( $(date +%s) - start ))
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || echo 0)
  dur=$(grep -o 'Done [0-9]* runs in [0-9]* second' "$log" | tail -1 | awk '{print $5}')
  dur=${dur:-$secs}
  printf '%-8s %12s %8s %10s  %s\n' "$t" "$execs" "$dur" "$(( execs / (dur > 0 ? dur : 1) ))" "$result"
done
exit $status
