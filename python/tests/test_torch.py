"""blorc.torch: gradcheck of the exact layer, agreement with blorc.grad, the certificate, the
module, and the CUDA backend against the CPU where the build has one (the emulated one in CI)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch)")

import blorc  # noqa: E402
from blorc.torch import L1Analysis, l1_analysis  # noqa: E402


def problem(n=8, k=10, B=3, seed=4):
    r = np.random.default_rng(seed)
    clean, noisy = blorc.data.piecewise(B, n=n, sigma=0.1, seed=seed)
    W = 0.6 / np.sqrt(n) * r.standard_normal((k, n))
    return (torch.tensor(W, requires_grad=True), torch.tensor(noisy, requires_grad=True),
            torch.tensor(clean))


# Central differences (eps 1e-6) of the exact closed form of a fixed pattern: errors ~1e-9;
# a wrong vector-Jacobian product is off by order 1.
def test_gradcheck_denoising():
    W, Y, _ = problem()
    x, ok = l1_analysis(W, Y, return_ok=True)
    assert ok.all()
    assert torch.autograd.gradcheck(lambda W, Y: l1_analysis(W, Y), (W, Y), eps=1e-6,
                                    atol=1e-7, rtol=1e-6)


def test_gradcheck_shared_matrix_in_w_y_and_a():
    W, _, clean = problem(seed=6)
    r = np.random.default_rng(1)
    A = torch.tensor(r.standard_normal((6, 8)) / np.sqrt(6), requires_grad=True)
    Y = (clean @ A.detach().T + 0.05 * torch.tensor(r.standard_normal((3, 6)))).requires_grad_()
    _, ok = l1_analysis(W, Y, A, ridge=1e-3, return_ok=True)
    assert ok.all()
    assert torch.autograd.gradcheck(lambda W, Y, A: l1_analysis(W, Y, A, ridge=1e-3), (W, Y, A),
                                    eps=1e-6, atol=1e-7, rtol=1e-6)


def test_gradcheck_inpainting_masks():
    W, _, clean = problem(seed=7)
    M = np.ones((3, 8))
    M[0, 2] = M[1, 5] = M[2, 0] = 0
    Y = torch.tensor(M * (clean.numpy() + 0.05), requires_grad=True)
    _, ok = l1_analysis(W, Y, operator="inpaint", masks=M, ridge=1e-3, return_ok=True)
    assert ok.all()
    f = lambda W, Y: l1_analysis(W, Y, operator="inpaint", masks=M, ridge=1e-3)  # noqa: E731
    assert torch.autograd.gradcheck(f, (W, Y), eps=1e-6, atol=1e-7, rtol=1e-6)


def test_backward_of_the_mean_loss_is_blorc_grad():
    W, Y, X = problem(n=16, k=20, B=8, seed=11)
    x = l1_analysis(W, Y)
    (0.5 * ((x - X) ** 2).sum(dim=1).mean()).backward()
    G, loss = blorc.grad(W.detach().numpy(), X.numpy(), Y.detach().numpy(), gamma=1e-7)
    assert np.linalg.norm(W.grad.numpy() - G) / np.linalg.norm(G) < 1e-9


def test_uncertified_samples_get_no_gradient():
    W, Y, X = problem(n=16, k=24, B=12, seed=99)
    x, ok, cert = l1_analysis(W, Y, return_ok=True, return_certificate=True, max_iters=1000,
                              polish_rounds=0, rho=1.0, tol=1e-12)
    assert 0 < int(ok.sum()) < 12, "the test needs certified and uncertified samples"
    assert torch.equal(ok, cert[:, blorc.CERT_COLUMNS.index("ok")] != 0)
    x.sum().backward()
    assert torch.all(Y.grad[~ok] == 0) and torch.any(Y.grad[ok] != 0)


def test_module_learns_and_reports_the_certificate():
    torch.manual_seed(0)
    clean, noisy = blorc.data.piecewise(64, n=16, sigma=0.1, seed=2)
    X, Y = torch.tensor(clean), torch.tensor(noisy)
    layer = L1Analysis(0.05 * np.eye(16))
    opt = torch.optim.Adam(layer.parameters(), lr=2e-3)
    losses = []
    for _ in range(20):
        opt.zero_grad()
        loss = 0.5 * ((layer(Y) - X) ** 2).sum(dim=1).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.75 * losses[0]  # 0.0876 -> 0.0454 here (2026-12-06)
    assert layer.ok.shape == (64,) and layer.certificate.shape == (64, len(blorc.CERT_COLUMNS))


def test_the_cuda_backend_matches_the_cpu():
    if not blorc.cuda_available():
        pytest.skip("no CUDA backend in this build or no device (the cuda-emu build runs this)")
    W, Y, X = problem(n=16, k=20, B=5, seed=3)
    xc = l1_analysis(W, Y, device="cpu")
    xg = l1_analysis(W, Y, device="cuda")
    assert torch.allclose(xc, xg, rtol=0, atol=1e-9)
    gc = torch.autograd.grad((xc * X).sum(), (W, Y))
    gg = torch.autograd.grad((xg * X).sum(), (W, Y))
    for a, b in zip(gc, gg):
        assert torch.linalg.norm(a - b) <= 1e-9 * torch.linalg.norm(a)


def test_bad_tensors():
    W, Y, _ = problem()
    with pytest.raises(TypeError):
        l1_analysis(W.detach().numpy(), Y)
    with pytest.raises(ValueError, match="expected 8 columns"):
        l1_analysis(W, Y[:, :5])
    with pytest.raises(ValueError, match="upstream gradient: non-finite"):
        x = l1_analysis(W, Y)
        (x * torch.tensor(float("nan"))).sum().backward()
