"""Error measures on observed entries (all take NumPy arrays or torch tensors)."""

import numpy as np

from .backend import to_numpy


def _pair(y_true, y_pred):
    y_true = np.asarray(to_numpy(y_true), dtype=np.float64).ravel()
    y_pred = np.asarray(to_numpy(y_pred), dtype=np.float64).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has {y_true.size} entries but y_pred has {y_pred.size}")
    if y_true.size == 0:
        raise ValueError("cannot score zero entries")
    return y_true, y_pred


_SECTIONS = """

    Parameters
    ----------
    y_true, y_pred : array-like of the same size
        Observed values and predictions (NumPy arrays or torch tensors).

    Returns
    -------
    score : float
    """


def _scores_pairs(func):
    """Append the shared Parameters and Returns sections to a score's docstring."""
    func.__doc__ = func.__doc__.rstrip() + _SECTIONS
    return func


@_scores_pairs
def r2_score(y_true, y_pred):
    """Coefficient of determination ``1 - SSE / sum((y - mean(y))^2)`` (NaN when ``y`` is constant).
    """
    y_true, y_pred = _pair(y_true, y_pred)
    sst = np.sum((y_true - y_true.mean()) ** 2)
    sse = np.sum((y_true - y_pred) ** 2)
    return float(1.0 - sse / sst) if sst > 0 else float("nan")


@_scores_pairs
def uncentered_r2_score(y_true, y_pred):
    """``1 - ||y_pred - y||^2 / ||y||^2``: the R^2 the DAS paper's script reports.

    On the paper's standardized COVID-19 data the two R^2 differ little; on data
    with a large mean this one is much more flattering than :func:`r2_score`.
    """
    y_true, y_pred = _pair(y_true, y_pred)
    return float(1.0 - np.sum((y_pred - y_true) ** 2) / np.sum(y_true**2))


@_scores_pairs
def nrmse(y_true, y_pred):
    """Normalized root-mean-square error ``||y_pred - y|| / ||y||``.
    """
    y_true, y_pred = _pair(y_true, y_pred)
    return float(np.linalg.norm(y_pred - y_true) / np.linalg.norm(y_true))
