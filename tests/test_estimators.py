import numpy as np
import pytest
import tensorly as tl
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold

import tensorly_das as td
from tensorly_das import CPCompletion

from .conftest import low_rank_problem, requires_cuda, requires_torch

FAST = dict(max_iter=1000, random_state=0)


@pytest.mark.parametrize("method", ["plain", "sam", "das"])
def test_recovers_low_rank_tensor(method, backend):
    obs, X = low_rank_problem(fraction=0.5)
    train, test = obs.split(0.2, random_state=0)
    # a random start: the spectral one is already near the answer, and the loop is under test
    est = CPCompletion(rank=3, method=method, backend=backend, init="random", **FAST).fit(train)
    assert est.score(test) > 0.99
    assert isinstance(est.decomposition_, tl.cp_tensor.CPTensor)
    np.testing.assert_allclose(est.reconstruct()[tuple(test.indices.T)], est.predict(test), rtol=1e-10, atol=1e-12)
    for key in ("loss", "val_rmse", "norm_deviation", "covariance", "time"):
        assert len(est.history_[key]) == est.n_iter_
    assert est.history_["loss"][-1] < est.history_["loss"][0]
    assert np.all(np.isfinite(est.history_["val_rmse"]))


def test_fit_input_forms_agree():
    obs, X = low_rank_problem(fraction=0.5)
    dense = obs.to_dense()
    mask = ~np.isnan(dense)
    filled = np.where(mask, dense, 0.0)
    kw = dict(rank=3, max_iter=30, random_state=1)
    ref = CPCompletion(**kw).fit(obs).predict(obs)
    for est in (
        CPCompletion(**kw).fit(dense),
        CPCompletion(**kw).fit(filled, mask=mask),
        CPCompletion(shape=obs.shape, **kw).fit(obs.indices, obs.values),
    ):
        np.testing.assert_allclose(est.predict(obs), ref, rtol=1e-12)


def test_fit_from_pydata_sparse():
    sparse = pytest.importorskip("sparse")
    obs, _ = low_rank_problem(fraction=0.5)
    S = sparse.COO(obs.indices.T, obs.values, shape=obs.shape)
    est = CPCompletion(rank=3, max_iter=20, random_state=0).fit(S)
    assert est.shape_ == obs.shape


def test_caller_arrays_not_mutated():
    obs, _ = low_rank_problem(fraction=0.5)
    idx, vals = obs.indices.copy(), obs.values.copy()
    init = [np.ones((s, 3)) * 0.5 for s in obs.shape]
    init_copy = [c.copy() for c in init]
    est = CPCompletion(rank=3, max_iter=20, init=init, shape=obs.shape).fit(idx, vals)
    est.predict(idx)
    np.testing.assert_array_equal(idx, obs.indices)
    np.testing.assert_array_equal(vals, obs.values)
    for a, b in zip(init, init_copy):
        np.testing.assert_array_equal(a, b)
    assert est.cores_[0] is not init[0]


@requires_torch
@pytest.mark.parametrize("method", ["plain", "sam", "das"])
def test_numpy_and_torch_give_the_same_fit(method):
    obs, _ = low_rank_problem(fraction=0.5)
    kw = dict(rank=3, method=method, max_iter=60, lr=0.05, random_state=3, das_alpha=1.0, das_deviation="relative")
    a = CPCompletion(backend="numpy", **kw).fit(obs)
    b = CPCompletion(backend="pytorch", **kw).fit(obs)
    for ca, cb in zip(a.cores_, b.cores_):
        np.testing.assert_allclose(ca, cb.numpy(), rtol=1e-9, atol=1e-11)
    # block least squares balances the norms after every sweep: Q is zero up to rounding there
    # (a difference of squared norms: compared to 1e-15, not relative)
    np.testing.assert_allclose(a.history_["norm_deviation"], b.history_["norm_deviation"], rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(a.predict(obs), b.predict(obs), rtol=1e-9)


def test_same_seed_same_result_bitwise():
    obs, _ = low_rank_problem(fraction=0.4)
    a = CPCompletion(rank=3, max_iter=40, random_state=7).fit(obs)
    b = CPCompletion(rank=3, max_iter=40, random_state=7).fit(obs)
    for ca, cb in zip(a.cores_, b.cores_):
        np.testing.assert_array_equal(ca, cb)


@requires_cuda
def test_cuda_matches_cpu():
    obs, _ = low_rank_problem(fraction=0.5)
    kw = dict(rank=3, max_iter=40, random_state=0, backend="pytorch")
    cpu = CPCompletion(**kw).fit(obs)
    gpu = CPCompletion(device="cuda", **kw).fit(obs)
    assert gpu.cores_[0].device.type == "cuda"
    np.testing.assert_allclose(cpu.predict(obs), gpu.predict(obs), rtol=1e-8, atol=1e-10)


def test_sklearn_clone_params_and_gridsearch():
    obs, _ = low_rank_problem(fraction=0.6)
    est = CPCompletion(rank=2, shape=obs.shape, max_iter=80, lr=0.05, random_state=0)
    assert clone(est).get_params() == est.get_params()
    est.set_params(rank=3)
    assert est.rank == 3
    search = GridSearchCV(
        CPCompletion(shape=obs.shape, max_iter=600, random_state=0),
        {"rank": [1, 3], "das_alpha": [0.0, 0.1]},
        cv=KFold(3, shuffle=True, random_state=0),
    )
    search.fit(obs.indices, obs.values)
    assert search.best_params_["rank"] == 3
    assert search.best_score_ > 0.9


def test_early_stopping_keeps_best_state():
    obs, _ = low_rank_problem(fraction=0.3, noise=0.5, seed=2)
    est = CPCompletion(rank=8, method="plain", l2_reg=0.0, lr=0.05, max_iter=400, n_iter_no_change=30,
                       final_sweeps=0, random_state=0).fit(obs)
    val = np.array(est.history_["val_rmse"])
    # an over-ranked fit of noisy data overfits: the validation error turns up and the fit stops
    assert est.stopped_ == "no_change" and est.n_iter_ < 400
    assert est.best_val_rmse_ <= val.min() + 1e-12
    assert est.best_iter_ < est.n_iter_ - 30
    # the kept cores are the best state: their validation error is best_val_rmse_
    train, held = obs.hash_split(est.validation_fraction, est.validation_seed_)
    residual = est.predict(held) - held.values
    assert np.sqrt(np.mean(residual**2)) == pytest.approx(est.best_val_rmse_, rel=1e-9)


def test_no_early_stopping_uses_all_entries():
    obs, _ = low_rank_problem(fraction=0.5)
    for solver in ("adam", "als"):
        est = CPCompletion(rank=3, solver=solver, early_stopping=False, max_iter=50, n_iter_no_change=50,
                           random_state=0).fit(obs)
        assert np.all(np.isnan(est.history_["val_rmse"]))
        assert est.n_iter_ == 50


def test_minibatch_fit_learns():
    obs, _ = low_rank_problem(fraction=0.5)
    train, test = obs.split(0.2, random_state=0)
    est = CPCompletion(rank=3, batch_size=100, lr=0.02, max_iter=400, random_state=0).fit(train)
    assert est.score(test) > 0.95


def test_warm_start_continues():
    obs, _ = low_rank_problem(fraction=0.5)
    est = CPCompletion(rank=3, max_iter=10, early_stopping=False, warm_start=True, random_state=0).fit(obs)
    first = est.history_["loss"][-1]
    est.fit(obs)
    assert len(est.history_["loss"]) == 20
    assert est.history_["loss"][-1] < first


def test_divergence_is_reported_and_state_is_finite():
    obs, _ = low_rank_problem(fraction=0.5)
    est = CPCompletion(rank=3, solver="sgd", lr=1e6, method="plain", max_iter=50, random_state=0)
    with pytest.raises(td.DivergenceError, match="iteration") as info:
        est.fit(obs)
    assert all(np.all(np.isfinite(c)) for c in info.value.cores)


def test_verbose_shows_progress_bar(capsys):
    obs, _ = low_rank_problem(fraction=0.5)
    CPCompletion(rank=2, max_iter=15, verbose=True, random_state=0).fit(obs)
    err = capsys.readouterr().err
    assert "val_rmse" in err and "Q=" in err and "train_loss" in err


def test_transform_refuses_huge_and_predict_works():
    idx = np.array([[0, 0, 0], [999, 999, 999], [5, 6, 7]])
    est = CPCompletion(rank=2, max_iter=5, early_stopping=False, shape=(1000, 1000, 1000)).fit(idx, [1.0, 2.0, 3.0])
    with pytest.raises(MemoryError, match="above the limit"):
        est.reconstruct()
    with pytest.raises(MemoryError, match="above the limit"):
        est.transform(idx, [1.0, 2.0, 3.0])
    assert est.predict(idx).shape == (3,)


BAD_PARAMS = [
    (dict(method="adam"), ValueError, "method"),
    (dict(solver="lbfgs"), ValueError, "solver"),
    (dict(rank=0), ValueError, ">= 1"),
    (dict(rank="3"), TypeError, "positive integer"),
    (dict(lr=0), ValueError, "lr"),
    (dict(lr=float("nan")), ValueError, "lr"),
    (dict(das_alpha=-1), ValueError, "das_alpha"),
    (dict(sam_rho=-0.1), ValueError, "sam_rho"),
    (dict(max_iter=0), ValueError, "max_iter"),
    (dict(das_alpha_schedule="step"), ValueError, "das_alpha_schedule"),
    (dict(backend="jax"), ValueError, "backend"),
    (dict(dtype="int32"), ValueError, "dtype"),
    (dict(validation_fraction=1.5), ValueError, "validation_fraction"),
    (dict(batch_size=0), ValueError, "batch_size"),
    (dict(init="svd"), ValueError, "init"),
    (dict(das_max_scale=2.0), ValueError, "das_max_scale"),
    (dict(device="cuda"), ValueError, "device"),
]


@pytest.mark.parametrize("params, exc, match", BAD_PARAMS)
def test_bad_parameters_named(params, exc, match):
    obs, _ = low_rank_problem(fraction=0.5)
    with pytest.raises(exc, match=match):
        CPCompletion(**{"max_iter": 2, **params}).fit(obs)


def test_bad_data_named():
    est = CPCompletion(max_iter=2)
    with pytest.raises(ValueError, match="finite"):
        est.fit([[0, 0], [1, 1]], [1.0, np.nan])
    with pytest.raises(ValueError, match="out of range"):
        CPCompletion(shape=(2, 2), max_iter=2).fit([[0, 0], [2, 1]], [1.0, 2.0])
    with pytest.raises(ValueError, match="order >= 2"):
        est.fit(np.array([1.0, 2.0, np.nan]))
    with pytest.raises(ValueError, match="shape"):
        CPCompletion(shape=(3, 3), max_iter=2).fit(np.ones((2, 2)))
    with pytest.raises(ValueError, match="duplicate"):
        est.fit([[0, 0], [0, 0]], [1.0, 2.0])
    with pytest.raises(ValueError, match="initial cp cores"):
        CPCompletion(rank=2, init=[np.ones((2, 2)), np.ones((2, 3))], max_iter=2).fit(np.ones((4, 2)))


def test_predict_refusals():
    obs, _ = low_rank_problem(fraction=0.5)
    est = CPCompletion(rank=2)
    with pytest.raises(AttributeError, match="not fitted"):
        est.predict(obs.indices)
    est.set_params(max_iter=3).fit(obs)
    with pytest.raises(ValueError, match="out of range"):
        est.predict([[100, 0, 0]])
    with pytest.raises(ValueError, match="columns"):
        est.predict([[0, 0]])
    with pytest.raises(ValueError, match="needs values"):
        est.score(obs.indices)


def test_float32_fits_and_keeps_dtype(backend):
    obs, _ = low_rank_problem(fraction=0.5)
    train, test = obs.split(0.2, random_state=0)
    est = CPCompletion(rank=3, dtype="float32", backend=backend, max_iter=1000, random_state=0).fit(train)
    assert "float32" in str(est.cores_[0].dtype)
    assert est.score(test) > 0.99


def test_n_init_keeps_the_start_with_the_lowest_validation_error(monkeypatch):
    from tensorly_das.estimators import base
    from tensorly_das.models import CPModel

    from .conftest import model_problem

    obs, _ = model_problem(CPModel, (20, 18, 16), 3, fraction=0.3, seed=0)
    single = CPCompletion(rank=3, l2_reg=0.0, final_sweeps=0, random_state=0, max_iter=300).fit(obs)
    results = []

    def recording_fit_cores(*args, **kwargs):
        results.append(base_fit_cores(*args, **kwargs))
        return results[-1]

    base_fit_cores = base.fit_cores
    monkeypatch.setattr(base, "fit_cores", recording_fit_cores)
    multi = CPCompletion(rank=3, l2_reg=0.0, final_sweeps=0, random_state=0, n_init=4,
                         max_iter=300).fit(obs)
    errors = [r["best_val_rmse"] for r in results]
    assert len(errors) == 4 and len(set(errors)) > 1  # four different starts
    # the first start is the single fit's (same random stream); the kept one is the best
    assert errors[0] == pytest.approx(single.best_val_rmse_, rel=1e-12)
    assert multi.best_val_rmse_ == min(errors)
    assert multi.n_iter_ == results[int(np.argmin(errors))]["n_iter"]
    # the kept cores are that start's: their validation error is best_val_rmse_
    train, held = obs.hash_split(0.1, multi.validation_seed_)
    residual = multi.predict(held) - held.values
    assert np.sqrt(np.mean(residual**2)) == pytest.approx(multi.best_val_rmse_, rel=1e-9)


def test_l2_reg_shrinks_and_balances_norms():
    import tensorly_das as tdas

    obs, _ = low_rank_problem(fraction=0.5)
    # with gradient steps the ridge is what pulls the norms together
    kw = dict(rank=3, solver="adam", early_stopping=False, max_iter=300, random_state=0)
    free = CPCompletion(**kw).fit(obs)
    ridge = CPCompletion(l2_reg=0.05, **kw).fit(obs)
    assert float(tdas.core_norms(ridge.cores_).sum()) < float(tdas.core_norms(free.cores_).sum())
    assert float(tdas.norm_deviation(ridge.cores_)) < float(tdas.norm_deviation(free.cores_))
    # block least squares balances them after every sweep, with or without ridge
    als = CPCompletion(rank=3, early_stopping=False, max_iter=30, random_state=0).fit(obs)
    norms = tdas.core_norms(als.cores_)
    np.testing.assert_allclose(norms, norms[0], rtol=1e-10)


def test_fitted_estimator_pickles_with_identical_predictions(backend):
    import pickle

    obs, _ = low_rank_problem(fraction=0.5)
    est = CPCompletion(rank=3, max_iter=30, backend=backend, random_state=0).fit(obs)
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(again.predict(obs), est.predict(obs))
    again.set_params(warm_start=True, max_iter=5).fit(obs)  # and it can keep training
    assert len(again.history_["loss"]) == est.n_iter_ + 5


def test_l2_reg_auto_keeps_the_strength_that_validates_best():
    obs, _ = low_rank_problem(fraction=0.3, noise=0.5, seed=2)
    est = CPCompletion(rank=6, l2_reg="auto", max_iter=300, n_iter_no_change=30, random_state=0).fit(obs)
    strengths, errors = zip(*est.l2_path_)
    assert len(strengths) >= 3 and strengths[0] == 0 < strengths[1] < strengths[2]  # weakest first
    assert est.l2_reg_ == strengths[int(np.argmin(errors))] > 0  # this noisy fit needs a ridge
    assert est.best_val_rmse_ == pytest.approx(min(errors), rel=1e-12)
    assert min(errors) < 0.95 * errors[0]
    # the path's first step is the ordinary fit without ridge, from the same start
    free = CPCompletion(rank=6, l2_reg=0.0, max_iter=300, n_iter_no_change=30, random_state=0).fit(obs)
    assert free.best_val_rmse_ == pytest.approx(errors[0], rel=1e-9)
    # a number still works, and "auto" without validation entries has nothing to choose on: 0
    assert CPCompletion(rank=2, l2_reg=1e-3, max_iter=5).fit(obs).l2_reg_ == 1e-3
    free = CPCompletion(rank=2, l2_reg="auto", early_stopping=False, max_iter=5).fit(obs)
    assert free.l2_reg_ == 0.0 and free.l2_path_ is None
    with pytest.raises(ValueError, match="l2_reg"):
        CPCompletion(rank=2, l2_reg="tuned", max_iter=5).fit(obs)


def test_ridge_reference_carries_the_data_units():
    from tensorly_das.estimators.ridge import reference_strength, search_strength

    rng = np.random.default_rng(0)
    cores = [rng.standard_normal((5, 3)) for _ in range(3)]
    base = reference_strength(cores, 2.0)
    s = 10.0  # data 10x larger: balanced cores 10^(1/3)x larger, the ridge scales as s^(2 - 2/3)
    assert reference_strength([c * s ** (1 / 3) for c in cores], 2.0 * s**2) == pytest.approx(base * s ** (4 / 3))
    # the search stops after two strengths in a row validate worse than the best
    errors = {0.0: 0.9, 0.01: 0.5, 0.03: 0.6, 0.1: 0.7, 0.3: 0.1, 1.0: 0.05}
    tried = []

    def fit_with(strength):
        tried.append(strength)
        return errors[round(strength, 6)], strength

    strength, outcome, path = search_strength(fit_with, 1.0)
    assert strength == outcome == 0.01 and tried == [0.0, 0.01, 0.03, 0.1] and len(path) == 4


def test_small_numpy_fits_use_one_blas_thread_and_restore_it(monkeypatch):
    from threadpoolctl import threadpool_info

    from tensorly_das import backend as backend_module

    np.ones((64, 64)) @ np.ones((64, 64))  # load the BLAS
    before = [pool["num_threads"] for pool in threadpool_info()]
    seen = []
    obs, _ = low_rank_problem(fraction=0.5)
    est = CPCompletion(rank=3, max_iter=3, l2_reg=0.0)
    monkeypatch.setattr(est, "_fit_l2", lambda *a, **k: (seen.append([p["num_threads"] for p in threadpool_info()]),
                                                         CPCompletion._fit_l2(est, *a, **k))[1])
    est.fit(obs)
    assert all(n == 1 for n in seen[0])
    assert [pool["num_threads"] for pool in threadpool_info()] == before
    monkeypatch.setattr(backend_module, "SMALL_WORK", 0)
    seen.clear()
    est.fit(obs)
    assert seen[0] == before


@requires_torch
def test_small_torch_fits_on_cpu_use_one_thread_and_restore_the_setting(monkeypatch):
    import torch

    from tensorly_das import backend as backend_module

    seen = []
    obs, _ = low_rank_problem(fraction=0.5)
    saved = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        est = CPCompletion(rank=3, backend="pytorch", max_iter=3, l2_reg=0.0)
        monkeypatch.setattr(est, "_fit_l2", lambda *a, **k: (seen.append(torch.get_num_threads()),
                                                             CPCompletion._fit_l2(est, *a, **k))[1])
        est.fit(obs)
        assert seen == [1]  # inside the fit
        assert torch.get_num_threads() == 2  # restored
        monkeypatch.setattr(backend_module, "SMALL_WORK", 0)  # a "large" fit keeps the threads
        seen.clear()
        est.fit(obs)
        assert seen == [2]
    finally:
        torch.set_num_threads(saved)


@pytest.mark.parametrize("cls", [td.CPCompletion, td.TuckerCompletion, td.TTCompletion])
def test_final_sweeps_are_block_least_squares_on_every_entry(cls):
    from tensorly_das.fit import fit_cores
    from tensorly_das.models import Batch
    from tensorly_das.updates import make_base_step, make_update

    obs, _ = low_rank_problem(fraction=0.4, noise=0.1, seed=3)
    rank = 3 if cls is td.CPCompletion else ((3, 3, 3) if cls is td.TuckerCompletion else (1, 3, 3, 1))
    params = dict(rank=rank, l2_reg=1e-3, max_iter=30, random_state=0)
    plain = cls(final_sweeps=0, **params).fit(obs)
    swept = cls(final_sweeps=2, **params).fit(obs)
    # the oracle: the same early-stopped cores, then two sweeps by hand on all entries
    cores = [np.array(c) for c in plain.cores_]
    batch = Batch.place(obs.indices, obs.values, "numpy", "cpu", "float64")
    fit_cores(plain.model_, cores, batch, make_update("plain", make_base_step("als", 0.05)),
              max_iter=2, n_iter_no_change=2, l2_reg=1e-3)
    for got, want in zip(swept.cores_, cores):
        np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-10)
    # the sweeps lower the error on all observed entries; the validated state's record is kept
    assert swept.score(obs) > plain.score(obs)
    assert swept.best_val_rmse_ == plain.best_val_rmse_ and swept.n_iter_ == plain.n_iter_


def test_final_sweeps_train_the_rows_seen_only_in_validation():
    obs, _ = low_rank_problem(fraction=0.5, seed=1)
    # the split depends on random_state only (a hash of each entry), so a subset keeps it
    seed = CPCompletion(rank=3, max_iter=20, random_state=0).fit(obs).validation_seed_
    train, val = obs.hash_split(0.1, seed)
    assert any(i[0] == 0 for i in val.indices), "the split must put some row-0 entries in validation"
    # drop row 0's training entries: row 0 is then seen only in validation
    drop = {tuple(i) for i in train.indices if i[0] == 0}
    keep = np.array([tuple(i) not in drop for i in obs.indices])
    sub = td.ObservedTensor(obs.indices[keep], obs.values[keep], obs.shape)
    with pytest.warns(td.starts.UnobservedSliceWarning):
        plain = CPCompletion(rank=3, max_iter=20, random_state=0, final_sweeps=0).fit(sub)
    with pytest.warns(td.starts.UnobservedSliceWarning):
        swept = CPCompletion(rank=3, max_iter=20, random_state=0, final_sweeps=1).fit(sub)
    # without the sweeps row 0 is filled with the mean of the others; with them it is solved
    np.testing.assert_allclose(plain.cores_[0][0], plain.cores_[0][1:].mean(0))
    assert not np.allclose(swept.cores_[0][0], swept.cores_[0][1:].mean(0))


@pytest.mark.parametrize("params, words", [
    ({"final_sweeps": 2, "solver": "adam"}, "needs solver='als'"),
    ({"final_sweeps": 2, "method": "das"}, "needs solver='als'"),
    ({"final_sweeps": 2, "early_stopping": False}, "early_stopping=False"),
    ({"final_sweeps": -1}, "final_sweeps"),
    ({"final_sweeps": "always"}, "final_sweeps"),
])
def test_final_sweeps_refuse_what_they_cannot_mean(params, words):
    obs, _ = low_rank_problem()
    with pytest.raises(ValueError, match=words):
        CPCompletion(rank=3, **params).fit(obs)


def test_final_sweeps_auto_are_two_with_block_least_squares_and_early_stopping_and_none_otherwise():
    obs, _ = low_rank_problem(fraction=0.4, noise=0.1, seed=3)
    params = dict(rank=3, max_iter=15, random_state=0)
    for ridge in ({}, {"l2_reg": 1e-3}):  # the ridge chosen by the path or given
        auto = CPCompletion(**params, **ridge).fit(obs)
        assert auto.final_sweeps == "auto" and auto.final_sweeps_ == 2
        np.testing.assert_allclose(auto.cores_[0], CPCompletion(final_sweeps=2, **params, **ridge).fit(obs).cores_[0])
        assert not np.allclose(auto.cores_[0], CPCompletion(final_sweeps=0, **params, **ridge).fit(obs).cores_[0])
    for other in ({"solver": "adam"}, {"method": "das"}, {"early_stopping": False}):
        est = CPCompletion(**params, **other).fit(obs)  # no error: "auto" is 0 there
        assert est.final_sweeps_ == 0
        np.testing.assert_allclose(est.cores_[0], CPCompletion(final_sweeps=0, **params, **other).fit(obs).cores_[0])


def test_final_sweeps_auto_skip_a_fit_that_was_overfitting_when_it_stopped():
    from tensorly_das.estimators.base import OVERFIT_RISE

    # noisy, over-ranked and without ridge: the validation error rises once the fit goes on
    obs, _ = low_rank_problem(fraction=0.3, noise=0.5, seed=2)
    params = dict(rank=8, l2_reg=0.0, random_state=0)
    est = CPCompletion(**params).fit(obs)
    val = np.array(est.history_["val_rmse"])
    assert val[-1] > OVERFIT_RISE * est.best_val_rmse_ and est.final_sweeps_ == 0
    np.testing.assert_allclose(est.cores_[0], CPCompletion(final_sweeps=0, **params).fit(obs).cores_[0])
    assert CPCompletion(final_sweeps=1, **params).fit(obs).final_sweeps_ == 1  # a number is kept
