#!/usr/bin/env python3
"""The paper's CVXPY baseline: the lower-level problem min_x 1/2||x - y||^2 + ||W x||_1 as a
CVXPY problem with W a parameter, solved with requires_grad (a cone program through diffcp and
SCS), then Problem.backward() with dL/dx* = x* - x gives dL/dW. ms_median times backward()
alone (the derivative; the lower-level solve is excluded as for the other tools) and
solve_ms the solve it needs. Prints one JSON line, or {"skipped": reason} when cvxpy or
diffcp is missing.

  cvxpy_blorc.py --transform W.npy --clean X.npy --noisy Y.npy [--repeat 5] [--fd G_fd.npy]
"""
import argparse
import json
import time

import numpy as np
from numpy_blorc import rel_error


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--transform", required=True)
    p.add_argument("--clean", required=True)
    p.add_argument("--noisy", required=True)
    p.add_argument("--xstar", help="ignored: CVXPY differentiates its own solve")
    p.add_argument("--fd")
    p.add_argument("--repeat", type=int, default=5)
    a = p.parse_args()
    try:
        import cvxpy as cp
        import diffcp  # noqa: F401  (CVXPY's derivative needs it)
    except ImportError as e:
        print(json.dumps({"tool": "cvxpy", "skipped": f"not installed ({e.name})"}))
        return
    W = np.load(a.transform)
    x, y = np.load(a.clean)[0], np.load(a.noisy)[0]
    k, n = W.shape
    Wp, xv = cp.Parameter((k, n)), cp.Variable(n)
    prob = cp.Problem(cp.Minimize(0.5 * cp.sum_squares(xv - y) + cp.norm1(Wp @ xv)))
    Wp.value = W
    solve_ms, back_ms = [], []
    for _ in range(a.repeat + 1):  # the first round (canonicalisation) is a warm-up
        t0 = time.perf_counter()
        # SCS to tight tolerances: the derivative is only as accurate as the solve.
        prob.solve(requires_grad=True, solver=cp.SCS, eps_abs=1e-11, eps_rel=1e-11, max_iters=200000)
        t1 = time.perf_counter()
        xv.gradient = xv.value - x
        prob.backward()
        t2 = time.perf_counter()
        solve_ms.append((t1 - t0) * 1e3)
        back_ms.append((t2 - t1) * 1e3)
    out = {"tool": "cvxpy", "version": cp.__version__, "ms_median": float(np.median(back_ms[1:])),
           "solve_ms": float(np.median(solve_ms[1:]))}
    if a.fd:
        out["error"] = rel_error(np.asarray(Wp.gradient), np.load(a.fd))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
