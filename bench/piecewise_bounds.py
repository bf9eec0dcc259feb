#!/usr/bin/env python3
"""Context for issue 6's experiment 1 (piecewise constant, n = 64, sigma = 0.1): how far
above the tuned finite differences (FD) can a denoiser get on the same held-out signals?

Prints, on the 1000 test signals of bench/reproduce.sh (seed 1001), mean per-signal PSNR
(peak 1) +- standard error and the PSNR of the mean squared error, for
  - the noisy input and tuned FD (blorc-gpu eval, beta by golden section on the 500 tuning
    signals, seed 1003);
  - multi-lag differences [b1 D1; b2 D2; b3 D3] (D_l: rows e_{i+l} - e_i, k = 3n - 6), a
    richer analysis-l1 operator, (b1, b2, b3) chosen by grid search on the same 500 tuning
    signals, never on the test set;
  - the Bayes-optimal (MMSE) denoiser of the generator itself (design.md section 6: a jump
    with probability 0.1 per index to a level uniform in [0, 1)), an exact forward-backward
    pass of that hidden Markov model on a 2000-level grid: no estimator can do better on
    average, analysis-l1 or not.
Usage: bench/piecewise_bounds.py [BLORC_BINARY]   (about 10 minutes on 2 cores)
"""
import itertools
import os
import subprocess
import sys
import tempfile

import numpy as np

B = sys.argv[1] if len(sys.argv) > 1 else "build/cpu/blorc-gpu"
N, SIGMA, P_JUMP, GRID = 64, 0.1, 0.1, 2000


def run(*args):
    return subprocess.run([B, *args], capture_output=True, text=True, check=True).stdout


def diffs(lag):
    D = np.zeros((N - lag, N))
    for i in range(N - lag):
        D[i, i], D[i, i + lag] = -1.0, 1.0
    return D


def psnr(mse):
    p = 10 * np.log10(1 / mse)
    return p.mean(), p.std(ddof=1) / np.sqrt(len(p)), 10 * np.log10(1 / mse.mean())


def eval_w(W, x, y, tmp, baseline="none", tune=None):
    path = os.path.join(tmp, "W.npy")
    np.save(path, W)
    extra = ["--baseline", baseline]
    if tune:
        extra += ["--tune-clean", tune[0], "--tune-noisy", tune[1]]
    row = run("eval", "--transform", path, "--clean", x, "--noisy", y, "--csv", *extra)
    return row.strip().splitlines()[-1].split(",")


def mmse(y):
    """Posterior mean of each x_i given the whole noisy signal y (forward-backward)."""
    g = (np.arange(GRID) + 0.5) / GRID
    like = np.exp(-((y[:, None] - g[None, :]) ** 2) / (2 * SIGMA**2))
    a, b = np.zeros((N, GRID)), np.ones((N, GRID))
    a[0] = like[0] / a[0].size
    a[0] /= a[0].sum()
    for i in range(1, N):  # stay with probability 1 - p, else a fresh uniform level
        a[i] = ((1 - P_JUMP) * a[i - 1] + P_JUMP * a[i - 1].sum() / GRID) * like[i]
        a[i] /= a[i].sum()
    for i in range(N - 2, -1, -1):
        t = b[i + 1] * like[i + 1]
        b[i] = (1 - P_JUMP) * t + P_JUMP * t.sum() / GRID
        b[i] /= b[i].sum()
    q = a * b
    return (q / q.sum(1, keepdims=True)) @ g


def main():
    with tempfile.TemporaryDirectory() as tmp:
        sets = {}
        for name, count, seed in (("test", 1000, 1001), ("tune", 500, 1003)):
            x, y = os.path.join(tmp, name + "-x.npy"), os.path.join(tmp, name + "-y.npy")
            run("data", "--kind", "piecewise", "--n", str(N), "--count", str(count),
                "--seed", str(seed), "--sigma", str(SIGMA), "--clean", x, "--noisy", y)
            sets[name] = (x, y)
        fd = eval_w(diffs(1), *sets["test"], tmp, baseline="tv", tune=sets["tune"])
        best = None
        for b in itertools.product((0.05, 0.07, 0.09), (0.01, 0.02, 0.03, 0.04), (0, 0.01, 0.02)):
            W = np.vstack([bl * diffs(l + 1) for l, bl in enumerate(b) if bl > 0])
            score = float(eval_w(W, *sets["tune"], tmp)[7])
            print(f"tuning multi-lag b = {b}: {score:.4f} dB on the tuning signals", flush=True)
            if best is None or score > best[0]:
                best = (score, b)
        b = best[1]
        W = np.vstack([bl * diffs(l + 1) for l, bl in enumerate(b) if bl > 0])
        ml = eval_w(W, *sets["test"], tmp)
        X, Y = np.load(sets["test"][0]), np.load(sets["test"][1])
        bayes = psnr(np.array([np.mean((mmse(yy) - xx) ** 2) for xx, yy in zip(X, Y)]))
    print()
    print("1000 test signals (seed 1001), PSNR in dB: mean +- standard error [of the mean MSE]")
    print("| denoiser | PSNR | minus tuned FD |")
    print("| --- | ---: | ---: |")
    fdp = float(fd[5])
    print(f"| noisy input | {float(fd[1]):.4f} +- {float(fd[2]):.4f} [{float(fd[9]):.2f}] | |")
    print(f"| tuned FD, beta {float(fd[4]):.4f} | {fdp:.4f} +- {float(fd[6]):.4f} "
          f"[{float(fd[10]):.2f}] | 0 |")
    print(f"| multi-lag differences, b = {b} | {float(ml[7]):.4f} +- {float(ml[8]):.4f} "
          f"[{float(ml[11]):.2f}] | {float(ml[7]) - fdp:+.4f} |")
    print(f"| Bayes (MMSE) denoiser of the generator | {bayes[0]:.4f} +- {bayes[1]:.4f} "
          f"[{bayes[2]:.2f}] | {bayes[0] - fdp:+.4f} |")


if __name__ == "__main__":
    main()
