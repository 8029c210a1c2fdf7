"""Observed entries of a partially known tensor: the only data type the fit loop sees."""

import math
import numbers

import numpy as np

from .backend import to_numpy
from .options import is_integer

#: Largest number of dense entries :meth:`ObservedTensor.to_dense` and
#: ``transform`` will allocate (1e8 entries, 800 MB in float64).
MAX_DENSE_SIZE = 10**8


def _as_shape(shape, ndim=None):
    if isinstance(shape, numbers.Integral):
        shape = (shape,)
    try:
        shape = tuple(shape)
    except TypeError:
        raise TypeError(f"shape must be a tuple of positive integers, got {shape!r}") from None
    for dim in shape:
        if not is_integer(dim):
            raise TypeError(f"shape must hold integers, got {shape!r}")
        if dim < 1:
            raise ValueError(f"every mode of shape must have size >= 1, got {shape!r}")
        if dim > np.iinfo(np.int64).max:
            raise ValueError(f"mode size {dim} in shape {shape!r} exceeds the largest index this "
                             "package can address (2**63 - 1)")
    if not shape:
        raise ValueError("shape must have at least one mode")
    if ndim is not None and len(shape) != ndim:
        raise ValueError(
            f"shape {shape} has {len(shape)} modes but indices have {ndim} columns"
        )
    return tuple(int(d) for d in shape)


def _as_numeric_array(data, name, want):
    """``data`` as a NumPy array (not copied where possible), refusing ragged input and
    non-numeric dtypes."""
    try:
        arr = to_numpy(data)
    except (ValueError, TypeError) as err:
        raise ValueError(f"{name} must be a rectangular array of {want}, got a ragged or malformed sequence "
                         f"({err})") from None
    if arr.dtype == object or arr.dtype.kind in "USV":
        raise TypeError(f"{name} must be {want}, got dtype {arr.dtype}")
    if arr.dtype.kind == "b":
        raise TypeError(f"{name} must be {want}, got a boolean array")
    if arr.dtype.kind == "c":
        raise TypeError(f"{name} must be {want}, got complex values")
    return arr


def as_index_array(indices):
    """Validate and copy an (n, N) integer index array (no range checks)."""
    arr = _as_numeric_array(indices, "indices", "integers")
    if arr.ndim != 2:
        raise ValueError(
            f"indices must be a 2-D array of shape (n_observed, n_modes), got ndim={arr.ndim}"
        )
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise TypeError("indices must be integers, got non-integer floating values")
    elif arr.dtype.kind not in "iu":
        raise TypeError(f"indices must be integers, got dtype {arr.dtype}")
    if arr.size and arr.dtype.kind in "uf" and arr.max().item() > 2**62:
        raise ValueError(f"index out of range: {arr.max()} is beyond any tensor's size")
    return np.array(arr, dtype=np.int64, copy=True)


def _as_values(values):
    arr = _as_numeric_array(values, "values", "real numbers")
    if arr.ndim != 1:
        raise ValueError(f"values must be a 1-D array, got ndim={arr.ndim}")
    arr = np.array(arr, dtype=np.float64, copy=True)
    bad = ~np.isfinite(arr)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        kind = "NaN" if np.isnan(arr[first]) else "inf"
        raise ValueError(
            f"values must be finite: {int(bad.sum())} observed value(s) are NaN or inf "
            f"(first at position {first} is {kind}); drop them or mark them missing"
        )
    return arr


def _row_keys(indices, shape):
    """One integer key per observed entry (row-major linear index when it fits)."""
    if math.prod(shape) < 2**62:
        return np.ravel_multi_index(tuple(indices.T), shape)
    return None


class ObservedTensor:
    """The observed entries of a tensor of known shape, in coordinate form.

    Parameters
    ----------
    indices : array-like of int, shape (n_observed, n_modes)
        Position of each observed entry.
    values : array-like of float, shape (n_observed,)
        Observed values; must be finite.
    shape : tuple of int, optional
        Shape of the full tensor. Inferred as ``indices.max(axis=0) + 1`` if omitted.
    duplicates : {"error", "mean"}, default "error"
        What to do when the same entry is observed twice: raise, or keep one entry
        holding the mean of its observations.

    Attributes
    ----------
    indices : ndarray of int64, shape (nnz, N)
    values : ndarray of float64, shape (nnz,)
    shape : tuple of int

    Notes
    -----
    The arrays are copied on construction: the caller's arrays are never shared
    or modified. Memory is O(nnz * N), independent of the dense size.

    Examples
    --------
    >>> import numpy as np
    >>> obs = ObservedTensor([[0, 1], [2, 0]], [1.0, -2.0], shape=(3, 2))
    >>> obs.nnz, obs.shape
    (2, (3, 2))
    """

    def __init__(self, indices, values, shape=None, duplicates="error"):
        indices = as_index_array(indices)
        values = _as_values(values)
        if indices.shape[0] != values.shape[0]:
            raise ValueError(
                f"indices have {indices.shape[0]} rows but values have {values.shape[0]} entries"
            )
        if indices.shape[0] == 0:
            raise ValueError("no observed entries: an ObservedTensor needs at least one value")
        if indices.shape[1] == 0:
            raise ValueError("indices must have at least one column (one per mode)")
        if (indices < 0).any():
            row = int(np.flatnonzero((indices < 0).any(axis=1))[0])
            raise ValueError(f"indices must be non-negative, row {row} is {indices[row].tolist()}")
        if shape is None:
            shape = tuple(int(m) + 1 for m in indices.max(axis=0))
        shape = _as_shape(shape, ndim=indices.shape[1])
        check_index_range(indices, shape)
        if duplicates not in ("error", "mean"):
            raise ValueError(f"duplicates must be 'error' or 'mean', got {duplicates!r}")
        indices, values = self._handle_duplicates(indices, values, shape, duplicates)
        self._set(indices, values, shape)

    def _set(self, indices, values, shape):
        """Hold checked arrays, read-only: an entry changed after the checks could break
        every guarantee they give (range, uniqueness, finiteness)."""
        indices.setflags(write=False)
        values.setflags(write=False)
        self._indices, self._values, self._shape = indices, values, shape

    @property
    def indices(self):
        """(nnz, N) int64 array of the observed positions (read-only)."""
        return self._indices

    @property
    def values(self):
        """(nnz,) float64 array of the observed values (read-only)."""
        return self._values

    @property
    def shape(self):
        """The full tensor's shape."""
        return self._shape

    def __setstate__(self, state):
        # pickles of 0.1 stored the public names
        state = {("_" + k if k in ("indices", "values", "shape") else k): v for k, v in state.items()}
        self._set(np.array(state["_indices"]), np.array(state["_values"]), state["_shape"])

    @staticmethod
    def _handle_duplicates(indices, values, shape, duplicates):
        keys = _row_keys(indices, shape)
        if keys is None:
            _, first, inverse = np.unique(indices, axis=0, return_index=True, return_inverse=True)
        else:
            _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        if first.shape[0] == indices.shape[0]:
            return indices, values
        if duplicates == "error":
            counts = np.bincount(inverse.ravel())
            dup_entry = int(np.flatnonzero(counts > 1)[0])
            rows = np.flatnonzero(inverse.ravel() == dup_entry)[:2].tolist()
            raise ValueError(
                f"duplicate entries: {int((counts > 1).sum())} entries are observed more than "
                f"once (e.g. rows {rows} both at {indices[rows[0]].tolist()}); pass "
                "duplicates='mean' to average them"
            )
        inverse = inverse.ravel()
        sums = np.bincount(inverse, weights=values)
        counts = np.bincount(inverse)
        return indices[first], sums / counts

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_dense(cls, X, mask=None):
        """Observed entries of a dense array.

        Parameters
        ----------
        X : array-like, shape (I_1, ..., I_N)
            Dense data; NaN marks a missing entry when ``mask`` is None.
        mask : array-like of bool, optional
            True where an entry is observed. Observed entries must be finite.

        Returns
        -------
        ObservedTensor

        Notes
        -----
        A ``numpy.ma.MaskedArray`` marks its masked entries missing (its hidden values are
        ignored), together with NaN or ``mask``.
        """
        hidden = np.ma.getmaskarray(X) if isinstance(X, np.ma.MaskedArray) else None
        X = _as_numeric_array(np.ma.getdata(X) if hidden is not None else X, "X", "real numbers")
        if hidden is not None and mask is None:
            mask = ~hidden & ~np.isnan(X)
        elif hidden is not None and np.asarray(mask).dtype == bool and np.shape(mask) == X.shape:
            mask = np.asarray(mask) & ~hidden
        if X.ndim < 1 or X.size == 0:
            raise ValueError(f"X must be a non-empty array, got shape {X.shape}")
        if mask is None:
            if np.isinf(X).any():
                raise ValueError(
                    "X contains inf values; NaN marks missing entries, inf is not allowed"
                )
            observed = ~np.isnan(X)
        else:
            observed = to_numpy(mask)
            if observed.dtype != bool:
                raise TypeError(f"mask must be a boolean array, got dtype {observed.dtype}")
            if observed.shape != X.shape:
                raise ValueError(f"mask has shape {observed.shape} but X has shape {X.shape}")
        if not observed.any():
            raise ValueError("no observed entries: every entry of X is missing")
        indices = np.argwhere(observed)
        return cls(indices, X[observed], shape=X.shape)

    @classmethod
    def from_sparse(cls, S):
        """Observed entries of a sparse array: every *stored* entry is observed.

        Parameters
        ----------
        S : pydata ``sparse.COO`` (any order) or ``scipy.sparse`` matrix/array (order 2)

        Returns
        -------
        ObservedTensor
        """
        module = type(S).__module__.split(".")[0]
        if module == "sparse":  # pydata sparse: COO, GCXS, DOK
            coo = S if hasattr(S, "coords") else S.tocoo()
            return cls(np.asarray(coo.coords).T, np.asarray(coo.data), shape=tuple(coo.shape))
        if module == "scipy" and hasattr(S, "tocoo"):
            coo = S.tocoo(copy=True)
            return cls(np.stack([coo.row, coo.col], axis=1), coo.data, shape=tuple(coo.shape))
        raise TypeError(
            f"from_sparse expects a pydata sparse array or a scipy.sparse matrix, got {type(S).__name__}"
        )

    # ------------------------------------------------------------------ properties
    @property
    def nnz(self):
        """Number of observed entries."""
        return int(self.values.shape[0])

    @property
    def ndim(self):
        """Order of the tensor (number of modes)."""
        return len(self.shape)

    @property
    def density(self):
        """Fraction of the tensor's entries that are observed."""
        return self.nnz / math.prod(self.shape)

    def __len__(self):
        return self.nnz

    def __repr__(self):
        return f"ObservedTensor(shape={self.shape}, nnz={self.nnz}, density={self.density:.3g})"

    # ------------------------------------------------------------------ operations
    def subset(self, rows):
        """A new ObservedTensor holding the entries at positions ``rows``.

        Parameters
        ----------
        rows : int array or slice
            Positions of the entries to keep.

        Returns
        -------
        observed : ObservedTensor
        """
        return self._subset(rows)

    def _subset(self, rows, allow_empty=False):
        rows = np.asarray(rows)
        if self.values[rows].shape[0] == 0 and not allow_empty:
            raise ValueError("the selection holds no observed entries")
        new = object.__new__(type(self))
        new._set(self.indices[rows].copy(), self.values[rows].copy(), self.shape)
        return new

    def split(self, test_size=0.1, random_state=None):
        """Randomly split the observed entries into two disjoint ObservedTensors.

        Parameters
        ----------
        test_size : float in (0, 1) or int
            Fraction (or number) of entries that go to the second part.
        random_state : int, numpy Generator or None

        Returns
        -------
        train, test : ObservedTensor
            Every entry is in exactly one of the two.
        """
        n_test = self._n_split(test_size)
        perm = np.random.default_rng(random_state).permutation(self.nnz)
        test_rows, train_rows = np.sort(perm[:n_test]), np.sort(perm[n_test:])
        return self.subset(train_rows), self.subset(test_rows)

    def hash_split(self, test_size, seed):
        """Split the entries by a hash of their indices: the split early stopping makes.

        Entry ``i`` goes to the second part when a number drawn from its indices and
        ``seed`` (:func:`~tensorly_das.entry_hash.entry_uniform`) is below ``test_size``, so the
        split does not depend on the entries' order or on how they are sharded over processes.
        The parts' sizes vary around ``test_size * nnz``; each holds at least one entry.
        A fitted estimator's ``validation_seed_`` reproduces its validation entries:
        ``obs.hash_split(est.validation_fraction, est.validation_seed_)``.

        Parameters
        ----------
        test_size : float in (0, 1)
            Expected fraction of entries in the second part.
        seed : int
            The draw.

        Returns
        -------
        train, test : ObservedTensor
        """
        if not (isinstance(test_size, numbers.Real) and 0 < test_size < 1) or self.nnz < 2:
            raise ValueError(f"hash_split needs a test_size in (0, 1) and at least 2 entries, got "
                             f"{test_size!r} and {self.nnz}")
        return self._hash_split(test_size, seed)

    def _hash_split(self, test_size, seed, reducer=None):
        """:meth:`hash_split` over the union of every rank's entries (``reducer``: sums and
        extremes over ranks); a rank's part may then be empty."""
        from .entry_hash import entry_uniform

        u = entry_uniform(self.indices, seed)
        held = u < test_size
        n, n_held = self.nnz, int(held.sum())
        if reducer is not None:
            n, n_held = (int(c) for c in reducer.sum([n, n_held]))
        if n < 2:
            raise ValueError("early_stopping needs at least 2 observed entries to hold some out; "
                             "pass early_stopping=False")
        if n_held in (0, n):  # few entries: move the one with the extreme draw across
            local = (u.min() if n_held == 0 else u.max()) if len(u) else (np.inf if n_held == 0 else -np.inf)
            edge = local if reducer is None else reducer.extreme(local, minimum=n_held == 0)
            held = u <= edge if n_held == 0 else u < edge
        empty_ok = reducer is not None
        return (self._subset(np.flatnonzero(~held), allow_empty=empty_ok),
                self._subset(np.flatnonzero(held), allow_empty=empty_ok))

    def _n_split(self, test_size):
        if isinstance(test_size, (bool, np.bool_)):
            raise TypeError("test_size must be a float in (0, 1) or a positive int")
        if is_integer(test_size):
            n_test = int(test_size)
        elif isinstance(test_size, numbers.Real) and 0 < test_size < 1:
            n_test = int(round(test_size * self.nnz))
        else:
            raise ValueError(f"test_size must be a float in (0, 1) or a positive int, got {test_size!r}")
        if not 1 <= n_test < self.nnz:
            raise ValueError(
                f"cannot split {self.nnz} observed entries with test_size={test_size!r}: "
                "both parts need at least one entry"
            )
        return n_test

    def to_dense(self, fill_value=np.nan):
        """The dense tensor with ``fill_value`` at unobserved entries (refuses huge shapes).

        Parameters
        ----------
        fill_value : float, default NaN
            Value of the unobserved entries.

        Returns
        -------
        dense : ndarray of shape ``shape``
        """
        check_dense_size(self.shape)
        out = np.full(self.shape, fill_value, dtype=np.float64)
        out[tuple(self.indices.T)] = self.values
        return out


def check_index_range(indices, shape):
    """Raise a clear ValueError naming the first index outside ``0 <= index < shape``."""
    bad = (indices < 0) | (indices >= np.asarray(shape))
    if bad.any():
        row, mode = (int(v) for v in np.argwhere(bad)[0])
        raise ValueError(
            f"index out of range: row {row} has index {int(indices[row, mode])} in mode "
            f"{mode}, whose size is {shape[mode]}"
        )


def check_dense_size(shape, limit=MAX_DENSE_SIZE):
    """Raise a clear MemoryError when a dense tensor of ``shape`` would be too large."""
    size = math.prod(shape)
    if size > limit:
        raise MemoryError(
            f"a dense tensor of shape {tuple(shape)} has {size:.3g} entries, above the limit "
            f"of {limit:.3g}; use predict(indices) on the entries you need instead"
        )
