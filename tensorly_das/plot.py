"""Matplotlib helpers for training curves (``pip install 'tensorly_das[plot]'``)."""

import numpy as np

_LABELS = {
    "loss": "training loss",
    "val_rmse": "validation RMSE (held out)",
    "norm_deviation": "norm deviation Q",
    "covariance": "Cov(||G_k||^2, ||g_k||^2)",
}


def _history(est_or_history):
    history = getattr(est_or_history, "history_", est_or_history)
    if not isinstance(history, dict) or "loss" not in history:
        raise TypeError("expected a fitted estimator or its history_ dictionary")
    return history


def _panels(n):
    """A figure with ``n`` panels on a grid of at most two columns, laid out without overlap."""
    import matplotlib.pyplot as plt

    ncols = min(n, 2)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.0 * nrows), squeeze=False,
                             layout="constrained")
    axes = list(axes.ravel())
    for extra in axes[n:]:
        extra.remove()
    return fig, axes[:n]


def plot_history(est, keys=("loss", "val_rmse", "norm_deviation", "covariance"), axes=None, label=None):
    """Plot the per-pass curves of a fitted estimator, one panel per key.

    Parameters
    ----------
    est : fitted estimator or its ``history_`` dict
        What to draw.
    keys : sequence of str
        Entries of ``history_`` to draw.
    axes : sequence of matplotlib Axes, optional
        One per key; new ones (a grid of at most two columns) are made when omitted.
    label : str, optional
        Legend label for these curves (useful to overlay several fits).

    Returns
    -------
    axes : list of matplotlib Axes
    """
    history = _history(est)
    unknown = [k for k in keys if k not in history]
    if unknown:
        raise ValueError(f"unknown history keys {unknown}; available: {sorted(history)}")
    if axes is None:
        _, axes = _panels(len(keys))
    iterations = np.arange(1, len(history["loss"]) + 1)
    for ax, key in zip(axes, keys):
        values = np.asarray(history[key], dtype=float)
        ax.plot(iterations, values, label=label)
        ax.set_xlabel("pass")
        ax.set_title(_LABELS.get(key, key), fontsize=10)
        if key in ("loss", "val_rmse") and np.all(values[np.isfinite(values)] > 0):
            ax.set_yscale("log")
        ax.grid(True, alpha=0.3)
    if label is not None:
        axes[0].legend()
    return axes


def plot_comparison(estimators, keys=("loss", "val_rmse", "norm_deviation", "covariance")):
    """Overlay the curves of several fitted estimators.

    Parameters
    ----------
    estimators : dict
        Name (the legend label) -> fitted estimator.
    keys : sequence of str
        Entries of ``history_`` to draw.

    Returns
    -------
    fig : matplotlib Figure
    """
    fig, axes = _panels(len(keys))
    for name, est in estimators.items():
        plot_history(est, keys=keys, axes=axes, label=name)
    return fig
