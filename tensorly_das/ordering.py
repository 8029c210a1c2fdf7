"""Orders of tensor entries: by one small integer key (rows, fibers, batches), or by their
position in the tensor.

NumPy sorts integers of at most 16 bits by radix sort, in linear time, and wider integers by
comparison; the entries of a mode with up to 65536 rows are grouped several times faster
once their keys are stored in the narrowest unsigned type that holds them. Every function
here returns exactly the order the plain stable sort would.
"""

import math

import numpy as np


def _narrowest(keys, bound):
    """``keys`` (non-negative, below ``bound``) in the narrowest unsigned type that holds them."""
    for dtype in (np.uint8, np.uint16, np.uint32):
        if bound <= np.iinfo(dtype).max + 1:
            return keys.astype(dtype, copy=False)
    return keys


def stable_order(keys, bound=None):
    """The stable sorting permutation of non-negative integer ``keys``.

    Parameters
    ----------
    keys : 1-D int ndarray
        Values in ``[0, bound)``.
    bound : int, optional
        An upper bound on the keys (exclusive); the largest key plus one if not given.

    Returns
    -------
    order : int ndarray
        Equal to ``np.argsort(keys, kind="stable")``.
    """
    keys = np.asarray(keys)
    if keys.size == 0:
        return np.zeros(0, dtype=np.intp)
    if bound is None:
        bound = int(keys.max()) + 1
    return np.argsort(_narrowest(keys, bound), kind="stable")


def lexicographic_order(indices):
    """The permutation that sorts the rows of ``indices`` ((n, N) non-negative ints)
    lexicographically, first column first: the entries' row-major position in the tensor.

    Equal to ``np.lexsort(indices.T[::-1])``; where the positions fit in one int64 it sorts
    that single key instead, several times faster.
    """
    indices = np.asarray(indices)
    if indices.shape[0] == 0:
        return np.zeros(0, dtype=np.intp)
    dims = [int(d) + 1 for d in indices.max(axis=0)]
    if math.prod(dims) >= 2**63:
        return np.lexsort(indices.T[::-1])
    key = np.ravel_multi_index(tuple(indices.T), dims)
    return stable_order(key, math.prod(dims))


def canonical_order(indices, values):
    """The observations ((n, N) ``indices``, (n,) ``values``) sorted by their position in the
    tensor: an order that neither the caller's order nor a sharding changes."""
    order = lexicographic_order(indices)
    return indices[order], values[order]
