"""The ctypes binding of libblorc.so: loading, the mirrored structs, argument checks, errors.

Why ctypes: the C library stays the single implementation and is built once by the project's
CMake; the binding compiles nothing against Python's or numpy's ABI (one wheel works with any
numpy), ctypes releases the GIL around every foreign call (solves run while other Python threads
go on), and a numpy array passes as a pointer to its own buffer when it is already float64 and
C-contiguous (no copy).
"""

import ctypes as C
import os

import numpy as np

_HERE = os.path.dirname(os.path.abspath(__file__))

# blorc_status, in include/blorc/error.h's order.
OK, EINVAL, EIO, EFORMAT, ENOMEM, ENUMERIC, EDEVICE = range(7)


class BlorcError(Exception):
    """An error from the C library: `status` is its blorc_status, str() its one-line message."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


class InvalidArgument(BlorcError, ValueError):
    """BLORC_EINVAL: an argument or input value out of range."""


class FileError(BlorcError, OSError):
    """BLORC_EIO: a file could not be opened, read or written."""

    def __str__(self):
        return self.message


class FormatError(BlorcError, ValueError):
    """BLORC_EFORMAT: a file's contents are not what was expected."""


class OutOfMemory(BlorcError, MemoryError):
    """BLORC_ENOMEM: host or device allocation failed."""


class NumericError(BlorcError, RuntimeError):
    """BLORC_ENUMERIC: a factorisation failed or a non-finite value appeared."""


class DeviceError(BlorcError, RuntimeError):
    """BLORC_EDEVICE: a CUDA, cuBLAS or cuSOLVER call failed, or there is no device."""


_ERRORS = {EINVAL: InvalidArgument, EIO: FileError, EFORMAT: FormatError, ENOMEM: OutOfMemory,
           ENUMERIC: NumericError, EDEVICE: DeviceError}


# Mirrors of the public structs (include/blorc/*.h); load() compares their sizes with the
# library's (blorc_abi_sizeof), so a field added in C fails at import, not at run time.
class Error(C.Structure):
    _fields_ = [("code", C.c_int), ("msg", C.c_char * 512)]


class AdmmOpts(C.Structure):
    _fields_ = [("max_iters", C.c_int), ("tol", C.c_double), ("fixed", C.c_int),
                ("check_every", C.c_int), ("variant", C.c_int)]


class AdmmStats(C.Structure):
    _fields_ = [("iters_total", C.c_longlong), ("iters_max", C.c_int), ("at_cap", C.c_int),
                ("variant", C.c_int)]


class PolishOpts(C.Structure):
    _fields_ = [("tol", C.c_double), ("max_rounds", C.c_int)]


class DenoiseOpts(C.Structure):
    _fields_ = [("rho", C.c_double), ("admm", AdmmOpts), ("polish_gamma", C.c_double),
                ("svd_tol", C.c_double), ("polish", PolishOpts)]


class DenoiseStats(C.Structure):
    _fields_ = [("polished", C.c_size_t), ("certified", C.c_size_t), ("unpolished", C.c_size_t),
                ("iters", C.c_longlong), ("at_cap", C.c_size_t)]


class Config(C.Structure):
    _fields_ = [("data_kind", C.c_char * 16), ("n", C.c_int), ("train", C.c_long),
                ("val", C.c_long), ("sigma", C.c_double), ("data_seed", C.c_longlong),
                ("stripe_phase", C.c_char * 8), ("clean", C.c_char * 512),
                ("noisy", C.c_char * 512), ("masks", C.c_char * 512),
                ("op_kind", C.c_char * 512), ("op_ridge", C.c_double), ("op_seed", C.c_longlong),
                ("init", C.c_char * 512), ("init_scale", C.c_double), ("epochs", C.c_int),
                ("batch", C.c_int), ("lr", C.c_double), ("lr_decay", C.c_double),
                ("optimizer", C.c_char * 8), ("gamma", C.c_double), ("seed", C.c_longlong),
                ("checkpoint_every", C.c_int), ("rho", C.c_double), ("tol", C.c_double),
                ("rho_auto", C.c_int), ("max_iters", C.c_int), ("fixed", C.c_int),
                ("check_every", C.c_int), ("svd_tol", C.c_double), ("cert_tol", C.c_double),
                ("polish_rounds", C.c_int), ("device", C.c_char * 8),
                ("svd_method", C.c_char * 16)]


EPOCH_FIELDS = ["epoch", "epochs", "loss", "val_psnr", "val_psnr_mse", "seconds",
                "samples_per_s", "mean_iters", "share_at_cap", "sign_changes", "rho",
                "share_mismatch", "share_certified", "min_dual_margin", "min_sign_margin",
                "polish_rounds", "share_not_unique"]


class EpochLog(C.Structure):
    _fields_ = ([("epoch", C.c_int), ("epochs", C.c_int)] +
                [(f, C.c_double) for f in EPOCH_FIELDS[2:9]] +
                [("sign_changes", C.c_longlong)] +
                [(f, C.c_double) for f in EPOCH_FIELDS[10:]] +
                [("svd_fallbacks", C.c_longlong)])


ON_START = C.CFUNCTYPE(None, C.c_char_p, C.c_void_p)
ON_EPOCH = C.CFUNCTYPE(None, C.POINTER(EpochLog), C.c_void_p)


class TrainHooks(C.Structure):
    _fields_ = [("on_start", ON_START), ("on_epoch", ON_EPOCH), ("user", C.c_void_p)]


class TrainResult(C.Structure):
    _fields_ = [("epochs_run", C.c_int), ("noisy_psnr", C.c_double),
                ("initial_val_psnr", C.c_double), ("initial_val_psnr_mse", C.c_double),
                ("final_val_psnr", C.c_double), ("best_val_psnr_mse", C.c_double),
                ("best_epoch", C.c_int), ("seconds", C.c_double)]


class PsnrStats(C.Structure):
    _fields_ = [("mean", C.c_double), ("stderr", C.c_double), ("aggregate", C.c_double),
                ("aggregate_se", C.c_double)]


class Operator(C.Structure):
    _fields_ = [("kind", C.c_int), ("n", C.c_int), ("m", C.c_int),
                ("A", C.POINTER(C.c_double)), ("missing", C.c_double), ("ridge", C.c_double),
                ("desc", C.c_char * 600)]


class Rng(C.Structure):
    _fields_ = [("s", C.c_uint64 * 4), ("spare", C.c_double), ("has_spare", C.c_int)]


class LayerStats(C.Structure):
    _fields_ = [("certified", C.c_int), ("unique", C.c_int), ("with_gradient", C.c_int),
                ("iters", C.c_longlong), ("at_cap", C.c_int)]


_MIRRORS = {"blorc_error": Error, "blorc_admm_opts": AdmmOpts, "blorc_admm_stats": AdmmStats,
            "blorc_polish_opts": PolishOpts, "blorc_denoise_opts": DenoiseOpts,
            "blorc_denoise_stats": DenoiseStats, "blorc_config": Config,
            "blorc_epoch_log": EpochLog, "blorc_train_hooks": TrainHooks,
            "blorc_train_result": TrainResult, "blorc_psnr_stats": PsnrStats,
            "blorc_operator": Operator, "blorc_rng": Rng, "blorc_layer_stats": LayerStats}

_p = C.c_void_p
_d = C.POINTER(C.c_double)
_e = C.POINTER(Error)
_st = C.c_int
# name: (restype, argtypes)
_SIGNATURES = {
    "blorc_version": (C.c_char_p, []),
    "blorc_build_info": (C.c_char_p, []),
    "blorc_abi_sizeof": (C.c_size_t, [C.c_char_p]),
    "blorc_cuda_available": (C.c_int, []),
    "blorc_backend_create": (_st, [C.c_int, C.c_int, C.c_int, C.c_int, C.POINTER(_p), _e]),
    "blorc_backend_destroy": (None, [_p]),
    "blorc_backend_name": (C.c_char_p, [_p]),
    "blorc_set_operator": (_st, [_p, C.c_int, C.c_int, _d, C.c_double, _e]),
    "blorc_operator_rows": (C.c_int, [_p]),
    "blorc_set_masks": (_st, [_p, _d, _e]),
    "blorc_set_data": (_st, [_p, C.c_size_t, _d, _d, _e]),
    "blorc_write": (_st, [_p, C.c_int, _d, C.c_size_t, _e]),
    "blorc_read": (_st, [_p, C.c_int, _d, C.c_size_t, _e]),
    "blorc_buffer_size": (C.c_size_t, [_p, C.c_int]),
    "blorc_denoise_defaults": (DenoiseOpts, []),
    "blorc_denoise": (_st, [_p, C.c_int, C.POINTER(C.c_size_t), C.c_size_t,
                            C.POINTER(DenoiseOpts), _d, C.POINTER(DenoiseStats), _e]),
    "blorc_objective_full": (_st, [_p, C.c_int, C.POINTER(C.c_size_t), C.c_size_t,
                                   C.POINTER(DenoiseOpts), C.c_double, _d, _d, _d, _d,
                                   C.POINTER(C.c_size_t), _e]),
    "blorc_layer_forward": (_st, [_p, _d, _d, _d, C.c_int, C.POINTER(DenoiseOpts), _d, _d,
                                  C.POINTER(LayerStats), _e]),
    "blorc_layer_backward": (_st, [_p, _d, _d, _d, _d, _e]),
    "blorc_config_defaults": (None, [C.POINTER(Config)]),
    "blorc_config_set": (_st, [C.POINTER(Config), C.c_char_p, C.c_char_p, C.c_char_p, _e]),
    "blorc_config_load": (_st, [C.POINTER(Config), C.c_char_p, _e]),
    "blorc_config_check": (_st, [C.POINTER(Config), _e]),
    "blorc_config_key": (C.c_int, [C.c_size_t, C.POINTER(C.c_char_p), C.POINTER(C.c_char_p),
                                   C.POINTER(C.c_char_p)]),
    "blorc_config_get": (_st, [C.POINTER(Config), C.c_char_p, C.c_char_p, C.c_size_t, _e]),
    "blorc_train": (_st, [C.POINTER(Config), C.c_char_p, C.c_int, C.c_int,
                          C.POINTER(TrainHooks), C.POINTER(TrainResult), _e]),
    "blorc_dataset_op": (_st, [C.POINTER(Config), C.POINTER(Operator), C.POINTER(_d),
                               C.POINTER(_d), C.POINTER(_d), C.POINTER(C.c_size_t), _e]),
    "blorc_operator_parse": (_st, [C.c_char_p, C.c_int, C.c_uint64, C.c_double, C.c_char_p,
                                   C.POINTER(Operator), _e]),
    "blorc_operator_free": (None, [C.POINTER(Operator)]),
    "blorc_operator_draw_masks": (None, [C.POINTER(Operator), C.c_size_t, C.POINTER(Rng), _d]),
    "blorc_operator_simulate": (None, [C.POINTER(Operator), C.c_size_t, _d, C.c_double,
                                       C.c_uint64, C.c_uint64, _d, _d]),
    "blorc_operator_check_masks": (_st, [_d, C.c_size_t, C.c_int, C.c_char_p, _e]),
    "blorc_rng_seed": (None, [C.POINTER(Rng), C.c_uint64]),
    "blorc_generate": (_st, [C.c_int, C.c_int, C.c_size_t, C.c_double, C.POINTER(Rng), _d, _d,
                             _e]),
    "blorc_stripes_count": (C.c_size_t, [C.c_int]),
    "blorc_sample_stripes": (_st, [C.c_int, C.c_double, C.c_int, C.POINTER(Rng), C.c_size_t,
                                   _d, _d, _e]),
    "blorc_transform_parse": (_st, [C.c_char_p, C.POINTER(C.c_int), _e]),
    "blorc_transform_rows": (_st, [C.c_int, C.c_int, C.POINTER(C.c_int), _e]),
    "blorc_transform_fill": (_st, [C.c_int, C.c_int, C.c_double, _d, _e]),
    "blorc_eval_psnr": (_st, [C.c_int, C.POINTER(Operator), _d, _d, C.c_int, C.c_int, _d, _d,
                              C.c_size_t, C.POINTER(DenoiseOpts), C.POINTER(PsnrStats), _d, _e]),
    "blorc_psnr_of": (PsnrStats, [_d, _d, C.c_size_t, C.c_int]),
    "blorc_psnr_paired": (PsnrStats, [_d, _d, _d, C.c_size_t, C.c_int]),
    "blorc_tune_beta": (_st, [C.c_int, C.POINTER(Operator), _d, _d, C.c_int, C.c_int, _d, _d,
                              C.c_size_t, C.POINTER(DenoiseOpts), C.c_int, _d, _d, _e]),
    "blorc_npy_save": (_st, [C.c_char_p, _d, C.c_int, C.c_size_t, C.c_size_t, _e]),
}


def _find_library():
    """BLORC_LIBRARY (a path, for development builds), else the library installed with the
    package (lib/ or lib64/ beside this file)."""
    env = os.environ.get("BLORC_LIBRARY")
    if env:
        return env
    for sub in ("lib", "lib64"):
        path = os.path.join(_HERE, sub, "libblorc.so")
        if os.path.exists(path):
            return path
    raise ImportError("blorc: libblorc.so not found beside the package (" + _HERE +
                      "/lib); install with `pip install ./python` or set BLORC_LIBRARY")


def _load():
    lib = C.CDLL(_find_library())
    for name, (res, args) in _SIGNATURES.items():
        f = getattr(lib, name)
        f.restype, f.argtypes = res, args
    for cname, mirror in _MIRRORS.items():
        want = lib.blorc_abi_sizeof(cname.encode())
        if want != C.sizeof(mirror):
            raise ImportError(f"blorc: the binding's {cname} has {C.sizeof(mirror)} bytes, "
                              f"the library's {want}: python/blorc/_lib.py is out of date")
    return lib


lib = _load()


def check(status, err):
    """Raises the exception for a non-OK status with the library's message."""
    if status != OK:
        cls = _ERRORS.get(status, BlorcError)
        raise cls(status, err.msg.decode(errors="replace"))


def call(name, *args):
    """Calls a status-returning function with a fresh blorc_error as its last argument."""
    err = Error()
    check(getattr(lib, name)(*args, C.byref(err)), err)


def ptr(a):
    """A float64 array's data as double* (None stays NULL)."""
    return None if a is None else a.ctypes.data_as(_d)


def matrix(value, name, rows=None, cols=None, ndim=2):
    """value as a float64 C-contiguous array of ndim dimensions (no copy when it already is
    one), checked for shape: TypeError for what is no numeric array, ValueError for a wrong
    shape, naming `name` and what was expected."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor
        value = value.detach().cpu().numpy()
    try:
        a = np.asarray(value)
    except Exception as exc:  # noqa: BLE001 - anything numpy cannot read is a type error
        raise TypeError(f"{name}: expected a numeric array, got {type(value).__name__}") from exc
    if a.dtype == object or not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
        raise TypeError(f"{name}: expected a numeric array, got dtype {a.dtype}")
    if np.iscomplexobj(a):
        raise TypeError(f"{name}: expected real values, got dtype {a.dtype}")
    if ndim == 2 and a.ndim == 1 and rows is None:
        a = a.reshape(1, -1)
    if a.ndim != ndim:
        raise ValueError(f"{name}: expected a {ndim}-D array, got shape {a.shape}")
    if a.size == 0:
        raise ValueError(f"{name}: expected a non-empty array, got shape {a.shape}")
    if rows is not None and a.shape[0] != rows:
        raise ValueError(f"{name}: expected {rows} rows, got shape {a.shape}")
    if cols is not None and a.shape[-1] != cols:
        raise ValueError(f"{name}: expected {cols} columns, got shape {a.shape}")
    return np.ascontiguousarray(a, dtype=np.float64)
