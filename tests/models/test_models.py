"""Every model against TensorLy's dense reconstruction, torch autograd and finite differences."""

import numpy as np
import pytest
import tensorly as tl

from tensorly_das.backend import to_backend, to_numpy
from tensorly_das.models import Batch, CPModel, TRModel, TTModel, TuckerModel

from ..conftest import random_observations, requires_torch

# (model class, shape, rank): orders 2 to 5, uneven ranks
CASES = [
    (CPModel, (7, 5), 3),
    (CPModel, (6, 5, 4), 2),
    (CPModel, (4, 3, 5, 2), 3),
    (CPModel, (3, 4, 2, 3, 2), 1),
    (TuckerModel, (7, 5), (3, 2)),
    (TuckerModel, (6, 5, 4), (3, 2, 4)),
    (TuckerModel, (4, 3, 5, 2), 2),
    (TuckerModel, (3, 4, 2, 3, 2), (2, 1, 2, 3, 1)),
    (TTModel, (7, 5), 3),
    (TTModel, (6, 5, 4), (1, 3, 2, 1)),
    (TTModel, (4, 3, 5, 2, 3), 2),
    (TRModel, (7, 5), 2),
    (TRModel, (6, 5, 4), (2, 3, 4, 2)),
    (TRModel, (4, 3, 5, 2, 3), 2),
]
IDS = [f"{c.name}-{len(s)}d-{r}" for c, s, r in CASES]


def dense_reconstruction(model, cores):
    if isinstance(model, CPModel):
        return tl.cp_to_tensor((tl.ones(model.rank, **tl.context(cores[0])), cores))
    if isinstance(model, TuckerModel):
        return tl.tucker_to_tensor((cores[0], cores[1:]))
    if isinstance(model, TTModel):
        return tl.tt_to_tensor(cores)
    return tl.tr_to_tensor(cores)


def _setup(cls, shape, rank, backend, n=40, seed=0):
    model = cls(shape, rank)
    rng = np.random.default_rng(seed)
    cores_np = model.init_cores(rng, scale=1.0)
    n = min(n, int(np.prod(shape)))
    idx, vals = random_observations(shape, n, seed)
    cores = [to_backend(c, backend) for c in cores_np]
    batch = Batch([to_backend(idx[:, k].copy(), backend) for k in range(len(shape))], to_backend(vals, backend))
    return model, cores_np, cores, idx, vals, batch


@pytest.mark.parametrize("cls, shape, rank", CASES, ids=IDS)
def test_predictions_equal_dense_reconstruction(cls, shape, rank, backend):
    model, cores_np, cores, idx, _, batch = _setup(cls, shape, rank, backend)
    pred = to_numpy(model.predict(cores, batch.mode_indices))
    dense = dense_reconstruction(model, cores_np)
    np.testing.assert_allclose(pred, dense[tuple(idx.T)], rtol=1e-11, atol=1e-12)
    with tl.backend_context(backend):
        obj = model.to_tensorly(cores)
        np.testing.assert_allclose(tl.to_numpy(obj.to_tensor()), dense, rtol=1e-11, atol=1e-12)
    back = model.from_tensorly(obj)
    for a, b in zip(back, cores_np):
        np.testing.assert_allclose(a, b, rtol=1e-14)


@pytest.mark.parametrize("cls, shape, rank", CASES, ids=IDS)
def test_gradients_match_finite_differences(cls, shape, rank):
    model, cores_np, cores, idx, vals, batch = _setup(cls, shape, rank, "numpy")
    loss, grads = model.loss_and_grads(cores, batch)
    assert [g.shape for g in grads] == [c.shape for c in cores]
    eps = 1e-6
    rng = np.random.default_rng(1)
    for k, core in enumerate(cores):
        for _ in range(4):
            pos = tuple(rng.integers(0, s) for s in core.shape)
            plus = [c.copy() for c in cores]
            minus = [c.copy() for c in cores]
            plus[k][pos] += eps
            minus[k][pos] -= eps
            fd = (model.loss_and_grads(plus, batch)[0] - model.loss_and_grads(minus, batch)[0]) / (2 * eps)
            assert abs(fd - grads[k][pos]) <= 1e-6 * max(1.0, abs(fd)), (k, pos)


@requires_torch
@pytest.mark.parametrize("cls, shape, rank", CASES, ids=IDS)
def test_gradients_match_torch_autograd(cls, shape, rank):
    import torch

    model, cores_np, cores, idx, vals, batch = _setup(cls, shape, rank, "pytorch")
    loss, grads = model.loss_and_grads(cores, batch)
    leaves = [torch.tensor(c, requires_grad=True) for c in cores_np]
    # autograd through tensorly's dense reconstruction, an independent formula
    with tl.backend_context("pytorch"):
        dense = dense_reconstruction(model, leaves)
    pred = dense[tuple(torch.as_tensor(idx.T))]
    ref_loss = 0.5 * ((pred - torch.as_tensor(vals)) ** 2).mean()
    ref_loss.backward()
    assert abs(float(loss) - ref_loss.item()) < 1e-12
    for g, leaf in zip(grads, leaves):
        np.testing.assert_allclose(g.numpy(), leaf.grad.numpy(), rtol=1e-9, atol=1e-12)


@requires_torch
@pytest.mark.parametrize("cls, shape, rank", CASES[1::3], ids=IDS[1::3])
def test_numpy_and_torch_agree(cls, shape, rank):
    m1, _, c_np, _, _, b_np = _setup(cls, shape, rank, "numpy")
    m2, _, c_t, _, _, b_t = _setup(cls, shape, rank, "pytorch")
    l1, g1 = m1.loss_and_grads(c_np, b_np)
    l2, g2 = m2.loss_and_grads(c_t, b_t)
    assert abs(float(l1) - float(l2)) < 1e-13
    for a, b in zip(g1, g2):
        np.testing.assert_allclose(a, b.numpy(), rtol=1e-11, atol=1e-14)


@pytest.mark.parametrize("cls", [CPModel, TuckerModel, TTModel, TRModel])
def test_init_scale_matches_data_scale(cls):
    model = cls((12, 11, 10), 3)
    cores = model.init_cores(np.random.default_rng(0), scale=2.0)
    dense = dense_reconstruction(model, cores)
    assert 0.8 < np.sqrt(np.mean(dense**2)) < 5.0


RANK_ERRORS = [
    (CPModel, (3, 3), 0, ValueError, ">= 1"),
    (CPModel, (3, 3), 2.5, TypeError, "positive integer"),
    (CPModel, (3, 3), True, TypeError, "positive integer"),
    (CPModel, (3,), 1, ValueError, "order >= 2"),
    (TuckerModel, (3, 4), (4, 2), ValueError, "exceeds that mode's size"),
    (TuckerModel, (3, 4), (2, 2, 2), ValueError, "2 modes"),
    (TuckerModel, (3, 4), "2", TypeError, "Tucker rank"),
    (TuckerModel, (3, 4), (2, 0), ValueError, ">= 1"),
    (TTModel, (3, 4, 5), (2, 2, 2, 1), ValueError, "must be 1"),
    (TTModel, (3, 4, 5), (1, 2, 1), ValueError, "needs 4"),
    (TRModel, (3, 4, 5), (2, 2, 2, 3), ValueError, "must be equal"),
    (TRModel, (3, 4, 5), [2, 2.5, 2, 2], TypeError, "positive integer"),
]


@pytest.mark.parametrize("cls, shape, rank, exc, match", RANK_ERRORS)
def test_impossible_ranks_are_refused(cls, shape, rank, exc, match):
    with pytest.raises(exc, match=match):
        cls(shape, rank)


def test_rank_forms_and_core_checks():
    assert TTModel((3, 4, 5), 2).rank == (1, 2, 2, 1)
    assert TRModel((3, 4, 5), 2).rank == (2, 2, 2, 2)
    assert TuckerModel((3, 4, 5), 2).rank == (2, 2, 2)
    model = CPModel((3, 4), 2)
    assert model.n_parameters() == 14
    with pytest.raises(ValueError, match="expected"):
        model.check_cores([np.ones((3, 2)), np.ones((4, 3))])


@pytest.mark.parametrize("cls, shape, rank", CASES[1::3], ids=IDS[1::3])
def test_chunked_evaluation_equals_one_chunk(cls, shape, rank, backend, monkeypatch):
    import tensorly_das.models.base as base

    model, cores_np, cores, idx, vals, batch = _setup(cls, shape, rank, backend, n=60)
    loss, grads = model.loss_and_grads(cores, batch)
    pred = model.predict(cores, batch.mode_indices)
    monkeypatch.setattr(base, "CHUNK_SIZE", 7)  # 60 entries in 9 chunks
    loss_c, grads_c = model.loss_and_grads(cores, batch)
    np.testing.assert_allclose(float(loss_c), float(loss), rtol=1e-12)
    for a, b in zip(grads_c, grads):
        np.testing.assert_allclose(to_numpy(a), to_numpy(b), rtol=1e-11, atol=1e-14)
    np.testing.assert_allclose(to_numpy(model.predict(cores, batch.mode_indices)), to_numpy(pred), rtol=1e-13)


@pytest.mark.parametrize("cls, shape, rank", CASES, ids=IDS)
def test_design_rows_times_core_rows_are_the_predictions(cls, shape, rank, backend):
    # the design of core k is what multiplies the core's rows: it must rebuild every prediction
    model, cores_np, cores, idx, _, batch = _setup(cls, shape, rank, backend)
    dense = dense_reconstruction(model, cores_np)[tuple(idx.T)]
    for k in range(len(cores)):
        design = to_numpy(model.design(cores, batch.mode_indices, k))
        rows = to_numpy(model.core_as_rows(cores[k], k))
        mode = model.row_mode(k)
        used = rows[idx[:, mode]] if mode is not None else np.repeat(rows, len(idx), axis=0)
        np.testing.assert_allclose((design * used).sum(1), dense, rtol=1e-10, atol=1e-12)
        if mode is not None:  # the row's own index is never read: the block solver omits it
            without = [None if m == mode else i for m, i in enumerate(batch.mode_indices)]
            np.testing.assert_array_equal(to_numpy(model.design(cores, without, k)), design)
        np.testing.assert_array_equal(to_numpy(model.rows_as_core(model.core_as_rows(cores[k], k), k)),
                                      cores_np[k])


@requires_torch
@pytest.mark.parametrize("cls, shape, rank", CASES, ids=IDS)
def test_design_is_the_derivative_of_each_prediction(cls, shape, rank):
    import torch

    model, cores_np, cores, idx, _, batch = _setup(cls, shape, rank, "pytorch", n=6)
    for k in range(len(cores)):
        design = model.design(cores, batch.mode_indices, k).numpy()
        for i in range(len(idx)):
            leaves = [torch.tensor(c, requires_grad=(j == k)) for j, c in enumerate(cores_np)]
            with tl.backend_context("pytorch"):
                value = dense_reconstruction(model, leaves)[tuple(idx[i])]
            (grad,) = torch.autograd.grad(value, leaves[k])
            rows = model.core_as_rows(grad, k).numpy()
            mode = model.row_mode(k)
            np.testing.assert_allclose(design[i], rows[idx[i, mode]] if mode is not None else rows[0],
                                       rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cls, shape, rank", CASES, ids=IDS)
def test_balance_keeps_predictions_and_equalizes_norms(cls, shape, rank, backend):
    model, cores_np, cores, idx, _, batch = _setup(cls, shape, rank, backend)
    cores[0] = cores[0] * 7.0  # unbalanced on purpose
    before = to_numpy(model.predict(cores, batch.mode_indices))
    model.balance(cores)
    np.testing.assert_allclose(to_numpy(model.predict(cores, batch.mode_indices)), before, rtol=1e-10, atol=1e-12)
    if isinstance(model, CPModel):  # column by column
        norms = np.array([np.linalg.norm(to_numpy(c), axis=0) for c in cores])
    else:
        norms = np.array([np.linalg.norm(to_numpy(c)) for c in cores])
    np.testing.assert_allclose(norms, np.broadcast_to(norms[0], norms.shape), rtol=1e-10)


@pytest.mark.parametrize("cls, shape, rank", CASES, ids=IDS)
def test_narrow_and_int64_batches_give_the_same_loss_and_gradients(cls, shape, rank):
    # Batch.place stores NumPy indices narrow for block least squares and as int64 for the
    # gradient steps: both widths must read the same entries
    model, _, cores, idx, vals, _ = _setup(cls, shape, rank, "numpy")
    narrow = Batch.place(idx, vals, narrow=True)
    wide = Batch.place(idx, vals, narrow=False)
    assert all(i.dtype.kind == "u" and i.dtype.itemsize == 1 for i in narrow.mode_indices)
    assert all(i.dtype == np.int64 for i in wide.mode_indices)
    loss_n, grads_n = model.loss_and_grads(cores, narrow)
    loss_w, grads_w = model.loss_and_grads(cores, wide)
    assert float(loss_n) == float(loss_w)
    for g_n, g_w in zip(grads_n, grads_w):
        np.testing.assert_array_equal(g_n, g_w)
