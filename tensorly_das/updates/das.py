"""The DAS formula (eq. 9 of the paper): schedules, scale changes, their bound and the factors.

Written once here and used by the completion update rule and the torch optimizer alike.
"""

import math

import tensorly as tl

from ..backend import backend_of
from ..norms import squared_core_norms
from ..options import ALPHA_SCHEDULES, DAS_DENOMINATORS, DAS_DEVIATIONS

_EPS = 1e-12


def scheduled_alpha(alpha, schedule, progress):
    """``alpha`` at ``progress`` in [0, 1] of training under ``schedule``.

    ``linear`` decays to 0 at the end, ``cosine`` follows half a cosine to 0,
    ``constant`` keeps ``alpha``.

    Parameters
    ----------
    alpha : float
        Strength at the start.
    schedule : {"linear", "cosine", "constant"}
        One of :data:`tensorly_das.options.ALPHA_SCHEDULES`.
    progress : float
        Fraction of training done (clipped to [0, 1]).

    Returns
    -------
    alpha_t : float
    """
    progress = min(max(progress, 0.0), 1.0)
    if schedule == "linear":
        return alpha * (1.0 - progress)
    if schedule == "cosine":
        return alpha * 0.5 * (1.0 + math.cos(math.pi * progress))
    if schedule == "constant":
        return alpha
    raise ValueError(f"alpha_schedule must be one of {ALPHA_SCHEDULES}, got {schedule!r}")


def das_scale_factors(
    cores, grads, lr, alpha, denominator="squared", deviation="paper", max_scale=0.05
):
    """DAS per-core scale changes ``lambda_k`` (eq. 9 of the paper), bounded.

    ``lambda_k = lr * alpha * u * (||g_k||^2 - mean_j ||g_j||^2) / ||G_k||^2``
    with ``u = (sum_j ||g_j||^2)^(-1/2)``; each core is then multiplied by
    ``1 + lambda_k``. Cores whose gradient energy is above the mean grow.

    Parameters
    ----------
    cores, grads : list of arrays
    lr : float
        Learning rate of the base step (the paper's ``eta``).
    alpha : float
        DAS strength at this step (after the schedule).
    denominator : {"squared", "norm"}
        ``||G_k||^2`` (paper, default) or ``||G_k||`` (the authors' network code).
    deviation : {"paper", "relative"}
        ``"paper"``: the numerator ``u * (||g_k||^2 - gbar)``, which carries the
        gradient's units, so the useful ``alpha`` depends on the loss's scale.
        ``"relative"``: ``(||g_k||^2 / gbar - 1) * Gbar`` with ``Gbar = mean_j ||G_j||^2``
        (and ``/ sqrt(Gbar)`` with the ``"norm"`` denominator): unchanged when the
        loss is multiplied by a constant, so ``alpha`` means the same on any data.
    max_scale : float
        Bound on ``|lambda_k|``: every step multiplies each core by a factor in
        ``[1 - max_scale, 1 + max_scale]``, so a step can never blow the cores up
        or flip their sign (for ``max_scale < 1``).

    Returns
    -------
    lambdas : array of shape (K,), same backend and device as the cores.
    """
    grad_sq = squared_core_norms(grads)
    core_sq = squared_core_norms(cores)
    with backend_of(grad_sq):
        return das_lambdas(
            core_sq, grad_sq, tl.mean(core_sq), tl.mean(grad_sq), tl.sum(grad_sq),
            lr * alpha, denominator, deviation, max_scale,
        )


def das_lambdas(core_sq, grad_sq, core_sq_mean, grad_sq_mean, grad_sq_total, lr_alpha,
                denominator="squared", deviation="paper", max_scale=None):
    """Eq. 9 on squared norms, and its bound: the one place the formula lives.

    Every argument may be a vector (one entry per core, layer statistics repeated
    for each of its cores), so many layers can be handled at once, or a Python float
    (one core). Uses only arithmetic operators, so it runs on any array type.

    Parameters
    ----------
    core_sq, grad_sq : ``||G_k||^2`` and ``||g_k||^2``
    core_sq_mean, grad_sq_mean : means of those over the layer's cores (``Gbar``, ``gbar``)
    grad_sq_total : ``sum_j ||g_j||^2`` over the layer (``u = grad_sq_total^(-1/2)``)
    lr_alpha : learning rate times scheduled alpha
    denominator, deviation, max_scale : see :func:`das_scale_factors`
        (``max_scale=None`` leaves the changes unbounded).

    Returns
    -------
    lambdas : array
        Scale changes, one per core.
    """
    if deviation == "paper":
        # u * (||g_k||^2 - gbar): carries the units of the gradient
        numerator = (grad_sq - grad_sq_mean) / (grad_sq_total**0.5 + _EPS)
    elif deviation == "relative":
        # (||g_k||^2 / gbar - 1) * Gbar: invariant to rescaling the loss (written so that
        # all-zero gradients give zero, not -Gbar)
        numerator = (grad_sq - grad_sq_mean) / (grad_sq_mean + _EPS) * core_sq_mean
    else:
        raise ValueError(f"DAS deviation must be one of {DAS_DEVIATIONS}, got {deviation!r}")
    if denominator == "squared":
        denom = core_sq + _EPS
    elif denominator == "norm":
        denom = core_sq**0.5 + _EPS
        if deviation == "relative":
            numerator = numerator / core_sq_mean**0.5
    else:
        raise ValueError(f"DAS denominator must be one of {DAS_DENOMINATORS}, got {denominator!r}")
    lambdas = lr_alpha * numerator / denom
    if max_scale is None:
        return lambdas
    if isinstance(lambdas, float):  # one core's scalars (the torch optimizer on the CPU)
        return min(max(lambdas, -max_scale), max_scale)
    # NumPy arrays and torch tensors both have .clip: no backend switch on the hot path
    return lambdas.clip(-max_scale, max_scale)


def das_factors(lambdas, rebalance=False, layer_mean=None):
    """The per-core multipliers ``1 + lambda_k``; with ``rebalance`` each layer's product is 1.

    Parameters
    ----------
    lambdas : array of shape (K,)
        Bounded scale changes (:func:`das_scale_factors`).
    rebalance : bool
        Divide the factors by their geometric mean over the layer.
    layer_mean : callable or None
        ``layer_mean(x)`` gives, for every core, the mean of ``x`` over its layer's cores;
        None treats all K cores as one layer.

    Returns
    -------
    factors : array of shape (K,)
    """
    factors = 1.0 + lambdas
    if rebalance:
        with backend_of(lambdas):
            log_f = tl.log(factors)
            factors = factors / tl.exp(tl.mean(log_f) if layer_mean is None else layer_mean(log_f))
    return factors
