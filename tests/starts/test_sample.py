"""The spectral start's observations: a hashed subset beyond the limit, in canonical order,
so the start does not depend on the order (or sharding) of the input."""

import numpy as np
import pytest
import tensorly as tl

from tensorly_das.models import CPModel, TuckerModel
from tensorly_das.starts import spectral
from tensorly_das.starts.spectral import spectral_cores, start_sample


def _observations(shape=(20, 18, 16), rank=3, fraction=0.4, seed=0):
    rng = np.random.default_rng(seed)
    factors = [rng.standard_normal((n, rank)) for n in shape]
    dense = tl.cp_to_tensor((np.ones(rank), factors))
    indices = np.argwhere(rng.random(shape) < fraction)
    return indices, dense[tuple(indices.T)]


def _is_sorted(indices):
    keys = np.ravel_multi_index(tuple(indices.T), indices.max(axis=0) + 1)
    return bool(np.all(np.diff(keys) > 0))


@pytest.mark.parametrize("limit", [None, 600])
def test_the_sample_is_sorted_bounded_and_the_same_for_any_input_order(limit, monkeypatch):
    indices, values = _observations()
    if limit is not None:
        monkeypatch.setattr(spectral, "MAX_OBSERVATIONS", limit)
    before = indices.copy(), values.copy()
    kept, kept_values = start_sample(indices, values)
    np.testing.assert_array_equal(indices, before[0])  # the inputs are untouched
    np.testing.assert_array_equal(values, before[1])
    assert _is_sorted(kept)
    if limit is None:
        assert len(kept) == len(indices)
    else:
        assert 0.7 * limit < len(kept) <= limit  # the limit less 5 standard deviations, about
    # every kept entry is an observation, with its own value
    position = {tuple(i): v for i, v in zip(indices.tolist(), values)}
    assert all(position[tuple(i)] == v for i, v in zip(kept.tolist(), kept_values))
    perm = np.random.default_rng(3).permutation(len(indices))
    again = start_sample(indices[perm], values[perm])
    np.testing.assert_array_equal(again[0], kept)
    np.testing.assert_array_equal(again[1], kept_values)


@pytest.mark.parametrize("cls, rank", [(CPModel, 3), (TuckerModel, (3, 3, 3))])
@pytest.mark.parametrize("limit", [None, 600])
def test_the_spectral_start_ignores_the_input_order(cls, rank, limit, monkeypatch):
    if limit is not None:
        monkeypatch.setattr(spectral, "MAX_OBSERVATIONS", limit)
    indices, values = _observations()
    model = cls((20, 18, 16), rank)
    first = spectral_cores(model, indices, values, np.random.default_rng(0))
    perm = np.random.default_rng(4).permutation(len(indices))
    second = spectral_cores(model, indices[perm], values[perm], np.random.default_rng(0))
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
