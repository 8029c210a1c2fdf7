"""The fit loop's parts: objective, batch stepping, monitor, divergence guard, and the loop."""

import math

import numpy as np
import pytest

from tensorly_das.fit import HISTORY_KEYS, DivergenceError, fit_cores, make_objective, rmse
from tensorly_das.fit.batches import BatchStepper
from tensorly_das.fit.guard import DivergenceGuard
from tensorly_das.fit.monitor import Monitor, training_stalled
from tensorly_das.models import Batch, TuckerModel
from tensorly_das.norms import norm_deviation, norm_gradient_covariance
from tensorly_das.updates import SGD, PlainUpdate

from .conftest import random_observations


def _setup(seed=0, n=60):
    model = TuckerModel((6, 5, 4), (2, 2, 2))
    cores = model.init_cores(np.random.default_rng(seed), 1.0)
    idx, vals = random_observations((6, 5, 4), n, seed)
    return model, cores, Batch.place(idx, vals)


class _Recorder(PlainUpdate):
    """A plain update that records the objective and the loss of every step."""

    def __init__(self, base):
        super().__init__(base)
        self.losses = []

    def step(self, cores, grad_fn, progress=0.0):
        self.grad_fn = grad_fn
        loss, grads = super().step(cores, grad_fn, progress)
        self.losses.append(float(loss))
        return loss, grads


def test_l2_penalty_gradient_matches_finite_differences():
    model, cores, batch = _setup()
    objective = make_objective(model, batch, l2_reg=0.3)
    loss, grads = objective(cores)
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
        fd = (float(objective(plus)[0]) - float(objective(minus)[0])) / (2 * eps)
        assert grads[k][pos] == pytest.approx(fd, rel=1e-5, abs=1e-8)


def test_rmse_is_the_root_of_the_mean_squared_residual():
    model, cores, batch = _setup()
    residual = model.predict(cores, batch.mode_indices) - batch.values
    assert float(rmse(model, cores, batch)) == pytest.approx(math.sqrt(np.mean(residual**2)), rel=1e-12)


def test_history_records_the_validation_rmse_at_the_start_of_each_pass():
    model, cores, batch = _setup()
    val = batch.select(np.arange(40, 60))
    train = batch.select(np.arange(40))
    start = [c.copy() for c in cores]
    result = fit_cores(model, cores, train, PlainUpdate(SGD(0.1)), val=val, max_iter=3)
    residual = model.predict(start, val.mode_indices) - val.values
    assert result["history"]["val_rmse"][0] == pytest.approx(math.sqrt(np.mean(residual**2)), rel=1e-12)


@pytest.mark.parametrize("batch_size", [7, 25, 59])
def test_minibatch_pass_loss_is_weighted_by_batch_size(batch_size):
    # with lr 0 every batch loss is taken at the same point, so the weighted mean of the
    # batch losses must equal the full-batch loss exactly (uneven last batch included)
    model, cores, batch = _setup()
    recorder = _Recorder(SGD(0.0))
    result = fit_cores(model, cores, batch, recorder, max_iter=1, batch_size=batch_size,
                       rng=np.random.default_rng(0))
    full, _ = model.loss_and_grads(cores, batch)
    assert result["history"]["loss"][0] == pytest.approx(float(full), rel=1e-12)
    assert len(recorder.losses) == math.ceil(len(batch) / batch_size)


def test_stepper_counts_global_steps_and_covers_every_entry_once():
    model, _, batch = _setup()
    stepper = BatchStepper(model, batch, PlainUpdate(SGD(0.0)), batch_size=8,
                           rng=np.random.default_rng(1), first_pass=2, n_passes=3)
    assert (stepper.steps_done, stepper.total_steps) == (2 * 8, 5 * 8)
    batches = stepper.batches()
    assert len(batches) == 8
    seen = np.concatenate([np.stack(b.mode_indices, 1) for b, _ in batches])
    full = np.stack(batch.mode_indices, 1)
    assert sorted(map(tuple, seen)) == sorted(map(tuple, full))
    assert sum(share for _, share in batches) == pytest.approx(1.0)
    assert all(share == len(b) / len(batch) for b, share in batches)
    first = [sorted(map(tuple, np.stack(b.mode_indices, 1))) for b, _ in batches]
    stepper.pass_index += 1  # the next pass deals the entries anew
    assert [sorted(map(tuple, np.stack(b.mode_indices, 1))) for b, _ in stepper.batches()] != first


def test_minibatches_follow_the_entries_not_their_order():
    model, _, batch = _setup()
    full = np.stack(batch.mode_indices, 1)
    perm = np.random.default_rng(5).permutation(len(batch))
    shuffled = Batch([idx[perm] for idx in batch.mode_indices], batch.values[perm])

    def dealt(b):
        stepper = BatchStepper(model, b, PlainUpdate(SGD(0.0)), batch_size=8, rng=np.random.default_rng(1))
        return [sorted(map(tuple, np.stack(part.mode_indices, 1))) for part, _ in stepper.batches()]

    assert dealt(batch) == dealt(shuffled) and len(full) == len(batch)


def test_minibatch_diagnostics_pair_norms_and_gradients_of_the_same_point():
    model, cores, batch = _setup()
    update = _Recorder(SGD(0.05))
    stepper = BatchStepper(model, batch, update, batch_size=25, rng=np.random.default_rng(0))
    before_last = {}

    original = update.step

    def spy(cs, grad_fn, progress=0.0):
        before_last["cores"] = [c.copy() for c in cs]
        return original(cs, grad_fn, progress)

    update.step = spy
    step = stepper.run_pass(cores)
    _, grads = update.grad_fn(before_last["cores"])
    expected = norm_gradient_covariance(before_last["cores"], grads)
    from tensorly_das.norms import covariance_of_squared_norms, squared_core_norms

    got = covariance_of_squared_norms(step.core_sq, squared_core_norms(step.grads))
    assert float(got) == pytest.approx(float(expected), rel=1e-10)


def test_history_has_one_entry_per_pass_and_stops_on_patience():
    model, cores, batch = _setup()
    result = fit_cores(model, cores, batch, PlainUpdate(SGD(0.0)), max_iter=100, n_iter_no_change=5)
    # lr 0: nothing improves, so the fit stops after the patience window
    assert result["stopped"] == "no_change"
    assert all(len(result["history"][k]) == result["n_iter"] for k in HISTORY_KEYS)
    assert result["n_iter"] == 6  # the first pass sets the best score, then 5 without change
    assert result["history"]["norm_deviation"][0] == pytest.approx(float(norm_deviation(cores)))


def test_monitor_keeps_the_best_state_and_restores_it():
    monitor = Monitor(None, 0, tol=0.0, n_iter_no_change=10, validated=True)
    states = [[np.full(2, float(k))] for k in range(3)]
    for it, (state, val) in enumerate(zip(states, [3.0, 1.0, 2.0])):
        monitor.record(it, state, loss=1.0, val_rmse=val, q=0.0, cov=0.0)
    cores = [np.full(2, 9.0)]
    result = monitor.finish(cores, final_val_rmse=5.0, last_iteration=3)
    assert result["best_iter"] == 1 and result["best_val_rmse"] == 1.0
    np.testing.assert_array_equal(cores[0], states[1][0])
    better = [np.full(2, 7.0)]
    result = Monitor(None, 0, 0.0, 10, True)
    result.record(0, states[0], 1.0, 3.0, 0.0, 0.0)
    assert result.finish(better, 0.5, 1)["best_iter"] == 1
    np.testing.assert_array_equal(better[0], 7.0)


def test_training_stalled_needs_a_full_window():
    assert not training_stalled([1.0, 1.0], 2)
    assert training_stalled([1.0, 1.0, 0.99], 2)
    assert not training_stalled([1.0, 1.0, 0.5], 2)


def test_guard_restores_the_state_before_the_bad_pass():
    guard = DivergenceGuard()
    cores = [np.ones(3)]
    guard.checkpoint(cores)
    cores[0][:] = 2.0
    guard.checkpoint(cores)
    cores[0][:] = np.nan
    guard.check(cores, 2, 1.0)  # finite errors: nothing happens
    assert np.isnan(cores[0]).all()
    with pytest.raises(DivergenceError, match="iteration 2"):
        guard.check(cores, 2, float("inf"))
    np.testing.assert_array_equal(cores[0], 1.0)


def test_divergence_restores_finite_cores():
    model, cores, batch = _setup()
    with pytest.raises(DivergenceError, match="iteration"):
        fit_cores(model, cores, batch, PlainUpdate(SGD(1e8)), max_iter=50)
    assert all(np.isfinite(c).all() for c in cores)


def test_select_keeps_rows_and_values():
    _, _, batch = _setup()
    sub = batch.select(np.array([0, 2]))
    assert len(sub) == 2 and sub.values[1] == batch.values[2]
    assert [int(m[1]) for m in sub.mode_indices] == [int(m[2]) for m in batch.mode_indices]


@pytest.mark.parametrize("wait", [True, False])
def test_monitor_waits_for_the_training_loss_only_when_asked(wait):
    # the validation error stops improving at pass 1 while the training loss keeps halving
    monitor = Monitor(None, 0, tol=0.0, n_iter_no_change=3, validated=True, wait_for_training=wait)
    stops = [monitor.record(it, [np.zeros(1)], loss=0.5 ** it, val_rmse=1.0 if it else 2.0, q=0.0, cov=0.0)
             for it in range(10)]
    # without waiting it stops after the patience (3 passes past the best); waiting, never here
    assert any(stops) is not wait
    if not wait:
        assert stops.index(True) == 4


def test_patience_counts_from_the_score_at_the_last_reset_not_the_previous_pass():
    # every pass gains 0.6 * tol: no single pass clears tol, but every second one clears it
    # against the score at the last reset, so the fit goes on
    tol = 1e-3
    slow = Monitor(None, 0, tol=tol, n_iter_no_change=3, validated=True, wait_for_training=False)
    stops = [slow.record(it, [np.zeros(1)], loss=1.0, val_rmse=(1 - 0.6 * tol) ** it, q=0.0, cov=0.0)
             for it in range(40)]
    assert not any(stops)
    # passes gaining 0.1 * tol together gain less than tol over the patience: it stops
    stalled = Monitor(None, 0, tol=tol, n_iter_no_change=3, validated=True, wait_for_training=False)
    it = 0
    while not stalled.record(it, [np.full(1, it)], loss=1.0, val_rmse=(1 - 0.1 * tol) ** it, q=0.0, cov=0.0):
        it += 1
    assert it == 3  # the first pass resets, then three without clearing tol
    assert stalled.best_iter == 3  # the best state is still the lowest score, however small its gain
