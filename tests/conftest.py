import importlib.util
import os

import numpy as np
import pytest

# One thread per process: the tensors in these tests are tiny, and on a loaded machine (a shared
# CI box) torch's and OpenMP's default of one thread per core makes every op wait for busy cores.
# Subprocesses (CLI, torchrun workers) inherit the variables.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

HAS_TORCH = importlib.util.find_spec("torch") is not None
HAS_CUDA = False
if HAS_TORCH:
    import torch

    torch.set_num_threads(1)
    HAS_CUDA = torch.cuda.is_available()

BACKENDS = [
    "numpy",
    pytest.param("pytorch", marks=pytest.mark.skipif(not HAS_TORCH, reason="torch not installed")),
]
requires_torch = pytest.mark.skipif(not HAS_TORCH, reason="torch not installed")
requires_cuda = pytest.mark.skipif(not HAS_CUDA, reason="CUDA not available")


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


def random_observations(shape, n, seed=0):
    """n distinct random entries of a tensor of `shape`, with standard normal values."""
    rng = np.random.default_rng(seed)
    flat = rng.choice(int(np.prod(shape)), size=n, replace=False)
    indices = np.stack(np.unravel_index(flat, shape), axis=1)
    return indices, rng.standard_normal(n)


def low_rank_problem(shape=(15, 12, 10), rank=3, fraction=0.5, noise=0.0, seed=0):
    """Observed entries of a random CP tensor with Gaussian factors: (ObservedTensor, dense truth)."""
    import tensorly as tl

    from tensorly_das import ObservedTensor

    rng = np.random.default_rng(seed)
    factors = [rng.standard_normal((dim, rank)) for dim in shape]
    with tl.backend_context("numpy"):
        X = tl.cp_to_tensor((np.ones(rank), factors))
    mask = rng.random(shape) < fraction
    values = X[mask] + noise * np.std(X) * rng.standard_normal(int(mask.sum()))
    return ObservedTensor(np.argwhere(mask), values, shape), X


def model_problem(cls, shape, rank, fraction=0.5, seed=0):
    """Observed entries of a random tensor that `cls` represents exactly: (ObservedTensor, dense)."""
    from tensorly_das import ObservedTensor

    model = cls(shape, rank)
    rng = np.random.default_rng(seed)
    cores = model.init_cores(rng, 1.0)
    idx = np.argwhere(np.ones(shape, bool))
    X = model.predict(cores, [idx[:, n].copy() for n in range(len(shape))]).reshape(shape)
    mask = rng.random(shape) < fraction
    return ObservedTensor(np.argwhere(mask), X[mask], shape), X
