#!/usr/bin/env bash
# Fuzzes the .npy reader and the INI config parser (with its validation) with libFuzzer.
#   scripts/fuzz.sh [SECONDS] [npy|config]...   default: 60 seconds each, both targets in parallel
# Needs clang with libFuzzer (Debian: clang, libclang-rt-14-dev or the one matching clang).
# Each target starts from tests/fuzz/corpus/TARGET (minimised seeds) and tests/fuzz/found/TARGET
# (every input that once found a bug, named for it; add new ones there by hand) and grows a
# working corpus under build/fuzz/; crashes, leaks and hangs are written to build/fuzz/artifacts/
# and fail the script. To keep the coverage a run reached: scripts/fuzz.sh --merge.
set -euo pipefail
cd "$(dirname "$0")/.."
merge=0
if [ "${1:-}" = --merge ]; then merge=1; shift; fi
secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(npy config)
CC=${CC:-clang}
out=build/fuzz
mkdir -p "$out/artifacts"
flags=(-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Iinclude -Isrc)
build() {
  case "$1" in
    npy) $CC "${flags[@]}" tests/fuzz/fuzz_npy.c tests/fuzz/fuzz_input_file.c src/npy.c \
           src/fsutil.c src/error.c -o "$out/fuzz_npy" ;;
    config) $CC "${flags[@]}" tests/fuzz/fuzz_config.c tests/fuzz/fuzz_input_file.c \
              src/config.c src/error.c $(pkg-config --cflags --libs inih) -lm -o "$out/fuzz_config" ;;
    *) echo "fuzz.sh: unknown target '$1', expected npy or config" >&2; exit 2 ;;
  esac
}
pids=()
for t in "${targets[@]}"; do
  build "$t"
  seeds=tests/fuzz/corpus/$t
  work=$out/corpus-$t
  mkdir -p "$work"
  if [ $merge = 1 ]; then
    # Minimise seeds plus the working corpus into a fresh set, then replace the seeds with it.
    fresh=$(mktemp -d)
    "$out/fuzz_$t" -merge=1 "$fresh" "$seeds" "$work" tests/fuzz/found/$t >"$out/merge-$t.log" 2>&1
    rm -rf "$seeds" && mv "$fresh" "$seeds"
    echo "fuzz.sh: $t corpus minimised to $(ls "$seeds" | wc -l) inputs"
    continue
  fi
  # Inputs are small files: 4 KiB caps the search without losing any header feature.
  "$out/fuzz_$t" -max_total_time="$secs" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$out/artifacts/$t-" "$work" "$seeds" tests/fuzz/found/$t \
    >"$out/fuzz-$t.log" 2>&1 &
  pids+=($!)
done
status=0
for i in "${!pids[@]}"; do
  t=${targets[$i]}
  if wait "${pids[$i]}"; then
    echo "fuzz.sh: $t: $(grep -m1 'stat::number_of_executed_units' "$out/fuzz-$t.log" | awk '{print $2}') runs in ${secs}s, no crash"
  else
    status=1
    echo "fuzz.sh: $t FAILED; see $out/fuzz-$t.log and $out/artifacts/" >&2
    grep -m3 -E 'ERROR|SUMMARY' "$out/fuzz-$t.log" >&2 || true
  fi
done
exit $status
