"""Property tests (hypothesis) over random shapes, orders 2 to 5, ranks and observation patterns."""

import numpy as np
import pytest
import tensorly as tl

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import tensorly_das as td  # noqa: E402
from tensorly_das.models import Batch, CPModel, TRModel, TTModel, TuckerModel  # noqa: E402
from tensorly_das.updates import DASUpdate, PlainUpdate, make_base_step  # noqa: E402

from .models.test_models import dense_reconstruction  # noqa: E402

PROPERTY = settings(deadline=None, database=None, derandomize=True, max_examples=60,
                    suppress_health_check=[HealthCheck.too_slow])


@st.composite
def problems(draw, models=(CPModel, TuckerModel, TTModel, TRModel)):
    """A model, a shape of order 2-5, a rank valid for it, cores and a set of observed entries."""
    cls = draw(st.sampled_from(models))
    order = draw(st.integers(2, 5))
    shape = tuple(draw(st.lists(st.integers(1, 5), min_size=order, max_size=order)))
    if cls is CPModel:
        rank = draw(st.integers(1, 4))
    elif cls is TuckerModel:
        rank = tuple(draw(st.integers(1, s)) for s in shape)
    elif cls is TTModel:
        rank = (1, *(draw(st.integers(1, 3)) for _ in range(order - 1)), 1)
    else:
        inner = [draw(st.integers(1, 3)) for _ in range(order)]
        rank = (*inner, inner[0])
    model = cls(shape, rank)
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    cores = model.init_cores(rng, scale=1.0)
    total = int(np.prod(shape))
    n = draw(st.integers(1, min(total, 60)))
    flat = rng.choice(total, size=n, replace=False)
    idx = np.stack(np.unravel_index(flat, shape), axis=1)
    values = rng.standard_normal(n)
    return model, cores, idx, values


def _batch(idx, values=None):
    return Batch([idx[:, k].copy() for k in range(idx.shape[1])], values)


@settings(PROPERTY, max_examples=150)
@given(problems())
def test_sparse_predictions_equal_the_dense_tensorly_reconstruction(problem):
    model, cores, idx, _ = problem
    pred = model.predict(cores, _batch(idx).mode_indices)
    with tl.backend_context("numpy"):
        dense = dense_reconstruction(model, cores)
    np.testing.assert_allclose(pred, dense[tuple(idx.T)], rtol=1e-10, atol=1e-12)


@settings(PROPERTY, max_examples=60)
@given(problems(), st.data())
def test_gradients_match_finite_differences(problem, data):
    model, cores, idx, values = problem
    batch = _batch(idx, values)
    _, grads = model.loss_and_grads(cores, batch)
    eps = 1e-6
    k = data.draw(st.integers(0, len(cores) - 1))
    pos = tuple(data.draw(st.integers(0, s - 1)) for s in cores[k].shape)
    plus = [c.copy() for c in cores]
    minus = [c.copy() for c in cores]
    plus[k][pos] += eps
    minus[k][pos] -= eps
    fd = (float(model.loss_and_grads(plus, batch)[0]) - float(model.loss_and_grads(minus, batch)[0])) / (2 * eps)
    assert abs(fd - grads[k][pos]) <= 1e-6 * max(1.0, abs(fd))


@settings(PROPERTY, max_examples=40)
@given(problems(), st.sampled_from(["adam", "sgd"]), st.sampled_from(["paper", "relative"]),
       st.sampled_from(["squared", "norm"]))
def test_das_with_alpha_zero_equals_plain(problem, solver, deviation, denominator):
    model, cores, idx, values = problem
    batch = _batch(idx, values)

    def grad_fn(c):
        return model.loss_and_grads(c, batch)

    plain = [c.copy() for c in cores]
    das = [c.copy() for c in cores]
    plain_update = PlainUpdate(make_base_step(solver, 0.05))
    das_update = DASUpdate(make_base_step(solver, 0.05), alpha=0.0, deviation=deviation, denominator=denominator)
    for t in range(5):
        plain_update.step(plain, grad_fn, t / 5)
        das_update.step(das, grad_fn, t / 5)
    for a, b in zip(plain, das):
        np.testing.assert_array_equal(a, b)


@settings(PROPERTY, max_examples=150)
@given(
    shape=st.lists(st.integers(1, 6), min_size=2, max_size=5).map(tuple),
    fraction=st.floats(0.01, 1.0),
    test_size=st.one_of(st.floats(0.01, 0.99), st.integers(1, 10)),
    seed=st.integers(0, 2**16),
)
def test_splitting_never_loses_or_duplicates_an_entry(shape, fraction, test_size, seed):
    rng = np.random.default_rng(seed)
    mask = rng.random(shape) < fraction
    if mask.sum() < 2:
        mask.flat[:2] = True
    obs = td.ObservedTensor(np.argwhere(mask), rng.standard_normal(int(mask.sum())), shape)
    try:
        train, test = obs.split(test_size, random_state=seed)
    except ValueError as err:  # a split that would leave a part empty is refused
        assert "at least one" in str(err)
        return
    keys = lambda o: np.ravel_multi_index(o.indices.T, shape)  # noqa: E731
    both = np.concatenate([keys(train), keys(test)])
    assert len(both) == obs.nnz and len(np.unique(both)) == obs.nnz  # nothing lost, nothing twice
    assert set(both) == set(keys(obs))
    # every entry keeps its value
    lookup = dict(zip(keys(obs), obs.values))
    for part in (train, test):
        assert all(lookup[k] == v for k, v in zip(keys(part), part.values))
