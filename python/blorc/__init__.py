"""blorc: bilevel learning of analysis-l1 regularisers with closed-form gradients.

numpy in and out (float64; C-contiguous arrays pass without copies), the C library of
blorc-gpu underneath (libblorc.so, through ctypes, the GIL released during solves). Errors of
the C library raise blorc.BlorcError subclasses that are also ValueError, OSError,
MemoryError or RuntimeError, with the library's one-line message.

    import blorc
    clean, noisy = blorc.data.piecewise(1000, n=64, sigma=0.1, seed=0)
    run = blorc.train(epochs=10)                 # the built-in default, 10 epochs
    denoised = blorc.denoise(run.W_best, noisy)
    G, loss = blorc.grad(run.W_best, clean, noisy)

The PyTorch layer is blorc.torch (imported on demand: it needs torch).
"""

from . import data
from ._lib import (BlorcError, DeviceError, FileError, FormatError, InvalidArgument, NumericError,
                   OutOfMemory, lib as _clib)
from .api import (CERT_COLUMNS, Gradient, Psnr, ReconstructStats, denoise, evaluate, grad, psnr,
                  reconstruct, transform)
from .api import eval  # noqa: A004 - the CLI's name for evaluate
from .config import Config
from .train import TrainResult, train

__version__ = _clib.blorc_version().decode()


def build_info():
    """One line: the C library's version, CUDA on/off and architectures, BLAS flavour."""
    return _clib.blorc_build_info().decode()


def cuda_available():
    """True when this build has the CUDA backend and a device is visible."""
    return bool(_clib.blorc_cuda_available())


__all__ = ["BlorcError", "Config", "DeviceError", "FileError", "FormatError", "Gradient",
           "InvalidArgument", "NumericError", "OutOfMemory", "Psnr", "ReconstructStats",
           "TrainResult", "CERT_COLUMNS", "build_info", "cuda_available", "data", "denoise",
           "eval", "evaluate", "grad", "psnr", "reconstruct", "train", "transform"]
