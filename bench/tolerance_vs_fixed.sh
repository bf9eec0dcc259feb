#!/usr/bin/env bash
# Trains the built-in default on M = 4000 signals with every ADMM solve at exactly 2000
# iterations, and in tolerance mode (1e-7) with per-sample warm starts, for each of SEEDS
# shuffling seeds; prints the training time per epoch of each mode (from log.csv's
# samples/s, validation excluded), their ratio, and the validation PSNR both reach (mean and
# range over the seeds: the training path depends on which rows ADMM leaves just above or
# below the sign threshold, so single runs differ by about 0.1 dB).
#   bench/tolerance_vs_fixed.sh [EPOCHS] [SEEDS]   (BLORC=path/to/blorc-gpu, default build/cpu)
set -euo pipefail
cd "$(dirname "$0")/.."
B=${BLORC:-build/cpu/blorc-gpu}
E=${1:-10}
S=${2:-3}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
common=(--set data.train=4000 --set data.val=500 --epochs "$E" --batch 100)
for s in $(seq 1 "$S"); do
  $B train "${common[@]}" --set train.seed="$s" --set admm.fixed=true --max-iters 2000 \
    --out "$out/fixed-$s" > /dev/null
  $B train "${common[@]}" --set train.seed="$s" --set admm.fixed=false --max-iters 2000 \
    --admm-tol 1e-7 --out "$out/tol-$s" > /dev/null
done
python3 - "$out" "$E" "$S" <<'PY'
import csv, sys
out, E, S = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
res = {}
for m in ("fixed", "tol"):
    runs = [list(csv.DictReader(open(f"{out}/{m}-{s}/log.csv"))) for s in range(1, S + 1)]
    rows = [r for rs in runs for r in rs]
    res[m] = dict(epoch_s=sum(4000 / float(r["samples_per_s"]) for r in rows) / len(rows),
                  iters=sum(float(r["mean_admm_iters"]) for r in rows) / len(rows),
                  psnr=[float(rs[-1]["val_psnr"]) for rs in runs])
print(f"| ADMM mode | training s per epoch (M = 4000) | mean ADMM iterations | validation PSNR after {E} epochs, mean over {S} seeds [range] |")
print("| --- | ---: | ---: | ---: |")
for m, name in (("fixed", "exactly 2000 iterations"), ("tol", "tolerance 1e-7, warm starts")):
    p = res[m]["psnr"]
    print(f"| {name} | {res[m]['epoch_s']:.2f} | {res[m]['iters']:.0f} | {sum(p) / S:.3f} dB [{min(p):.3f}, {max(p):.3f}] |")
d = sum(res["tol"]["psnr"]) / S - sum(res["fixed"]["psnr"]) / S
print(f"\nspeed-up {res['fixed']['epoch_s'] / res['tol']['epoch_s']:.1f}x; mean PSNR difference {d:+.3f} dB")
PY
