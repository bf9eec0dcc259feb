"""The numpy API: reconstruction, the bilevel loss and its gradient, evaluation, transforms."""

import ctypes as C
from dataclasses import dataclass

import numpy as np

from . import _lib
from ._backend import OP_MASK, OP_MATRIX, Backend, device_code, resolve_operator, solver_options
from ._lib import call, lib, matrix, ptr

# blorc_buffer values (include/blorc/backend.h) the Python side reads.
BUF_SIGN, BUF_CERT, BUF_UNIQUE = 5, 15, 19
CERT_COLUMNS = ("ok", "stationarity", "primal", "dual_margin", "sign_margin", "violations")

_SOLVER_KEYS = ("rho", "tol", "max_iters", "gamma", "svd_tol", "cert_tol", "polish_rounds")


def _solver(kw, **defaults):
    unknown = set(kw) - set(_SOLVER_KEYS)
    if unknown:
        raise TypeError(f"unexpected keyword argument(s) {sorted(unknown)}; solver options are "
                        f"{', '.join(_SOLVER_KEYS)}")
    defaults.update(kw)
    return solver_options(**defaults)


def _masks(masks, N, n, op):
    if op.kind != OP_MASK:
        if masks is not None:
            raise ValueError("masks: given, but the operator is not inpainting (operator='inpaint')")
        return None
    M = matrix(masks, "masks", rows=N, cols=n)
    call("blorc_operator_check_masks", ptr(M), N, n, b"masks")
    return M


def _pairs(W, X, Y, operator, masks, ridge, seed):
    """W (k x n), the operator, clean X (N x n) and measurements Y (N x m), checked."""
    W = matrix(W, "W")
    n = W.shape[1]
    op = resolve_operator(operator, n, masks, ridge, seed)
    X = matrix(X, "X", cols=n)
    Y = matrix(Y, "Y", rows=X.shape[0], cols=op.m)
    return W, op, X, Y, _masks(masks, X.shape[0], n, op)


def _loaded(device, W, X, Y, M, op, batch):
    """A backend holding W, the operator and the data set (X may be None)."""
    if int(batch) < 1:
        raise ValueError(f"batch {batch}: expected >= 1")
    cap = min(int(batch), Y.shape[0])
    be = Backend(device, W.shape[1], W.shape[0], cap, op)
    call("blorc_write", be.handle, 0, ptr(W), W.size)
    call("blorc_set_data", be.handle, Y.shape[0], ptr(X), ptr(Y))
    if M is not None:
        call("blorc_set_masks", be.handle, ptr(M))
    return be, np.arange(Y.shape[0], dtype=np.uintp)


def _index(idx):
    return idx.ctypes.data_as(C.POINTER(C.c_size_t))


@dataclass
class ReconstructStats:
    """How the solves went: signals whose closed form was used (certified, or agreeing with
    ADMM), of those the certified ones, those left at ADMM's iterate, ADMM iterations summed,
    signals that hit the ADMM cap."""

    polished: int
    certified: int
    unpolished: int
    iters: int
    at_cap: int


def reconstruct(W, Y, operator=None, *, masks=None, ridge=0.0, seed=1, device="cpu",
                batch=256, return_stats=False, **solver):
    """Solves argmin_x 1/2||A x - y||^2 + ||W x||_1 for each row y of Y (N x m) with the
    transform W (k x n): ADMM, then the closed form certified and polished to the exact
    minimiser. operator: None (A = I), an m x n matrix, 'inpaint' with masks (N x n, 0/1),
    or a spec 'cs:M', 'blur:S', 'blur2d:S'. ridge adds ridge/2 ||x||^2. Solver options:
    rho, tol, max_iters, gamma, svd_tol, cert_tol, polish_rounds. Returns X (N x n), and
    ReconstructStats with return_stats."""
    W = matrix(W, "W")
    op = resolve_operator(operator, W.shape[1], masks, ridge, seed)
    Y = matrix(Y, "Y", cols=op.m)
    M = _masks(masks, Y.shape[0], W.shape[1], op)
    o = _solver(solver)
    be, idx = _loaded(device, W, None, Y, M, op, batch)
    out = np.empty((Y.shape[0], W.shape[1]))
    st = _lib.DenoiseStats()
    call("blorc_denoise", be.handle, be.cap, _index(idx), idx.size, C.byref(o), ptr(out),
         C.byref(st))
    be.close()
    if return_stats:
        return out, ReconstructStats(st.polished, st.certified, st.unpolished, st.iters, st.at_cap)
    return out


def denoise(W, Y, **kw):
    """reconstruct() with A = I: argmin_x 1/2||x - y||^2 + ||W x||_1 per row of Y (N x n)."""
    if "operator" in kw or "masks" in kw:
        raise TypeError("denoise: takes no operator (use blorc.reconstruct)")
    return reconstruct(W, Y, None, **kw)


@dataclass
class Gradient:
    """grad()'s result: G (k x n) the gradient of the mean loss in W, loss the mean of
    1/2||x* - x||^2, used the pairs in the mean (those with a unique minimiser), Gy (N x m)
    each pair's dU/dy and GA (m x n, shared matrix operators) the mean's dU/dA (None unless
    asked for)."""

    G: np.ndarray
    loss: float
    used: int
    Gy: np.ndarray = None
    GA: np.ndarray = None

    def __iter__(self):  # G, loss = blorc.grad(...)
        return iter((self.G, self.loss))


def grad(W, X, Y, operator=None, *, masks=None, ridge=0.0, seed=1, gamma=1e-3, device="cpu",
         batch=256, with_y=False, with_a=False, tol=1e-12, max_iters=50000, **solver):
    """The gradient of mean_t 1/2||x*_t(W) - x_t||^2 over the pairs (X: clean N x n, Y:
    measurements N x m) in W by the closed form (design.md sections 4 and 7), the pattern read
    with threshold gamma, as `blorc-gpu grad`. `G, loss = grad(...)` unpacks; the result also
    holds used, and Gy / GA with with_y / with_a."""
    W, op, X, Y, M = _pairs(W, X, Y, operator, masks, ridge, seed)
    if with_a and op.kind != OP_MATRIX:
        raise ValueError("with_a: dU/dA needs a shared matrix operator")
    o = _solver(solver, tol=tol, max_iters=max_iters)
    be, idx = _loaded(device, W, X, Y, M, op, batch)
    N = idx.size
    G = np.empty(W.shape)
    Gy = np.empty((N, op.m)) if with_y else None
    GA = np.empty((op.m, W.shape[1])) if with_a else None
    loss, used = C.c_double(), C.c_size_t()
    call("blorc_objective_full", be.handle, be.cap, _index(idx), N, C.byref(o), float(gamma),
         C.byref(loss), ptr(G), ptr(Gy), ptr(GA), C.byref(used))
    be.close()
    return Gradient(G, loss.value, used.value, Gy, GA)


def transform(name, n, scale=1.0):
    """A standard transform: 'identity' (n x n), 'tv' (finite differences, (n-1) x n), 'dct'
    (orthonormal DCT-II) or 'tv2d' (2D differences of sqrt(n) x sqrt(n) patches), times scale."""
    kind, k = C.c_int(), C.c_int()
    call("blorc_transform_parse", str(name).encode(), C.byref(kind))
    call("blorc_transform_rows", kind, int(n), C.byref(k))
    W = np.empty((k.value, int(n)))
    call("blorc_transform_fill", kind, int(n), float(scale), ptr(W))
    return W


@dataclass
class Psnr:
    """PSNR (dB, peak 1): the mean over signals and its standard error, and the PSNR of the
    mean squared error over all signals and its standard error."""

    mean: float
    stderr: float
    aggregate: float
    aggregate_se: float

    @classmethod
    def of(cls, s):
        return cls(s.mean, s.stderr, s.aggregate, s.aggregate_se)


def psnr(X, Xhat):
    """PSNR statistics of the estimates Xhat against the clean signals X (both N x n)."""
    X = matrix(X, "X")
    Xhat = matrix(Xhat, "Xhat", rows=X.shape[0], cols=X.shape[1])
    return Psnr.of(lib.blorc_psnr_of(ptr(X), ptr(Xhat), X.shape[0], X.shape[1]))


def evaluate(W, X, Y, operator=None, *, masks=None, ridge=0.0, seed=1, baseline="tv",
             tune=None, device="cpu", **solver):
    """As `blorc-gpu eval`: PSNR of the noisy input (A = I), of the baseline transform scaled by
    beta tuned for each criterion (golden-section search on `tune` = (X2, Y2[, masks2]) if
    given, else on (X, Y) themselves, which flatters the baseline), and of W as it is, with the
    paired differences W - baseline. baseline: 'tv', 'dct', 'tv2d', an array, or None.
    Returns a dict of Psnr records and the two betas."""
    W, op, X, Y, M = _pairs(W, X, Y, operator, masks, ridge, seed)
    N, n = X.shape
    o = _solver(solver)
    dev = device_code(device)
    cop = op.c_struct()
    opp = None if op.kind == 0 else C.byref(cop)

    def run(T, XX, YY, MM):
        s = _lib.PsnrStats()
        out = np.empty(XX.shape)
        call("blorc_eval_psnr", dev, opp, ptr(MM), ptr(T), T.shape[0], n, ptr(XX), ptr(YY),
             XX.shape[0], C.byref(o), C.byref(s), ptr(out))
        return s, out

    res = {}
    if op.kind == 0:
        res["noisy"] = Psnr.of(lib.blorc_psnr_of(ptr(X), ptr(Y), N, n))
    sw, xw = run(W, X, Y, M)
    res["W"] = Psnr.of(sw)
    if baseline is not None:
        T = transform(baseline, n) if isinstance(baseline, str) else matrix(baseline, "baseline",
                                                                              cols=n)
        if tune is not None:
            TX = matrix(tune[0], "tune[0]", cols=n)
            TY = matrix(tune[1], "tune[1]", rows=TX.shape[0], cols=op.m)
            TM = _masks(tune[2] if len(tune) > 2 else None, TX.shape[0], n, op)
        else:
            TX, TY, TM = X, Y, M
        for crit, key in ((0, "mean"), (1, "mse")):
            beta, best = C.c_double(), C.c_double()
            call("blorc_tune_beta", dev, opp, ptr(TM), ptr(T), T.shape[0], n, ptr(TX), ptr(TY),
                 TX.shape[0], C.byref(o), crit, C.byref(beta), C.byref(best))
            sb, xb = run(np.ascontiguousarray(T * beta.value), X, Y, M)
            res[f"beta_{key}"] = beta.value
            res[f"baseline_{key}"] = Psnr.of(sb)
            res[f"W_minus_baseline_{key}"] = Psnr.of(
                lib.blorc_psnr_paired(ptr(X), ptr(xw), ptr(xb), N, n))
    return res


# `eval` is the CLI's name for it; the builtin stays reachable as builtins.eval.
eval = evaluate  # noqa: A001
