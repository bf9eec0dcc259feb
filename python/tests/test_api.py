"""The numpy API against independent references, the CLI and its bad-input classes."""

import subprocess
import threading
import time

import numpy as np
import pytest

import blorc
from blorc import _lib
from conftest import dual_denoise


def test_structs_match_the_library():
    for cname, mirror in _lib._MIRRORS.items():
        assert _lib.lib.blorc_abi_sizeof(cname.encode()) == _lib.C.sizeof(mirror), cname
    assert _lib.lib.blorc_abi_sizeof(b"no_such_struct") == 0
    assert blorc.__version__ and "BLAS" in blorc.build_info()


def test_denoise_matches_the_dual_reference(rng):
    clean, noisy = blorc.data.piecewise(6, n=16, sigma=0.1, seed=3)
    W = blorc.transform("tv", 16, 0.08) + 0.01 * rng.standard_normal((15, 16))
    x, st = blorc.denoise(W, noisy, return_stats=True)
    ref = dual_denoise(W, noisy)
    assert st.certified == 6 and st.unpolished == 0
    assert np.abs(x - ref).max() < 1e-6
    # 1-D input is one signal
    assert np.allclose(blorc.denoise(W, noisy[0]), x[:1], atol=1e-12)


def test_arrays_pass_without_copies_where_possible():
    a = np.zeros((3, 4))
    assert _lib.matrix(a, "a") is a
    f = np.asfortranarray(np.ones((3, 4)))
    assert _lib.matrix(f, "f") is not f and _lib.matrix(f, "f").flags.c_contiguous
    assert _lib.matrix(np.ones((2, 2), np.float32), "g").dtype == np.float64


def test_grad_matches_central_differences(rng):
    n, k, N = 8, 10, 4
    clean, noisy = blorc.data.piecewise(N, n=n, sigma=0.1, seed=5)
    W = 0.6 / np.sqrt(n) * rng.standard_normal((k, n))
    G, loss = blorc.grad(W, clean, noisy, gamma=1e-7)

    def L(Wp):
        x = blorc.denoise(Wp, noisy, tol=1e-12, max_iters=50000)
        return 0.5 * np.mean(np.sum((x - clean) ** 2, axis=1))

    assert abs(L(W) - loss) < 1e-9
    fd = np.zeros_like(W)
    for i in np.ndindex(W.shape):
        h = 1e-6 * max(abs(W[i]), 1e-2)
        Wp, Wm = W.copy(), W.copy()
        Wp[i] += h
        Wm[i] -= h
        fd[i] = (L(Wp) - L(Wm)) / (2 * h)
    assert np.linalg.norm(G - fd) / np.linalg.norm(fd) < 1e-6


def test_reconstruct_with_operators():
    clean, _ = blorc.data.piecewise(5, n=16, sigma=0.0, seed=2)
    W = blorc.transform("tv", 16, 0.05)
    # A matrix A = I is denoising (another algorithm: the operator's QR path).
    noisy = clean + 0.05 * np.random.default_rng(0).standard_normal(clean.shape)
    x_eye = blorc.reconstruct(W, noisy, np.eye(16))
    assert np.abs(x_eye - blorc.denoise(W, noisy)).max() < 1e-8
    # A spec and the matrix it stands for give the same reconstruction.
    Y, _ = blorc.data.measure(clean, "cs:8", sigma=0.01, seed=1, mask_seed=4)
    A = blorc.data.dataset(**{"data.n": 16, "operator.kind": "cs:8", "operator.seed": 4,
                              "data.train": 2, "data.val": 0, "train.batch": 1})["operator"]
    assert A.shape == (8, 16)
    x1 = blorc.reconstruct(W, Y, "cs:8", seed=4, ridge=1e-3)
    x2 = blorc.reconstruct(W, Y, A, ridge=1e-3)
    assert np.array_equal(x1, x2)
    # Inpainting: masks drawn by measure, observed entries fit, x* finite.
    Ym, M = blorc.data.measure(clean, "inpaint:0.3", sigma=0.01, seed=1, mask_seed=2)
    assert set(np.unique(M)) <= {0.0, 1.0} and np.all(Ym[M == 0] == 0)
    xm = blorc.reconstruct(W, Ym, "inpaint", masks=M, ridge=1e-3)
    assert xm.shape == clean.shape and np.all(np.isfinite(xm))
    g = blorc.grad(W, clean, Y, A, ridge=1e-3, with_y=True, with_a=True)
    assert g.Gy.shape == (5, 8) and g.GA.shape == (8, 16) and g.used == 5


def test_evaluate_against_the_tuned_baseline():
    clean, noisy = blorc.data.piecewise(40, n=32, sigma=0.1, seed=9)
    r = blorc.evaluate(blorc.transform("tv", 32), clean, noisy, baseline="tv")
    # W = the baseline scaled by the MSE-tuned beta is that baseline: zero paired difference.
    same = blorc.evaluate(blorc.transform("tv", 32, r["beta_mse"]), clean, noisy, baseline="tv")
    assert abs(same["W_minus_baseline_mse"].aggregate) < 1e-9
    assert same["W"].aggregate == pytest.approx(r["baseline_mse"].aggregate, abs=1e-9)
    assert r["baseline_mse"].aggregate > r["noisy"].aggregate + 2


def test_generators_are_seeded():
    a = blorc.data.piecewise(100, n=32, sigma=0.1, seed=1)
    b = blorc.data.piecewise(100, n=32, sigma=0.1, seed=1)
    c = blorc.data.piecewise(100, n=32, sigma=0.1, seed=2)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])
    assert a[0].min() >= 0 and a[0].max() < 1
    assert np.std(a[1] - a[0]) == pytest.approx(0.1, rel=0.05)
    s, sn = blorc.data.stripes(50, side=8, sigma=0.1, seed=0)
    assert s.shape == (50, 64) and set(np.unique(s)) <= {0.0, 1.0}
    d = blorc.data.dct(10, n=16, seed=0)
    assert d[0].shape == (10, 16)


def test_train_matches_the_cli_bit_for_bit(tmp_path, cli):
    sets = {"data.train": 200, "data.val": 20, "train.epochs": 2, "data.n": 16}
    rows = []
    r = blorc.train(out=tmp_path / "py", progress=rows.append, **sets)
    assert r.epochs_run == 2 and len(rows) == 2 and rows[-1]["epoch"] == 2
    assert r.log["val_psnr_mse"].shape == (2,) and r.W.shape == (16, 16)
    args = [cli, "train", "--out", str(tmp_path / "cli")]
    for k, v in sets.items():
        args += ["--set", f"{k}={v}"]
    subprocess.run(args, check=True, capture_output=True)
    assert np.array_equal(np.load(tmp_path / "cli" / "W.npy"), r.W)
    assert np.array_equal(np.load(tmp_path / "cli" / "W_best.npy"), r.W_best)
    # A temporary run directory is removed; the arrays stay.
    t = blorc.train(epochs=1, **{"data.train": 100, "data.val": 10, "data.n": 16})
    assert t.run_dir is None and np.array_equal(t.W, blorc.train(
        epochs=1, **{"data.train": 100, "data.val": 10, "data.n": 16}).W)


def test_progress_errors_are_raised_after_the_run():
    def boom(row):
        raise KeyError("stop")

    with pytest.raises(KeyError):
        blorc.train(epochs=2, progress=boom, **{"data.train": 100, "data.val": 10, "data.n": 8})


def test_the_gil_is_released_during_solves():
    clean, noisy = blorc.data.piecewise(3000, n=64, sigma=0.1, seed=1)
    W = blorc.transform("tv", 64, 0.1)
    state = {"started": False, "done": False}

    def work():
        state["started"] = True
        blorc.denoise(W, noisy)
        state["done"] = True

    t = threading.Thread(target=work)
    t.start()
    while not state["started"]:
        time.sleep(0)
    count = 0
    while not state["done"]:
        count += 1
    t.join()
    # With the GIL held through the solve this loop could not run until it returned.
    assert count > 10000


# One class of bad input each, as the CLI's tests have them: a Python exception with the
# library's message, never a crash.
def test_bad_inputs_raise_clear_exceptions(tmp_path):
    W = blorc.transform("tv", 8, 0.1)
    Y = np.zeros((3, 8))
    with pytest.raises(ValueError, match="expected 8 columns"):
        blorc.denoise(W, np.zeros((3, 9)))
    with pytest.raises(TypeError, match="numeric array"):
        blorc.denoise(W, "nope")
    with pytest.raises(TypeError, match="numeric array"):
        blorc.denoise(W, np.array([["a"] * 8]))
    Yn = Y.copy()
    Yn[1, 3] = np.nan
    with pytest.raises(blorc.InvalidArgument, match="non-finite value at signal 1 index 3"):
        blorc.denoise(W, Yn)
    Wn = W.copy()
    Wn[0, 0] = np.inf
    with pytest.raises(ValueError, match="W: non-finite value at row 0 column 0"):
        blorc.denoise(Wn, Y)
    with pytest.raises(ValueError, match="3-D|2-D"):
        blorc.denoise(W, np.zeros((2, 2, 8)))
    with pytest.raises(ValueError, match="non-empty"):
        blorc.denoise(W, np.zeros((0, 8)))
    with pytest.raises(TypeError, match="solver options"):
        blorc.denoise(W, Y, colour=3)
    with pytest.raises(ValueError, match="rho"):
        blorc.denoise(W, Y, rho=-1)
    with pytest.raises(blorc.DeviceError if not blorc.cuda_available() else ValueError):
        if blorc.cuda_available():
            raise ValueError("skip")
        blorc.denoise(W, Y, device="cuda")
    with pytest.raises(ValueError, match="device"):
        blorc.denoise(W, Y, device="tpu")
    with pytest.raises(ValueError, match="masks: value 2"):
        blorc.reconstruct(W, Y, "inpaint", masks=np.full((3, 8), 2.0))
    with pytest.raises(ValueError, match="masks="):
        blorc.reconstruct(W, Y, "inpaint")
    with pytest.raises(ValueError, match="cs:"):
        blorc.reconstruct(W, Y, "cs:zero")
    with pytest.raises(TypeError, match="unknown config key 'colour'"):
        blorc.Config(colour="blue")
    with pytest.raises(TypeError, match="ambiguous"):
        blorc.Config(seed=3)
    with pytest.raises(ValueError, match="train.batch = 'many'"):
        blorc.Config(batch="many")
    with pytest.raises(ValueError, match="train.batch = 5000"):
        blorc.train(batch=5000)
    with pytest.raises(blorc.FileError) as e:
        blorc.Config(str(tmp_path / "nosuch.ini"))
    assert isinstance(e.value, OSError) and "cannot open config" in str(e.value)
    bad = tmp_path / "bad.npy"
    bad.write_text("hello")
    with pytest.raises(blorc.FormatError, match="not a .npy file"):
        blorc.train(out=tmp_path / "r1", **{"data.kind": "files", "data.clean": str(bad),
                                            "data.noisy": str(bad), "data.n": 8})
    with pytest.raises(blorc.FileError, match="nothere.npy"):
        blorc.train(out=tmp_path / "r2", **{"data.kind": "files", "data.n": 8,
                                            "data.clean": str(tmp_path / "nothere.npy"),
                                            "data.noisy": str(tmp_path / "nothere.npy")})
    ints = tmp_path / "int.npy"
    np.save(ints, np.zeros((20, 8), dtype=np.int64))
    with pytest.raises(blorc.FormatError, match="<i8"):
        blorc.train(out=tmp_path / "r3", **{"data.kind": "files", "data.n": 8,
                                            "data.clean": str(ints), "data.noisy": str(ints)})
    assert not (tmp_path / "r1").exists() or not any((tmp_path / "r1").iterdir())
