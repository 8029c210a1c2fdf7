"""``l2_reg="auto"``: the ridge strength chosen on the validation entries early stopping holds out.

The strengths tried are relative to a reference that carries the data's units,
``lambda_ref = mean(y^2) / (K * prod_k ||G_k||^(2/K))`` at the start's cores (the ridge at which
the penalty of balanced cores equals the data's mean energy): 0, then ``lambda_ref`` times
:data:`RELATIVE_GRID`, weakest first. The fit without ridge runs from the starts; each stronger
strength continues from the cores the previous one fitted (a warm-started path, with early
stopping at every step: a quarter of the patience for the first, and with block least squares a
tenth for the later ones, which also stop without waiting for the training loss to stall), so
the later steps are short. The path
goes from weak to strong because a strong ridge can switch CP components off for good (block
least squares never revives a component that is zero in two factors); a strongest-first path
ended in such worse fits on Kinetic and Indian Pines CP during development. The search stops once two
strengths in a row validate worse than the best so far, and keeps the best. Its cost against
one fit is measured on the real tensors in ``benchmarks/ridge_path_cost.py``.
"""

import math

import numpy as np

from ..backend import to_numpy

#: strengths tried after 0, as multiples of the reference, weakest first
RELATIVE_GRID = (0.01, 0.03, 0.1, 0.3, 1.0)


def reference_strength(cores, mean_square):
    """``mean(y^2) / (K * prod_k ||G_k||^(2/K))``: the data's scale for the ridge.

    Parameters
    ----------
    cores : list of arrays
        A start's cores.
    mean_square : float
        Mean of the squared training values.

    Returns
    -------
    strength : float
    """
    norms = [float(np.linalg.norm(to_numpy(c))) for c in cores]
    k = len(norms)
    balanced = math.exp(2.0 / k * sum(math.log(max(n, 1e-300)) for n in norms))
    return float(mean_square) / (k * balanced)


def search_strength(fit_with, reference, patience=2):
    """Fit with each strength of the grid until ``patience`` in a row do worse; keep the best.

    Parameters
    ----------
    fit_with : callable
        ``fit_with(strength) -> (validation error, outcome)``.
    reference : float
        :func:`reference_strength`.
    patience : int
        Strengths in a row without improvement before the search stops.

    Returns
    -------
    strength : float
        The chosen strength.
    outcome : object
        What ``fit_with`` returned for it.
    path : list of (float, float)
        (strength, validation error) of every fit, in order.
    """
    best, path, worse = None, [], 0
    for strength in [0.0] + [reference * r for r in RELATIVE_GRID]:
        error, outcome = fit_with(strength)
        path.append((strength, error))
        if best is None or error < best[1]:
            best, worse = (strength, error, outcome), 0
        else:
            worse += 1
            if worse >= patience:
                break
    return best[0], best[2], path
