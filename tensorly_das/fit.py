"""The one fit loop shared by every model and update rule.

It knows nothing about a particular decomposition: it sees a model (predictions
and squared-loss gradients at a batch of observations), a list of cores and an
update rule. It handles mini-batches, early stopping on a validation batch,
history, the progress bar and the divergence guard.
"""

import math
import time

import numpy as np

from .allocator import reuse_freed_memory
from .backend import all_finite, copy, is_torch, to_backend
from .models.base import Batch
from .norms import norm_deviation, norm_gradient_covariance

#: Keys of the history dictionary, in order.
HISTORY_KEYS = ("loss", "val_rmse", "norm_deviation", "covariance", "time")


class DivergenceError(FloatingPointError):
    """The fit produced a NaN or inf loss; the last finite cores were kept."""


def select_rows(batch, rows):
    """The sub-batch at positions ``rows`` (an integer array on the batch's device)."""
    return Batch(
        [idx[rows] for idx in batch.mode_indices],
        None if batch.values is None else batch.values[rows],
    )


def rmse(model, cores, batch, reducer=None):
    """Root-mean-square error of the model on ``batch`` (a backend scalar).

    With a ``reducer`` (data-parallel fit) the error is over the union of all ranks' batches.
    """
    residual = model.predict(cores, batch.mode_indices) - batch.values
    sse = (residual * residual).sum()
    if reducer is None:
        return (sse / len(batch)) ** 0.5
    return (reducer.reduce_sum(sse) / reducer.sum([len(batch)])[0]) ** 0.5


def _scalars_to_host(values):
    """Convert a list of backend scalars (or None) to floats with one host sync."""
    present = [v for v in values if v is not None]
    if present and is_torch(present[0]):
        import torch

        host = torch.stack([torch.as_tensor(v, device=present[0].device) for v in present])
        host = host.double().cpu().tolist()
    else:
        host = [float(v) for v in present]
    it = iter(host)
    return [next(it) if v is not None else math.nan for v in values]


#: With a validation set, the fit stops only once the training loss has also
#: improved by less than this fraction over the last ``n_iter_no_change`` passes.
TRAIN_STALL_FRACTION = 0.05


def _training_stalled(losses, window):
    """True when the training loss fell by less than TRAIN_STALL_FRACTION over ``window`` passes.

    CP-type fits often see the validation error rise for a while before the
    training loss reaches a good basin and the validation error falls again;
    stopping on the validation error alone cuts those fits short.
    """
    if len(losses) <= window:
        return False
    return losses[-1] > (1.0 - TRAIN_STALL_FRACTION) * losses[-1 - window]


def _progress_bar(verbose, max_iter):
    if not verbose:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=max_iter, desc="fit", unit="it", leave=True)


@reuse_freed_memory()
def fit_cores(
    model,
    cores,
    train,
    update,
    val=None,
    max_iter=1000,
    tol=1e-4,
    n_iter_no_change=50,
    batch_size=None,
    rng=None,
    verbose=False,
    history=None,
    start_iter=0,
    l2_reg=0.0,
    reducer=None,
):
    """Train ``cores`` in place on the observations ``train`` with ``update``.

    Parameters
    ----------
    model : TensorModel
    cores : list of arrays
        Updated in place; on return they hold the best state (lowest validation
        error when ``val`` is given, else the last iterate).
    train : Batch
        Training observations on the cores' backend and device.
    update : PlainUpdate, SAMUpdate or DASUpdate
    val : Batch or None
        Held-out observations for early stopping. When given, the loop keeps the
        cores with the lowest validation RMSE and stops after ``n_iter_no_change``
        passes without a relative improvement of at least ``tol``.
    max_iter : int
        Maximum number of passes over ``train`` (one step per pass with full batch).
    tol : float
        Relative improvement that counts (validation RMSE, or training loss when
        ``val`` is None).
    n_iter_no_change : int
    batch_size : int or None
        Observations per step; None means the full batch.
    rng : numpy Generator
        Shuffles mini-batches.
    verbose : bool
        Show a tqdm progress bar with training loss, validation RMSE and Q.
    history : dict of lists, optional
        Appended to (for warm starts); a new one is made when None.
    start_iter : int
        Passes already done (warm start); schedules continue from there.
    l2_reg : float
        Adds ``0.5 * l2_reg * sum_k ||G_k||^2`` to the training loss (ridge on every core).
    reducer : tensorly_das.distributed.AllReduce or None
        Data-parallel fit: ``train`` and ``val`` are this rank's shards; losses, gradients
        and validation errors are summed over ranks, so all ranks take identical steps.
        ``batch_size`` is then the global number of observations per step.

    Returns
    -------
    result : dict
        ``history`` (dict of lists, see :data:`HISTORY_KEYS`), ``n_iter`` (passes run
        now), ``best_iter``, ``best_val_rmse``, ``stopped`` ("no_change", "max_iter").

    Raises
    ------
    DivergenceError
        When the loss becomes NaN or inf. ``cores`` hold the last finite state.
    """
    history = {key: [] for key in HISTORY_KEYS} if history is None else history
    rng = np.random.default_rng() if rng is None else rng
    n_train = len(train)
    n_global = n_train if reducer is None else int(reducer.sum([n_train])[0])
    full_batch = batch_size is None or batch_size >= n_global
    steps_per_pass = 1 if full_batch else math.ceil(n_global / batch_size)
    total_steps = (start_iter + max_iter) * steps_per_pass
    step_count = start_iter * steps_per_pass
    on_torch = is_torch(cores[0])
    device = cores[0].device if on_torch else "cpu"

    best_cores = None
    best_score = math.inf
    best_iter = start_iter
    no_change = 0
    stopped = "max_iter"
    snapshot = None
    bar = _progress_bar(verbose and (reducer is None or reducer.rank == 0), max_iter)
    t_start = time.perf_counter()
    elapsed_before = history["time"][-1] if history["time"] else 0.0

    def grad_fn_for(batch):
        def loss_and_grads(cs):
            if len(batch):
                loss, grads = model.loss_and_grads(cs, batch)
            else:  # an empty mini-batch chunk on this rank still joins the all-reduce
                loss, grads = (cs[0] * 0).sum(), [c * 0 for c in cs]
            if reducer is not None:
                loss, grads = reducer.reduce_loss_and_grads(loss, grads, len(batch))
            if l2_reg:
                penalty = sum((c * c).sum() for c in cs)
                loss = loss + 0.5 * l2_reg * penalty
                grads = [g + l2_reg * c for g, c in zip(grads, cs)]
            return loss, grads

        return loss_and_grads

    n_done = 0
    # overflow shows up as NaN/inf in the loss, which the loop checks and reports
    with np.errstate(over="ignore", invalid="ignore"):
        try:
            for it in range(start_iter, start_iter + max_iter):
                previous, snapshot = snapshot, [copy(c) for c in cores]
                val_err = rmse(model, cores, val, reducer) if val is not None else None
                if full_batch:
                    loss, grads = update.step(cores, grad_fn_for(train), step_count / total_steps)
                    step_count += 1
                else:
                    perm = rng.permutation(n_train)
                    loss = 0.0
                    for start in range(0, n_train, batch_size):
                        rows = perm[start : start + batch_size]
                        rows = to_backend(rows, "pytorch" if on_torch else "numpy", device)
                        batch = select_rows(train, rows)
                        batch_loss, grads = update.step(
                            cores, grad_fn_for(batch), step_count / total_steps
                        )
                        loss = loss + batch_loss * (len(batch) / n_train)
                        step_count += 1
                # Q and the covariance at the point the (last) step started from
                q = norm_deviation(snapshot)
                cov = norm_gradient_covariance(snapshot, grads)
                loss_h, val_h, q_h, cov_h = _scalars_to_host([loss, val_err, q, cov])
                n_done += 1

                if not (math.isfinite(loss_h) and (val is None or math.isfinite(val_h))):
                    last_finite = previous if previous is not None else snapshot
                    for core, good in zip(cores, last_finite):
                        core[...] = good
                    raise DivergenceError(
                        f"the training loss became {loss_h} at iteration {it + 1}; the cores were "
                        "restored to the last finite state. Lower the learning rate (lr), or for "
                        "DAS lower alpha or das_max_scale."
                    )
                history["loss"].append(loss_h)
                history["val_rmse"].append(val_h)
                history["norm_deviation"].append(q_h)
                history["covariance"].append(cov_h)
                history["time"].append(elapsed_before + time.perf_counter() - t_start)

                score = val_h if val is not None else loss_h
                no_change = 0 if score < best_score * (1 - tol) else no_change + 1
                if score < best_score:
                    best_score, best_iter, best_cores = score, it, snapshot
                if bar is not None:
                    bar.update(1)
                    if n_done % 10 == 1:
                        postfix = {"train_loss": f"{loss_h:.4g}", "Q": f"{q_h:.3g}"}
                        if val is not None:
                            postfix["val_rmse"] = f"{val_h:.4g}"
                        bar.set_postfix(postfix, refresh=False)
                if no_change >= n_iter_no_change and _training_stalled(history["loss"], n_iter_no_change):
                    stopped = "no_change"
                    break
        finally:
            if bar is not None:
                bar.close()

    if not all_finite(cores):
        # the last step overflowed: fall back to the state it started from
        for core, good in zip(cores, snapshot):
            core[...] = good
        raise DivergenceError(
            f"the cores became NaN or inf at iteration {start_iter + n_done}; they were "
            "restored to the last finite state. Lower the learning rate (lr)."
        )
    if val is not None:
        final_err = float(rmse(model, cores, val, reducer))
        if final_err < best_score:
            best_score, best_iter = final_err, start_iter + n_done
        else:
            for core, good in zip(cores, best_cores):
                core[...] = good
    return {
        "history": history,
        "n_iter": n_done,
        "best_iter": best_iter,
        "best_val_rmse": best_score if val is not None else math.nan,
        "stopped": stopped,
    }
