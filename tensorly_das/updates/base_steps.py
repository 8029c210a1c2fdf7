"""Base steps: plain gradient descent and Adam, applied to a list of cores in place, and
the block least-squares solver (:mod:`.block_ls`)."""

import math

from ..options import SOLVERS
from .block_ls import BlockLeastSquares


class SGD:
    """Plain gradient descent.

    Parameters
    ----------
    lr : float
        Step size.
    """

    def __init__(self, lr=1e-2):
        self.lr = lr

    def step(self, cores, grads, objective=None):
        """Move ``cores`` in place against ``grads``.

        Parameters
        ----------
        cores, grads : list of arrays
            Parameters (updated in place) and their gradients.
        objective : Objective, optional
            Unused (a first-order step needs only the gradients).
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

    def step(self, cores, grads, objective=None):
        """Move ``cores`` in place by one Adam step with gradients ``grads``.

        The moment estimates are updated first; the step uses their bias-corrected ratio,
        as ``torch.optim.Adam`` does.

        Parameters
        ----------
        cores, grads : list of arrays
            Parameters (updated in place) and their gradients.
        objective : Objective, optional
            Unused.
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


_BASE_STEPS = {"adam": Adam, "sgd": SGD, "als": lambda lr: BlockLeastSquares()}
assert tuple(_BASE_STEPS) == SOLVERS


def make_base_step(solver, lr):
    """The base step called ``solver`` with step size ``lr``.

    Parameters
    ----------
    solver : {"adam", "sgd", "als"}
        One of :data:`tensorly_das.options.SOLVERS`.
    lr : float
        Step size (unused by ``"als"``, which solves).

    Returns
    -------
    step : Adam, SGD or BlockLeastSquares
    """
    try:
        return _BASE_STEPS[solver](lr=lr)
    except KeyError:
        raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}") from None
