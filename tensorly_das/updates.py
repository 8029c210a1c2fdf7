"""Update rules on a list of cores: base steps (Adam, SGD) and the wrappers
plain / SAM / DAS that decide which gradient the base step takes.

Nothing here knows about a particular model: an update sees a list of cores
(NumPy arrays or torch tensors, updated in place) and a function
``grad_fn(cores) -> (loss, grads)``.
"""

import math

import tensorly as tl

from .backend import backend_of, copy
from .norms import squared_core_norms
from .options import ALPHA_SCHEDULES, DAS_DENOMINATORS, DAS_DEVIATIONS, METHODS, SOLVERS

_EPS = 1e-12


# ---------------------------------------------------------------- base steps
class SGD:
    """Plain gradient descent.

    Parameters
    ----------
    lr : float
        Step size.
    """

    def __init__(self, lr=1e-2):
        self.lr = lr

    def step(self, cores, grads):
        """Move ``cores`` in place against ``grads``.

        Parameters
        ----------
        cores, grads : list of arrays
            Parameters (updated in place) and their gradients.
        """
        for core, g in zip(cores, grads):
            core -= self.lr * g


class Adam:
    """Adam (Kingma and Ba) with bias correction, applied to each core in place.

    Parameters
    ----------
    lr : float
        Step size.
    betas : tuple of float, default (0.9, 0.999)
        Decay rates of the first and second moment estimates.
    eps : float, default 1e-8
        Added to the root of the second moment (as in ``torch.optim.Adam``).
    """

    def __init__(self, lr=1e-2, betas=(0.9, 0.999), eps=1e-8):
        self.lr = lr
        self.betas = betas
        self.eps = eps
        self._t = 0
        self._m = None
        self._v = None

    def step(self, cores, grads):
        """Move ``cores`` in place by one Adam step with gradients ``grads``.

        Parameters
        ----------
        cores, grads : list of arrays
            Parameters (updated in place) and their gradients.
        """
        b1, b2 = self.betas
        if self._m is None:
            self._m = [g * 0.0 for g in grads]
            self._v = [g * 0.0 for g in grads]
        self._t += 1
        step_size = self.lr * math.sqrt(1 - b2**self._t) / (1 - b1**self._t)
        eps = self.eps * math.sqrt(1 - b2**self._t)
        for core, g, m, v in zip(cores, grads, self._m, self._v):
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * (g * g)
            core -= step_size * m / (v**0.5 + eps)


_BASE_STEPS = {"adam": Adam, "sgd": SGD}
assert tuple(_BASE_STEPS) == SOLVERS


def make_base_step(solver, lr):
    """The base step called ``solver`` with step size ``lr``.

    Parameters
    ----------
    solver : {"adam", "sgd"}
        One of :data:`tensorly_das.options.SOLVERS`.
    lr : float
        Step size.

    Returns
    -------
    step : Adam or SGD
    """
    try:
        return _BASE_STEPS[solver](lr=lr)
    except KeyError:
        raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}") from None


# ---------------------------------------------------------------- schedules
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
    for each of its cores), so many layers can be handled at once. Uses only
    arithmetic operators, so it runs on any array type.

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
        # (||g_k||^2 / gbar - 1) * Gbar: invariant to rescaling the loss
        numerator = (grad_sq / (grad_sq_mean + _EPS) - 1.0) * core_sq_mean
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
    with backend_of(lambdas):
        return tl.clip(lambdas, -max_scale, max_scale)


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
    with backend_of(lambdas):
        factors = 1.0 + lambdas
        if rebalance:
            log_f = tl.log(factors)
            factors = factors / tl.exp(tl.mean(log_f) if layer_mean is None else layer_mean(log_f))
        return factors


# ---------------------------------------------------------------- wrappers
class PlainUpdate:
    """The base step with the gradient at the current point (one gradient per step).

    Parameters
    ----------
    base : Adam or SGD
    """

    def __init__(self, base):
        self.base = base

    def step(self, cores, grad_fn, progress=0.0):
        """One update of ``cores`` in place.

        Parameters
        ----------
        cores : list of arrays
        grad_fn : callable
            ``grad_fn(cores) -> (loss, grads)``.
        progress : float
            Fraction of training done (drives schedules).

        Returns
        -------
        loss, grads : loss and gradients at the point the step started from.
        """
        loss, grads = grad_fn(cores)
        self.base.step(cores, grads)
        return loss, grads


class SAMUpdate(PlainUpdate):
    """Sharpness-aware minimization (Algorithm 1): two gradients per step.

    The gradient is taken at ``G_k + rho * g_k / ||g||`` (all cores perturbed
    together, ``||g||`` over all cores); the base step moves the unperturbed
    cores with that gradient.

    Parameters
    ----------
    base : Adam or SGD
    rho : float >= 0
        Perturbation radius. ``rho = 0`` is exactly the plain step.
    adaptive : bool
        ASAM: perturb by ``rho * |G|^2 g / || |G| g ||`` (elementwise), which makes the
        perturbation invariant to rescaling the cores.
    """

    def __init__(self, base, rho=0.05, adaptive=False):
        super().__init__(base)
        self.rho = rho
        self.adaptive = adaptive

    def step(self, cores, grad_fn, progress=0.0):
        loss, grads = grad_fn(cores)
        if self.adaptive:
            scaled = [g * (c * c) for g, c in zip(grads, cores)]
            norm_sq = squared_core_norms([g * abs(c) for g, c in zip(grads, cores)])
        else:
            scaled = grads
            norm_sq = squared_core_norms(grads)
        with backend_of(norm_sq):
            factor = self.rho / (tl.sqrt(tl.sum(norm_sq)) + _EPS)
        originals = [copy(c) for c in cores]
        for core, s in zip(cores, scaled):
            core += factor * s
        _, sam_grads = grad_fn(cores)
        for core, orig in zip(cores, originals):
            core[...] = orig
        self.base.step(cores, sam_grads)
        return loss, grads


class DASUpdate(PlainUpdate):
    """Deviation-Aware Scaling (Algorithm 2): one gradient per step.

    Each core is rescaled by ``1 + lambda_k`` (:func:`das_scale_factors`), then the
    base step moves it with the gradient taken before the rescaling.

    Parameters
    ----------
    base : Adam or SGD
    alpha : float >= 0
        Strength; ``alpha = 0`` is exactly the plain step.
    alpha_schedule : {"linear", "cosine", "constant"}
    denominator, deviation, max_scale :
        See :func:`das_scale_factors`.
    rebalance : bool
        Divide the factors ``1 + lambda_k`` by their geometric mean so that their
        product is exactly 1: a pure rebalancing of core norms, which leaves the
        reconstruction (and the loss) of a multilinear model unchanged.
    """

    def __init__(
        self,
        base,
        alpha=1.0,
        alpha_schedule="linear",
        denominator="squared",
        deviation="paper",
        max_scale=0.05,
        rebalance=False,
    ):
        super().__init__(base)
        self.rebalance = rebalance
        self.alpha = alpha
        self.alpha_schedule = alpha_schedule
        self.denominator = denominator
        self.deviation = deviation
        self.max_scale = max_scale
        scheduled_alpha(alpha, alpha_schedule, 0.0)  # validates the schedule name

    def step(self, cores, grad_fn, progress=0.0):
        loss, grads = grad_fn(cores)
        alpha_t = scheduled_alpha(self.alpha, self.alpha_schedule, progress)
        if alpha_t != 0.0:
            lambdas = das_scale_factors(
                cores,
                grads,
                self.base.lr,
                alpha_t,
                self.denominator,
                self.deviation,
                self.max_scale,
            )
            factors = das_factors(lambdas, self.rebalance)
            for k, core in enumerate(cores):
                core *= factors[k]
        self.base.step(cores, grads)
        return loss, grads


_UPDATES = {"plain": PlainUpdate, "sam": SAMUpdate, "das": DASUpdate}
assert tuple(_UPDATES) == METHODS


def make_update(method, base, **options):
    """Build the update ``method`` around ``base``.

    Parameters
    ----------
    method : {"plain", "sam", "das"}
        One of :data:`tensorly_das.options.METHODS`.
    base : Adam or SGD
        The base step.
    **options
        Keyword arguments of :class:`SAMUpdate` or :class:`DASUpdate`.

    Returns
    -------
    update : PlainUpdate, SAMUpdate or DASUpdate
    """
    try:
        return _UPDATES[method](base, **options)
    except KeyError:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}") from None
