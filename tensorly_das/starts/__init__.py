"""Starts of a fit: spectral (the default), random, or cores the user gives.

A start is a family of its own beside the models: a model adds only two hooks
(:meth:`~tensorly_das.models.TensorModel.basis_dims` and
:meth:`~tensorly_das.models.TensorModel.from_subspaces`), and the estimators pick a start by
name. Every named start then sets the rows of modes that have no training entry to the mean
of the observed rows, so predictions on unseen slices are an average slice, never the
arbitrary values of a random draw.
"""

import warnings

import numpy as np
from scipy.sparse.linalg import ArpackError

from ..backend import to_numpy
from ..models.restrict import fill_rows_with_mean
from ..options import INITS
from ..ordering import canonical_order
from .refine import refine_subspaces
from .spectral import SpectralStartError, spectral_cores


class UnobservedSliceWarning(UserWarning):
    """Some rows (slices) of a mode have no training entry."""


def fill_unobserved_rows(model, cores, indices):
    """Set, in place, the rows of every mode without a training entry to the observed rows' mean.

    Parameters
    ----------
    model : TensorModel
        Says where each mode's rows live (:meth:`~tensorly_das.models.TensorModel.mode_axes`).
    cores : list of ndarray
        The start's cores.
    indices : (nnz, N) int array
        Training entries.
    """
    seen = [np.bincount(indices[:, n], minlength=size) > 0 for n, size in enumerate(model.shape)]
    fill_rows_with_mean(model, cores, seen)


def initial_cores(init, model, indices, values, rng):
    """NumPy cores to start a fit from.

    Parameters
    ----------
    init : {"spectral", "random"}, list of arrays or TensorLy decomposition
        The start. ``"spectral"`` falls back to ``"random"`` with a warning that says why
        when the observations cannot support it.
    model : TensorModel
        The parametrization.
    indices : (nnz, N) int array
        Training entries (all ranks' in a data-parallel fit).
    values : (nnz,) array
        Their values.
    rng : numpy Generator
        Random draws of the start.

    Returns
    -------
    cores : list of ndarray
    """
    if not isinstance(init, str):
        return _given_cores(init, model)
    if init not in INITS:
        raise ValueError(f"init must be one of {INITS}, a list of cores or a TensorLy "
                         f"decomposition, got {init!r}")
    cores = None
    if init == "spectral":
        try:
            cores = spectral_cores(model, indices, values, rng)
        except SpectralStartError as err:
            warnings.warn(f"no spectral start: {err}; starting from random cores instead",
                          UserWarning, stacklevel=6)
        except (np.linalg.LinAlgError, ArithmeticError, ArpackError) as err:  # degenerate data
            warnings.warn(f"no spectral start: the eigen- or CP decomposition failed on these "
                          f"observations ({type(err).__name__}: {err}); starting from random cores "
                          "instead", UserWarning, stacklevel=6)
    if cores is None:
        cores = model.init_cores(rng, float(np.sqrt(np.mean(values**2))))
    fill_unobserved_rows(model, cores, indices)
    return cores


def _given_cores(init, model):
    if isinstance(init, (list, tuple)) and all(hasattr(c, "shape") for c in init):
        cores = [np.array(to_numpy(c), dtype=np.float64) for c in init]
    else:
        cores = model.from_tensorly(init)
    model.check_cores(cores)
    if not all(np.isfinite(c).all() for c in cores):
        raise ValueError("the initial cores given as init contain NaN or inf")
    return cores


def warn_unobserved_slices(counts, shape):
    """Warn, naming the modes and counts, when rows of some mode have no training entry.

    Parameters
    ----------
    counts : list of 1-D int arrays
        Training entries per row of each mode.
    shape : tuple of int
        The tensor's shape.
    """
    empty = [(n, int((c == 0).sum())) for n, c in enumerate(counts) if (c == 0).any()]
    if empty:
        parts = ", ".join(f"mode {n}: {k} of {shape[n]} rows" for n, k in empty)
        warnings.warn(
            f"no training entry in some slices ({parts}); the model's values there are not "
            "informed by data (with a named start they are set to the mean of the fitted rows). "
            "If this comes from cross-validation folds over sorted indices, shuffle the folds "
            "(KFold(shuffle=True)).",
            UnobservedSliceWarning, stacklevel=6)


__all__ = ["initial_cores", "fill_unobserved_rows", "warn_unobserved_slices", "canonical_order",
           "spectral_cores", "refine_subspaces", "SpectralStartError", "UnobservedSliceWarning"]
