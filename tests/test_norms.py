import numpy as np
import pytest

from tensorly_das import (
    core_norms,
    norm_deviation,
    norm_gradient_covariance,
    squared_core_norms,
)
from tensorly_das.backend import to_backend, to_numpy


def _cores(seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) * (k + 1) for k, s in enumerate([(5, 3), (4, 3), (6, 3), (2, 3, 2)])]


def test_norm_deviation_equals_pairwise_form(backend):
    cores_np = _cores()
    cores = [to_backend(c, backend) for c in cores_np]
    sq = np.array([np.sum(c**2) for c in cores_np])
    K = len(sq)
    pairwise = sum((a - b) ** 2 for a in sq for b in sq) / (2 * K)
    q = norm_deviation(cores)
    assert type(q).__module__.split(".")[0] == ("torch" if backend == "pytorch" else "numpy")
    np.testing.assert_allclose(float(q), pairwise, rtol=1e-12)
    np.testing.assert_allclose(to_numpy(core_norms(cores)), np.sqrt(sq), rtol=1e-12)
    np.testing.assert_allclose(to_numpy(squared_core_norms(cores)), sq, rtol=1e-12)


def test_balanced_cores_have_zero_deviation():
    cores = [np.ones((2, 2)), np.full((1, 1), 2.0), np.array([[2.0, 0.0]])]
    assert float(norm_deviation(cores)) == 0.0


def test_covariance_is_population_covariance(backend):
    cores_np, grads_np = _cores(0), _cores(1)
    cores = [to_backend(c, backend) for c in cores_np]
    grads = [to_backend(g, backend) for g in grads_np]
    a = np.array([np.sum(c**2) for c in cores_np])
    b = np.array([np.sum(g**2) for g in grads_np])
    expected = np.cov(a, b, bias=True)[0, 1]
    np.testing.assert_allclose(float(norm_gradient_covariance(cores, grads)), expected, rtol=1e-12)


def test_refusals():
    with pytest.raises(ValueError, match="at least one core"):
        norm_deviation([])
    with pytest.raises(ValueError, match="gradients"):
        norm_gradient_covariance([np.ones(2)], [np.ones(2), np.ones(2)])
