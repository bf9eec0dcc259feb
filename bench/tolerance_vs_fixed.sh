#!/usr/bin/env bash
# Trains the built-in default twice on M = 4000 signals: every ADMM solve at exactly 2000
# iterations, and in tolerance mode (1e-7) with per-sample warm starts; prints the training
# time per epoch of each (from log.csv's samples/s, validation excluded), their ratio, and the
# validation PSNR both reach.
#   bench/tolerance_vs_fixed.sh [EPOCHS]   (BLORC=path/to/blorc-gpu, default build/cpu)
set -euo pipefail
cd "$(dirname "$0")/.."
B=${BLORC:-build/cpu/blorc-gpu}
E=${1:-10}
out=$(mktemp -d)
common=(--set data.train=4000 --set data.val=500 --epochs "$E" --batch 100)
$B train "${common[@]}" --set admm.fixed=true --max-iters 2000 --out "$out/fixed" > /dev/null
$B train "${common[@]}" --set admm.fixed=false --max-iters 2000 --admm-tol 1e-7 --out "$out/tol" > /dev/null
python3 - "$out" "$E" <<'PY'
import csv, sys
out, E = sys.argv[1], int(sys.argv[2])
rows = {m: list(csv.DictReader(open(f"{out}/{m}/log.csv"))) for m in ("fixed", "tol")}
epoch_s = {m: sum(4000 / float(r["samples_per_s"]) for r in rs) / len(rs) for m, rs in rows.items()}
iters = {m: sum(float(r["mean_admm_iters"]) for r in rs) / len(rs) for m, rs in rows.items()}
psnr = {m: float(rs[-1]["val_psnr"]) for m, rs in rows.items()}
print(f"| ADMM mode | training s per epoch (M = 4000) | mean ADMM iterations | validation PSNR after {E} epochs |")
print("| --- | ---: | ---: | ---: |")
print(f"| exactly 2000 iterations | {epoch_s['fixed']:.2f} | {iters['fixed']:.0f} | {psnr['fixed']:.3f} dB |")
print(f"| tolerance 1e-7, warm starts | {epoch_s['tol']:.2f} | {iters['tol']:.0f} | {psnr['tol']:.3f} dB |")
print(f"\nspeed-up {epoch_s['fixed'] / epoch_s['tol']:.1f}x; PSNR difference {psnr['tol'] - psnr['fixed']:+.3f} dB")
PY
rm -rf "$out"
