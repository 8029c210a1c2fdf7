"""The update rules plain / SAM / DAS: which gradient the base step takes, and when cores
are rescaled."""

import tensorly as tl

from ..backend import backend_of, copy
from ..norms import squared_core_norms
from ..options import METHODS
from .das import _EPS, das_factors, das_scale_factors, scheduled_alpha


class PlainUpdate:
    """The base step with the gradient at the current point (one gradient per step).

    Parameters
    ----------
    base : Adam or SGD
    """

    def __init__(self, base):
        self.base = base

    def release(self):
        """Let the base step drop what it keeps of the last fit's entries (block least squares:
        its layout, rebuilt when needed); a no-op for Adam and SGD."""
        release = getattr(self.base, "release", None)
        if release is not None:
            release()

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
        loss, grads : loss and gradients at the point the step started from (``grads`` is
            None for a base step that solves, which evaluates none).
        """
        if getattr(self.base, "solves", False):
            return self.base.sweep(cores, grad_fn), None
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
    if method not in _UPDATES:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if method != "plain" and getattr(base, "solves", False):
        raise ValueError(
            f"method={method!r} needs a gradient step (solver 'adam' or 'sgd'): SAM perturbs the "
            "point a gradient is taken at and DAS rescales the cores beside a gradient step, but "
            "solver='als' solves each core exactly and already balances the core norms after every "
            "sweep. Use method='plain' with solver='als'.")
    return _UPDATES[method](base, **options)
