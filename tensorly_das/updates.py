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

_EPS = 1e-12


# ---------------------------------------------------------------- base steps
class SGD:
    """Gradient descent, optionally with (heavy-ball) momentum.

    Parameters
    ----------
    lr : float
        Step size.
    momentum : float, default 0
    """

    def __init__(self, lr=1e-2, momentum=0.0):
        self.lr = lr
        self.momentum = momentum
        self._velocity = None

    def step(self, cores, grads):
        """Move ``cores`` in place against ``grads``."""
        if self.momentum:
            if self._velocity is None:
                self._velocity = [g * 1.0 for g in grads]
            else:
                for v, g in zip(self._velocity, grads):
                    v *= self.momentum
                    v += g
            grads = self._velocity
        for core, g in zip(cores, grads):
            core -= self.lr * g


class Adam:
    """Adam (Kingma and Ba) with bias correction, applied to each core in place.

    Parameters
    ----------
    lr : float
    betas : tuple of float, default (0.9, 0.999)
    eps : float, default 1e-8
    """

    def __init__(self, lr=1e-2, betas=(0.9, 0.999), eps=1e-8):
        self.lr = lr
        self.betas = betas
        self.eps = eps
        self._t = 0
        self._m = None
        self._v = None

    def step(self, cores, grads):
        """Move ``cores`` in place by one Adam step with gradients ``grads``."""
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


def make_base_step(solver, lr):
    """The base step called ``solver`` (``"adam"`` or ``"sgd"``) with step size ``lr``."""
    if solver == "adam":
        return Adam(lr=lr)
    if solver == "sgd":
        return SGD(lr=lr)
    raise ValueError(f"solver must be 'adam' or 'sgd', got {solver!r}")


# ---------------------------------------------------------------- schedules
ALPHA_SCHEDULES = ("linear", "cosine", "constant")


def scheduled_alpha(alpha, schedule, progress):
    """``alpha`` at ``progress`` in [0, 1] of training under ``schedule``.

    ``linear`` decays to 0 at the end, ``cosine`` follows half a cosine to 0,
    ``constant`` keeps ``alpha``.
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
    cores, grads, eta, alpha, denominator="squared", deviation="paper", max_scale=0.05
):
    """DAS per-core scale changes ``lambda_k`` (eq. 9 of the paper), bounded.

    ``lambda_k = eta * alpha * u * (||g_k||^2 - mean_j ||g_j||^2) / ||G_k||^2``
    with ``u = (sum_j ||g_j||^2)^(-1/2)``; each core is then multiplied by
    ``1 + lambda_k``. Cores whose gradient energy is above the mean grow.

    Parameters
    ----------
    cores, grads : list of arrays
    eta : float
        Learning rate of the base step.
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
        lambdas = das_lambdas(
            core_sq, grad_sq, tl.mean(core_sq), tl.mean(grad_sq), tl.sum(grad_sq),
            eta * alpha, denominator, deviation,
        )
        return tl.clip(lambdas, -max_scale, max_scale)


def das_lambdas(core_sq, grad_sq, core_sq_mean, grad_sq_mean, grad_sq_total, eta_alpha,
                denominator="squared", deviation="paper"):
    """Eq. 9 on squared norms, before the bound: the one place the formula lives.

    Every argument may be a vector (one entry per core, layer statistics repeated
    for each of its cores), so many layers can be handled at once. Uses only
    arithmetic operators, so it runs on any array type.

    Parameters
    ----------
    core_sq, grad_sq : ``||G_k||^2`` and ``||g_k||^2``
    core_sq_mean, grad_sq_mean : means of those over the layer's cores (``Gbar``, ``gbar``)
    grad_sq_total : ``sum_j ||g_j||^2`` over the layer (``u = grad_sq_total^(-1/2)``)
    eta_alpha : learning rate times scheduled alpha
    denominator, deviation : see :func:`das_scale_factors`
    """
    if deviation == "paper":
        # u * (||g_k||^2 - gbar): carries the units of the gradient
        numerator = (grad_sq - grad_sq_mean) / (grad_sq_total**0.5 + _EPS)
    elif deviation == "relative":
        # (||g_k||^2 / gbar - 1) * Gbar: invariant to rescaling the loss
        numerator = (grad_sq / (grad_sq_mean + _EPS) - 1.0) * core_sq_mean
    else:
        raise ValueError(f"DAS deviation must be 'paper' or 'relative', got {deviation!r}")
    if denominator == "squared":
        denom = core_sq + _EPS
    elif denominator == "norm":
        denom = core_sq**0.5 + _EPS
        if deviation == "relative":
            numerator = numerator / core_sq_mean**0.5
    else:
        raise ValueError(f"DAS denominator must be 'squared' or 'norm', got {denominator!r}")
    return eta_alpha * numerator / denom


def das_factors(lambdas, rebalance=False):
    """The per-core multipliers ``1 + lambda_k``; with ``rebalance`` their product is 1."""
    with backend_of(lambdas):
        factors = 1.0 + lambdas
        if rebalance:
            factors = factors / tl.exp(tl.mean(tl.log(factors)))
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


METHODS = ("plain", "sam", "das")


def make_update(method, base, **options):
    """Build the update ``method`` (``"plain"``, ``"sam"`` or ``"das"``) around ``base``.

    ``options`` are the keyword arguments of :class:`SAMUpdate` or :class:`DASUpdate`.
    """
    if method == "plain":
        return PlainUpdate(base)
    if method == "sam":
        return SAMUpdate(base, **options)
    if method == "das":
        return DASUpdate(base, **options)
    raise ValueError(f"method must be one of {METHODS}, got {method!r}")
