"""A blorc_backend owned by Python, the solver options, and forward operators as arguments."""

import ctypes as C

import numpy as np

from . import _lib
from ._lib import call, lib, matrix, ptr

DEVICES = {"cpu": 0, "cuda": 1}
OP_IDENTITY, OP_MATRIX, OP_MASK = 0, 1, 2


def device_code(device):
    """'cpu', 'cuda' or 'auto' (CUDA where this build has it and a device is visible)."""
    if device == "auto":
        return 1 if lib.blorc_cuda_available() else 0
    if device not in DEVICES:
        raise ValueError(f"device {device!r}: expected 'cpu', 'cuda' or 'auto'")
    return DEVICES[device]


def solver_options(rho=10.0, tol=1e-10, max_iters=20000, gamma=1e-7, svd_tol=1e-8,
                   cert_tol=1e-6, polish_rounds=64):
    """blorc_denoise_opts: ADMM penalty rho, tolerance and cap, the sign threshold gamma the
    pattern is read with, the rank threshold, the certificate's tolerance and the polish's
    active-set rounds (the C library's defaults for denoising)."""
    o = lib.blorc_denoise_defaults()
    o.rho, o.admm.tol, o.admm.max_iters = float(rho), float(tol), int(max_iters)
    o.polish_gamma, o.svd_tol = float(gamma), float(svd_tol)
    o.polish.tol, o.polish.max_rounds = float(cert_tol), int(polish_rounds)
    return o


class ResolvedOperator:
    """A forward operator as the backend takes it: kind, m, the matrix (MATRIX) and ridge."""

    def __init__(self, kind, n, m, A=None, ridge=0.0, desc="identity"):
        self.kind, self.n, self.m, self.A, self.ridge, self.desc = kind, n, m, A, ridge, desc

    def c_struct(self):
        """A blorc_operator viewing this one's matrix (keep self alive while it is used)."""
        s = _lib.Operator()
        s.kind, s.n, s.m, s.ridge = self.kind, self.n, self.m, self.ridge
        s.A = ptr(self.A) if self.A is not None else None
        s.desc = self.desc.encode()[:599]
        return s


def resolve_operator(operator, n, masks=None, ridge=0.0, seed=1):
    """operator: None or 'identity' (denoising), an m x n matrix, 'inpaint' / 'inpaint:F' or
    masks given (per-sample masks), or a spec of the CLI's --operator ('cs:M', 'blur:S',
    'blur2d:S', 'FILE.npy'; the sensing matrix drawn from seed)."""
    ridge = float(ridge)
    if operator is None and masks is not None:
        operator = "inpaint"
    if operator is None or (isinstance(operator, str) and operator == "identity"):
        return ResolvedOperator(OP_IDENTITY, n, n, None, ridge)
    if isinstance(operator, str):
        if operator == "inpaint" or operator == "mask" or operator.startswith("inpaint:"):
            if masks is None:
                raise ValueError(f"operator {operator!r}: pass masks=, one row of 0/1 per signal")
            return ResolvedOperator(OP_MASK, n, n, None, ridge, "per-sample masks")
        op = _lib.Operator()
        call("blorc_operator_parse", operator.encode(), int(n), int(seed), ridge, b"operator", C.byref(op))
        try:
            A = None
            if op.kind == OP_MATRIX:
                A = np.ctypeslib.as_array(op.A, shape=(op.m * op.n,)).reshape(op.m, op.n).copy()
            return ResolvedOperator(op.kind, n, op.m, A, ridge, op.desc.decode())
        finally:
            lib.blorc_operator_free(C.byref(op))
    A = matrix(operator, "operator", cols=n)
    return ResolvedOperator(OP_MATRIX, n, A.shape[0], A, ridge, f"{A.shape[0]} x {n} matrix")


class Backend:
    """One blorc_backend (CPU or CUDA) for signals of length n, k rows of W, batches of at
    most cap; closed when garbage-collected or by close()."""

    def __init__(self, device, n, k, cap, op=None):
        self._b = C.c_void_p()
        call("blorc_backend_create", device_code(device), int(n), int(k), int(cap),
             C.byref(self._b))
        self.n, self.k, self.cap = n, k, cap
        self.op = op
        if op is not None and op.kind != OP_IDENTITY:
            call("blorc_set_operator", self._b, op.kind, op.m, ptr(op.A), op.ridge)

    @property
    def handle(self):
        return self._b

    @property
    def name(self):
        return lib.blorc_backend_name(self._b).decode()

    def read(self, buffer):
        out = np.empty(lib.blorc_buffer_size(self._b, buffer))
        call("blorc_read", self._b, buffer, ptr(out), out.size)
        return out

    def close(self):
        if self._b:
            lib.blorc_backend_destroy(self._b)
            self._b = C.c_void_p()

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001 - never raise from a finaliser at interpreter exit
            pass
