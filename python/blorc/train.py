"""Training from Python: blorc_train with its run directory, progress and log as arrays."""

import ctypes as C
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field

import numpy as np

from . import _lib
from ._lib import EPOCH_FIELDS, call
from .config import Config

log = logging.getLogger("blorc")


@dataclass
class TrainResult:
    """W (the last), W_best (best validation MSE), log (a dict of per-epoch arrays, log.csv's
    columns), the run directory (None when train() used a temporary one) and the summary."""

    W: np.ndarray
    W_best: np.ndarray
    log: dict
    run_dir: str
    epochs_run: int
    noisy_psnr: float
    initial_val_psnr: float
    final_val_psnr: float
    best_val_psnr_mse: float
    best_epoch: int
    seconds: float
    config: Config = field(repr=False, default=None)


def train(config=None, *, out=None, resume=False, force=False, progress=None, **overrides):
    """Trains W as `blorc-gpu train` does: config is None (the built-in default), a path or
    the name of a shipped config ('paper-piecewise'), or a blorc.Config; overrides set keys
    (epochs=5, train_batch=100, **{'admm.device': 'cuda'}). out: the run directory to write
    (W.npy, W_best.npy, log.csv, filters.png, config.ini, checkpoints/); None: a temporary one,
    removed afterwards. progress: a callable given each epoch's log row as a dict; lines also
    go to the logger 'blorc' (INFO). The GIL is released while it trains."""
    cfg = config if isinstance(config, Config) else Config(config)
    for k, v in overrides.items():
        cfg[k] = v
    cfg.check()
    tmp = None
    if out is None:
        if resume:
            raise ValueError("resume: needs out=, the run directory to continue")
        tmp = tempfile.mkdtemp(prefix="blorc-run-")
        out = os.path.join(tmp, "run")
    rows = {f: [] for f in EPOCH_FIELDS}
    failure = []

    def on_start(what, _user):
        log.info("%s", what.decode(errors="replace"))

    def on_epoch(p, _user):
        row = {f: getattr(p.contents, f) for f in EPOCH_FIELDS}
        for f in EPOCH_FIELDS:
            rows[f].append(row[f])
        log.info("epoch %d/%d  loss %.6g  val PSNR %.4f dB (MSE %.4f dB)  %.2f s", row["epoch"],
                 row["epochs"], row["loss"], row["val_psnr"], row["val_psnr_mse"], row["seconds"])
        if progress is not None and not failure:
            try:
                progress(row)
            except BaseException as exc:  # noqa: BLE001 - re-raised after the run returns
                failure.append(exc)

    hooks = _lib.TrainHooks(_lib.ON_START(on_start), _lib.ON_EPOCH(on_epoch), None)
    res = _lib.TrainResult()
    try:
        call("blorc_train", C.byref(cfg.struct), os.fspath(out).encode(), int(bool(resume)),
             int(bool(force)), C.byref(hooks), C.byref(res))
        if failure:
            raise failure[0]
        W = np.load(os.path.join(out, "W.npy"))
        W_best = np.load(os.path.join(out, "W_best.npy"))
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    return TrainResult(W, W_best, {f: np.asarray(v) for f, v in rows.items()},
                       None if tmp else os.fspath(out), res.epochs_run, res.noisy_psnr,
                       res.initial_val_psnr, res.final_val_psnr, res.best_val_psnr_mse,
                       res.best_epoch, res.seconds, cfg)
