"""Choosing a rank by cross-validation without paying for spare components.

A completion model with more components than the truth needs often scores as well as the true
rank on held-out entries (early stopping keeps the spare components from overfitting), so the
highest mean score picks a larger rank on a fair share of seeds
(``benchmarks/rank_selection.py``). The usual remedy is the one-standard-error rule (Hastie,
Tibshirani and Friedman, *The Elements of Statistical Learning*, 7.10): among the candidates
whose mean score is within one standard error of the best, take the simplest.

On noise-free data the rule alone fails: every candidate at or above the true rank fits to
within the fits' convergence (held-out ``1 - R^2`` of 1e-11 to 4e-11 on the benchmark's
noise-free Tucker problems), the folds agree to 1e-12, and the standard error no longer covers
differences that are numerical, not statistical. So the margin has a floor, ``min_difference``.
"""

import math

import numpy as np


def rank_size(rank):
    """The complexity of a rank: the rank itself, or the product of a tuple of ranks.

    Parameters
    ----------
    rank : int or tuple of int

    Returns
    -------
    size : int
    """
    return int(math.prod(rank)) if isinstance(rank, (tuple, list)) else int(rank)


def one_standard_error_rule(param="rank", complexity=rank_size, min_difference=1e-6):
    """A ``refit`` callable for :class:`~sklearn.model_selection.GridSearchCV` that picks the
    simplest candidate within one standard error of the best mean score.

    The margin is ``max(standard error of the best, min_difference)``: differences in mean
    score below ``min_difference`` count as ties (the fits stop at a relative tolerance, so
    scores this close differ by convergence, not by what the data say).

    Parameters
    ----------
    param : str, default "rank"
        The searched parameter whose complexity decides.
    complexity : callable, default :func:`rank_size`
        Maps a value of ``param`` to a number; smaller is simpler.
    min_difference : float, default 1e-6
        Smallest margin, in the score's units (R^2 for the estimators' ``score``); 0 gives
        the plain one-standard-error rule.

    Returns
    -------
    refit : callable
        ``refit(cv_results) -> index`` of the chosen candidate.

    Examples
    --------
    >>> from sklearn.model_selection import GridSearchCV, KFold
    >>> import tensorly_das as td
    >>> search = GridSearchCV(td.CPCompletion(), {"rank": [2, 3, 4, 5]},
    ...                       cv=KFold(3, shuffle=True, random_state=0),
    ...                       refit=td.one_standard_error_rule("rank"))
    """
    if (isinstance(min_difference, bool) or not isinstance(min_difference, (int, float))
            or not math.isfinite(min_difference) or min_difference < 0):
        raise ValueError(f"min_difference must be a finite number >= 0, got {min_difference!r}")

    def refit(cv_results):
        mean = np.asarray(cv_results["mean_test_score"], dtype=float)
        std = np.asarray(cv_results["std_test_score"], dtype=float)
        n_splits = sum(1 for key in cv_results if key.startswith("split") and key.endswith("_test_score"))
        finite = np.isfinite(mean)
        if not finite.any():
            return int(np.argmax(np.nan_to_num(mean, nan=-np.inf)))
        best = int(np.flatnonzero(finite)[np.argmax(mean[finite])])
        threshold = mean[best] - max(std[best] / math.sqrt(max(n_splits, 1)), min_difference)
        within = [i for i in np.flatnonzero(finite) if mean[i] >= threshold]
        sizes = [complexity(p[param]) for p in cv_results["params"]]
        return int(min(within, key=lambda i: (sizes[i], -mean[i])))

    return refit
