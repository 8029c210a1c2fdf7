"""Entries grouped by fiber: shared design rows and Kronecker normal equations equal the
per-entry products they replace, on every mode, with any block size, on both backends."""

import numpy as np
import pytest

from tensorly_das.backend import take_rows, to_backend, to_numpy
from tensorly_das.fit import make_objective
from tensorly_das.models import Batch, TuckerModel
from tensorly_das.updates import BlockLeastSquares
from tensorly_das.updates.fibers import Fibers, KroneckerDesign, fiber_design

from ..conftest import random_observations

SHAPE, RANK = (7, 5, 6, 4), (3, 2, 4, 2)


def _problem(backend, n=300, seed=0, shape=SHAPE, rank=RANK):
    model = TuckerModel(shape, rank)
    cores = [to_backend(c, backend) for c in model.init_cores(np.random.default_rng(seed), 1.0)]
    idx, vals = random_observations(shape, n, seed)
    batch = Batch([to_backend(idx[:, k].copy(), backend) for k in range(len(shape))], to_backend(vals, backend))
    return model, cores, batch


def test_fibers_group_the_entries_that_share_every_other_index():
    idx = np.array([[0, 1, 2], [3, 1, 2], [0, 1, 0], [5, 1, 2], [0, 0, 2]])
    fibers = Fibers([idx[:, n] for n in range(3)], (6, 2, 3), 0, np.zeros(1))
    assert fibers.count == 3
    of_entry = to_numpy(fibers.of_entry)
    assert of_entry[0] == of_entry[1] == of_entry[3]
    assert len({of_entry[0], of_entry[2], of_entry[4]}) == 3
    assert np.array_equal(of_entry[to_numpy(fibers.first)], np.arange(3))


def test_fibers_of_a_huge_shape_group_the_index_tuples_the_same_way():
    # more fibers than one int64 key can number: the tuples are grouped directly
    rng = np.random.default_rng(1)
    idx = rng.integers(0, 4, size=(200, 3))
    small = Fibers([idx[:, n] for n in range(3)], (4, 4, 4), 2, np.zeros(1))
    huge = Fibers([idx[:, n] for n in range(3)], (4, 2**40, 2**40), 2, np.zeros(1))
    assert small.count == huge.count
    assert np.array_equal(to_numpy(small.of_entry), to_numpy(huge.of_entry))


@pytest.mark.parametrize("mode", range(4))
@pytest.mark.parametrize("chunk_floats", [1, 50, 1 << 20])
def test_kronecker_products_equal_the_dense_design(mode, chunk_floats, backend):
    model, cores, batch = _problem(backend)
    design = to_numpy(model.design(cores, batch.mode_indices, 0))
    values = to_numpy(batch.values)
    fibers = Fibers(batch.mode_indices, SHAPE, mode, cores[0])
    assert fibers.count < len(batch)
    kron = KroneckerDesign(model.kronecker_factors(cores, 0), batch, fibers, chunk_floats)
    gram, rhs = kron.normal_equations()
    np.testing.assert_allclose(to_numpy(gram), design.T @ design, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(to_numpy(rhs), design.T @ values, rtol=1e-10, atol=1e-12)
    x = np.random.default_rng(2).standard_normal(design.shape[1])
    np.testing.assert_allclose(to_numpy(kron.matvec(to_backend(x, backend))), design @ x, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(to_numpy(kron.rmatvec(batch.values)), design.T @ values, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("k", range(1, 5))
def test_design_rows_built_once_per_fiber_are_each_entrys_row(k, backend):
    model, cores, batch = _problem(backend)
    fibers = Fibers(batch.mode_indices, SHAPE, model.row_mode(k), cores[0])
    rows = fiber_design(model, cores, batch.mode_indices, k, fibers, block=7)
    assert rows.shape[0] == fibers.count < len(batch)
    np.testing.assert_allclose(to_numpy(take_rows(rows, fibers.of_entry)),
                               to_numpy(model.design(cores, batch.mode_indices, k)), rtol=1e-12, atol=1e-14)


def test_no_entries_give_zero_normal_equations():
    model, cores, _ = _problem("numpy")
    empty = Batch([np.zeros(0, dtype=np.int64)] * 4, np.zeros(0))
    kron = KroneckerDesign(model.kronecker_factors(cores, 0), empty, Fibers(empty.mode_indices, SHAPE, 0, cores[0]), 64)
    gram, rhs = kron.normal_equations()
    assert not np.any(gram) and not np.any(rhs)
    assert kron.rmatvec(empty.values).shape == (np.prod(RANK),)


def test_conjugate_gradients_through_fibers_take_the_objectives_steps(backend, monkeypatch):
    # the wide-core path: products with the Kronecker design give the same iterates as the
    # loss-and-gradient evaluations they replace
    model, cores, batch = _problem(backend, n=250, seed=3)
    objective = make_objective(model, batch, l2_reg=1e-3)
    solver = BlockLeastSquares()
    via_fibers = [c.clone() if hasattr(c, "clone") else c.copy() for c in cores]
    solver.descend_core(via_fibers, objective, 0, n_iter=4)
    monkeypatch.setattr(TuckerModel, "kronecker_factors", lambda self, cores, k: None)
    BlockLeastSquares().descend_core(cores, objective, 0, n_iter=4)
    np.testing.assert_allclose(to_numpy(via_fibers[0]), to_numpy(cores[0]), rtol=1e-9, atol=1e-12)
    assert not np.allclose(to_numpy(via_fibers[0]), to_numpy(_problem(backend, n=250, seed=3)[1][0]))


@pytest.mark.parametrize("cache_floats", [0, 1 << 20])
def test_kronecker_rows_reused_between_products_give_the_same_products(cache_floats, backend):
    # conjugate gradients call matvec and rmatvec many times on fixed factors: with the rows
    # kept (or rebuilt every call, cache 0) every product equals the dense design's
    model, cores, batch = _problem(backend)
    design = to_numpy(model.design(cores, batch.mode_indices, 0))
    fibers = Fibers(batch.mode_indices, SHAPE, 1, cores[0])
    kron = KroneckerDesign(model.kronecker_factors(cores, 0), batch, fibers, 50, cache_floats)
    rng = np.random.default_rng(4)
    for _ in range(3):
        x = rng.standard_normal(design.shape[1])
        w = rng.standard_normal(design.shape[0])
        np.testing.assert_allclose(to_numpy(kron.matvec(to_backend(x, backend))), design @ x, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(to_numpy(kron.rmatvec(to_backend(w, backend))), design.T @ w,
                                   rtol=1e-10, atol=1e-12)
    assert (kron._kron is not None) == (cache_floats > 0)
