"""Index placement on the backends (tensorly_das.backend)."""

import numpy as np
import pytest

from tensorly_das.backend import positions_to_backend

from .conftest import requires_torch


@pytest.mark.parametrize("bound, dtype", [(200, np.uint8), (256, np.uint8), (257, np.uint16),
                                          (65536, np.uint16), (65537, np.uint32)])
def test_narrow_positions_take_the_smallest_unsigned_type(bound, dtype):
    x = np.array([0, 3, bound - 1], dtype=np.int64)
    out = positions_to_backend(x)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, x)


def test_wide_positions_are_int64_copies():
    x = np.array([0, 3, 7], dtype=np.int64)
    out = positions_to_backend(x, narrow=False)
    assert out.dtype == np.int64
    out[0] = 5
    assert x[0] == 0  # never the caller's array


def test_narrow_positions_never_share_the_callers_array():
    x = np.array([0, 3, 7], dtype=np.uint8)
    out = positions_to_backend(x)
    out[0] = 5
    assert x[0] == 0


@requires_torch
@pytest.mark.parametrize("narrow", [True, False])
def test_torch_positions_are_int64(narrow):
    import torch

    out = positions_to_backend(np.array([0, 3, 7]), "pytorch", "cpu", narrow)
    assert out.dtype == torch.int64
    assert out.tolist() == [0, 3, 7]
