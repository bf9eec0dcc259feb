#!/usr/bin/env python3
"""BLORC in NumPy, written as a competent NumPy user would: batched ADMM with BLAS matrix
products, then the closed-form gradient per sample with numpy.linalg.svd. A peer for
blorc-gpu in bench/compare_peers.py; needs only numpy.

  numpy_blorc.py minibatch --transform W.npy --clean X.npy --noisy Y.npy [--batch 100]
                           [--iters 2000] [--rho 10] [--gamma 1e-3] [--repeat 3]
  numpy_blorc.py gradient  --transform W.npy --clean X.npy --noisy Y.npy --xstar XS.npy
                           [--gamma 1e-3] [--repeat 20] [--fd G_fd.npy]
Each prints one JSON line with median milliseconds (and loss, error).
"""
import argparse
import json
import time

import numpy as np


def admm_fixed(W, Y, rho, iters):
    """x, z, u for argmin 1/2||x - y||^2 + ||W x||_1, columns of Y (n x B), fixed iterations."""
    n = W.shape[1]
    M = np.linalg.inv(np.eye(n) + rho * W.T @ W)
    K = rho * M @ W.T
    C = M @ Y
    Z = np.zeros((W.shape[0], Y.shape[1]))
    U = np.zeros_like(Z)
    t = 1.0 / rho
    for _ in range(iters):
        X = C + K @ (Z - U)
        V = W @ X
        Z = np.sign(V + U) * np.maximum(np.abs(V + U) - t, 0.0)
        U += V - Z
    return X


def closed_form_gradient(W, y, x_clean, x_admm, gamma, svd_tol=1e-10):
    """Gradient of 1/2||x* - x||^2 in W for one pair, the paper's eqs. (7)-(8) in rank-2 form."""
    s = W @ x_admm
    s = np.where(s > gamma, 1.0, np.where(s < -gamma, -1.0, 0.0))
    zero = s == 0
    q = y - W.T @ s
    if zero.any():
        _, sv, Vt = np.linalg.svd(W[zero], full_matrices=False)
        r = int(np.sum(sv > svd_tol * sv[0])) if sv[0] > 0 else 0
        Vr, sr = Vt[:r].T, sv[:r]
    else:
        Vr, sr = np.zeros((W.shape[1], 0)), np.zeros(0)
    xs = q - Vr @ (Vr.T @ q)
    g = xs - x_clean
    h = g - Vr @ (Vr.T @ g)
    W0m = W * zero[:, None]
    a = W0m @ (Vr @ ((Vr.T @ q) / sr**2))
    b = W0m @ (Vr @ ((Vr.T @ g) / sr**2))
    G = -np.outer(a + s, h) - np.outer(b, xs)
    return G, 0.5 * g @ g


def load(args):
    W = np.load(args.transform)
    X = np.load(args.clean).astype(np.float64)
    Y = np.load(args.noisy).astype(np.float64)
    return W, X, Y


def median_ms(fn, repeat):
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return float(np.median(times)), out


def rel_error(G, F):
    """||G - F|| / ||F||: a gradient against its finite-difference reference."""
    return float(np.linalg.norm(G - F) / max(np.linalg.norm(F), 1e-300))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["minibatch", "gradient"])
    p.add_argument("--transform", required=True)
    p.add_argument("--clean", required=True)
    p.add_argument("--noisy", required=True)
    p.add_argument("--xstar")
    p.add_argument("--fd")
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--iters", type=int, default=2000)
    p.add_argument("--rho", type=float, default=10.0)
    p.add_argument("--gamma", type=float, default=1e-3)
    p.add_argument("--repeat", type=int, default=3)
    a = p.parse_args()
    W, X, Y = load(a)
    if a.mode == "minibatch":
        Xb, Yb = X[: a.batch], Y[: a.batch]

        def minibatch():
            t0 = time.perf_counter()
            XA = admm_fixed(W, Yb.T, a.rho, a.iters)
            t1 = time.perf_counter()
            G = np.zeros_like(W)
            loss = 0.0
            for j in range(a.batch):
                g, l = closed_form_gradient(W, Yb[j], Xb[j], XA[:, j], a.gamma)
                G += g / a.batch
                loss += l / a.batch
            return G, loss, (t1 - t0) * 1e3, (time.perf_counter() - t1) * 1e3

        ms, (G, loss, admm_ms, grad_ms) = median_ms(minibatch, a.repeat)
        print(json.dumps({"tool": "numpy", "ms_median": ms, "admm_ms": admm_ms, "gradient_ms": grad_ms, "loss": loss}))
    else:
        XS = np.load(a.xstar)
        j = 0
        ms, (G, _) = median_ms(lambda: closed_form_gradient(W, Y[j], X[j], XS[j], a.gamma), a.repeat)
        out = {"tool": "numpy", "ms_median": ms}
        if a.fd:
            F = np.load(a.fd)
            out["error"] = rel_error(G, F)
        print(json.dumps(out))


if __name__ == "__main__":
    main()
