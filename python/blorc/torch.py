"""BLORC's lower level as an exact PyTorch layer.

    x*(W, y) = argmin_x 1/2||A x - y||^2 + ||W x||_1      for each row y of a batch (B x m)

Forward: the C library's batched solve (ADMM, then the closed form of the sign pattern,
certified and polished). Backward: the closed-form vector-Jacobian product (design.md sections 4
and 7, the gradient formula with the upstream gradient in place of x* - x): exact, no unrolled
iterations, no smoothing. Samples the certificate does not accept (or, with an operator, without
a unique minimiser) return ADMM's iterate and get no gradient; `ok` says which.

CPU tensors run on the CPU backend; CUDA tensors (or device='cuda') on the CUDA backend of a
CUDA build, staged through host memory. float64 throughout (other dtypes are converted and the
results converted back).
"""

import ctypes as C

import numpy as np
import torch
from torch.autograd.function import once_differentiable

from . import _lib
from ._backend import OP_IDENTITY, OP_MATRIX, Backend, ResolvedOperator, resolve_operator, solver_options
from ._lib import call, matrix, ptr
from .api import BUF_CERT, CERT_COLUMNS

__all__ = ["L1AnalysisFunction", "L1Analysis", "l1_analysis"]


def _np(t, name, **kw):
    return matrix(t.detach().to("cpu", torch.float64), name, **kw)


class _Spec:
    """What the Function needs besides tensors: operator kind, masks, options, device."""

    def __init__(self, operator, masks, ridge, device, opts):
        self.operator, self.masks, self.ridge, self.device, self.opts = (operator, masks, ridge,
                                                                          device, opts)


class L1AnalysisFunction(torch.autograd.Function):
    """apply(W, Y, A, spec) -> (X, ok, certificate): A is an m x n tensor (a shared matrix operator, may
    require grad) or None; spec a _Spec (built by l1_analysis)."""

    @staticmethod
    def forward(ctx, W, Y, A, spec):
        Wn = _np(W, "W")
        k, n = Wn.shape
        if A is not None:
            op = ResolvedOperator(OP_MATRIX, n, A.shape[0], _np(A, "A", cols=n), float(spec.ridge))
        else:
            op = resolve_operator(spec.operator, n, spec.masks, spec.ridge)
        Yn = _np(Y, "y", cols=op.m)
        B = Yn.shape[0]
        M = None
        if spec.masks is not None:
            M = _np(torch.as_tensor(spec.masks), "masks", rows=B, cols=n)
        device = spec.device
        if device == "auto":
            device = "cuda" if (W.is_cuda or Y.is_cuda) else "cpu"
        be = Backend(device, n, k, B, op)
        x = np.empty((B, n))
        ok = np.empty(B)
        stats = _lib.LayerStats()
        call("blorc_layer_forward", be.handle, ptr(Wn), ptr(Yn), ptr(M), B, C.byref(spec.opts),
             ptr(x), ptr(ok), C.byref(stats))
        cert = be.read(BUF_CERT).reshape(B, len(CERT_COLUMNS))
        ctx.backend, ctx.shapes, ctx.m = be, (k, n, B), op.m
        ctx.has_A = A is not None
        ctx.dtypes = (W.dtype, Y.dtype, A.dtype if A is not None else None)
        out = torch.from_numpy(x).to(device=Y.device, dtype=Y.dtype)
        okt = torch.from_numpy(ok != 0).to(Y.device)
        cert = torch.from_numpy(cert)
        ctx.mark_non_differentiable(okt, cert)
        return out, okt, cert

    @staticmethod
    @once_differentiable
    def backward(ctx, gx, _gok, _gcert):
        k, n, B = ctx.shapes
        g = _np(gx, "upstream gradient", rows=B, cols=n)
        gW = np.empty((k, n))
        want_y, want_a = ctx.needs_input_grad[1], ctx.has_A and ctx.needs_input_grad[2]
        gy = np.empty((B, ctx.m)) if want_y else None
        gA = np.empty((ctx.m, n)) if want_a else None
        call("blorc_layer_backward", ctx.backend.handle, ptr(g), ptr(gW), ptr(gy), ptr(gA))
        dev = gx.device
        wd, yd, ad = ctx.dtypes
        conv = lambda a, dt: None if a is None else torch.from_numpy(a).to(device=dev, dtype=dt)
        return (conv(gW, wd) if ctx.needs_input_grad[0] else None, conv(gy, yd), conv(gA, ad),
                None)


def l1_analysis(W, y, A=None, *, operator=None, masks=None, ridge=0.0, device="auto",
                return_ok=False, return_certificate=False, rho=10.0, tol=1e-10, max_iters=20000,
                gamma=1e-7, svd_tol=1e-8, cert_tol=1e-6, polish_rounds=64):
    """x*(W, y) per row of y (B x m; a 1-D y is one sample), differentiable in W, y and A.
    A: an m x n tensor (gradients flow to it) or None; operator: a spec as in
    blorc.reconstruct ('cs:M', 'blur:S', ...) or 'inpaint' with masks (B x n, 0/1); ridge:
    ridge/2 ||x||^2 in the lower level. Returns x (B x n); with return_ok also the bool tensor
    of samples with a gradient; with return_certificate also the certificate table
    (B x len(blorc.CERT_COLUMNS), float64, CPU)."""
    if not torch.is_tensor(W) or not torch.is_tensor(y):
        raise TypeError("l1_analysis: W and y must be torch tensors")
    if A is not None and not torch.is_tensor(A):
        raise TypeError("l1_analysis: A must be a torch tensor (or pass operator=)")
    if A is not None and operator is not None:
        raise ValueError("l1_analysis: pass A or operator, not both")
    one = y.dim() == 1
    Y = y.unsqueeze(0) if one else y
    opts = solver_options(rho, tol, max_iters, gamma, svd_tol, cert_tol, polish_rounds)
    spec = _Spec(operator, masks, ridge, device, opts)
    x, ok, cert = L1AnalysisFunction.apply(W, Y, A, spec)
    if one:
        x, ok = x.squeeze(0), ok.squeeze(0)
    out = [x]
    if return_ok:
        out.append(ok)
    if return_certificate:
        out.append(cert)
    return out[0] if len(out) == 1 else tuple(out)


class L1Analysis(torch.nn.Module):
    """A module holding the transform W (k x n, a Parameter) and, optionally, a shared forward
    operator A (a buffer, or a Parameter with learn_operator): forward(y, masks=None) returns
    x*(W, y). After each call, `ok` holds the samples with a gradient and `certificate` their
    certificate table (columns blorc.CERT_COLUMNS)."""

    def __init__(self, W, A=None, *, operator=None, ridge=0.0, learn_operator=False,
                 device="auto", **solver):
        super().__init__()
        self.W = torch.nn.Parameter(torch.as_tensor(np.asarray(W, dtype=np.float64)).clone())
        if A is not None:
            At = torch.as_tensor(np.asarray(A, dtype=np.float64)).clone()
            if learn_operator:
                self.A = torch.nn.Parameter(At)
            else:
                self.register_buffer("A", At)
        else:
            self.A = None
        self.operator, self.ridge, self.device, self.solver = operator, ridge, device, solver
        self.ok = None
        self.certificate = None

    def forward(self, y, masks=None):
        x, self.ok, self.certificate = l1_analysis(
            self.W, y, self.A, operator=self.operator, masks=masks, ridge=self.ridge,
            device=self.device, return_ok=True, return_certificate=True, **self.solver)
        return x
