import numpy as np
import pytest

from tensorly_das import CPCompletion, allocator

from .conftest import low_rank_problem


def test_nested_and_failing_uses_are_counted_and_undone(monkeypatch):
    monkeypatch.setenv("TENSORLY_DAS_REUSE_MEMORY", "1")
    assert allocator._active == 0
    with allocator.reuse_freed_memory():
        with allocator.reuse_freed_memory():
            inner = allocator._active
        with pytest.raises(RuntimeError):
            with allocator.reuse_freed_memory():
                raise RuntimeError("inside a fit")
    assert allocator._active == 0
    if allocator.enabled():
        assert inner == 2


def test_off_unless_opted_in(monkeypatch):
    """Changing glibc's thresholds is process-wide: a library must not do it unasked."""
    monkeypatch.delenv("TENSORLY_DAS_REUSE_MEMORY", raising=False)
    assert not allocator.enabled()
    with allocator.reuse_freed_memory():
        assert allocator._active == 0  # nothing was touched
    monkeypatch.setenv("TENSORLY_DAS_REUSE_MEMORY", "0")
    assert not allocator.enabled()
    monkeypatch.setenv("TENSORLY_DAS_REUSE_MEMORY", "1")
    assert allocator.enabled() is (allocator._glibc() is not None)


def test_fits_are_identical_with_and_without_it(monkeypatch):
    obs, _ = low_rank_problem(fraction=0.5)
    monkeypatch.setenv("TENSORLY_DAS_REUSE_MEMORY", "1")
    tuned = CPCompletion(rank=3, max_iter=50, random_state=0).fit(obs)
    monkeypatch.setenv("TENSORLY_DAS_REUSE_MEMORY", "0")
    plain = CPCompletion(rank=3, max_iter=50, random_state=0).fit(obs)
    for a, b in zip(tuned.cores_, plain.cores_):
        np.testing.assert_array_equal(a, b)
    assert allocator._active == 0


def test_release_free_memory_reports_whether_it_ran():
    assert allocator.release_free_memory() is (allocator._glibc() is not None)
