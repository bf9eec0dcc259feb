#!/usr/bin/env python3
"""Full-batch L-BFGS on W over a fixed training set, with the gradient from `blorc-gpu grad`
(closed form, gamma 1e-6, ADMM to 1e-9): is a start such as tuned finite differences a local
optimum of the expected loss, or only an SGD plateau? Every 10 iterations it prints the
validation row of `blorc-gpu eval --csv` (mean per-signal PSNR in column 8, PSNR of the mean
squared error in column 12) and saves W to OUT_DIR/W_itN.npy.
Usage: bench/full_batch_lbfgs.py W0.npy TRAIN_X.npy TRAIN_Y.npy VAL_X.npy VAL_Y.npy OUT_DIR
       [ITERATIONS] [BLORC_BINARY]
It needs numpy and scipy. (2026-11-29: tuned FD, 10000 training signals of seed 0, 2000
validation signals of seed 7, 100 iterations in 21 min on 2 cores; bench/results/paper.)
"""
import os
import re
import subprocess
import sys
import time

import numpy as np
import scipy.optimize as so

w0, trx, try_, vx, vy, out = sys.argv[1:7]
iters = int(sys.argv[7]) if len(sys.argv) > 7 else 100
B = sys.argv[8] if len(sys.argv) > 8 else "build/cpu/blorc-gpu"
os.makedirs(out, exist_ok=True)
W0 = np.load(w0)
shape = W0.shape
wpath, gpath = os.path.join(out, "W_eval.npy"), os.path.join(out, "G.npy")


def loss_and_grad(w):
    np.save(wpath, w.reshape(shape))
    text = subprocess.run([B, "grad", "--transform", wpath, "--clean", trx, "--noisy", try_,
                           "--output", gpath, "--gamma", "1e-6", "--tol", "1e-9",
                           "--max-iters", "5000"], capture_output=True, text=True,
                          check=True).stdout
    return float(re.search(r"loss (\S+)", text).group(1)), np.load(gpath).ravel()


def validation(W):
    np.save(wpath, W)
    text = subprocess.run([B, "eval", "--transform", wpath, "--clean", vx, "--noisy", vy,
                           "--baseline", "none", "--csv"], capture_output=True, text=True,
                          check=True).stdout
    return text.strip().splitlines()[-1]


t0, count = time.time(), [0]


def report(w):
    count[0] += 1
    if count[0] % 10 == 0:
        W = w.reshape(shape)
        np.save(os.path.join(out, f"W_it{count[0]}.npy"), W)
        print(count[0], f"{time.time() - t0:.1f}s", validation(W), flush=True)


print("start", validation(W0), flush=True)
r = so.minimize(loss_and_grad, W0.ravel(), jac=True, method="L-BFGS-B", callback=report,
                options=dict(maxiter=iters, maxcor=20))
print(r.message, r.fun, r.nit)
np.save(os.path.join(out, "W_final.npy"), r.x.reshape(shape))
print("final", validation(r.x.reshape(shape)))
