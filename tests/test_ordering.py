"""The entry orders equal NumPy's plain stable sorts, whatever the key type chosen inside."""

import numpy as np
import pytest

from tensorly_das.ordering import lexicographic_order, stable_order


@pytest.mark.parametrize("bound", [1, 2, 200, 256, 257, 65536, 65537, 2**32 + 5, 2**40])
@pytest.mark.parametrize("seed", [0, 1])
def test_stable_order_equals_stable_argsort(bound, seed):
    keys = np.random.default_rng(seed).integers(0, bound, size=5000)
    keys[:3] = bound - 1  # the largest key, repeated: ties keep their order
    expected = np.argsort(keys, kind="stable")
    np.testing.assert_array_equal(stable_order(keys, bound), expected)
    np.testing.assert_array_equal(stable_order(keys), expected)


def test_stable_order_leaves_keys_and_handles_empty():
    keys = np.array([3, 1, 2, 1], dtype=np.int64)
    before = keys.copy()
    np.testing.assert_array_equal(stable_order(keys, 4), [1, 3, 2, 0])
    np.testing.assert_array_equal(keys, before)
    assert keys.dtype == np.int64
    assert stable_order(np.zeros(0, dtype=np.int64)).shape == (0,)


@pytest.mark.parametrize("shape", [(7, 5, 3), (1000, 1000, 1000), (2**21, 2**21, 2**21, 3)])
def test_lexicographic_order_equals_lexsort(shape):
    rng = np.random.default_rng(2)
    indices = np.stack([rng.integers(0, s, size=4000) for s in shape], axis=1)
    indices[10:20] = indices[0]  # repeated rows: ties keep their order, as lexsort's do
    expected = np.lexsort(indices.T[::-1])
    np.testing.assert_array_equal(lexicographic_order(indices), expected)
    assert lexicographic_order(np.zeros((0, 3), dtype=np.int64)).shape == (0,)
