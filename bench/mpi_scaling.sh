#!/usr/bin/env bash
# Data-parallel throughput (issue 18) on this machine, measured side by side in one run:
# training samples per second of `blorc-gpu train` (the built-in default, n = 64, and the same
# at n = 128) as one process on every core, one process on one core, and P ranks of
# `mpirun -np P` (each on cores/P of the cores), then the reduction alone
# (blorc_mpi_reduce_bench). Needs the mpi preset: cmake --preset mpi && cmake --build --preset mpi
#   bench/mpi_scaling.sh [P] [EPOCHS]     (P default 2, EPOCHS default 4; epoch 1 is left out)
set -euo pipefail
cd "$(dirname "$0")/.."
P=${1:-2}
EPOCHS=${2:-4}
B=build/mpi/blorc-gpu
test -x "$B" || { echo "mpi_scaling.sh: build the mpi preset first" >&2; exit 1; }
cores=$(nproc)
root=""
if [ "$(id -u)" = 0 ]; then root="--allow-run-as-root"; fi
export OMPI_MCA_btl_vader_single_copy_mechanism=none
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Mean samples/s over epochs 2.. of a run's log.csv (column 6).
rate() { awk -F, 'NR > 2 { s += $6; c++ } END { printf "%.0f", s / c }' "$1/log.csv"; }

echo "# Data-parallel training throughput ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $cores cores, $(date +%F))"
echo
echo "Command: \`bench/mpi_scaling.sh $P $EPOCHS\`; samples/s: log.csv's samples_per_s (training samples over the time of the epoch's minibatches, validation left out), mean over epochs 2..$EPOCHS."
echo
echo "| n = k | 1 process, $cores threads | 1 process, 1 thread | $P ranks x $((cores / P > 0 ? cores / P : 1)) threads | $P ranks / 1 process ($cores threads) | $P ranks / 1 process (1 thread) |"
echo "| ---: | ---: | ---: | ---: | ---: | ---: |"
for n in 64 128; do
  sets="--epochs $EPOCHS --set data.n=$n --set train.checkpoint_every=1000"
  OMP_NUM_THREADS=$cores "$B" train $sets --out "$tmp/all$n" >/dev/null
  OMP_NUM_THREADS=1 "$B" train $sets --out "$tmp/one$n" >/dev/null
  mpirun -np "$P" --oversubscribe $root "$B" train $sets --out "$tmp/mpi$n" >/dev/null
  a=$(rate "$tmp/all$n") o=$(rate "$tmp/one$n") m=$(rate "$tmp/mpi$n")
  echo "| $n | $a | $o | $m | $(awk -v m="$m" -v a="$a" 'BEGIN { printf "%.2f", m / a }') | $(awk -v m="$m" -v a="$o" 'BEGIN { printf "%.2f", m / a }') |"
done
echo
echo "The reduction alone (agree on the status, then the rank-ordered sum of the k x n gradient and three counts):"
echo
echo '```'
mpirun -np "$P" --oversubscribe $root build/mpi/bench/blorc_mpi_reduce_bench 64 128 256
echo '```'
