"""Hostile inputs, divergence, persistence and determinism, for every estimator and backend.

The battery is a table: each case builds its inputs, names the exception type and the words
its message must contain, and runs against CP, Tucker, TT and TR on NumPy and torch. Every
case also checks that the caller's arrays are untouched and that nothing was fitted.
"""

import copy
import io
import itertools
import pickle
import warnings

import numpy as np
import pytest

import tensorly_das as td

from .conftest import BACKENDS, HAS_CUDA, low_rank_problem, requires_torch

SHAPE = (4, 5, 6)
#: estimator class and a valid rank for a 3-way tensor of SHAPE
ESTIMATORS = {
    "cp": (td.CPCompletion, 2),
    "tucker": (td.TuckerCompletion, (2, 2, 2)),
    "tt": (td.TTCompletion, (1, 2, 2, 1)),
    "tr": (td.TRCompletion, (2, 2, 2, 2)),
}
#: a rank of the right type but an impossible size or form, per model
IMPOSSIBLE_RANKS = {
    "cp": [(2, 2, 2)],  # CP takes one int
    "tucker": [(5, 2, 2), (2, 2)],  # larger than mode 0 (size 4); wrong length
    "tt": [(2, 2, 2, 2), (1, 2, 1)],  # end ranks must be 1; wrong length
    "tr": [(2, 2, 2, 3), (2, 2)],  # ends must be equal; wrong length
}


def _idx():
    return np.array([[0, 0, 0], [1, 2, 3], [3, 4, 5], [2, 1, 0], [3, 0, 5], [0, 4, 1]])


def _val():
    return np.array([0.5, -1.0, 2.0, 1.5, 0.25, -0.75])


def _dense():
    X = np.full(SHAPE, np.nan)
    X[tuple(_idx().T)] = _val()
    return X


def _coo(**changes):
    """fit arguments (X=indices, y=values) with some replaced."""
    return {"X": _idx(), "y": _val(), **changes}


def _with(array, position, value, dtype=None):
    out = np.array(array, dtype=dtype)
    out[position] = value
    return out


# id: (fit arguments, estimator parameters, exception type, words in the message)
FIT_CASES = {
    # values
    "value-nan": (_coo(y=_with(_val(), 1, np.nan)), {}, ValueError, "finite"),
    "value-inf": (_coo(y=_with(_val(), 2, np.inf)), {}, ValueError, "finite"),
    "value-neg-inf": (_coo(y=_with(_val(), 0, -np.inf)), {}, ValueError, "finite"),
    "values-object": (_coo(y=np.array([1, 2, 3, 4, 5, "a"], dtype=object)), {}, TypeError, "real numbers"),
    "values-str": (_coo(y=np.array(list("123456"))), {}, TypeError, "real numbers"),
    "values-bool": (_coo(y=np.ones(6, bool)), {}, TypeError, "boolean"),
    "values-complex": (_coo(y=_val() + 1j), {}, TypeError, "complex"),
    "values-2d": (_coo(y=_val()[:, None]), {}, ValueError, "1-D"),
    "length-mismatch": (_coo(y=_val()[:4]), {}, ValueError, "6 rows but values have 4"),
    # indices
    "index-negative": (_coo(X=_with(_idx(), (1, 0), -1)), {}, ValueError, "non-negative"),
    "index-out-of-range": (_coo(), {"shape": (3, 5, 6)}, ValueError, "out of range"),
    "index-fractional": (_coo(X=_idx() + 0.5), {}, TypeError, "integers"),
    "index-nan": (_coo(X=_with(_idx(), (0, 0), np.nan, float)), {}, TypeError, "integers"),
    "index-1d": (_coo(X=np.arange(6)), {}, ValueError, "2-D"),
    "index-3d": (_coo(X=_idx()[None]), {}, ValueError, "2-D"),
    "index-bool": (_coo(X=_idx() > 0), {}, TypeError, "boolean"),
    "index-str": (_coo(X=_idx().astype(str)), {}, TypeError, "integers"),
    "index-object": (_coo(X=_idx().astype(object)), {}, TypeError, "integers"),
    "index-complex": (_coo(X=_idx() + 0j), {}, TypeError, "complex"),
    "index-ragged": (_coo(X=[[0, 0, 0], [1, 2]], y=[1.0, 2.0]), {}, ValueError, "ragged"),
    "duplicate-entries": (_coo(X=_with(_idx(), 1, [0, 0, 0])), {}, ValueError, "duplicate"),
    "shape-fewer-modes": (_coo(), {"shape": (4, 5)}, ValueError, "3 columns"),
    "shape-zero-mode": (_coo(), {"shape": (4, 0, 6)}, ValueError, ">= 1"),
    "shape-not-integers": (_coo(), {"shape": (4, 5, 6.5)}, TypeError, "integers"),
    # empty data
    "empty-coordinates": (_coo(X=np.zeros((0, 3), int), y=np.zeros(0)), {"shape": SHAPE}, ValueError, "no observed"),
    "empty-dense": ({"X": np.zeros((0, 5, 6))}, {}, ValueError, "non-empty"),
    "all-missing-dense": ({"X": np.full(SHAPE, np.nan)}, {}, ValueError, "no observed"),
    "all-false-mask": ({"X": np.ones(SHAPE), "mask": np.zeros(SHAPE, bool)}, {}, ValueError, "no observed"),
    "single-entry-early-stopping": (_coo(X=_idx()[:1], y=_val()[:1]), {"shape": SHAPE}, ValueError, "early_stopping"),
    "X-none": ({"X": None}, {}, ValueError, "X=None"),
    "X-scalar": ({"X": 3.0}, {}, ValueError, "non-empty"),
    # dense arrays
    "dense-order-1": ({"X": np.array([1.0, np.nan, 2.0])}, {}, ValueError, "order >= 2"),
    "dense-inf": ({"X": _with(_dense(), (0, 0, 0), np.inf)}, {}, ValueError, "inf"),
    "dense-str": ({"X": np.full(SHAPE, "a")}, {}, TypeError, "real numbers"),
    "dense-bool": ({"X": np.ones(SHAPE, bool)}, {}, TypeError, "boolean"),
    "dense-complex": ({"X": np.ones(SHAPE, complex)}, {}, TypeError, "complex"),
    "dense-ragged": ({"X": [[1.0, 2.0], [3.0]]}, {}, ValueError, "ragged"),
    "mask-wrong-shape": ({"X": np.ones(SHAPE), "mask": np.ones((4, 5), bool)}, {}, ValueError, "mask has shape"),
    "mask-not-bool": ({"X": np.ones(SHAPE), "mask": np.ones(SHAPE)}, {}, TypeError, "boolean"),
    "mask-with-nan-observed": ({"X": _dense(), "mask": np.ones(SHAPE, bool)}, {}, ValueError, "finite"),
    # ranks
    "rank-str": (_coo(), {"rank": "2"}, TypeError, "rank"),
    "rank-float": (_coo(), {"rank": 2.5}, TypeError, "rank"),
    "rank-bool": (_coo(), {"rank": True}, TypeError, "rank"),
    "rank-zero": (_coo(), {"rank": 0}, ValueError, ">= 1"),
    "rank-negative": (_coo(), {"rank": -3}, ValueError, ">= 1"),
    "rank-none": (_coo(), {"rank": None}, TypeError, "rank"),
    # parameters: unknown names, wrong types, impossible values
    "unknown-method": (_coo(), {"method": "adam"}, ValueError, "'method' parameter .* among"),
    "unknown-solver": (_coo(), {"solver": "lbfgs"}, ValueError, "'solver' parameter .* among"),
    "unknown-backend": (_coo(), {"backend": "jax"}, ValueError, "backend"),
    "unknown-init": (_coo(), {"init": "svd"}, ValueError, "init"),
    "unknown-alpha-schedule": (_coo(), {"das_alpha_schedule": "step"}, ValueError, "das_alpha_schedule"),
    "unknown-das-denominator": (_coo(), {"das_denominator": "cube"}, ValueError, "das_denominator"),
    "unknown-das-deviation": (_coo(), {"das_deviation": "abs"}, ValueError, "das_deviation"),
    "unknown-dtype": (_coo(), {"dtype": "float16"}, ValueError, "dtype"),
    "lr-negative": (_coo(), {"lr": -0.1}, ValueError, "'lr' parameter .* range \\(0.0, inf\\). Got -0.1"),
    "lr-inf": (_coo(), {"lr": np.inf}, ValueError, "'lr' parameter .* finite float"),
    "alpha-nan": (_coo(), {"das_alpha": np.nan}, ValueError, "'das_alpha' parameter .* finite float"),
    "deprecated-alpha-nan": (_coo(), {"alpha": np.nan}, ValueError, "'alpha' parameter .* finite float"),
    "max-iter-float": (_coo(), {"max_iter": 2.5}, TypeError, "max_iter"),
    "tol-negative": (_coo(), {"tol": -1.0}, ValueError, "tol"),
    "validation-fraction-zero": (_coo(), {"validation_fraction": 0.0}, ValueError, "validation_fraction"),
    "batch-size-zero": (_coo(), {"batch_size": 0}, ValueError, "batch_size"),
    "n-init-zero": (_coo(), {"n_init": 0}, ValueError, "n_init"),
    "l2-reg-negative": (_coo(), {"l2_reg": -1e-3}, ValueError, "l2_reg"),
    "das-max-scale-too-big": (_coo(), {"das_max_scale": 2.0}, ValueError, "das_max_scale"),
    "flag-not-bool": (_coo(), {"early_stopping": "yes"}, TypeError, "'early_stopping' parameter .* 'bool'"),
    "max-iter-bool": (_coo(), {"max_iter": True}, TypeError, "'max_iter' parameter .* int"),
    "random-state-str": (_coo(), {"random_state": "seed"}, TypeError, "random_state"),
    "init-wrong-shapes": (_coo(), {"init": [np.ones((2, 2))]}, ValueError, "initial"),
    # the data's scale, the machine's memory, the address space, devices without data
    "values-overflow-float64": (_coo(y=_with(_val(), 3, 1e200)), {}, ValueError, "too large .* rescale"),
    "values-overflow-float32": (_coo(y=_with(_val(), 3, 1e39)), {"dtype": "float32"}, ValueError, "float32"),
    "shape-beyond-int64": (_coo(), {"shape": (2**70, 5, 6)}, ValueError, "2\\*\\*63"),
    "memory-over-max-memory": (_coo(), {"max_memory": 1000}, MemoryError, "needs about .* max_memory"),
    "memory-over-available": (_coo(), {"shape": (10**13, 5, 6)}, MemoryError, "available memory"),
    "max-memory-not-a-size": (_coo(), {"max_memory": "lots"}, ValueError, "max_memory"),
    "device-meta": (_coo(), {"device": "meta"}, ValueError, "device"),
}


def _fit_case_ids():
    return [(case, model) for case in FIT_CASES for model in ESTIMATORS]


def _snapshot(args):
    return copy.deepcopy(args)


def _assert_unchanged(before, after):
    assert before.keys() == after.keys()
    for key in before:
        a, b = before[key], after[key]
        if isinstance(a, np.ndarray):
            assert a.dtype == b.dtype and a.shape == b.shape
            assert np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"), f"{key} was modified"
        else:
            assert a == b or (a is None and b is None), f"{key} was modified"


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case, model", _fit_case_ids())
def test_hostile_fit_input_is_refused_clearly(case, model, backend):
    args, params, exc, words = FIT_CASES[case]
    cls, rank = ESTIMATORS[model]
    args = {k: (np.copy(v) if isinstance(v, np.ndarray) else copy.deepcopy(v)) for k, v in args.items()}
    before = _snapshot(args)
    est = cls(**{"rank": rank, "max_iter": 3, "backend": backend, "random_state": 0, **params})
    with pytest.raises(exc, match=words):
        est.fit(args["X"], args.get("y"), mask=args.get("mask"))
    assert not hasattr(est, "cores_"), "a refused fit must not leave a fitted state"
    _assert_unchanged(before, args)


@pytest.mark.parametrize("model", list(ESTIMATORS))
def test_impossible_ranks_are_refused(model):
    cls, _ = ESTIMATORS[model]
    for rank in IMPOSSIBLE_RANKS[model]:
        with pytest.raises((ValueError, TypeError), match="rank"):
            cls(rank=rank, max_iter=2).fit(_idx(), _val())


def test_caller_arrays_are_not_mutated_by_any_estimator(backend):
    X = _dense()
    mask = ~np.isnan(X)
    idx, val = _idx(), _val()
    saved = [a.copy() for a in (X, mask, idx, val)]
    for cls, rank in ESTIMATORS.values():
        kw = {"rank": rank, "max_iter": 5, "backend": backend, "random_state": 0}
        cls(**kw).fit(X)
        est = cls(**kw).fit(np.nan_to_num(X), mask=mask)
        cls(**kw).fit(idx, val)
        est.predict(idx)
        est.score(idx, val)
    for a, b in zip(saved, (X, mask, idx, val)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("model", list(ESTIMATORS))
def test_refused_refit_keeps_the_fitted_state(model, backend):
    cls, rank = ESTIMATORS[model]
    est = cls(rank=rank, max_iter=20, backend=backend, random_state=0).fit(_idx(), _val())
    before = est.predict(_idx())
    with pytest.raises(ValueError, match="finite"):
        est.fit(_idx(), _with(_val(), 0, np.nan))
    with pytest.raises(ValueError, match="method"):
        est.set_params(method="newton").fit(_idx(), _val())
    np.testing.assert_array_equal(est.predict(_idx()), before)


# id: (call on a fitted estimator, exception type, words)
PREDICT_CASES = {
    "out-of-range": (lambda e: e.predict([[4, 0, 0]]), ValueError, "out of range"),
    "negative": (lambda e: e.predict([[0, -1, 0]]), ValueError, "index -1 in mode 1"),
    "wrong-columns": (lambda e: e.predict([[0, 0]]), ValueError, "columns"),
    "fractional": (lambda e: e.predict([[0.5, 0, 0]]), TypeError, "integers"),
    "none": (lambda e: e.predict(None), TypeError, "integers"),
    "ragged": (lambda e: e.predict([[0, 0, 0], [1]]), ValueError, "ragged"),
    "score-length-mismatch": (lambda e: e.score(_idx(), _val()[:3]), ValueError, "values have 3"),
    "score-nan-values": (lambda e: e.score(_idx(), _with(_val(), 0, np.nan)), ValueError, "finite"),
    "score-without-values": (lambda e: e.score(_idx()), ValueError, "needs values"),
}


@pytest.mark.parametrize("case", list(PREDICT_CASES))
@pytest.mark.parametrize("model", list(ESTIMATORS))
def test_hostile_predict_input_is_refused(model, case, backend):
    cls, rank = ESTIMATORS[model]
    est = cls(rank=rank, max_iter=5, backend=backend, random_state=0).fit(_idx(), _val())
    call, exc, words = PREDICT_CASES[case]
    with pytest.raises(exc, match=words):
        call(est)


@pytest.mark.parametrize("model", list(ESTIMATORS))
def test_not_fitted_is_named(model):
    cls, rank = ESTIMATORS[model]
    from sklearn.exceptions import NotFittedError

    calls = (lambda e: e.predict(_idx()), lambda e: e.transform(_dense()), lambda e: e.reconstruct(),
             lambda e: e.score(_idx(), _val()))
    for call in calls:
        with pytest.raises(NotFittedError, match="not fitted"):
            call(cls(rank=rank))


@pytest.mark.parametrize("model", list(ESTIMATORS))
def test_huge_shape_transform_refuses_and_predict_works_in_chunks(model, monkeypatch):
    import tensorly_das.models.base as base

    monkeypatch.setattr(base, "CHUNK_SIZE", 2)  # several chunks even for a few entries
    cls, rank = ESTIMATORS[model]
    shape = (100_000, 100_000, 100_000)
    est = cls(rank=rank, shape=shape, early_stopping=False, max_iter=3, random_state=0)
    idx = np.array([[0, 0, 0], [99_999, 99_999, 99_999], [5, 6, 7], [7, 8, 9], [1, 1, 1]])
    est.fit(idx, np.arange(5.0))
    with pytest.raises(MemoryError, match="above the limit"):
        est.reconstruct()
    pred = est.predict(idx)
    assert pred.shape == (5,) and np.all(np.isfinite(pred))
    # the chunked prediction equals the decomposition evaluated entry by entry
    single = [est.predict(idx[i : i + 1])[0] for i in range(len(idx))]
    np.testing.assert_allclose(pred, single, rtol=1e-12)


# ---------------------------------------------------------------------------------- divergence


@pytest.mark.parametrize("model", list(ESTIMATORS))
@pytest.mark.parametrize("method", ["plain", "sam", "das"])
def test_divergence_stops_restores_and_names_the_iteration(model, method, backend):
    obs, _ = low_rank_problem(shape=(6, 5, 4), fraction=0.6)
    cls, rank = ESTIMATORS[model]
    est = cls(rank=rank, solver="sgd", lr=1e8, method=method, max_iter=200, backend=backend, random_state=0)
    with pytest.raises(td.DivergenceError, match=r"iteration \d+.*(lr|learning rate)") as info:
        est.fit(obs)
    # the error carries the restored (finite) cores; the estimator stays unfitted
    assert all(np.all(np.isfinite(td.backend.to_numpy(c))) for c in info.value.cores)
    assert not hasattr(est, "cores_")


# ---------------------------------------------------------------------------------- persistence


@pytest.mark.parametrize("model", list(ESTIMATORS))
def test_pickle_round_trip_and_warm_start_continue(model, backend):
    obs, _ = low_rank_problem(shape=(6, 5, 4), fraction=0.6)
    cls, rank = ESTIMATORS[model]
    est = cls(rank=rank, max_iter=30, n_iter_no_change=30, backend=backend, random_state=0).fit(obs)
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(again.predict(obs), est.predict(obs))
    # continuing the unpickled fit equals continuing the original one
    first = len(est.history_["loss"])
    est.set_params(warm_start=True, max_iter=10).fit(obs)
    again.set_params(warm_start=True, max_iter=10).fit(obs)
    assert len(again.history_["loss"]) == len(est.history_["loss"]) > first
    np.testing.assert_allclose(again.predict(obs), est.predict(obs), rtol=1e-12)


def _tag_storages_as_cuda():
    """Make torch.save label CPU storages as ``cuda:0``, as on a GPU machine; returns an undo."""
    import torch.serialization as ser

    def tagger(obj):
        return "cuda:0" if getattr(obj, "device", None) is not None and obj.device.type == "cpu" else None

    entry = (-100, tagger, lambda obj, location: None)
    ser._package_registry.append(entry)
    ser._package_registry.sort(key=lambda e: e[0])
    return lambda: ser._package_registry.remove(entry)


@requires_torch
@pytest.mark.skipif(HAS_CUDA, reason="checks the CPU-only machine's side")
def test_cuda_fitted_state_loads_on_a_cpu_only_machine():
    import torch

    obs, _ = low_rank_problem(shape=(6, 5, 4), fraction=0.6)
    est = td.TuckerCompletion(rank=2, max_iter=10, backend="pytorch", random_state=0).fit(obs)
    expected = est.predict(obs)
    est.device_ = "cuda"  # what a fit on a GPU records
    undo = _tag_storages_as_cuda()
    try:
        blob = pickle.dumps(est)
        tensors = est.__getstate__()["_torch_state"]
    finally:
        undo()
    with pytest.raises(RuntimeError, match="CUDA"):  # the tensors really are marked as CUDA ones
        torch.load(io.BytesIO(tensors), weights_only=False)
    with pytest.warns(UserWarning, match="fitted on cuda"):
        again = pickle.loads(blob)
    assert again.device_ == "cpu" and again.cores_[0].device.type == "cpu"
    np.testing.assert_array_equal(again.predict(obs), expected)
    again.set_params(device="cpu", warm_start=True, max_iter=3).fit(obs)  # and training continues
    assert again.n_iter_ == 3


@requires_torch
@pytest.mark.skipif(not HAS_CUDA, reason="CUDA not available")
def test_cuda_fitted_state_round_trips_on_cuda():
    obs, _ = low_rank_problem(shape=(6, 5, 4), fraction=0.6)
    est = td.CPCompletion(rank=2, max_iter=10, backend="pytorch", device="cuda", random_state=0).fit(obs)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = pickle.loads(pickle.dumps(est))
    assert again.cores_[0].device.type == "cuda"
    np.testing.assert_array_equal(again.predict(obs), est.predict(obs))


def test_numpy_pickle_never_imports_torch():
    import subprocess
    import sys

    code = (
        "import pickle, sys, numpy as np, tensorly_das as td\n"
        "e = td.CPCompletion(rank=2, max_iter=3).fit(np.arange(6)[:, None] % [3, 2], np.ones(6))\n"
        "pickle.loads(pickle.dumps(e))\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------------------------- determinism


@pytest.mark.parametrize("model", list(ESTIMATORS))
@pytest.mark.parametrize("method", ["plain", "sam", "das"])
def test_same_random_state_gives_identical_results(model, method, backend):
    obs, _ = low_rank_problem(shape=(6, 5, 4), fraction=0.6)
    cls, rank = ESTIMATORS[model]
    kw = {"rank": rank, "method": method, "max_iter": 25, "batch_size": 30, "n_init": 2,
          "backend": backend, "random_state": 3}
    a, b = cls(**kw).fit(obs), cls(**kw).fit(obs)
    for ca, cb in zip(a.cores_, b.cores_):
        np.testing.assert_array_equal(np.asarray(ca), np.asarray(cb))  # bit-identical
    assert a.history_["loss"] == b.history_["loss"]
    c = cls(**{**kw, "random_state": 4}).fit(obs)
    assert not np.array_equal(np.asarray(a.cores_[-1]), np.asarray(c.cores_[-1]))


@pytest.mark.parametrize("deviation", ["paper", "relative"])
def test_das_with_all_zero_gradients_leaves_the_cores_unchanged(deviation):
    from tensorly_das.updates import das_scale_factors

    cores = [np.full((3, 2), 2.0), np.ones((4, 2))]
    lam = das_scale_factors(cores, [np.zeros((3, 2)), np.zeros((4, 2))], 0.1, 5.0, deviation=deviation)
    np.testing.assert_array_equal(lam, 0.0)
    torch = pytest.importorskip("torch")
    from tensorly_das.torch import DAS

    params = [torch.nn.Parameter(torch.tensor(c)) for c in cores]
    opt = DAS([{"params": params, "tensorized": True}], lr=0.1, alpha=5.0, alpha_schedule="constant",
              deviation=deviation)
    for p in params:
        p.grad = torch.zeros_like(p)
    for _ in range(20):
        opt.step()
    for p, c in zip(params, cores):
        np.testing.assert_array_equal(p.detach().numpy(), c)


def test_masked_array_entries_count_as_missing():
    X = _dense()
    hidden = np.isnan(X)
    masked = np.ma.MaskedArray(np.where(hidden, 1e6, X), mask=hidden)  # placeholders under the mask
    obs = td.ObservedTensor.from_dense(masked)
    np.testing.assert_array_equal(np.sort(obs.values), np.sort(_val()))
    est = td.CPCompletion(rank=2, max_iter=20, random_state=0).fit(masked)
    assert np.abs(est.predict(obs)).max() < 100  # the 1e6 placeholders were not fitted


def test_a_finite_blow_up_stops_with_the_best_state_restored():
    obs, _ = low_rank_problem(fraction=0.5)
    est = td.CPCompletion(rank=2, solver="adam", lr=1e6, early_stopping=False, max_iter=200, random_state=0)
    with pytest.raises(td.DivergenceError, match="grew to .* times its value when this fit started") as info:
        est.fit(obs)
    assert not hasattr(est, "cores_")  # nothing fitted, nothing mixed
    model = td.CPCompletion(rank=2)._model_class(obs.shape, 2)
    residual = model.predict(info.value.cores, [obs.indices[:, n].copy() for n in range(3)]) - obs.values
    assert np.sqrt(np.mean(residual**2)) < 10 * np.abs(obs.values).max()


def test_a_diverged_refit_leaves_the_previous_fit_untouched(backend):
    obs, _ = low_rank_problem(fraction=0.5)
    est = td.CPCompletion(rank=2, max_iter=50, backend=backend, random_state=0).fit(obs)
    before = {k: copy.deepcopy(getattr(est, k)) for k in ("train_rmse_", "n_iter_", "history_")}
    cores = [np.array(td.backend.to_numpy(c)) for c in est.cores_]
    with pytest.raises(td.DivergenceError):
        est.set_params(solver="sgd", lr=1e9).fit(obs)
    for a, b in zip(cores, est.cores_):
        np.testing.assert_array_equal(a, td.backend.to_numpy(b))
    assert all(before[k] == getattr(est, k) for k in before)


def test_n_init_keeps_the_finite_starts_and_reports_the_diverged(monkeypatch):
    from tensorly_das.estimators import base

    obs, _ = low_rank_problem(fraction=0.5)
    calls = []
    real = base.fit_cores

    def second_start_diverges(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise td.DivergenceError("the training loss became nan at iteration 3")
        return real(*args, **kwargs)

    monkeypatch.setattr(base, "fit_cores", second_start_diverges)
    with pytest.warns(UserWarning, match="1 of 3 starts diverged and were dropped"):
        est = td.CPCompletion(rank=3, n_init=3, max_iter=30, random_state=0).fit(obs)
    assert np.all(np.isfinite(est.predict(obs)))
    monkeypatch.setattr(base, "fit_cores", lambda *a, **k: (_ for _ in ()).throw(td.DivergenceError("boom")))
    with pytest.raises(td.DivergenceError, match="all 2 starts diverged"):
        td.CPCompletion(rank=3, n_init=2, max_iter=5).fit(obs)


def test_an_interrupted_warm_fit_leaves_the_optimizer_state_of_the_stored_cores(monkeypatch):
    obs, _ = low_rank_problem(fraction=0.5)
    est = td.CPCompletion(rank=3, method="das", max_iter=20, random_state=0).fit(obs)
    steps_before = est.update_.base._t
    from tensorly_das.updates import rules

    real_step = rules.DASUpdate.step
    count = []

    def interrupted(self, *args, **kwargs):
        count.append(1)
        if len(count) > 5:
            raise KeyboardInterrupt
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(rules.DASUpdate, "step", interrupted)
    with pytest.raises(KeyboardInterrupt):
        est.set_params(warm_start=True, max_iter=50).fit(obs)
    assert est.update_.base._t == steps_before and len(est.history_["loss"]) == est.n_iter_ == 20


@requires_torch
def test_warm_start_survives_a_backend_change():
    obs, _ = low_rank_problem(fraction=0.5)
    # no ridge path: its steps stop sooner (a quarter of the patience), this counts max_iter passes
    est = td.CPCompletion(rank=3, max_iter=20, l2_reg=0.0, random_state=0).fit(obs)
    est.set_params(warm_start=True, backend="pytorch").fit(obs)
    assert len(est.history_["loss"]) == 40 and est.backend_ == "pytorch"
    est.set_params(backend="numpy").fit(obs)
    assert len(est.history_["loss"]) == 60 and isinstance(est.cores_[0], np.ndarray)


# -- cost that grows with the observations, not the mode sizes ---------------------------------


def _sparse_rows_problem(shape=(30, 40, 50), seen=(12, 15, 20), nnz=400, seed=0):
    """Observations on a few rows of each mode of a large tensor, and the same data compacted."""
    rng = np.random.default_rng(seed)
    rows = [np.sort(rng.choice(size, k, replace=False)) for size, k in zip(shape, seen)]
    small = np.unique(np.column_stack([rng.integers(0, k, nnz) for k in seen]), axis=0)
    full = np.column_stack([r[small[:, n]] for n, r in enumerate(rows)])
    values = rng.standard_normal(len(small))
    return td.ObservedTensor(full, values, shape=shape), td.ObservedTensor(small, values, shape=seen), rows


@pytest.mark.parametrize("model", list(ESTIMATORS))
@pytest.mark.parametrize("backend", BACKENDS)
def test_rows_without_observations_are_left_out_of_the_fit_exactly(model, backend):
    big, small, rows = _sparse_rows_problem()
    cls, rank = ESTIMATORS[model]
    spec = cls(rank=rank)._model_class(big.shape, rank)
    start = spec.init_cores(np.random.default_rng(1), 1.0)
    small_start = [c.copy() for c in start]
    for n, (k, axis) in enumerate(spec.mode_axes()):
        small_start[k] = np.take(small_start[k], rows[n], axis=axis)
    kw = dict(rank=rank, method="plain", max_iter=15, random_state=0, backend=backend, early_stopping=False)
    a = cls(init=start, **kw).fit(big)
    b = cls(init=small_start, **kw).fit(small)
    for n, (k, axis) in enumerate(spec.mode_axes()):
        fitted = np.take(td.backend.to_numpy(a.cores_[k]), rows[n], axis=axis)
        # the observed rows took the steps of a fit of the compacted tensor
        np.testing.assert_allclose(fitted, td.backend.to_numpy(b.cores_[k]), rtol=1e-9, atol=1e-12)
        others = np.setdiff1d(np.arange(big.shape[n]), rows[n])
        # given cores: the rows without observations keep their given values
        np.testing.assert_array_equal(np.take(td.backend.to_numpy(a.cores_[k]), others, axis=axis),
                                      np.take(start[k], others, axis=axis))
    np.testing.assert_allclose(a.predict(big), b.predict(small), rtol=1e-9, atol=1e-12)
    assert a.train_rmse_ == pytest.approx(b.train_rmse_, rel=1e-9)


@pytest.mark.parametrize("model", list(ESTIMATORS))
def test_rows_without_training_entries_predict_the_mean_slice(model):
    big, _, rows = _sparse_rows_problem()
    cls, rank = ESTIMATORS[model]
    with pytest.warns(td.starts.UnobservedSliceWarning):
        est = cls(rank=rank, max_iter=30, random_state=0, early_stopping=False).fit(big)
    for n, (k, axis) in enumerate(est.model_.mode_axes()):
        core = np.moveaxis(est.cores_[k], axis, 0)
        others = np.setdiff1d(np.arange(big.shape[n]), rows[n])
        np.testing.assert_allclose(core[others], np.broadcast_to(core[rows[n]].mean(0), core[others].shape),
                                   rtol=1e-12, atol=1e-12)


def test_optimizer_state_covers_only_the_observed_rows():
    rng = np.random.default_rng(0)
    idx = np.unique(rng.integers(0, 10**6, size=(100, 3)), axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = td.CPCompletion(rank=5, method="plain", solver="adam", max_iter=5, random_state=0, shape=(10**6,) * 3)
        est.fit(idx, rng.standard_normal(len(idx)))
    moments = est.update_.base._m
    assert est.cores_[0].shape == (10**6, 5)  # the result is a full CPTensor
    assert all(m.shape[0] <= len(idx) for m in moments)  # Adam's state: observed rows only
    # a warm fit on other rows cannot reuse that state: it starts a fresh one
    other = np.unique(rng.integers(0, 10**6, size=(100, 3)), axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.set_params(warm_start=True).fit(other, rng.standard_normal(len(other)))
    assert est.update_.base._t == 5


def test_memory_estimate_bounds_the_measured_peak():
    import tracemalloc

    from tensorly_das.budget import estimate_fit_memory

    cases = [
        (td.CPCompletion, 4, (4000, 3000, 2000), 2000),  # the cores dominate
        (td.CPCompletion, 4, (60, 60, 60), 60_000),  # the observations dominate
        (td.TuckerCompletion, (4, 4, 4), (60, 60, 60), 60_000),
        # a core wider than EXACT_WIDTH: conjugate gradients, their Kronecker rows kept
        (td.TuckerCompletion, (9, 8, 8), (40, 40, 40), 30_000),
        (td.TTCompletion, (1, 4, 4, 1), (60, 60, 60), 60_000),
        (td.TRCompletion, (3, 3, 3, 3), (60, 60, 60), 60_000),
    ]
    for (cls, rank, shape, nnz), solver in itertools.product(cases, ("als", "adam")):
        rng = np.random.default_rng(0)
        idx = np.unique(np.column_stack([rng.integers(0, s, nnz) for s in shape]), axis=0)
        values = rng.standard_normal(len(idx))
        est = cls(rank=rank, max_iter=3, random_state=0, solver=solver)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tracemalloc.start()
            est.fit(idx, values)
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        estimate = estimate_fit_memory(est.model_, len(idx), solver=est.solver_)
        assert peak <= estimate <= 10 * peak, (cls.__name__, shape, peak, estimate)


def test_a_small_file_that_expands_past_the_budget_is_refused_from_its_header(tmp_path, capsys):
    import zipfile

    from tensorly_das.cli import main

    path = tmp_path / "crafted.npz"
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (10**7, 10**6)})
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("dense.npy", header.getvalue() + b"\0" * 4096)  # 80 TB claimed, 4 KB stored
    assert path.stat().st_size < 10_000
    code = main(["fit", str(path), "-o", str(tmp_path / "out.npz")])
    err = capsys.readouterr().err
    assert code == 2 and "expand to 80 TB" in err and len(err.strip().splitlines()) == 1
    obs, _ = low_rank_problem(fraction=0.6)  # an honest file, over a budget given by hand
    np.savez(tmp_path / "x.npz", indices=obs.indices, values=obs.values)
    code = main(["fit", str(tmp_path / "x.npz"), "--max-memory", "1KB", "-o", str(tmp_path / "out.npz")])
    assert code == 2 and "more than max_memory (1 KB)" in capsys.readouterr().err


@requires_torch
def test_unpickling_a_torch_fit_without_torch_names_the_cause(tmp_path):
    import subprocess
    import sys

    obs, _ = low_rank_problem(fraction=0.5)
    est = td.CPCompletion(rank=2, max_iter=3, backend="pytorch", random_state=0).fit(obs)
    path = tmp_path / "est.pkl"
    path.write_bytes(pickle.dumps(est))
    script = ("import pickle, sys\n"
              "class NoTorch:  # a machine without torch: importing it fails\n"
              "    def find_spec(self, name, path, target=None):\n"
              "        if name.split('.')[0] == 'torch':\n"
              "            raise ImportError(\"No module named 'torch'\")\n"
              "sys.meta_path.insert(0, NoTorch())\n"
              f"try:\n    pickle.loads(open({str(path)!r}, 'rb').read())\n"
              "except ImportError as err:\n    print('ImportError:', err)\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120).stdout
    assert "ImportError" in out and "backend='pytorch'" in out and "tensorly_das[torch]" in out, out
