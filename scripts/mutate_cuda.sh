#!/usr/bin/env bash
# Mutation testing of the CUDA backend in the cuda-emu build (issue 14): applies each mutation
# of scripts/mutations.py, one at a time, to a copy of the source tree, rebuilds the emulated
# gpu tests and runs them (in-order schedule, then shuffled); a mutation that every test
# survives is a barrier or a check that nothing tests (or that is redundant).
#   scripts/mutate_cuda.sh [OUT.tsv] [FILTER]   FILTER: a regex on mutation ids (default all)
# Prints, and writes to OUT.tsv (default mutations.tsv), one row per mutation: id, what,
# result (caught / SURVIVED / build failed) and the first test that failed. Takes about half
# a minute per mutation on 2 cores.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$(realpath -m "${1:-mutations.tsv}")
filter=${2:-.}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git -C "$root" ls-files -z | (cd "$root" && xargs -0 tar cf -) | tar xf - -C "$work"
cmake -S "$work" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBLORC_CUDA_EMU=ON \
  >/dev/null
cmake --build "$work/build" --target blorc_gpu_tests >/dev/null
cp -r "$work/cuda" "$work/cuda.orig"
tests="$work/build/tests/blorc_gpu_tests"
printf 'id\tmutation\tresult\tcaught by\n' >"$out"
caught=0 survived=0
while IFS=$'\t' read -r id what; do
  [[ $id =~ $filter ]] || continue
  # Restore what the last mutation changed (and only that: a fresh mtime makes ninja rebuild it).
  for f in "$work"/cuda.orig/*.cu "$work"/cuda.orig/*.h; do
    cmp -s "$f" "$work/cuda/${f##*/}" || cp "$f" "$work/cuda/${f##*/}"
  done
  python3 "$root/scripts/mutations.py" apply "$work/cuda" "$id"
  if ! cmake --build "$work/build" --target blorc_gpu_tests >"$work/build.log" 2>&1; then
    result="build failed" by="(compiler)"
  else
    result=SURVIVED by=""
    for sched in inorder shuffled:7; do
      log="$work/test.log"
      if ! BLORC_EMU_SCHEDULE=$sched timeout 600 "$tests" --gtest_fail_fast >"$log" 2>&1; then
        by=$(grep -m1 -oE '^\[  FAILED  \] [A-Za-z0-9_/.]+' "$log" | sed 's/^\[  FAILED  \] //' || true)
        [ -n "$by" ] || by="crash ($(tail -1 "$log" | cut -c1-80))"
        result=caught
        [ "$sched" = inorder ] || by="$by (shuffled schedule only)"
        break
      fi
    done
  fi
  if [ "$result" = SURVIVED ]; then survived=$((survived + 1)); else caught=$((caught + 1)); fi
  printf '%s\t%s\t%s\t%s\n' "$id" "$what" "$result" "$by" | tee -a "$out"
done < <(python3 "$root/scripts/mutations.py" list "$work/cuda.orig")
echo "mutate_cuda.sh: $caught caught, $survived survived; table in $out"
[ "$survived" = 0 ]
