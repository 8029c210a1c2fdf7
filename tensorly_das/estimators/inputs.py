"""The input forms every estimator method takes, turned into observations or entries.

``fit``, ``score`` and ``transform`` take the same forms, ``predict`` too (its values are
not needed):

- an :class:`~tensorly_das.ObservedTensor`;
- a pydata ``sparse`` or ``scipy.sparse`` array (its stored entries are observed);
- a dense array with NaN at the missing entries, or with a boolean ``mask`` (True = observed);
- an ``(n, N)`` integer array of indices with the values ``y``.
"""

import numpy as np

from ..observed import ObservedTensor, as_index_array, check_index_range


def is_sparse(X):
    """True for a pydata ``sparse`` or ``scipy.sparse`` array.

    Parameters
    ----------
    X : object
        The candidate.

    Returns
    -------
    bool
    """
    module = type(X).__module__.split(".")[0]
    return module == "sparse" or (module == "scipy" and hasattr(X, "tocoo"))


def as_observations(X, y=None, mask=None, shape=None):
    """The observations ``X`` (with ``y`` or ``mask``) designate, as an ObservedTensor.

    Parameters
    ----------
    X : ObservedTensor, sparse array, dense array, or (n, N) int array
        See the module's docstring.
    y : array of shape (n,), optional
        Values at the indices ``X``.
    mask : bool array, optional
        True where a dense ``X`` is observed.
    shape : tuple of int, optional
        The tensor's shape: given with indices, checked against every other form.

    Returns
    -------
    observations : ObservedTensor
    """
    if y is not None:
        if mask is not None:
            raise ValueError("pass either y (with X as indices) or mask, not both")
        return ObservedTensor(X, y, shape=shape)
    if X is None:
        raise ValueError("observations are needed, got X=None")
    if isinstance(X, ObservedTensor):
        obs = X
    elif is_sparse(X):
        obs = ObservedTensor.from_sparse(X)
    else:
        obs = ObservedTensor.from_dense(X, mask=mask)
    if shape is not None and tuple(shape) != obs.shape:
        raise ValueError(f"the data have shape {obs.shape} but the tensor has shape {tuple(shape)}")
    return obs


def _is_dense_of(X, shape):
    """True for a floating array-like of exactly ``shape`` (anything unreadable: False)."""
    if not (isinstance(X, (list, tuple)) or hasattr(X, "__array__")):
        return False
    try:
        arr = np.asarray(X)
    except (ValueError, TypeError):
        return False  # ragged or odd input: reported by the index check that follows
    return arr.shape == tuple(shape) and arr.dtype.kind == "f"


def entries(X, shape, mask=None):
    """The (n, N) indices of the entries ``X`` designates in a tensor of ``shape``.

    An integer array of shape (n, N) lists them; a floating array of the tensor's own shape
    is dense (its non-NaN entries, or ``mask``); an ObservedTensor or sparse array gives its
    observed entries.

    Parameters
    ----------
    X : ObservedTensor, sparse array, dense array, or (n, N) int array
        The entries.
    shape : tuple of int
        Shape of the fitted tensor.
    mask : bool array, optional
        True where a dense ``X`` is observed.

    Returns
    -------
    indices : (n, N) int64 array
    """
    if isinstance(X, ObservedTensor) or is_sparse(X) or mask is not None or _is_dense_of(X, shape):
        return as_observations(X, mask=mask, shape=shape).indices
    indices = as_index_array(X)
    if indices.shape[1] != len(shape):
        raise ValueError(
            f"indices have {indices.shape[1]} columns but the fitted tensor has {len(shape)} modes"
        )
    check_index_range(indices, shape)
    return indices


def check_value_range(values, dtype):
    """Raise a clear error when the observed values are too large for the fit's dtype.

    The loss sums squared residuals; values whose squares (summed over all entries)
    overflow would surface later as a divergence with a misleading hint about the learning
    rate, when the data's scale is the cause.

    Parameters
    ----------
    values : 1-D float array
        The observed values (finite).
    dtype : str
        The fit's floating dtype.
    """
    biggest = float(np.max(np.abs(values)))
    limit = float(np.sqrt(np.finfo(dtype).max / max(len(values), 1))) / 10
    if biggest > limit:
        raise ValueError(
            f"observed values reach {biggest:.3g}, too large for a {dtype} fit of {len(values)} "
            f"entries (their squared sum would overflow above about {limit:.2g}); rescale the data, "
            "e.g. divide by its standard deviation, and multiply the predictions back"
        )
