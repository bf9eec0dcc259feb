#!/usr/bin/env python3
"""blorc.torch's layer against cvxpylayers on the same batch (issue 17): the lower level
x*(W, y) = argmin_x 1/2||x - y||^2 + ||W x||_1 for B noisy piecewise-constant signals, forward
and backward of L = 1/2 sum_j ||x*_j - x_j||^2 through each layer; median times over --repeat
runs, interleaved, the ratio cvxpylayers / blorc measured side by side, the agreement of the
gradients in W and y (relative 2-norm of the difference), and each layer's dL/dy for the first
two samples against central differences (step 1e-6) of blorc's forward pass. cvxpylayers solves a cone program
(diffcp, SCS at eps_abs = eps_rel = 1e-10 here) and differentiates its optimality conditions; blorc runs ADMM,
the certified closed form and its exact vector-Jacobian product.

  bench/peers/torch_layer.py [--sizes 16:8,32:16,64:16] [--repeat 5]    (n:B pairs; k = n)

Needs the blorc package (pip install ./python), torch, and cvxpylayers for the comparison
(without it only blorc's times are printed).
"""
import argparse
import platform
import statistics
import time

import numpy as np
import torch

import blorc
from blorc.torch import l1_analysis


def problem(n, B, seed=0):
    clean, noisy = blorc.data.piecewise(B, n=n, sigma=0.1, seed=seed)
    r = np.random.default_rng(seed)
    # k = n rows: finite differences (n - 1) and one small random row, perturbed, as a learned
    # transform looks mid-training (not every row vanishes at x*).
    W = np.vstack([blorc.transform("tv", n, 0.08), 0.02 * r.standard_normal((1, n))])
    W += 0.005 * r.standard_normal(W.shape)
    return W, clean, noisy


def run_blorc(W, X, Y):
    Wt, Yt = torch.tensor(W, requires_grad=True), torch.tensor(Y, requires_grad=True)
    t0 = time.perf_counter()
    x, ok = l1_analysis(Wt, Yt, return_ok=True, rho=1.0)
    t1 = time.perf_counter()
    (0.5 * ((x - torch.tensor(X)) ** 2).sum()).backward()
    t2 = time.perf_counter()
    return (t1 - t0, t2 - t1, Wt.grad.numpy(), Yt.grad.numpy(), int(ok.sum()))


def make_cvx(n, k):
    import cvxpy as cp
    from cvxpylayers.torch import CvxpyLayer
    Wp, yp, xv = cp.Parameter((k, n)), cp.Parameter(n), cp.Variable(n)
    prob = cp.Problem(cp.Minimize(0.5 * cp.sum_squares(xv - yp) + cp.norm1(Wp @ xv)))
    return CvxpyLayer(prob, parameters=[Wp, yp], variables=[xv])


def run_cvx(layer, W, X, Y):
    Wt, Yt = torch.tensor(W, requires_grad=True), torch.tensor(Y, requires_grad=True)
    t0 = time.perf_counter()
    (x,) = layer(Wt, Yt, solver_args={"eps_abs": 1e-10, "eps_rel": 1e-10, "max_iters": 200000})
    t1 = time.perf_counter()
    (0.5 * ((x - torch.tensor(X)) ** 2).sum()).backward()
    t2 = time.perf_counter()
    return (t1 - t0, t2 - t1, Wt.grad.numpy(), Yt.grad.numpy())


def fd_dy(W, X, Y, h=1e-6):
    """dL/dy of blorc's layer by central differences (each entry of y perturbed, the solve
    repeated): the reference the two analytic gradients are held against."""
    g = np.zeros_like(Y)
    for j in range(Y.shape[0]):
        for i in range(Y.shape[1]):
            vals = []
            for s in (h, -h):
                Yp = Y[j:j + 1].copy()
                Yp[0, i] += s
                x = l1_analysis(torch.tensor(W), torch.tensor(Yp), rho=1.0).numpy()
                vals.append(0.5 * np.sum((x - X[j:j + 1]) ** 2))
            g[j, i] = (vals[0] - vals[1]) / (2 * h)
    return g


def rel(a, b):
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--sizes", default="16:8,32:16,64:16")
    p.add_argument("--repeat", type=int, default=5)
    a = p.parse_args()
    try:
        import cvxpylayers  # noqa: F401
        have_cvx = True
    except ImportError:
        have_cvx = False
    torch.set_num_threads(1)
    print(f"# blorc.torch against cvxpylayers ({platform.processor() or platform.machine()}, "
          f"blorc {blorc.__version__}: {blorc.build_info()}; torch {torch.__version__}"
          + (f"; cvxpylayers {cvxpylayers.__version__}" if have_cvx else "; cvxpylayers missing")
          + ")")
    print("| n = k | B | blorc fwd ms | blorc bwd ms | cvxpylayers fwd ms | cvxpylayers bwd ms "
          "| ratio fwd+bwd | rel diff dL/dW | rel diff dL/dy | dL/dy vs FD: blorc | cvxpylayers "
          "| blorc certified |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for item in a.sizes.split(","):
        n, B = (int(v) for v in item.split(":"))
        W, X, Y = problem(n, B)
        layer = make_cvx(n, W.shape[0]) if have_cvx else None
        bf, bb, cf, cb = [], [], [], []
        for _ in range(a.repeat):  # interleaved, so drift hits both alike
            f, b, gW, gy, ok = run_blorc(W, X, Y)
            bf.append(f), bb.append(b)
            if layer is not None:
                f2, b2, cW, cy = run_cvx(layer, W, X, Y)
                cf.append(f2), cb.append(b2)
        med = lambda v: 1e3 * statistics.median(v)  # noqa: E731
        fd = fd_dy(W, X[:2], Y[:2])  # the first two samples
        if layer is not None:
            ratio = (med(cf) + med(cb)) / (med(bf) + med(bb))
            print(f"| {n} | {B} | {med(bf):.2f} | {med(bb):.3f} | {med(cf):.1f} | {med(cb):.1f} "
                  f"| {ratio:.0f} | {rel(cW, gW):.2e} | {rel(cy, gy):.2e} | {rel(gy[:2], fd):.1e} "
                  f"| {rel(cy[:2], fd):.1e} | {ok}/{B} |")
        else:
            print(f"| {n} | {B} | {med(bf):.2f} | {med(bb):.3f} | - | - | - | - | - "
                  f"| {rel(gy[:2], fd):.1e} | - | {ok}/{B} |")


if __name__ == "__main__":
    main()
