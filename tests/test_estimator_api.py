"""The estimators' public conventions: keyword-only parameters, renamed parameters, the input
forms of every method, the imputer's transform, dtype, the function forms."""

import warnings

import numpy as np
import pytest
import tensorly as tl
from sklearn.exceptions import NotFittedError

import tensorly_das as td

from .conftest import BACKENDS, low_rank_problem

FORMS = ["observed", "dense-nan", "dense-mask", "indices-values", "scipy-sparse"]


def _form(obs, form):
    """``obs`` as (args, kwargs) of one input form every method takes."""
    if form == "observed":
        return (obs,), {}
    if form == "dense-nan":
        return (obs.to_dense(),), {}
    if form == "dense-mask":
        dense = obs.to_dense(fill_value=0.0)
        mask = np.zeros(obs.shape, bool)
        mask[tuple(obs.indices.T)] = True
        return (dense,), {"mask": mask}
    if form == "indices-values":
        return (obs.indices, obs.values), {}
    if form == "scipy-sparse":
        import scipy.sparse

        return (scipy.sparse.coo_array((obs.values, tuple(obs.indices.T)), shape=obs.shape),), {}
    raise AssertionError(form)


@pytest.fixture(scope="module")
def fitted():
    obs, truth = low_rank_problem(shape=(9, 8), rank=2, fraction=0.6)
    train, test = obs.split(0.3, random_state=0)
    est = td.CPCompletion(2, max_iter=300, random_state=0).fit(train)
    return est, train, test, truth


def test_only_rank_is_positional():
    with pytest.raises(TypeError):
        td.CPCompletion(3, "plain")
    assert td.TuckerCompletion((2, 2, 2), method="plain").rank == (2, 2, 2)


@pytest.mark.parametrize("form", FORMS)
def test_predict_score_and_transform_take_every_fit_form(fitted, form):
    est, _, test, _ = fitted
    args, kwargs = _form(test, form)
    reference = est.predict(test.indices)
    pred = est.predict(args[0], mask=kwargs.get("mask")) if form != "indices-values" else est.predict(args[0])
    # every form lists the observed entries in ObservedTensor's order
    order = td.ObservedTensor(*_form(test, "indices-values")[0], shape=test.shape)
    np.testing.assert_allclose(pred, est.predict(order.indices), rtol=1e-12)
    np.testing.assert_allclose(np.sort(pred), np.sort(reference), rtol=1e-12)
    assert est.score(*args, **kwargs) == pytest.approx(td.r2_score(test.values, reference), rel=1e-12)
    completed = est.transform(*args, **kwargs)
    np.testing.assert_array_equal(completed[tuple(test.indices.T)], test.values)
    missing = np.ones(test.shape, bool)
    missing[tuple(test.indices.T)] = False
    np.testing.assert_allclose(completed[missing], est.reconstruct()[missing], rtol=1e-12)


def test_transform_fills_only_the_nans_of_a_dense_input(fitted):
    est, train, _, _ = fitted
    X = train.to_dense()
    before = X.copy()
    completed = est.transform(X)
    observed = ~np.isnan(X)
    np.testing.assert_array_equal(completed[observed], X[observed])
    assert not np.isnan(completed).any()
    np.testing.assert_array_equal(X, before, err_msg="the caller's array was changed")
    np.testing.assert_array_equal(est.fit_transform(X)[observed], X[observed])


def test_transform_without_x_is_deprecated_and_returns_the_reconstruction(fitted):
    est = fitted[0]
    with pytest.warns(FutureWarning, match="reconstruct"):
        old = est.transform()
    np.testing.assert_array_equal(old, est.reconstruct())
    dense = tl.cp_to_tensor(est.decomposition_)
    np.testing.assert_allclose(est.reconstruct(), dense, rtol=1e-12)


@pytest.mark.parametrize("old, new, value", [("alpha", "das_alpha", 0.3), ("rho", "sam_rho", 0.2),
                                             ("alpha_schedule", "das_alpha_schedule", "cosine")])
def test_renamed_parameters_warn_and_still_act(old, new, value):
    obs, _ = low_rank_problem(shape=(8, 7, 6), fraction=0.5)
    method = "sam" if new.startswith("sam") else "das"
    kw = dict(method=method, max_iter=20, random_state=0, das_deviation="relative")
    with pytest.warns(FutureWarning, match=f"{old} was renamed {new}"):
        by_old = td.CPCompletion(3, **{old: value}, **kw).fit(obs)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        by_new = td.CPCompletion(3, **{new: value}, **kw).fit(obs)
    default = td.CPCompletion(3, **kw).fit(obs)
    for a, b in zip(by_old.cores_, by_new.cores_):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(by_new.cores_, default.cores_))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("cls, rank", [(td.CPCompletion, 2), (td.TuckerCompletion, 2),
                                       (td.TTCompletion, 2), (td.TRCompletion, 2)])
def test_dtype_is_honoured_end_to_end(cls, rank, backend):
    obs, _ = low_rank_problem(shape=(6, 5, 4), fraction=0.6)
    est = cls(rank, dtype="float32", backend=backend, max_iter=10, random_state=0).fit(obs)
    assert all(str(c.dtype).endswith("float32") for c in est.cores_)
    assert est.predict(obs).dtype == np.float32
    assert est.reconstruct().dtype == np.float32
    assert est.transform(obs.to_dense()).dtype == np.float32


def test_not_fitted_is_sklearns_error():
    for call in (lambda e: e.predict(np.zeros((1, 3), int)), lambda e: e.reconstruct()):
        with pytest.raises(NotFittedError):
            call(td.TTCompletion(2))


@pytest.mark.parametrize("function, cls, tl_cls", [
    (td.cp_completion, td.CPCompletion, tl.cp_tensor.CPTensor),
    (td.tucker_completion, td.TuckerCompletion, tl.tucker_tensor.TuckerTensor),
    (td.tt_completion, td.TTCompletion, tl.tt_tensor.TTTensor),
    (td.tr_completion, td.TRCompletion, tl.tr_tensor.TRTensor),
])
def test_function_forms_return_the_estimators_decomposition(function, cls, tl_cls):
    obs, _ = low_rank_problem(shape=(6, 5, 4), fraction=0.6)
    decomposition, est = function(obs, 2, max_iter=15, random_state=0, return_estimator=True)
    assert isinstance(decomposition, tl_cls) and isinstance(est, cls)
    alone = cls(2, max_iter=15, random_state=0).fit(obs)
    np.testing.assert_array_equal(tl.to_numpy(decomposition.to_tensor()), alone.reconstruct())
    X = obs.to_dense()
    assert isinstance(function(X, rank=2, max_iter=3), tl_cls)
    assert function.__name__ in function.__doc__
