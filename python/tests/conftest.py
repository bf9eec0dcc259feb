import os
import shutil

import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(20261206)


def dual_denoise(W, Y, iters=50000):
    """An independent reference for argmin_x 1/2||x - y||^2 + ||W x||_1: projected gradient
    on the dual min_{|u|_inf <= 1} 1/2||y - W^T u||^2 (x = y - W^T u), in numpy."""
    L = np.linalg.norm(W, 2) ** 2
    U = np.zeros((Y.shape[0], W.shape[0]))
    for _ in range(iters):
        X = Y - U @ W
        U = np.clip(U + (X @ W.T) / L, -1.0, 1.0)
    return Y - U @ W


@pytest.fixture
def cli():
    """The blorc-gpu program installed with the package."""
    import blorc
    exe = os.path.join(os.path.dirname(blorc.__file__), "bin", "blorc-gpu")
    if not os.path.exists(exe):
        exe = shutil.which("blorc-gpu")
    if not exe:
        pytest.skip("blorc-gpu is not installed beside the package")
    return exe
