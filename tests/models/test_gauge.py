import numpy as np
import pytest
import tensorly as tl

from tensorly_das.backend import to_backend, to_numpy
from tensorly_das.models import TuckerModel
from tensorly_das.models.gauge import balance_bond


def _contract(left, right):
    """``left`` (a, R) with ``right`` (R, b, c) over R, in NumPy."""
    return np.tensordot(to_numpy(left), to_numpy(right), axes=([1], [0]))


def _penalty(*arrays):
    return sum(float(np.sum(to_numpy(a) ** 2)) for a in arrays)


def _unbalanced_pair(seed=0, size=4):
    rng = np.random.default_rng(seed)
    left, right = rng.standard_normal((7, size)), rng.standard_normal((size, 3, 5))
    change = rng.standard_normal((size, size)) + 3 * np.eye(size)  # a skewed basis on the bond
    return left @ change, np.linalg.solve(change, right.reshape(size, -1)).reshape(right.shape)


def test_balance_bond_keeps_the_contraction_and_reaches_the_lowest_penalty(backend):
    left_np, right_np = _unbalanced_pair()
    left, right = to_backend(left_np, backend), to_backend(right_np, backend)
    with tl.backend_context(backend):
        assert balance_bond(left, 1, right, 0)
    np.testing.assert_allclose(_contract(left, right), _contract(left_np, right_np), rtol=1e-10, atol=1e-12)
    # the closed-form minimum over every basis: 2 tr((S Q S)^(1/2)), S = (L^T L)^(1/2), Q = M M^T
    p_vals, p_vecs = np.linalg.eigh(left_np.T @ left_np)
    root = (p_vecs * np.sqrt(p_vals)) @ p_vecs.T
    flat = right_np.reshape(4, -1)
    lowest = 2 * np.sum(np.sqrt(np.linalg.eigvalsh(root @ flat @ flat.T @ root)))
    assert _penalty(left, right) < _penalty(left_np, right_np)
    np.testing.assert_allclose(_penalty(left, right), lowest, rtol=1e-10)
    # both sides hold the same squared norm, and no nearby basis does better
    np.testing.assert_allclose(_penalty(left), _penalty(right), rtol=1e-10)
    rng = np.random.default_rng(1)
    for _ in range(5):
        nudge = np.eye(4) + 1e-3 * rng.standard_normal((4, 4))
        moved = (to_numpy(left) @ nudge, np.linalg.solve(nudge, to_numpy(right).reshape(4, -1)))
        assert _penalty(*moved) > _penalty(left, right)


def test_balance_bond_on_other_axes_matches_the_moved_arrays():
    left_np, right_np = _unbalanced_pair(seed=2)
    # the same pair with the bond on other axes: (R, 7) and (3, 5, R)
    left_t, right_t = left_np.T.copy(), np.moveaxis(right_np, 0, 2).copy()
    assert balance_bond(left_np, 1, right_np, 0)
    assert balance_bond(left_t, 0, right_t, 2)
    np.testing.assert_allclose(left_t.T, left_np, rtol=1e-10)
    np.testing.assert_allclose(np.moveaxis(right_t, 2, 0), right_np, rtol=1e-10)


@pytest.mark.parametrize("side", ["left", "right"])
def test_balance_bond_leaves_a_rank_deficient_pair_as_it_is(side):
    left, right = _unbalanced_pair(seed=3)
    if side == "left":
        left[:, 2] = 0.0  # one basis direction unused: no unique best basis
    else:
        right[1] = 0.0
    before = (left.copy(), right.copy())
    assert not balance_bond(left, 1, right, 0)
    np.testing.assert_array_equal(left, before[0])
    np.testing.assert_array_equal(right, before[1])


def test_tucker_balance_lowers_the_penalty_below_norm_equalization_alone(backend):
    model = TuckerModel((9, 8, 7), (3, 2, 3))
    rng = np.random.default_rng(0)
    cores = [rng.standard_normal(s) for s in model.core_shapes()]
    skew = rng.standard_normal((3, 3)) + 2 * np.eye(3)  # mode 0's basis skewed
    cores[1] = cores[1] @ skew
    cores[0] = np.tensordot(np.linalg.inv(skew), cores[0], axes=([1], [0]))
    idx = np.stack([rng.integers(0, d, 50) for d in model.shape], axis=1)
    scalar = [c.copy() for c in cores]
    with tl.backend_context("numpy"):
        super(TuckerModel, model).balance(scalar)  # the norms equalized only
    on_backend = [to_backend(c, backend) for c in cores]
    with tl.backend_context(backend):
        before = to_numpy(model.predict(on_backend, tuple(to_backend(i, backend) for i in idx.T)))
        model.balance(on_backend)
        after = to_numpy(model.predict(on_backend, tuple(to_backend(i, backend) for i in idx.T)))
    np.testing.assert_allclose(after, before, rtol=1e-10, atol=1e-12)
    assert _penalty(*on_backend) < 0.99 * _penalty(*scalar)
    if backend != "numpy":  # the same basis on both backends
        reference = [c.copy() for c in cores]
        with tl.backend_context("numpy"):
            model.balance(reference)
        for a, b in zip(on_backend, reference):
            np.testing.assert_allclose(to_numpy(a), b, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("closed", [False, True], ids=["tt", "tr"])
def test_train_and_ring_balance_keep_the_tensor_and_lower_the_penalty(closed, backend):
    from tensorly_das.models import TRModel, TTModel

    model = TRModel((6, 5, 4, 5), (2, 3, 2, 3, 2)) if closed else TTModel((6, 5, 4, 5), (1, 3, 2, 3, 1))
    rng = np.random.default_rng(4)
    cores = [rng.standard_normal(s) for s in model.core_shapes()]
    skew = rng.standard_normal((3, 3)) + 2 * np.eye(3)  # the first inner index's basis skewed
    cores[0] = np.einsum("aib,bc->aic", cores[0], skew)
    cores[1] = np.einsum("cb,bid->cid", np.linalg.inv(skew), cores[1])
    scalar = [c.copy() for c in cores]
    with tl.backend_context("numpy"):
        super(TRModel, model).balance(scalar)
        dense = tl.tr_to_tensor(cores) if closed else tl.tt_to_tensor(cores)
    on_backend = [to_backend(c, backend) for c in cores]
    with tl.backend_context(backend):
        model.balance(on_backend)
        after = tl.tr_to_tensor(on_backend) if closed else tl.tt_to_tensor(on_backend)
    np.testing.assert_allclose(to_numpy(after), dense, rtol=1e-9, atol=1e-11)
    assert _penalty(*on_backend) < 0.99 * _penalty(*scalar)


def test_balance_bond_refuses_a_bond_of_two_sizes_and_changes_nothing():
    left, right = np.ones((5, 3)), np.ones((4, 2))
    with pytest.raises(ValueError, match="sizes differ"):
        balance_bond(left, 1, right, 0)
    np.testing.assert_array_equal(left, 1.0)
    np.testing.assert_array_equal(right, 1.0)
