"""Block least squares (solver="als"): exact block minimizers, monotone sweeps, chunking,
backends, and the combinations it refuses."""

import numpy as np
import pytest

import tensorly_das as td
from tensorly_das.backend import to_backend, to_numpy
from tensorly_das.fit import make_objective
from tensorly_das.models import Batch, CPModel, TRModel, TTModel, TuckerModel
from tensorly_das.updates import BlockLeastSquares, block_ls
from tensorly_das.updates.block_ls import build_layout

from .conftest import low_rank_problem, random_observations, requires_torch

MODELS = [(CPModel, 3), (TuckerModel, (2, 3, 2)), (TTModel, 2), (TRModel, 2)]
IDS = [cls.name for cls, _ in MODELS]


def _problem(cls, rank, backend, n=150, seed=0):
    shape = (7, 6, 5)
    model = cls(shape, rank)
    cores = [to_backend(c, backend) for c in model.init_cores(np.random.default_rng(seed), 1.0)]
    idx, vals = random_observations(shape, n, seed)
    batch = Batch([to_backend(idx[:, k].copy(), backend) for k in range(3)], to_backend(vals, backend))
    return model, cores, batch


@pytest.mark.parametrize("cls, rank", MODELS, ids=IDS)
def test_a_block_solve_zeroes_that_cores_gradient(cls, rank, backend):
    # with no floor, the solved core is the exact minimizer: its gradient of loss + ridge vanishes
    model, cores, batch = _problem(cls, rank, backend)
    objective = make_objective(model, batch, l2_reg=1e-3)
    solver = BlockLeastSquares(ridge_floor=0.0)
    for k in range(len(cores)):
        solver.solve_core(cores, objective, k)
        _, grads = objective(cores)
        scale = float(np.abs(to_numpy(cores[k])).max())
        assert float(np.abs(to_numpy(grads[k])).max()) < 1e-9 * max(scale, 1.0), k


@pytest.mark.parametrize("cls, rank", MODELS, ids=IDS)
def test_sweeps_never_raise_the_objective(cls, rank, backend):
    model, cores, batch = _problem(cls, rank, backend)
    objective = make_objective(model, batch, l2_reg=1e-3)
    solver = BlockLeastSquares(ridge_floor=0.0)
    losses = [float(objective(cores)[0])]
    for _ in range(6):
        solver.step(cores, None, objective)
        losses.append(float(objective(cores)[0]))
    assert all(b <= a * (1 + 1e-12) for a, b in zip(losses, losses[1:])), losses
    assert losses[-1] < 0.5 * losses[0]


@pytest.mark.parametrize("cls, rank", MODELS, ids=IDS)
def test_small_chunks_give_the_same_sweep(cls, rank, backend, monkeypatch):
    # tiny chunks cut rows into pieces (and Tucker's core into many): the same normal equations
    model, cores, batch = _problem(cls, rank, backend, n=180)
    objective = make_objective(model, batch, l2_reg=1e-4)
    ref = [c.clone() if hasattr(c, "clone") else c.copy() for c in cores]
    BlockLeastSquares().step(ref, None, objective)
    monkeypatch.setattr(block_ls, "CHUNK_FLOATS", 40)
    monkeypatch.setattr(block_ls, "MAX_PIECE", 3)  # rows cut in pieces, several in one chunk
    BlockLeastSquares().step(cores, None, objective)
    for a, b in zip(cores, ref):
        np.testing.assert_allclose(to_numpy(a), to_numpy(b), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("max_floats, max_piece", [(1, 512), (7, 512), (64, 512), (1 << 19, 512), (1 << 19, 4)])
def test_layout_places_every_entry_once(max_floats, max_piece, monkeypatch):
    monkeypatch.setattr(block_ls, "CHUNK_FLOATS", max_floats)
    monkeypatch.setattr(block_ls, "MAX_PIECE", max_piece)
    rng = np.random.default_rng(0)
    rows = rng.integers(0, 9, size=200) ** 2 % 13  # uneven counts, some rows empty
    other = rng.integers(0, 70_000, size=200)  # indices of a mode too long for 16 bits
    third = rng.integers(0, 200, size=200)
    chunks = build_layout(rows, 13, 3, np.zeros(1), entries=([None, other, third], (13, 70_000, 200)))
    seen = []
    for chunk in chunks:
        # each chunk's own copy of the entries' indices (not the rows' own mode's), in slot
        # order and narrow types
        assert chunk.modes[0] is None and [m.dtype for m in chunk.modes[1:]] == [np.uint32, np.uint8]
        np.testing.assert_array_equal(chunk.modes[1], other[chunk.slots])
        np.testing.assert_array_equal(chunk.modes[2], third[chunk.slots])
        slots = chunk.slots.reshape(chunk.n_pieces, chunk.length)
        mask = np.ones(slots.shape, bool) if chunk.mask is None else chunk.mask.reshape(slots.shape)
        assert chunk.n_pieces * chunk.length * 3 <= max(max_floats, chunk.length * 3)
        assert chunk.length <= max(max_piece, 1)
        starts = np.arange(chunk.n_pieces) if chunk.segments is None else chunk.segments
        piece_target = np.repeat(chunk.targets, np.diff(np.r_[starts, chunk.n_pieces]))
        for piece, target in enumerate(piece_target):
            assert np.all(rows[slots[piece][mask[piece]]] == target)  # a piece holds one row
        assert len(set(chunk.targets.tolist())) == len(chunk.targets)  # each row added once
        seen.extend(slots[mask].tolist())
    assert sorted(seen) == list(range(200))


@requires_torch
@pytest.mark.parametrize("cls, rank", MODELS, ids=IDS)
def test_numpy_and_torch_sweeps_agree(cls, rank):
    results = []
    for backend in ("numpy", "pytorch"):
        model, cores, batch = _problem(cls, rank, backend)
        solver = BlockLeastSquares()
        for _ in range(3):
            solver.step(cores, None, make_objective(model, batch, l2_reg=1e-4))
        results.append([to_numpy(c) for c in cores])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-11)


def test_rows_without_entries_keep_their_values():
    model, cores, batch = _problem(CPModel, 3, "numpy")
    keep = np.asarray(batch.mode_indices[0]) != 2
    batch = batch.select(np.flatnonzero(keep))
    before = cores[0][2].copy()
    BlockLeastSquares().solve_core(cores, make_objective(model, batch), 0)
    np.testing.assert_array_equal(cores[0][2], before)


@pytest.mark.parametrize("cls, rank", MODELS, ids=IDS)
def test_estimator_with_als_recovers_a_low_rank_tensor(cls, rank):
    obs, _ = low_rank_problem(shape=(12, 10, 8), rank=2, fraction=0.5, seed=1)
    truth_model = cls((12, 10, 8), rank)
    cores = truth_model.init_cores(np.random.default_rng(4), 1.0)  # a case every start recovers
    values = truth_model.predict(cores, [obs.indices[:, n].copy() for n in range(3)])
    obs = td.ObservedTensor(obs.indices, values, obs.shape)
    est = {"cp": td.CPCompletion, "tucker": td.TuckerCompletion, "tt": td.TTCompletion,
           "tr": td.TRCompletion}[cls.name](rank=rank, random_state=0).fit(obs)
    assert est.solver_ == "als"
    assert est.score(obs) > 0.999


def test_auto_solver_and_patience():
    obs, _ = low_rank_problem(fraction=0.5)
    assert td.CPCompletion(rank=3, max_iter=5).fit(obs).solver_ == "als"
    assert td.CPCompletion(rank=3, max_iter=5, method="das").fit(obs).solver_ == "adam"
    assert td.CPCompletion(rank=3, max_iter=5, batch_size=50).fit(obs).solver_ == "adam"
    assert td.CPCompletion(rank=3)._patience() == 20
    assert td.CPCompletion(rank=3, solver="adam")._patience() == 200
    assert td.CPCompletion(rank=3, solver="als", n_iter_no_change=7)._patience() == 7


@pytest.mark.parametrize("params, match", [
    ({"solver": "als", "method": "sam"}, "method='sam' needs a gradient step"),
    ({"solver": "als", "method": "das"}, "method='das' needs a gradient step"),
    ({"solver": "als", "batch_size": 10}, "batch_size must be None"),
])
def test_meaningless_combinations_are_refused_before_any_work(params, match):
    obs, _ = low_rank_problem(fraction=0.5)
    est = td.CPCompletion(rank=3, **params)
    with pytest.raises(ValueError, match=match):
        est.fit(obs)
    assert not hasattr(est, "cores_")


def test_the_fitted_solver_keeps_no_layout_and_pickles_without_one(monkeypatch):
    import pickle

    built = []
    monkeypatch.setattr(block_ls.BlockLeastSquares, "release",
                        lambda self: (built.append(self._layout is not None), setattr(self, "_layout", None)))
    obs, _ = low_rank_problem(fraction=0.5)
    est = td.CPCompletion(rank=3, max_iter=5, random_state=0).fit(obs)
    assert built and all(built)  # the layouts existed (the start's refinement and the fit's), and were let go
    assert est.update_.base._layout is None
    again = pickle.loads(pickle.dumps(est))
    assert again.update_.base._layout is None
    np.testing.assert_array_equal(again.predict(obs), est.predict(obs))
