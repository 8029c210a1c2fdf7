import numpy as np
import pytest

from tensorly_das.datasets import covid19_completion


@pytest.mark.parametrize("fraction", [0.3, 0.5])
def test_covid_split_fractions_and_partition(fraction):
    observed, held_out = covid19_completion(fraction, random_state=0)
    total = 438 * 6 * 11
    assert observed.shape == held_out.shape == (438, 6, 11)
    assert abs(observed.nnz - fraction * total) <= 1
    assert observed.nnz + held_out.nnz == total
    keys = lambda o: set(np.ravel_multi_index(tuple(o.indices.T), o.shape).tolist())  # noqa: E731
    assert keys(observed).isdisjoint(keys(held_out))
