#!/usr/bin/env bash
# Issue 16's experiments: W learned for an inverse problem against the baseline transform
# tuned for the same operator, on held-out data. For each configs/inverse-EXP.ini (EXP in
# inpaint-piecewise, cs-piecewise, inpaint-stripes, or those named on the command line):
# trains it (timed), evaluates W_best.npy and the baseline (tv; tv2d for stripes) with beta
# tuned on 500 held-out signals (seed 1003) for each criterion, on 1000 test signals (seed
# 1001; stripes: 2000 patches of new random-phase images), and writes
# bench/results/inverse/EXP/: W.npy, W_best.npy, log.csv, filters.png, filters-best.png,
# eval.csv, README.md. Masks of held-out data come from their own operator seeds (2001 test,
# 2003 tuning); a shared matrix (cs) is the training one (the config's operator.seed).
#   bench/inverse_problems.sh [--quick] [EXP ...]
# --quick: 2 epochs on 1000 signals, 200 test and 100 tuning signals, into runs/inverse-quick.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${BLORC:-build/cpu/blorc-gpu}
quick=0
exps=()
for a in "$@"; do
  case $a in
    --quick) quick=1 ;;
    *) exps+=("$a") ;;
  esac
done
[ ${#exps[@]} -gt 0 ] || exps=(inpaint-piecewise cs-piecewise inpaint-stripes)
root=bench/results/inverse
extra=()
ntest=1000 ntune=500
if [ $quick = 1 ]; then
  root=runs/inverse-quick
  extra=(--epochs 2 --set data.train=1000 --set data.val=100 --set train.checkpoint_every=2)
  ntest=200 ntune=100
fi
key() { sed -n "/^\[$2\]/,/^\[/p" "$1" | grep -E "^$3 *=" | head -1 | sed 's/^[^=]*= *//'; }
data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT
for exp in "${exps[@]}"; do
  cfg=configs/inverse-$exp.ini
  [ -f "$cfg" ] || { echo "inverse_problems: no $cfg" >&2; exit 2; }
  kind=$(key "$cfg" data kind) op=$(key "$cfg" operator kind)
  ridge=$(key "$cfg" operator ridge) opseed=$(key "$cfg" operator seed)
  base=tv phase=() nt=$ntest
  if [ "$kind" = stripes ]; then base=tv2d phase=(--stripe-phase random) nt=$((2 * ntest)); fi
  opflags() { # $1: the held-out set's mask seed
    local f=(--operator "$op" --ridge "$ridge")
    case $op in
      inpaint:*) f+=(--masks "$data/$exp-$1-m.npy") ;;
      *) f+=(--operator-seed "$opseed") ;;
    esac
    echo "${f[@]}"
  }
  for part in "test $nt 1001 2001" "tune $ntune 1003 2003"; do
    set -- $part
    mflags=()
    case $op in inpaint:*) mflags=(--operator-seed "$4" --masks "$data/$exp-$1-m.npy") ;; *) mflags=(--operator-seed "$opseed") ;; esac
    $B data --kind "$kind" --n 64 --count "$2" --seed "$3" "${phase[@]}" --operator "$op" \
      "${mflags[@]}" --clean "$data/$exp-$1-x.npy" --noisy "$data/$exp-$1-y.npy" > /dev/null
  done
  out=$root/$exp
  mkdir -p "$out"
  t0=$(date +%s)
  cmd="$B train --config $cfg --out $out --force ${extra[*]}"
  $cmd > "$data/train.txt"
  secs=$(($(date +%s) - t0))
  rm -rf "$out/checkpoints"
  tune=(--tune-clean "$data/$exp-tune-x.npy" --tune-noisy "$data/$exp-tune-y.npy")
  case $op in inpaint:*) tune+=(--tune-masks "$data/$exp-tune-m.npy") ;; esac
  t1=$(date +%s)
  # shellcheck disable=SC2046
  $B eval --transform "$out/W_best.npy" --clean "$data/$exp-test-x.npy" \
    --noisy "$data/$exp-test-y.npy" --baseline $base "${tune[@]}" $(opflags test) --csv \
    > "$out/eval.csv"
  esecs=$(($(date +%s) - t1))
  draw=()
  [ "$kind" = stripes ] && draw=(--patch-side 8)
  $B filters --transform "$out/W_best.npy" --output "$out/filters-best.png" "${draw[@]}" > /dev/null
  IFS=, read -r N np nse bn beta bp bse lp lse na ba la dp dse bm bmp bma lase dm dmse < <(tail -1 "$out/eval.csv")
  {
    echo "# Inverse problem: $exp"
    echo
    echo "Operator: \`$op\` (ridge $ridge), data \`$kind\`, config \`$cfg\`."
    echo "Command: \`$cmd\`, then \`blorc-gpu eval\` of \`W_best.npy\` against \`$base\` tuned for the same"
    echo "operator on $ntune held-out signals (bench/inverse_problems.sh)."
    echo "Machine: $(nproc) cores, $(uname -m), \`$($B --version | paste -sd';' | sed 's/;/; /')\`; $(date -u +%Y-%m-%d)."
    echo "Training took $secs s; the evaluation (tuning both betas, then $N test signals) $esecs s."
    echo
    echo "PSNR in dB on $N held-out signals: mean over signals +- standard error (baseline beta tuned"
    echo "for it), and the PSNR of the mean squared error +- standard error (beta tuned for that);"
    echo "learned minus baseline paired signal by signal."
    echo
    echo "| criterion | $base beta | $base | learned W_best | learned - $base (paired) |"
    echo "| --- | ---: | ---: | ---: | ---: |"
    echo "| mean PSNR | $beta | $bp +- $bse | $lp +- $lse | $dp +- $dse |"
    echo "| PSNR of the MSE | $bm | $bma | $la +- $lase | $dm +- $dmse |"
    echo
    echo "Final line of training: $(tail -1 "$data/train.txt")"
    echo
    echo "Rows of W_best (\`blorc-gpu filters\`; red positive, blue negative):"
    echo
    echo "![filters of W_best](filters-best.png)"
  } > "$out/README.md"
  cat "$out/README.md"
done
