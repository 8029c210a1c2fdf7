"""Monitoring a fit: the per-pass history, early stopping and the best state."""

import math
import time

#: Keys of the history dictionary, in order.
HISTORY_KEYS = ("loss", "val_rmse", "norm_deviation", "covariance", "time")

#: With a validation set, the fit stops only once the training loss has also
#: improved by less than this fraction over the last ``n_iter_no_change`` passes.
TRAIN_STALL_FRACTION = 0.05

#: errors below this fraction of the values' RMS count as an exact fit (no further improvement):
#: block least squares can creep towards zero error by a fraction of a percent per sweep for
#: thousands of sweeps (seen on noise-free Tucker and TR problems)
EXACT_FIT = 1e-4


def training_stalled(losses, window):
    """True when the training loss fell by less than TRAIN_STALL_FRACTION over ``window`` passes.

    CP-type fits often see the validation error rise for a while before the
    training loss reaches a good basin and the validation error falls again;
    stopping on the validation error alone cuts those fits short.

    Parameters
    ----------
    losses : list of float
        Training loss per pass.
    window : int
        Passes to look back.

    Returns
    -------
    bool
    """
    if len(losses) <= window:
        return False
    return losses[-1] > (1.0 - TRAIN_STALL_FRACTION) * losses[-1 - window]


class Monitor:
    """History, patience and the best state of one fit.

    Parameters
    ----------
    history : dict of lists or None
        Appended to (warm start); a new one is made when None.
    first_pass : int
        Passes already done (the index of the first pass now).
    tol : float
        Relative improvement of the monitored score that resets the patience, measured from the
        score at the last reset (as Keras' ``min_delta``), not from the previous pass: a fit
        whose every pass gains less than ``tol`` but whose ``n_iter_no_change`` passes together
        gain more goes on. Block least squares in a swamp does that for hundreds of sweeps
        (the full Indian Pines cube, CP rank 20, in ``benchmarks/real_data``).
    n_iter_no_change : int
        Patience, in passes.
    validated : bool
        Whether a validation RMSE is monitored (else the training loss).
    value_rms : float, default 0
        Root-mean-square of the training values. Once the monitored error is below
        :data:`EXACT_FIT` of it (in RMSE; of its square in loss) the fit counts as exact and
        nothing counts as an improvement: such a fit keeps gaining relative improvements at
        ever smaller errors and would otherwise run to ``max_iter``.
    wait_for_training : bool, default True
        Stop only once the training loss has also stalled (:func:`training_stalled`), not on
        the patience alone.
    """

    def __init__(self, history, first_pass, tol, n_iter_no_change, validated, value_rms=0.0,
                 wait_for_training=True):
        self.wait_for_training = wait_for_training
        self.history = {key: [] for key in HISTORY_KEYS} if history is None else history
        self.tol, self.patience, self.validated = tol, n_iter_no_change, validated
        self.floor = EXACT_FIT * value_rms if validated else 0.5 * (EXACT_FIT * value_rms) ** 2
        self.best_score, self.best_iter, self.best_cores = math.inf, first_pass, None
        self.reference = math.inf  # the score at the last reset of the patience
        self.no_change, self.n_done, self.stopped = 0, 0, "max_iter"
        self.first_loss = None  # of this fit (a warm start's earlier passes excluded)
        self._t0 = time.perf_counter()
        self._elapsed_before = self.history["time"][-1] if self.history["time"] else 0.0

    def record(self, iteration, snapshot, loss, val_rmse, q, cov):
        """Log one pass (host floats) whose start state is ``snapshot``; True to stop."""
        self.n_done += 1
        self.first_loss = loss if self.first_loss is None else self.first_loss
        for key, value in zip(HISTORY_KEYS, (loss, val_rmse, q, cov)):
            self.history[key].append(value)
        self.history["time"].append(self._elapsed_before + time.perf_counter() - self._t0)
        score = val_rmse if self.validated else loss
        improved = score < self.reference * (1 - self.tol) and self.best_score > self.floor
        if improved:
            self.reference, self.no_change = score, 0
        else:
            self.no_change += 1
        if score < self.best_score:
            self.best_score, self.best_iter, self.best_cores = score, iteration, snapshot
        if self.no_change >= self.patience and (not self.wait_for_training
                                                 or training_stalled(self.history["loss"], self.patience)):
            self.stopped = "no_change"
            return True
        return False

    def finish(self, cores, final_val_rmse, last_iteration):
        """Keep the better of the final cores and the best start-of-pass state (in place).

        Parameters
        ----------
        cores : list of arrays
            The cores after the last pass; overwritten with the best state if that was better.
        final_val_rmse : float or None
            Validation RMSE of ``cores`` (None without validation: the last iterate is kept).
        last_iteration : int
            Index of the state ``cores`` holds.

        Returns
        -------
        result : dict
            ``history``, ``n_iter`` (passes run now), ``best_iter``, ``best_val_rmse``,
            ``stopped`` (``"no_change"`` or ``"max_iter"``).
        """
        if final_val_rmse is not None:
            if final_val_rmse < self.best_score:
                self.best_score, self.best_iter = final_val_rmse, last_iteration
            else:
                for core, good in zip(cores, self.best_cores):
                    core[...] = good
        return {
            "history": self.history,
            "n_iter": self.n_done,
            "best_iter": self.best_iter,
            "best_val_rmse": self.best_score if self.validated else math.nan,
            "stopped": self.stopped,
        }
