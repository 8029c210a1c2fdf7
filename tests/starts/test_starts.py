"""Starts: the spectral start's subspaces, core and per-model cores, fallbacks, unobserved rows."""

import warnings

import numpy as np
import pytest
import tensorly as tl

import tensorly_das as td
from tensorly_das.models import CPModel, TRModel, TTModel, TuckerModel
from tensorly_das.models.ring import _tt_svd
from tensorly_das.starts import (
    SpectralStartError,
    UnobservedSliceWarning,
    fill_unobserved_rows,
    initial_cores,
    spectral_cores,
)
from tensorly_das.starts.spectral import mode_subspace, projected_core

from ..conftest import model_problem

MODELS = [(CPModel, 3), (TuckerModel, (3, 2, 3)), (TTModel, 2), (TRModel, 2)]


def _cp_truth(shape=(30, 25, 20), rank=3, seed=0):
    rng = np.random.default_rng(seed)
    factors = [rng.standard_normal((n, rank)) for n in shape]
    return factors, tl.cp_to_tensor((np.ones(rank), factors))


def test_mode_subspace_finds_the_true_column_space_from_half_the_entries():
    factors, X = _cp_truth()
    mask = np.random.default_rng(1).random(X.shape) < 0.5
    idx = np.argwhere(mask)
    for mode, A in enumerate(factors):
        U = mode_subspace(idx, X[mask], X.shape, mode, 3)
        np.testing.assert_allclose(U.T @ U, np.eye(3), atol=1e-10)
        residual = A - U @ (U.T @ A)  # the true factor's part outside the estimated subspace
        assert np.linalg.norm(residual) < 0.25 * np.linalg.norm(A)  # a random 3-D subspace: ~0.95


def test_mode_subspace_is_zero_on_rows_without_observations():
    factors, X = _cp_truth()
    mask = np.random.default_rng(1).random(X.shape) < 0.5
    mask[4] = False  # row 4 of mode 0 is never observed
    idx = np.argwhere(mask)
    U = mode_subspace(idx, X[mask], X.shape, 0, 3)
    assert np.all(U[4] == 0) and np.linalg.matrix_rank(U) == 3


def test_projected_core_of_a_fully_observed_tensor_is_the_tucker_core():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((5, 4, 3))
    bases = [np.linalg.qr(rng.standard_normal((n, 2)))[0] for n in X.shape]
    idx = np.argwhere(np.ones(X.shape, bool))
    core = projected_core(idx, X[tuple(idx.T)], bases)
    expected = tl.tenalg.multi_mode_dot(X, [U.T for U in bases])
    np.testing.assert_allclose(core, expected, rtol=1e-10)


def test_tt_svd_is_exact_at_sufficient_rank_and_padded_above_it():
    rng = np.random.default_rng(0)
    cores = [rng.standard_normal(s) for s in [(1, 3, 2), (2, 4, 2), (2, 3, 1)]]
    X = tl.tt_to_tensor(cores)
    np.testing.assert_allclose(tl.tt_to_tensor(_tt_svd(X, (2, 2))), X, rtol=1e-9, atol=1e-12)
    padded = _tt_svd(X, (5, 5))
    assert [c.shape for c in padded] == [(1, 3, 5), (5, 4, 5), (5, 3, 1)]
    np.testing.assert_allclose(tl.tt_to_tensor(padded), X, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("model_cls, rank", MODELS)
def test_spectral_start_fits_the_model_and_beats_a_random_start(model_cls, rank):
    obs, X = model_problem(model_cls, (12, 11, 10), rank, fraction=0.5, seed=0)
    model = model_cls(obs.shape, rank)
    cores = spectral_cores(model, obs.indices, obs.values, np.random.default_rng(0))
    model.check_cores(cores)
    every = np.argwhere(np.ones(obs.shape, bool))
    columns = [every[:, n].copy() for n in range(3)]
    spectral = td.nrmse(X.ravel(), model.predict(cores, columns))
    random = td.nrmse(X.ravel(), model.predict(model.init_cores(np.random.default_rng(7), 1.0), columns))
    assert spectral < random
    if model_cls is not TRModel:  # a ring is only approximated by the train of its core
        assert spectral < 0.8


def test_spectral_start_recovers_cp_where_random_starts_fail():
    from benchmarks.synthetic import make_problem

    recovered = {"spectral": 0, "random": 0}
    for seed in range(3):
        obs, held_idx, held_truth = make_problem("cp", 0.9, 0.0, seed)
        for init in recovered:
            est = td.CPCompletion(4, init=init, random_state=seed).fit(obs)
            recovered[init] += td.nrmse(held_truth, est.predict(held_idx)) < 0.01
    assert recovered["spectral"] == 3
    assert recovered["random"] < 3  # the case is one where random starts do fail


def test_too_few_observed_rows_fall_back_to_random_with_a_reason():
    idx = np.array([[0, 0, 0], [1, 1, 1], [0, 2, 3], [1, 3, 2], [0, 1, 4]])
    with pytest.warns(UserWarning, match="mode 0 has observations in only 2 of its 6 rows"):
        est = td.CPCompletion(3, shape=(6, 5, 5), max_iter=5, early_stopping=False).fit(idx, np.arange(5.0))
    assert np.all(np.isfinite(est.predict(idx)))


@pytest.mark.parametrize("model_cls, rank", MODELS)
def test_rows_without_training_entries_start_at_the_mean_row(model_cls, rank):
    model = model_cls((6, 5, 4), rank)
    cores = model.init_cores(np.random.default_rng(0), 1.0)
    idx = np.argwhere(np.ones(model.shape, bool))
    idx = idx[(idx[:, 1] != 2) & (idx[:, 2] != 0)]  # row 2 of mode 1 and row 0 of mode 2 unseen
    fill_unobserved_rows(model, cores, idx)
    for mode, row in ((1, 2), (2, 0)):
        k, axis = model.mode_axes()[mode]
        rows = np.moveaxis(cores[k], axis, 0)
        seen = np.arange(model.shape[mode]) != row
        np.testing.assert_allclose(rows[row], rows[seen].mean(axis=0), rtol=1e-12)


def test_random_starts_on_unseen_slices_cannot_predict_wildly():
    obs, X = model_problem(CPModel, (10, 9, 8), 2, fraction=0.6, seed=0)
    keep = obs.indices[:, 0] != 3  # slice 3 of mode 0 is never observed
    train, unseen = obs.subset(np.flatnonzero(keep)), obs.subset(np.flatnonzero(~keep))
    scores = []
    for seed in range(4):
        with pytest.warns(UnobservedSliceWarning, match="mode 0: 1 of 10 rows"):
            # Adam: from random start 1, block least squares lands in a local solution
            # (training R^2 0.85), which no row filling can make predict well
            est = td.CPCompletion(2, init="random", solver="adam", shape=obs.shape, max_iter=300,
                                  random_state=seed).fit(
                train.indices, train.values)
        scores.append(est.score(unseen))
    # the unseen slice is predicted as an average slice; left at its random draw, seed 3 scored -4.8
    assert min(scores) > -2.0


def test_no_warning_when_every_row_is_observed():
    obs, _ = model_problem(CPModel, (6, 5, 4), 2, fraction=0.9, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnobservedSliceWarning)
        td.CPCompletion(2, max_iter=5).fit(obs)


def test_unshuffled_folds_over_sorted_indices_are_named_in_a_warning():
    from sklearn.model_selection import GridSearchCV, KFold

    obs, _ = model_problem(CPModel, (8, 7, 6), 2, fraction=0.7, seed=0)
    search = GridSearchCV(td.CPCompletion(shape=obs.shape, max_iter=5), {"rank": [2]}, cv=KFold(3))
    with pytest.warns(UnobservedSliceWarning, match="shuffle the folds"):
        search.fit(obs.indices, obs.values)


def test_huge_modes_with_few_observations_start_without_dense_work():
    shape = (1_000_000, 500_000, 3)
    rng = np.random.default_rng(0)
    idx = np.stack([rng.integers(0, s, 300) for s in shape], axis=1)
    idx = np.unique(idx, axis=0)
    model = CPModel(shape, 2)
    cores = initial_cores("spectral", model, idx, rng.standard_normal(len(idx)), rng)
    model.check_cores(cores)
    assert all(np.isfinite(c).all() for c in cores)


def test_modes_whose_other_modes_exceed_int64_still_get_a_subspace():
    shape = (4, 2**40, 2**40)
    rng = np.random.default_rng(0)
    far = rng.integers(2**39, 2**40, size=(6, 2))  # six columns, far beyond any int64 key
    idx = np.array([(i, *far[j]) for i in range(4) for j in range(6)], dtype=np.int64)
    U = mode_subspace(idx, rng.standard_normal(len(idx)), shape, 0, 2)
    np.testing.assert_allclose(U.T @ U, np.eye(2), atol=1e-10)
    # entries that share no column carry no signal for a subspace: said, not guessed
    lonely = np.stack([rng.integers(0, s, 50, dtype=np.int64) for s in shape], axis=1)
    with pytest.raises(SpectralStartError, match="no positive eigenvalue"):
        mode_subspace(lonely, rng.standard_normal(50), shape, 0, 2)


def test_tensor_train_start_perturbs_each_core_relative_to_its_own_size():
    # the train's SVD leaves the scale in its last core: a perturbation sized by the cores'
    # joint RMS would swamp the first ones
    rng = np.random.default_rng(0)
    model = TTModel((10, 9, 8), 2)
    bases = [np.linalg.qr(rng.standard_normal((n, d)))[0] for n, d in zip(model.shape, model.basis_dims())]
    core = 1000.0 * rng.standard_normal(model.basis_dims())
    one = model.from_subspaces(bases, core, np.random.default_rng(1))
    two = model.from_subspaces(bases, core, np.random.default_rng(2))
    for a, b in zip(one, two):
        relative = np.sqrt(np.mean((a - b) ** 2)) / np.sqrt(np.mean(((a + b) / 2) ** 2))
        assert 0.05 < relative < 0.3  # two draws of 10% noise differ by about 14%
    norms = [np.linalg.norm(c) for c in one]
    assert max(norms) < 1.3 * min(norms)  # balanced before the noise: no core holds the scale
