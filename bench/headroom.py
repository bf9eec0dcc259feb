#!/usr/bin/env python3
"""Context for issue 6's experiments 1 and 2 (n = 64, sigma = 0.1): how far above the tuned
baseline transform can a denoiser get on the same held-out signals?

Prints, on the 1000 test signals of bench/reproduce.sh (seed 1001), mean per-signal PSNR
(peak 1) +- standard error and the PSNR of the mean squared error, for
  - the noisy input and the tuned baseline (blorc-gpu eval, beta by golden section on the
    500 tuning signals, seed 1003): finite differences (FD) or the orthonormal DCT;
  - piecewise only: multi-lag differences [b1 D1; b2 D2; b3 D3] (D_l: rows e_{i+l} - e_i,
    k = 3n - 6), a richer analysis-l1 operator, (b1, b2, b3) chosen by grid search on the same
    500 tuning signals, never on the test set;
  - the Bayes-optimal (MMSE) denoiser of the generator itself (design.md section 6), which no
    estimator beats on average, analysis-l1 or not. Piecewise (a jump with probability 0.1
    per index to a level uniform in [0, 1)): an exact forward-backward pass of that hidden
    Markov model on a 2000-level grid. DCT (each orthonormal-DCT coefficient nonzero with
    probability 0.1, uniform in [-1, 1]): the transform keeps the noise white, so the
    posterior mean is per coefficient, in closed form with the normal CDF.
Usage: bench/headroom.py [piecewise|dct] [BLORC_BINARY]
(piecewise about 5 minutes on 2 cores, dct about 1 minute)
"""
import itertools
import os
import subprocess
import sys
import tempfile

import numpy as np
from scipy.fft import idct, dct
from scipy.special import erf

KIND = sys.argv[1] if len(sys.argv) > 1 else "piecewise"
B = sys.argv[2] if len(sys.argv) > 2 else "build/cpu/blorc-gpu"
if KIND not in ("piecewise", "dct"):
    sys.exit(f"headroom.py: kind '{KIND}', expected piecewise or dct")
N, SIGMA, GRID = 64, 0.1, 2000
P_JUMP = 0.1  # piecewise: probability of a jump at each index
P_COEF = 0.1  # dct: probability that a coefficient is nonzero


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


def mmse_dct(y):
    """Per coefficient z = c + noise, c = 0 w.p. 0.9 else uniform on [-1, 1]: E[c | z]."""
    z = dct(y, norm="ortho")
    phi0 = np.exp(-(z**2) / (2 * SIGMA**2)) / (SIGMA * np.sqrt(2 * np.pi))
    # Slab: (1/2) int_{-1}^{1} N(z; c, sigma^2) dc and (1/2) int c N(z; c, sigma^2) dc.
    a, b = (-1 - z) / SIGMA, (1 - z) / SIGMA
    mass = 0.25 * (erf(b / np.sqrt(2)) - erf(a / np.sqrt(2)))
    first = z * mass + 0.5 * SIGMA / np.sqrt(2 * np.pi) * (np.exp(-(a**2) / 2) - np.exp(-(b**2) / 2))
    c = P_COEF * first / ((1 - P_COEF) * phi0 + P_COEF * mass)
    return idct(c, norm="ortho")


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
            run("data", "--kind", KIND, "--n", str(N), "--count", str(count),
                "--seed", str(seed), "--sigma", str(SIGMA), "--clean", x, "--noisy", y)
            sets[name] = (x, y)
        base = eval_w(diffs(1), *sets["test"], tmp, baseline="tv" if KIND == "piecewise" else "dct",
                      tune=sets["tune"])
        rows = []
        if KIND == "piecewise":
            best = None
            for b in itertools.product((0.05, 0.07, 0.09), (0.01, 0.02, 0.03, 0.04),
                                       (0, 0.01, 0.02)):
                W = np.vstack([bl * diffs(l + 1) for l, bl in enumerate(b) if bl > 0])
                score = float(eval_w(W, *sets["tune"], tmp)[7])
                print(f"tuning multi-lag b = {b}: {score:.4f} dB on the tuning signals", flush=True)
                if best is None or score > best[0]:
                    best = (score, b)
            b = best[1]
            W = np.vstack([bl * diffs(l + 1) for l, bl in enumerate(b) if bl > 0])
            ml = eval_w(W, *sets["test"], tmp)
            rows.append((f"multi-lag differences, b = {b}", float(ml[7]), float(ml[8]),
                         float(ml[11])))
        X, Y = np.load(sets["test"][0]), np.load(sets["test"][1])
        f = mmse if KIND == "piecewise" else mmse_dct
        bayes = psnr(np.array([np.mean((f(yy) - xx) ** 2) for xx, yy in zip(X, Y)]))
        rows.append(("Bayes (MMSE) denoiser of the generator",) + bayes)
    name = "FD" if KIND == "piecewise" else "DCT"
    print()
    print(f"{KIND}: 1000 test signals (seed 1001), PSNR in dB: mean +- standard error "
          "[of the mean MSE]")
    print(f"| denoiser | PSNR | minus tuned {name} |")
    print("| --- | ---: | ---: |")
    bp = float(base[5])
    print(f"| noisy input | {float(base[1]):.4f} +- {float(base[2]):.4f} [{float(base[9]):.2f}] | |")
    print(f"| tuned {name}, beta {float(base[4]):.4f} | {bp:.4f} +- {float(base[6]):.4f} "
          f"[{float(base[10]):.2f}] | 0 |")
    for label, mean, se, agg in rows:
        print(f"| {label} | {mean:.4f} +- {se:.4f} [{agg:.2f}] | {mean - bp:+.4f} |")


if __name__ == "__main__":
    main()
