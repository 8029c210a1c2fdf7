import numpy as np
import pytest

from tensorly_das.fit import HISTORY_KEYS, DivergenceError, fit_cores, select_rows
from tensorly_das.models import Batch, TuckerModel
from tensorly_das.updates import SGD, PlainUpdate

from .conftest import random_observations


def _setup(seed=0):
    model = TuckerModel((6, 5, 4), (2, 2, 2))
    cores = model.init_cores(np.random.default_rng(seed), 1.0)
    idx, vals = random_observations((6, 5, 4), 60, seed)
    batch = Batch([idx[:, k].copy() for k in range(3)], vals)
    return model, cores, batch


class _Recorder(PlainUpdate):
    """A plain update that remembers the gradient function of its last step."""

    def step(self, cores, grad_fn, progress=0.0):
        self.grad_fn = grad_fn
        return super().step(cores, grad_fn, progress)


def test_l2_penalty_gradient_matches_finite_differences():
    model, cores, batch = _setup()
    update = _Recorder(SGD(0.0))
    fit_cores(model, [c.copy() for c in cores], batch, update, max_iter=1, l2_reg=0.3)
    loss, grads = update.grad_fn(cores)
    base_loss, _ = model.loss_and_grads(cores, batch)
    penalty = sum(float((c * c).sum()) for c in cores)
    assert float(loss) == pytest.approx(float(base_loss) + 0.15 * penalty, rel=1e-12)
    eps = 1e-6
    for k in range(len(cores)):
        pos = (0,) * cores[k].ndim
        plus = [c.copy() for c in cores]
        minus = [c.copy() for c in cores]
        plus[k][pos] += eps
        minus[k][pos] -= eps
        fd = (float(update.grad_fn(plus)[0]) - float(update.grad_fn(minus)[0])) / (2 * eps)
        assert grads[k][pos] == pytest.approx(fd, rel=1e-5, abs=1e-8)


def test_history_has_one_entry_per_pass_and_stops_on_patience():
    model, cores, batch = _setup()
    result = fit_cores(model, cores, batch, PlainUpdate(SGD(0.0)), max_iter=100, n_iter_no_change=5)
    # lr 0: nothing improves, so the fit stops after the patience window
    assert result["stopped"] == "no_change"
    assert all(len(result["history"][k]) == result["n_iter"] for k in HISTORY_KEYS)
    assert result["n_iter"] <= 7


def test_divergence_restores_finite_cores():
    model, cores, batch = _setup()
    with pytest.raises(DivergenceError, match="iteration"):
        fit_cores(model, cores, batch, PlainUpdate(SGD(1e8)), max_iter=50)
    assert all(np.isfinite(c).all() for c in cores)


def test_select_rows():
    _, _, batch = _setup()
    sub = select_rows(batch, np.array([0, 2]))
    assert len(sub) == 2 and sub.values[1] == batch.values[2]
