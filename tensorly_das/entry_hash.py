"""Random numbers attached to tensor entries, not to their position in an array.

A hash of an entry's indices and a seed gives it the same uniform number whichever process
holds it and wherever it sits in its shard. The validation split and the mini-batch order are
drawn this way, so a data-parallel fit on any number of processes sees the same validation
entries and the same batches as one process.
"""

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def mix(x):
    """SplitMix64's finalizer, element-wise on a uint64 array (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * _M1
        x = (x ^ (x >> np.uint64(27))) * _M2
        return x ^ (x >> np.uint64(31))


def entry_keys(indices, seed):
    """One uint64 hash per entry of ``indices`` ((n, N) ints) under ``seed``."""
    seed = np.uint64(int(seed) % 2**64)
    keys = np.full(indices.shape[0], seed, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for n in range(indices.shape[1]):
            keys = mix(keys ^ mix(indices[:, n].astype(np.uint64) + np.uint64(n + 1) * _GOLDEN))
    return keys


def to_uniform(keys):
    """uint64 hashes as floats uniform in [0, 1) (their top 53 bits)."""
    return (keys >> np.uint64(11)).astype(np.float64) * 2.0**-53


def entry_uniform(indices, seed):
    """A number uniform in [0, 1) for each entry of ``indices``, fixed by the entry and ``seed``.

    Parameters
    ----------
    indices : (n, N) int array
        The entries.
    seed : int
        Any integer; the same seed gives every entry the same number.

    Returns
    -------
    u : (n,) float array
    """
    return to_uniform(entry_keys(indices, seed))


def pass_buckets(keys, pass_index, n_buckets):
    """The mini-batch (0 .. n_buckets - 1) of each entry in pass ``pass_index``.

    Parameters
    ----------
    keys : uint64 array
        :func:`entry_keys` of the training entries.
    pass_index : int
        The pass (a new draw each pass).
    n_buckets : int
        Mini-batches per pass.

    Returns
    -------
    buckets : (n,) int array
    """
    with np.errstate(over="ignore"):
        draw = mix(keys ^ (np.uint64(pass_index + 1) * _GOLDEN))
    return np.minimum((to_uniform(draw) * n_buckets).astype(np.int64), n_buckets - 1)
