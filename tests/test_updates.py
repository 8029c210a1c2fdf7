import numpy as np
import pytest

from tensorly_das.backend import to_backend, to_numpy
from tensorly_das.models import Batch, CPModel
from tensorly_das.norms import norm_deviation, norm_gradient_covariance
from tensorly_das.updates import (
    SGD,
    Adam,
    DASUpdate,
    PlainUpdate,
    SAMUpdate,
    das_scale_factors,
    make_base_step,
    make_update,
    scheduled_alpha,
)

from .conftest import random_observations


def _problem(backend="numpy", shape=(8, 7, 6), rank=3, seed=0):
    model = CPModel(shape, rank)
    rng = np.random.default_rng(seed)
    cores = [to_backend(c, backend) for c in model.init_cores(rng, 1.0)]
    idx, vals = random_observations(shape, 150, seed)
    batch = Batch([to_backend(idx[:, k].copy(), backend) for k in range(3)], to_backend(vals, backend))
    return model, cores, lambda cs: model.loss_and_grads(cs, batch)


def _run(update, backend="numpy", steps=20):
    model, cores, grad_fn = _problem(backend)
    for t in range(steps):
        update.step(cores, grad_fn, t / steps)
    return [to_numpy(c) for c in cores]


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_alpha_zero_and_rho_zero_equal_plain_exactly(solver, backend):
    plain = _run(PlainUpdate(make_base_step(solver, 0.05)), backend)
    das0 = _run(DASUpdate(make_base_step(solver, 0.05), alpha=0.0), backend)
    sam0 = _run(SAMUpdate(make_base_step(solver, 0.05), rho=0.0), backend)
    for p, d, s in zip(plain, das0, sam0):
        np.testing.assert_array_equal(p, d)
        np.testing.assert_array_equal(p, s)


def test_das_and_sam_differ_from_plain():
    plain = _run(PlainUpdate(Adam(0.05)))
    das = _run(DASUpdate(Adam(0.05), alpha=1.0, deviation="relative"))
    sam = _run(SAMUpdate(Adam(0.05), rho=0.1))
    assert not np.allclose(plain[0], das[0])
    assert not np.allclose(plain[0], sam[0])


def test_scale_factor_sign_and_bound(backend):
    cores = [to_backend(np.ones((3, 2)), backend), to_backend(np.ones((4, 2)), backend)]
    grads = [to_backend(0.1 * np.ones((3, 2)), backend), to_backend(np.ones((4, 2)), backend)]
    lam = to_numpy(das_scale_factors(cores, grads, lr=1.0, alpha=1e6, max_scale=0.01))
    # the core with more gradient energy grows, the other shrinks, both bounded
    assert lam[1] == pytest.approx(0.01) and lam[0] == pytest.approx(-0.01)
    small = to_numpy(das_scale_factors(cores, grads, lr=1e-3, alpha=1e-3, max_scale=0.01))
    assert 0 < small[1] < 0.01 and -0.01 < small[0] < 0
    # eq. 9 by hand: eta*alpha*u*(||g_k||^2 - gbar)/||G_k||^2
    g2 = np.array([0.06, 8.0])
    expected = 1e-3 * 1e-3 / np.sqrt(g2.sum()) * (g2 - g2.mean()) / np.array([6.0, 8.0])
    np.testing.assert_allclose(small, expected, rtol=1e-9)
    norm_form = to_numpy(das_scale_factors(cores, grads, 1e-3, 1e-3, denominator="norm", max_scale=0.01))
    np.testing.assert_allclose(norm_form, expected * np.array([6.0, 8.0]) / np.sqrt([6.0, 8.0]), rtol=1e-9)
    rel = to_numpy(das_scale_factors(cores, grads, 1e-3, 1e-3, deviation="relative", max_scale=0.01))
    np.testing.assert_allclose(rel, 1e-6 * (g2 / g2.mean() - 1) * 7.0 / np.array([6.0, 8.0]), rtol=1e-9)
    # relative form: multiplying the loss (all gradients) by a constant changes nothing
    scaled = [g * 1000.0 for g in grads]
    rel_scaled = to_numpy(das_scale_factors(cores, scaled, 1e-3, 1e-3, deviation="relative", max_scale=0.01))
    np.testing.assert_allclose(rel_scaled, rel, rtol=1e-9)


def test_schedules():
    assert scheduled_alpha(2.0, "linear", 0.0) == 2.0
    assert scheduled_alpha(2.0, "linear", 1.0) == 0.0
    assert scheduled_alpha(2.0, "linear", 0.25) == pytest.approx(1.5)
    assert scheduled_alpha(2.0, "cosine", 0.5) == pytest.approx(1.0)
    assert scheduled_alpha(2.0, "constant", 0.9) == 2.0
    with pytest.raises(ValueError, match="alpha_schedule"):
        scheduled_alpha(1.0, "step", 0.5)


def test_unknown_names():
    with pytest.raises(ValueError, match="solver"):
        make_base_step("rmsprop", 0.1)
    with pytest.raises(ValueError, match="method"):
        make_update("asam", SGD(0.1))
    with pytest.raises(ValueError, match="denominator"):
        das_scale_factors([np.ones(2), np.ones(2)], [np.ones(2), np.zeros(2)], 1, 1, denominator="x")


def _imbalanced_rank_one():
    """a b^T with ||a|| >> ||b||: the small core gets the large gradient (Cov < 0)."""
    rng = np.random.default_rng(3)
    model = CPModel((6, 5), 1)
    a = 4.0 * rng.standard_normal((6, 1))
    b = 0.25 * rng.standard_normal((5, 1))
    target = rng.standard_normal((6, 5))
    idx = np.argwhere(np.ones((6, 5), bool))
    batch = Batch([idx[:, 0].copy(), idx[:, 1].copy()], target[tuple(idx.T)])
    return model, [a, b], lambda cs: model.loss_and_grads(cs, batch)


def _delta_q(make, eta):
    model, cores, grad_fn = _imbalanced_rank_one()
    q0 = float(norm_deviation(cores))
    make(SGD(eta)).step(cores, grad_fn, 0.0)
    return float(norm_deviation(cores)) - q0


def test_q_dynamics_plain_second_order_sam_das_first_order_decrease():
    """Theorem 3 / Corollary 1 in discrete form on a negative-covariance case."""
    model, cores, grad_fn = _imbalanced_rank_one()
    _, grads = grad_fn(cores)
    assert float(norm_gradient_covariance(cores, grads)) < 0
    makers = {
        "plain": lambda base: PlainUpdate(base),
        "sam": lambda base: SAMUpdate(base, rho=0.05),
        "das": lambda base: DASUpdate(base, alpha=0.05, alpha_schedule="constant", max_scale=0.5),
    }
    eta = 1e-3
    d = {name: (_delta_q(mk, eta), _delta_q(mk, eta / 10)) for name, mk in makers.items()}
    # plain GD: the first-order terms cancel, what is left shrinks like eta^2
    assert abs(d["plain"][1]) < abs(d["plain"][0]) / 50
    for name in ("sam", "das"):
        big, small = d[name]
        assert big < 0 and small < 0, name
        assert 5 < big / small < 20, name  # first order in the step size
        assert abs(small) > 100 * abs(d["plain"][1]), name


class _PointRecorder:
    """A gradient function that records every point it is evaluated at."""

    def __init__(self, grad_fn):
        self.grad_fn, self.points = grad_fn, []

    def __call__(self, cores):
        self.points.append([to_numpy(c).copy() for c in cores])
        return self.grad_fn(cores)


@pytest.mark.parametrize("adaptive", [False, True])
def test_sam_evaluates_the_second_gradient_at_the_documented_perturbation(adaptive, backend):
    model, cores, grad_fn = _problem(backend)
    start = [to_numpy(c).copy() for c in cores]
    _, g = grad_fn(cores)
    g = [to_numpy(x) for x in g]
    rho = 0.07
    recorder = _PointRecorder(grad_fn)
    SAMUpdate(SGD(0.0), rho=rho, adaptive=adaptive).step(cores, recorder)
    if adaptive:  # ASAM: rho * |G|^2 g / || |G| g ||
        norm = np.sqrt(sum(np.sum((gk * np.abs(c)) ** 2) for gk, c in zip(g, start)))
        expected = [c + rho * c * c * gk / norm for c, gk in zip(start, g)]
    else:  # rho * g / ||g|| with ||g|| over all cores
        norm = np.sqrt(sum(np.sum(gk**2) for gk in g))
        expected = [c + rho * gk / norm for c, gk in zip(start, g)]
    assert len(recorder.points) == 2
    for got, want in zip(recorder.points[1], expected):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    for c, c0 in zip(cores, start):  # lr 0: the cores come back unperturbed
        np.testing.assert_array_equal(to_numpy(c), c0)


def test_das_rescales_first_then_steps_with_the_gradient_taken_before(backend):
    model, cores, grad_fn = _problem(backend)
    start = [to_numpy(c).copy() for c in cores]
    _, g = grad_fn(cores)
    lam = to_numpy(das_scale_factors(cores, g, 0.1, 50.0, deviation="relative", max_scale=0.2))
    assert np.abs(lam).max() > 1e-3  # the rescale acts, so the order is visible
    DASUpdate(SGD(0.1), alpha=50.0, alpha_schedule="constant", deviation="relative",
              max_scale=0.2).step(cores, grad_fn)
    for k, (c, c0, gk) in enumerate(zip(cores, start, g)):
        np.testing.assert_allclose(to_numpy(c), c0 * (1 + lam[k]) - 0.1 * to_numpy(gk), rtol=1e-12)


def test_adam_matches_torch_optim_adam():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    cores = [rng.standard_normal((4, 3)), rng.standard_normal(5)]
    ours = [c.copy() for c in cores]
    params = [torch.tensor(c, requires_grad=True) for c in cores]
    reference = torch.optim.Adam(params, lr=0.03, betas=(0.8, 0.99), eps=1e-6)
    adam = Adam(lr=0.03, betas=(0.8, 0.99), eps=1e-6)
    for _ in range(7):
        grads = [rng.standard_normal(c.shape) for c in cores]
        adam.step(ours, grads)
        for p, gk in zip(params, grads):
            p.grad = torch.tensor(gk)
        reference.step()
    for mine, p in zip(ours, params):
        np.testing.assert_allclose(mine, p.detach().numpy(), rtol=1e-10, atol=1e-12)
