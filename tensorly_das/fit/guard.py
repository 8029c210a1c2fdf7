"""The divergence guard: keeps the last finite state and stops a fit that blows up."""

import math

from ..backend import all_finite, copy


#: a training loss this many times above the fit's first one counts as a blow-up (a fit that
#: converges never comes near it; comparing with the lowest loss would flag exact fits' jitter)
BLOWUP_FACTOR = 1e8


class DivergenceError(FloatingPointError):
    """The fit diverged (a NaN or inf loss, or a loss that blew up while staying finite).

    Raised after the cores were restored to the last good state; an estimator attaches them
    as ``err.cores`` and keeps its previous fit.
    """


class DivergenceGuard:
    """Snapshots of the cores at the start of the last two passes.

    :meth:`checkpoint` is called at the start of every pass; when a pass ends with a
    non-finite loss or non-finite cores, :meth:`check` restores the last finite snapshot
    in place and raises :class:`DivergenceError`.
    """

    def __init__(self):
        self.previous = None
        self.current = None

    def checkpoint(self, cores):
        """Copy ``cores`` (the start of a pass); returns the copy."""
        self.previous, self.current = self.current, [copy(c) for c in cores]
        return self.current

    def check(self, cores, iteration, *errors):
        """Raise (after restoring) when any of ``errors`` (floats) is not finite."""
        if all(math.isfinite(e) for e in errors):
            return
        good = self.previous if self.previous is not None else self.current
        self._restore(cores, good)
        raise DivergenceError(
            f"the training loss became {errors[0]} at iteration {iteration}; the cores were "
            "restored to the last finite state. Lower the learning rate (lr), or for "
            "DAS lower das_alpha or das_max_scale."
        )

    def check_growth(self, cores, iteration, loss, first, best_cores):
        """Raise (after restoring ``best_cores``) when ``loss`` blew up while staying finite."""
        if best_cores is None or not first > 0 or loss <= BLOWUP_FACTOR * first:
            return
        self._restore(cores, best_cores)
        raise DivergenceError(
            f"the training loss grew to {loss:.3g} at iteration {iteration}, over {BLOWUP_FACTOR:.0e} times "
            f"its value when this fit started ({first:.3g}); the cores were restored to the best "
            "state. Lower the learning rate (lr), or for DAS lower das_alpha or das_max_scale."
        )

    def check_cores(self, cores, iteration):
        """Raise (after restoring) when the cores themselves hold NaN or inf."""
        if all_finite(cores):
            return
        self._restore(cores, self.current)
        raise DivergenceError(
            f"the cores became NaN or inf at iteration {iteration}; they were "
            "restored to the last finite state. Lower the learning rate (lr)."
        )

    @staticmethod
    def _restore(cores, good):
        for core, value in zip(cores, good):
            core[...] = value
