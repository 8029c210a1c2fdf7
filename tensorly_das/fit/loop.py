"""The fit loop: pass after pass, step, guard, monitor."""

import contextlib
import math

import numpy as np

from ..allocator import reuse_freed_memory
from ..backend import scalars_to_host
from ..norms import covariance_of_squared_norms, deviation_of_squared_norms, squared_core_norms
from .batches import BatchStepper
from .guard import DivergenceGuard
from .monitor import Monitor
from .objective import rmse


class ProgressBar:
    """A tqdm bar with training loss, validation RMSE and Q, or nothing when not shown.

    Parameters
    ----------
    shown : bool
        Whether to draw it.
    total : int
        Passes planned.
    """

    def __init__(self, shown, total):
        self.bar = None
        if shown:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc="fit", unit="it", leave=True)

    def update(self, n_done, loss, val_rmse, q):
        """Advance by one pass (refreshing the figures every 10 passes)."""
        if self.bar is None:
            return
        self.bar.update(1)
        if n_done % 10 == 1:
            postfix = {"train_loss": f"{loss:.4g}", "Q": f"{q:.3g}"}
            if val_rmse == val_rmse:  # not NaN
                postfix["val_rmse"] = f"{val_rmse:.4g}"
            self.bar.set_postfix(postfix, refresh=False)

    def close(self):
        """Close the bar (if shown)."""
        if self.bar is not None:
            self.bar.close()


def _value_rms(batch, reducer):
    """Root-mean-square of the training values (over all ranks), a host float."""
    square_sum = (batch.values * batch.values).sum() if len(batch) else 0.0
    if reducer is None:
        return math.sqrt(float(square_sum) / max(len(batch), 1))
    total, count = reducer.sum([float(square_sum), float(len(batch))])
    return math.sqrt(total / max(count, 1.0))


@reuse_freed_memory()
def fit_cores(model, cores, train, update, val=None, *, max_iter=1000, tol=1e-4,
              n_iter_no_change=50, batch_size=None, rng=None, verbose=False, history=None,
              start_iter=0, l2_reg=0.0, reducer=None, wait_for_training=True):
    """Train ``cores`` in place on the observations ``train`` with ``update``.

    Parameters
    ----------
    model : TensorModel
        The parametrization (predictions and squared-loss gradients).
    cores : list of arrays
        Updated in place; on return they hold the best state (lowest validation error
        when ``val`` is given, else the last iterate).
    train, val : Batch, Batch or None
        Training observations, and held-out ones for early stopping (on the cores' device).
    update : PlainUpdate, SAMUpdate or DASUpdate
        The update rule.
    max_iter, tol, n_iter_no_change : int, float, int
        Passes at most; the relative improvement of the monitored error (validation RMSE,
        else training loss) that counts; the patience in passes (see :class:`.Monitor`).
    batch_size, rng : int or None, numpy Generator
        Observations per step (None: full batch; over all ranks) and their shuffling.
    verbose : bool
        Show a tqdm progress bar with training loss, validation RMSE and Q.
    history, start_iter : dict of lists or None, int
        A warm start's history (appended to) and passes already done.
    l2_reg : float
        Adds ``0.5 * l2_reg * sum_k ||G_k||^2`` to the training loss.
    wait_for_training : bool
        With ``val``, stop only once the training loss has stalled too (see :class:`.Monitor`).
    reducer : tensorly_das.distributed.AllReduce or None
        Data-parallel fit: ``train`` and ``val`` are this rank's shards, and losses,
        gradients and errors are summed over ranks, so all ranks take identical steps.

    Returns
    -------
    result : dict
        ``history`` (see :data:`HISTORY_KEYS`), ``n_iter`` (passes run now), ``best_iter``,
        ``best_val_rmse``, ``stopped`` ("no_change" or "max_iter").

    Raises
    ------
    DivergenceError
        When the loss or the cores become NaN or inf; ``cores`` hold the last finite state.
    """
    stepper = BatchStepper(model, train, update, batch_size=batch_size, rng=rng, l2_reg=l2_reg,
                           reducer=reducer, first_pass=start_iter, n_passes=max_iter)
    monitor = Monitor(history, start_iter, tol, n_iter_no_change, validated=val is not None,
                      value_rms=_value_rms(train, reducer), wait_for_training=wait_for_training)
    guard = DivergenceGuard()
    bar = ProgressBar(verbose and (reducer is None or reducer.rank == 0), max_iter)
    # overflow shows up as NaN/inf in the loss, which the guard checks and reports
    with np.errstate(over="ignore", invalid="ignore"), contextlib.closing(bar):
        for it in range(start_iter, start_iter + max_iter):
            snapshot = guard.checkpoint(cores)
            val_err = rmse(model, cores, val, reducer) if val is not None else None
            step = stepper.run_pass(cores)
            # one host transfer; Q and the covariance are then a few floats of host arithmetic
            grad_sq = [] if step.grads is None else list(squared_core_norms(step.grads))
            loss, val_h, *norms = scalars_to_host([step.loss, val_err, *step.core_sq, *grad_sq])
            core_sq, grad_sq = np.array(norms[: len(cores)]), np.array(norms[len(cores):])
            q = float(deviation_of_squared_norms(core_sq))
            # a solving base step evaluates no gradient: no covariance
            cov = float(covariance_of_squared_norms(core_sq, grad_sq)) if len(grad_sq) else math.nan
            guard.check(cores, it + 1, loss, 0.0 if val is None else val_h)
            stop = monitor.record(it, snapshot, loss, val_h, q, cov)
            guard.check_growth(cores, it + 1, loss, monitor.first_loss, monitor.best_cores)
            bar.update(monitor.n_done, loss, val_h, q)
            if stop:
                break
        guard.check_cores(cores, start_iter + monitor.n_done)
        final = float(rmse(model, cores, val, reducer)) if val is not None else None
    return monitor.finish(cores, final, start_iter + monitor.n_done)
