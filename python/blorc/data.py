"""The paper's data (design.md section 6) from the C generators, and measurements under an
operator: the same numbers `blorc-gpu data` and `train` use for the same seeds."""

import ctypes as C

import numpy as np

from . import _lib
from ._backend import OP_MASK, resolve_operator
from ._lib import call, lib, matrix, ptr
from .config import Config

_libc = C.CDLL(None)
_libc.free.argtypes = [C.c_void_p]

PIECEWISE, DCT = 0, 1


def _generate(kind, count, n, sigma, seed):
    if count < 1:
        raise ValueError(f"count {count}: expected >= 1")
    rng = _lib.Rng()
    lib.blorc_rng_seed(C.byref(rng), int(seed))
    clean, noisy = np.empty((int(count), int(n))), np.empty((int(count), int(n)))
    call("blorc_generate", kind, int(n), int(count), float(sigma), C.byref(rng), ptr(clean),
         ptr(noisy))
    return clean, noisy


def piecewise(count, n=64, sigma=0.1, seed=0):
    """count piecewise-constant signals of length n (a jump at each index with probability 0.1,
    heights uniform in [0, 1)) and their noisy copies (Gaussian, sigma): (clean, noisy)."""
    return _generate(PIECEWISE, count, n, sigma, seed)


def dct(count, n=64, sigma=0.1, seed=0):
    """count DCT-sparse signals (each coefficient nonzero with probability 0.1) and noisy
    copies: (clean, noisy)."""
    return _generate(DCT, count, n, sigma, seed)


def stripes(count=None, side=8, sigma=0.1, seed=0, random_phase=False):
    """The paper's 2D experiment: side x side patches (stride 7) of two 256 x 256 stripe images
    with noise sigma, vectorised row by row (n = side^2), in a random order drawn from seed;
    count of them (default: all). random_phase shifts each image's stripes by the seed.
    Returns (clean, noisy)."""
    total = lib.blorc_stripes_count(int(side))
    count = total if count is None else int(count)
    if not 1 <= count <= total:
        raise ValueError(f"count {count}: expected 1..{total} patches of side {side}")
    rng = _lib.Rng()
    lib.blorc_rng_seed(C.byref(rng), int(seed))
    n = int(side) * int(side)
    clean, noisy = np.empty((count, n)), np.empty((count, n))
    call("blorc_sample_stripes", int(side), float(sigma), int(bool(random_phase)), C.byref(rng),
         count, ptr(clean), ptr(noisy))
    return clean, noisy


def measure(X, operator, sigma=0.1, seed=0, mask_seed=0, ridge=0.0):
    """Measurements of the clean signals X (N x n) under an operator (as in blorc.reconstruct;
    for inpainting pass 'inpaint:F' to draw masks from mask_seed): y = A x + sigma e.
    Returns (Y, masks), masks None unless inpainting."""
    X = matrix(X, "X")
    N, n = X.shape
    if isinstance(operator, str) and operator.startswith("inpaint:"):
        op = _lib.Operator()
        call("blorc_operator_parse", operator.encode(), n, int(mask_seed), float(ridge), b"operator",
             C.byref(op))
        try:
            Y, M = np.empty((N, n)), np.empty((N, n))
            lib.blorc_operator_simulate(C.byref(op), N, ptr(X), float(sigma), int(seed),
                                        int(mask_seed), ptr(Y), ptr(M))
        finally:
            lib.blorc_operator_free(C.byref(op))
        return Y, M
    rop = resolve_operator(operator, n, None, ridge, mask_seed)
    if rop.kind == OP_MASK:
        raise ValueError("measure: inpainting needs a spec 'inpaint:F' (the masks are drawn)")
    cop = rop.c_struct()
    Y = np.empty((N, rop.m))
    lib.blorc_operator_simulate(C.byref(cop), N, ptr(X), float(sigma), int(seed), int(mask_seed),
                                ptr(Y), None)
    return Y, None


def _take(p, rows, cols):
    if not p:
        return None
    a = np.ctypeslib.as_array(p, shape=(rows * cols,)).reshape(rows, cols).copy()
    _libc.free(C.cast(p, C.c_void_p))
    return a


def dataset(config=None, **overrides):
    """The data set a run configuration describes (train + val signals; generated from
    data.seed, or read from data.clean / data.noisy), under its [operator]: a dict with
    'clean' (N x n), 'measurements' (N x m), 'masks' (N x n or None), 'operator' (the m x n
    matrix, or None) and 'train' (the number of training rows; the rest are validation)."""
    cfg = config if isinstance(config, Config) else Config(config, overrides)
    if isinstance(config, Config):
        for k, v in overrides.items():
            cfg[k] = v
    c = cfg.struct
    op = _lib.Operator()
    call("blorc_operator_parse", c.op_kind, c.n, c.op_seed, c.op_ridge, b"operator.kind",
         C.byref(op))
    try:
        clean, meas, masks = _lib._d(), _lib._d(), _lib._d()
        N = C.c_size_t()
        call("blorc_dataset_op", C.byref(c), C.byref(op), C.byref(clean), C.byref(meas),
             C.byref(masks), C.byref(N))
        A = None
        if op.kind == 1:
            A = np.ctypeslib.as_array(op.A, shape=(op.m * op.n,)).reshape(op.m, op.n).copy()
        return {"clean": _take(clean, N.value, c.n), "measurements": _take(meas, N.value, op.m),
                "masks": _take(masks, N.value, c.n), "operator": A, "train": int(c.train)}
    finally:
        lib.blorc_operator_free(C.byref(op))
