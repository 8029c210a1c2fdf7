import numpy as np
import pytest

from tensorly_das import ObservedTensor
from tensorly_das.observed import MAX_DENSE_SIZE


def test_construct_and_infer_shape():
    obs = ObservedTensor([[0, 1], [2, 0]], [1.0, -2.0])
    assert obs.shape == (3, 2)
    assert obs.nnz == 2 and obs.ndim == 2
    assert obs.indices.dtype == np.int64 and obs.values.dtype == np.float64


def test_inputs_are_copied_not_mutated():
    idx = np.array([[0, 1], [2, 0]])
    vals = np.array([1.0, 2.0])
    idx0, vals0 = idx.copy(), vals.copy()
    obs = ObservedTensor(idx, vals, (3, 3))
    idx[0, 0], vals[0] = 2, 100.0  # the caller's later changes do not reach the copy
    np.testing.assert_array_equal(obs.indices, idx0)
    np.testing.assert_array_equal(obs.values, vals0)


def test_checked_arrays_cannot_be_changed_after_construction():
    obs = ObservedTensor(np.array([[0, 1], [2, 0]]), np.array([1.0, 2.0]), (3, 3))
    with pytest.raises(ValueError, match="read-only"):
        obs.values[0] = np.nan
    with pytest.raises(ValueError, match="read-only"):
        obs.indices[0, 0] = 99
    with pytest.raises(AttributeError):
        obs.values = np.array([np.inf, 1.0])
    assert np.array_equal(obs.values, [1.0, 2.0]) and obs.indices[0, 0] == 0
    for part in obs.split(1, random_state=0):  # derived tensors are protected too
        assert not part.values.flags.writeable and not part.indices.flags.writeable


def test_from_dense_nan_and_mask():
    X = np.arange(12.0).reshape(3, 4)
    X[0, 1] = np.nan
    X_copy = X.copy()
    obs = ObservedTensor.from_dense(X)
    assert obs.nnz == 11 and obs.shape == (3, 4)
    np.testing.assert_array_equal(X, X_copy)  # NaN-aware equality, unchanged
    dense = obs.to_dense()
    np.testing.assert_array_equal(dense, X)
    mask = np.zeros((3, 4), bool)
    mask[1, 2] = mask[2, 3] = True
    obs2 = ObservedTensor.from_dense(X, mask=mask)
    assert sorted(obs2.values.tolist()) == [6.0, 11.0]


def test_from_sparse_scipy_and_pydata():
    import scipy.sparse as sp

    S = sp.coo_matrix(([1.0, 2.0], ([0, 3], [1, 2])), shape=(4, 5))
    obs = ObservedTensor.from_sparse(S)
    assert obs.shape == (4, 5) and obs.nnz == 2
    assert obs.to_dense()[3, 2] == 2.0
    sparse = pytest.importorskip("sparse")
    coo = sparse.COO(np.array([[0, 1], [1, 2], [2, 0]]), [5.0, 6.0], shape=(2, 3, 4))
    obs3 = ObservedTensor.from_sparse(coo)
    assert obs3.shape == (2, 3, 4)
    assert obs3.to_dense()[1, 2, 0] == 6.0


def test_split_is_a_partition():
    rng = np.random.default_rng(0)
    flat = rng.choice(1000, 300, replace=False)
    obs = ObservedTensor(np.stack(np.unravel_index(flat, (10, 10, 10)), 1), rng.random(300))
    train, test = obs.split(0.25, random_state=1)
    assert test.nnz == 75 and train.nnz == 225
    keys = lambda o: set(map(tuple, o.indices.tolist()))  # noqa: E731
    assert keys(train).isdisjoint(keys(test))
    assert keys(train) | keys(test) == keys(obs)
    again, _ = obs.split(0.25, random_state=1)
    np.testing.assert_array_equal(again.indices, train.indices)


def test_duplicates_error_and_mean():
    idx = [[0, 0], [1, 1], [0, 0]]
    with pytest.raises(ValueError, match="duplicate entries"):
        ObservedTensor(idx, [1.0, 2.0, 3.0])
    obs = ObservedTensor(idx, [1.0, 2.0, 3.0], duplicates="mean")
    assert obs.nnz == 2
    assert obs.to_dense()[0, 0] == 2.0


BAD = [
    (dict(indices=[[0, 0]], values=[np.nan]), ValueError, "finite"),
    (dict(indices=[[0, 0]], values=[np.inf]), ValueError, "finite"),
    (dict(indices=[[-1, 0]], values=[1.0]), ValueError, "non-negative"),
    (dict(indices=[[3, 0]], values=[1.0], shape=(3, 2)), ValueError, "out of range"),
    (dict(indices=[[0.5, 0]], values=[1.0]), TypeError, "integers"),
    (dict(indices=[0, 1], values=[1.0, 2.0]), ValueError, "2-D"),
    (dict(indices=[[0, 0], [1, 1]], values=[1.0]), ValueError, "rows but values"),
    (dict(indices=np.zeros((0, 2), int), values=[]), ValueError, "no observed entries"),
    (dict(indices=[[0, 0]], values=["a"]), TypeError, "real numbers"),
    (dict(indices=[[0, 0]], values=[True]), TypeError, "boolean"),
    (dict(indices=[["a", "b"]], values=[1.0]), TypeError, "integers"),
    (dict(indices=[[0, 0]], values=[1.0], shape=(2, 2, 2)), ValueError, "modes"),
    (dict(indices=[[0, 0]], values=[1.0], shape=(2, 0)), ValueError, ">= 1"),
    (dict(indices=[[0, 0]], values=[[1.0]]), ValueError, "1-D"),
]


@pytest.mark.parametrize("kwargs, exc, match", BAD)
def test_bad_input_is_refused(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        ObservedTensor(**kwargs)


def test_from_dense_refusals():
    with pytest.raises(ValueError, match="every entry of X is missing"):
        ObservedTensor.from_dense(np.full((2, 2), np.nan))
    with pytest.raises(ValueError, match="inf"):
        ObservedTensor.from_dense(np.array([[1.0, np.inf]]))
    with pytest.raises(ValueError, match="mask has shape"):
        ObservedTensor.from_dense(np.ones((2, 2)), mask=np.ones((3, 2), bool))
    with pytest.raises(TypeError, match="boolean"):
        ObservedTensor.from_dense(np.ones((2, 2)), mask=np.ones((2, 2)))
    with pytest.raises(TypeError, match="real numbers"):
        ObservedTensor.from_dense(np.array([["a"]]))
    with pytest.raises(ValueError, match="finite"):
        mask = np.ones((1, 2), bool)
        ObservedTensor.from_dense(np.array([[1.0, np.nan]]), mask=mask)
    with pytest.raises(TypeError, match="from_sparse expects"):
        ObservedTensor.from_sparse(np.ones((2, 2)))


def test_split_and_dense_refusals():
    obs = ObservedTensor([[0, 0]], [1.0])
    with pytest.raises(ValueError, match="cannot split"):
        obs.split(0.5)
    huge = ObservedTensor([[0, 0, 0]], [1.0], shape=(10**4, 10**4, 10**4))
    assert huge.shape == (10**4,) * 3
    with pytest.raises(MemoryError, match="above the limit"):
        huge.to_dense()
    assert MAX_DENSE_SIZE < 10**12


def test_hash_split_ignores_order_and_refuses_bad_sizes():
    rng = np.random.default_rng(0)
    idx = np.unique(rng.integers(0, 20, size=(300, 3)), axis=0)
    obs = ObservedTensor(idx, rng.standard_normal(len(idx)), (20, 20, 20))
    perm = rng.permutation(obs.nnz)
    shuffled = ObservedTensor(obs.indices[perm], obs.values[perm], obs.shape)
    (_, a), (_, b) = obs.hash_split(0.2, 7), shuffled.hash_split(0.2, 7)
    assert sorted(map(tuple, a.indices)) == sorted(map(tuple, b.indices))  # the entries decide
    assert 0.1 < a.nnz / obs.nnz < 0.3  # about test_size of the entries
    tiny = ObservedTensor([[0, 0], [1, 1]], [1.0, 2.0])
    train, test = tiny.hash_split(0.001, 0)  # each part keeps at least one entry
    assert train.nnz == test.nnz == 1
    for bad in (0.0, 1.0, -0.5, "0.1"):
        with pytest.raises(ValueError, match="test_size"):
            obs.hash_split(bad, 0)
    with pytest.raises(ValueError, match="2 entries"):
        ObservedTensor([[0, 0]], [1.0]).hash_split(0.5, 0)
