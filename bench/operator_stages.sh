#!/usr/bin/env bash
# Per-stage CPU timings of one minibatch (n = 64, B = 100, k = 63 finite differences at scale
# 0.2, exactly ITERS ADMM iterations, median of REPEAT) for each forward operator, side by side
# in one run, with each stage's time relative to denoising (A = I). Rounds interleave the
# operators so that drift of the machine hits all alike; the median over rounds is printed.
#   bench/operator_stages.sh [ITERS=500] [REPEAT=5] [ROUNDS=3]
set -euo pipefail
cd "$(dirname "$0")/.."
B=${BLORC:-build/cpu/blorc-gpu}
iters=${1:-500} repeat=${2:-5} rounds=${3:-3}
ops=(identity cs:32 blur:1 inpaint:0.3)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for r in $(seq "$rounds"); do
  for op in "${ops[@]}"; do
    # lr 0: W stays put, so every repeat times the same problem.
    $B bench --n 64 --batch 100 --fixed --iters "$iters" --repeat "$repeat" --lr 0 \
      --operator "$op" --csv | tail -n +2 | sed "s|^|$op,$r,|" >> "$tmp/rows.csv"
  done
done
echo "blorc-gpu bench per stage, ms (median over $rounds rounds of the median of $repeat repeats);"
echo "n=64 k=63 B=100, exactly $iters ADMM iterations; $($B --version | paste -sd';' | sed 's/;/; /')"
echo "$(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), $(date -u +%Y-%m-%d)"
python3 - "$tmp/rows.csv" "${ops[@]}" <<'PY'
import csv, statistics, sys
rows = list(csv.reader(open(sys.argv[1])))
ops = sys.argv[2:]
stages = []
ms = {}
for op, rnd, dev, n, k, b, it, stage, med, lo, hi, sps in rows:
    if stage not in stages: stages.append(stage)
    ms.setdefault((op, stage), []).append(float(med))
med = {key: statistics.median(v) for key, v in ms.items()}
print()
print("| stage | " + " | ".join(ops) + " | " + " | ".join(o + " / identity" for o in ops[1:]) + " |")
print("| --- |" + " ---: |" * (2 * len(ops) - 1))
for s in stages:
    base = med[(ops[0], s)]
    cells = ["%.3f" % med[(o, s)] for o in ops]
    ratios = ["%.2fx" % (med[(o, s)] / base) if base > 0 else "-" for o in ops[1:]]
    print("| %s | %s | %s |" % (s, " | ".join(cells), " | ".join(ratios)))
PY
