#!/usr/bin/env python3
"""The paper's autodiff baseline: the gradient of 1/2||x*(W) - x||^2 by automatic
differentiation through the closed form x*(W) = P_N(W0) (y - W^T s), the sign pattern s read
from a given lower-level solution. PyTorch (the paper's tool) or JAX, whichever is installed
(--tool); prints one JSON line, or {"skipped": reason} when the tool is missing.

  autodiff_blorc.py --tool torch|jax --transform W.npy --clean X.npy --noisy Y.npy
                    --xstar XS.npy [--gamma 1e-3] [--repeat 20] [--fd G_fd.npy]
"""
import argparse
import json

import numpy as np
from numpy_blorc import median_ms, rel_error


def signs(W, xs, gamma):
    v = W @ xs
    return np.where(v > gamma, 1.0, np.where(v < -gamma, -1.0, 0.0))


def torch_grad(W, y, x, s):
    import torch

    torch.set_default_dtype(torch.float64)
    Wt = torch.tensor(W, requires_grad=True)
    yt, xt, st = torch.tensor(y), torch.tensor(x), torch.tensor(s)
    mask = torch.tensor((s == 0).astype(np.float64))[:, None]

    def run():
        Wt.grad = None
        W0 = Wt * mask
        q = yt - Wt.T @ st
        xs = q - torch.linalg.pinv(W0) @ (W0 @ q)
        loss = 0.5 * torch.sum((xs - xt) ** 2)
        loss.backward()
        return Wt.grad.detach().numpy().copy()

    return run


def jax_grad(W, y, x, s):
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    mask = jnp.asarray((s == 0).astype(np.float64))[:, None]
    yj, xj, sj = jnp.asarray(y), jnp.asarray(x), jnp.asarray(s)

    def loss(Wv):
        W0 = Wv * mask
        q = yj - Wv.T @ sj
        xs = q - jnp.linalg.pinv(W0) @ (W0 @ q)
        return 0.5 * jnp.sum((xs - xj) ** 2)

    g = jax.jit(jax.grad(loss))
    Wj = jnp.asarray(W)
    return lambda: np.asarray(g(Wj).block_until_ready())


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--tool", choices=["torch", "jax"], required=True)
    p.add_argument("--transform", required=True)
    p.add_argument("--clean", required=True)
    p.add_argument("--noisy", required=True)
    p.add_argument("--xstar", required=True)
    p.add_argument("--fd")
    p.add_argument("--gamma", type=float, default=1e-3)
    p.add_argument("--repeat", type=int, default=20)
    a = p.parse_args()
    W = np.load(a.transform)
    x, y, xs = np.load(a.clean)[0], np.load(a.noisy)[0], np.load(a.xstar)[0]
    s = signs(W, xs, a.gamma)
    try:
        run = (torch_grad if a.tool == "torch" else jax_grad)(W, y, x, s)
    except ImportError as e:
        print(json.dumps({"tool": a.tool, "skipped": f"not installed ({e.name})"}))
        return
    ms, G = median_ms(run, a.repeat)  # the warm-up call also JIT-compiles for JAX
    out = {"tool": a.tool, "ms_median": ms}
    if a.fd:
        out["error"] = rel_error(G, np.load(a.fd))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
