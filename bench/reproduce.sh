#!/usr/bin/env bash
# Reproduces the paper's three experiments (design.md section 6) for each setting: trains
# configs/<setting>-<experiment>.ini, evaluates the learned W and the experiment's baseline
# transform on held-out signals, and writes bench/results/paper/<experiment>/<setting>/:
# W.npy, W_best.npy, log.csv, filters.png (and filters-best.png of W_best.npy where that is
# the evaluated W), curves.png, eval-N.csv (N test signals), eval-20.csv and
# README.md (command, machine, time, table). The `paper` setting is evaluated with its final
# W, as the paper does; every other setting with W_best.npy (validation-based stopping: the W
# of the best validation PSNR, chosen on training-side data, never on the test sets).
#   bench/reproduce.sh [--quick] [SETTING ...]       (default SETTING: paper)
# EXPERIMENTS="stripes" (a space-separated subset of "piecewise dct stripes") runs only those.
# --quick trains 3 epochs on 400 signals into runs/reproduce-quick/ (a smoke test).
# Held-out data come from seeds never used in training (training and validation: data.seed
# 0): 1000 test signals (seed 1001), the paper's 20 (seed 1002), and 500 signals for tuning
# the baseline's scale (seed 1003); no choice is made on the test sets. For the stripes, a
# config with data.stripe_phase = random (best) draws each image's stripe phase from the
# seed, and so do its held-out sets: test images are not training images; the paper's
# setting keeps its two images, whose held-out patches differ from training ones in their
# noise only. Random-phase stripes are tested on 2000 patches (issue 15: experiment 3 is
# judged on the PSNR of the mean squared error over 2000 held-out patches of new images). eval tunes the baseline's beta for each criterion separately (mean PSNR, PSNR
# of the mean squared error); the README's table gives both, each paired with its own beta.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${BLORC:-build/cpu/blorc-gpu}
quick=0
settings=()
for a in "$@"; do
  case $a in
    --quick) quick=1 ;;
    *) settings+=("$a") ;;
  esac
done
[ ${#settings[@]} -gt 0 ] || settings=(paper)
root=bench/results/paper
extra=()
if [ $quick = 1 ]; then
  root=runs/reproduce-quick
  extra=(--epochs 3 --set data.train=400 --set data.val=100 --set train.checkpoint_every=3)
fi
PY=python3
/usr/bin/python3 -c "import matplotlib" 2>/dev/null && PY=/usr/bin/python3
declare -A draw=([piecewise]="" [dct]="--order-like dct" [stripes]="--patch-side 8")
declare -A layout=([piecewise]="one row per line" [dct]="one row per line, ordered like the DCT rows they match best"
  [stripes]="one 8 x 8 tile per row")
data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT
for exp in ${EXPERIMENTS:-piecewise dct stripes}; do
  case $exp in
    piecewise) kind=piecewise base=tv ;;
    dct) kind=dct base=dct ;;
    stripes) kind=stripes base=tv2d ;;
    *) echo "reproduce: unknown experiment '$exp' in EXPERIMENTS (expected piecewise, dct or stripes)" >&2; exit 2 ;;
  esac
  for part in "test 1000 1001" "test20 20 1002" "tune 500 1003"; do
    set -- $part
    $B data --kind $kind --n 64 --count "$2" --seed "$3" --clean "$data/$exp-$1-x.npy" \
      --noisy "$data/$exp-$1-y.npy" > /dev/null
    [ $exp = stripes ] && $B data --kind $kind --n 64 --count "$([ $1 = test ] && echo 2000 || echo $2)" \
      --seed "$3" --stripe-phase random --clean "$data/$exp-random-$1-x.npy" \
      --noisy "$data/$exp-random-$1-y.npy" > /dev/null
  done
  for s in "${settings[@]}"; do
    cfg=configs/$s-$exp.ini
    if [ ! -f "$cfg" ]; then
      echo "reproduce: no $cfg, skipped"
      continue
    fi
    out=$root/$exp/$s
    set=$exp nt=1000
    grep -Eq '^stripe_phase *= *random' "$cfg" && set=$exp-random nt=2000
    mkdir -p "$(dirname "$out")"
    t0=$(date +%s)
    cmd="$B train --config $cfg --out $out --force ${extra[*]}"
    $cmd > "$data/train.txt"
    secs=$(($(date +%s) - t0))
    rm -rf "$out/checkpoints"  # large and regenerable; W.npy and log.csv are the results
    wfile=W_best.npy
    [ "$s" = paper ] && wfile=W.npy
    for t in test:$nt test20:20; do
      $B eval --transform "$out/$wfile" --clean "$data/$set-${t%:*}-x.npy" \
        --noisy "$data/$set-${t%:*}-y.npy" --baseline $base --tune-clean "$data/$set-tune-x.npy" \
        --tune-noisy "$data/$set-tune-y.npy" --csv > "$out/eval-${t#*:}.csv"
    done
    base_psnr=$(tail -1 "$out/eval-$nt.csv" | cut -d, -f6)
    # The evaluated W drawn like train's filters.png, when it is not the final W.
    [ "$wfile" = W.npy ] || $B filters --transform "$out/$wfile" --output "$out/filters-best.png" \
      ${draw[$exp]} > /dev/null
    rm -f "$out/curves.png"  # never leave a figure of an earlier run
    $PY bench/plot_log.py "$out/curves.png" "$out" "--hline=tuned $base (test)=$base_psnr" || true
    {
      echo "# $exp, setting $s"
      echo
      echo "Command: \`$cmd\` (then \`blorc-gpu eval\` of \`$wfile\` on the held-out sets, see bench/reproduce.sh)."
      echo "Machine: $(nproc) cores, $(uname -m), \`$($B --version | paste -sd';' | sed 's/;/; /')\`; $(date -u +%Y-%m-%d), training took $secs s."
      echo
      echo "PSNR in dB. Mean over signals +- standard error, with the baseline's beta tuned for it;"
      echo "then the PSNR of the mean squared error, with a beta tuned for that (each on the 500"
      echo "tuning signals; paired standard errors by the delta method)."
      echo
      echo "| test set | signals | noisy | baseline | beta (mean PSNR) | baseline | learned W | learned - baseline, paired | beta (MSE) | baseline, PSNR of the MSE | learned W | learned - baseline, paired |"
      echo "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
      for f in $nt 20; do
        IFS=, read -r N np nse bn beta bp bse lp lse na ba la dp dse bm bmp bma lase dm dmse < <(tail -1 "$out/eval-$f.csv")
        echo "| seed $([ $f = 20 ] && echo 1002 || echo 1001) | $N | $np +- $nse [$na] | $bn | $beta | $bp +- $bse | $lp +- $lse | $dp +- $dse | $bm | $bma | $la +- $lase | $dm +- $dmse |"
      done
      echo
      echo "Final line of training: $(tail -1 "$data/train.txt")"
      echo
      echo "Rows of the final W (\`W.npy\`; ${layout[$exp]}, red positive, blue negative):"
      echo
      echo "![filters of the final W](filters.png)"
      if [ "$wfile" != W.npy ]; then
        echo
        echo "Rows of the evaluated W (\`$wfile\`, drawn the same way by \`blorc-gpu filters\`):"
        echo
        echo "![filters of the evaluated W](filters-best.png)"
      fi
      echo
      echo "Training curves (\`bench/plot_log.py\` from \`log.csv\`):"
      echo
      echo "![training loss and validation PSNR per epoch](curves.png)"
    } > "$out/README.md"
    cat "$out/README.md"
  done
done
