"""Core-norm diagnostics of a tensorized model: per-core norms, Norm Deviation Q
and the covariance that drives SAM's implicit balancing.

All functions take a list of cores (NumPy arrays or torch tensors, CPU or CUDA)
and return arrays of the same backend on the same device: nothing is copied to
the host, so they can run every step.
"""

import numpy as np
import tensorly as tl

from .backend import backend_of, is_torch


def _check_cores(cores, name="cores"):
    cores = list(cores)
    if not cores:
        raise ValueError(f"{name} must hold at least one core, got an empty list")
    return cores


def squared_core_norms(cores):
    """Squared Frobenius norms ``||G_k||^2`` of the cores, as one vector of length K.

    Parameters
    ----------
    cores : list of arrays
        The K cores of a tensorized model (factor matrices, Tucker core, TT/TR cores).

    Returns
    -------
    sq_norms : array of shape (K,)
        Same backend and device as the cores.
    """
    cores = _check_cores(cores)
    sums = [core.reshape(-1) @ core.reshape(-1) for core in cores]  # no temporary squares
    if is_torch(cores[0]):
        import torch

        return torch.stack(sums)
    return np.array(sums)


def core_norms(cores):
    """Frobenius norms ``||G_k||`` of the cores, as one vector of length K.

    Parameters
    ----------
    cores : list of arrays

    Returns
    -------
    norms : array of shape (K,)

    Examples
    --------
    >>> import numpy as np
    >>> core_norms([np.ones((2, 2)), 3 * np.ones((1, 1))])
    array([2., 3.])
    """
    sq = squared_core_norms(cores)
    with backend_of(sq):
        return tl.sqrt(sq)


def norm_deviation(cores):
    """Norm Deviation ``Q = sum_k (||G_k||^2 - mean_i ||G_i||^2)^2`` (Definition 1).

    ``Q`` is zero exactly when all cores have the same norm. Note that the
    authors' code logs ``Q / (K - 1)`` (an unbiased variance); this is ``Q``.

    Parameters
    ----------
    cores : list of arrays

    Returns
    -------
    Q : scalar array (0-d), same backend and device as the cores.

    Examples
    --------
    >>> import numpy as np
    >>> float(norm_deviation([np.ones((1, 1)), 3 * np.ones((1, 1))]))
    32.0
    """
    return deviation_of_squared_norms(squared_core_norms(cores))


def deviation_of_squared_norms(sq):
    """``Q`` from the vector of squared core norms (see :func:`norm_deviation`).

    Parameters
    ----------
    sq : array of shape (K,)
        ``||G_k||^2`` for each core.

    Returns
    -------
    Q : scalar array (0-d)
    """
    centred = sq - sq.mean()  # array methods: NumPy and torch alike, no backend switch
    return (centred * centred).sum()


def norm_gradient_covariance(cores, grads):
    """Population covariance over the cores of ``||G_k||^2`` and ``||g_k||^2``.

    Theorem 3 of the paper: under SAM, ``dQ/dt = 4 rho u K Cov(||G_k||^2, ||g_k||^2)``
    to first order, so a negative covariance (small cores receive large gradients)
    makes SAM shrink Q.

    Parameters
    ----------
    cores : list of arrays
    grads : list of arrays
        Gradients of the loss with respect to each core, same shapes as ``cores``.

    Returns
    -------
    cov : scalar array (0-d)
    """
    cores = _check_cores(cores)
    grads = _check_cores(grads, "grads")
    if len(cores) != len(grads):
        raise ValueError(f"got {len(cores)} cores but {len(grads)} gradients")
    return covariance_of_squared_norms(squared_core_norms(cores), squared_core_norms(grads))


def covariance_of_squared_norms(core_sq, grad_sq):
    """The covariance of :func:`norm_gradient_covariance` from the squared norms.

    Parameters
    ----------
    core_sq, grad_sq : arrays of shape (K,)
        ``||G_k||^2`` and ``||g_k||^2`` for each core.

    Returns
    -------
    cov : scalar array (0-d)
    """
    return ((core_sq - core_sq.mean()) * (grad_sq - grad_sq.mean())).mean()
