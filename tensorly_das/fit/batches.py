"""Stepping over the training entries: one update step per (mini-)batch, pass after pass."""

import math

import numpy as np

from ..norms import squared_core_norms
from .objective import make_objective


class PassResult:
    """What one pass produced.

    Parameters
    ----------
    loss : scalar array
        Training loss over the pass: each batch's loss (at the point its step started
        from) weighted by its share of the entries.
    grads : list of arrays
        Gradients of the last step, at the point it started from.
    core_sq : array of shape (K,)
        Squared core norms at that same point (pairs with ``grads``).
    """

    __slots__ = ("loss", "grads", "core_sq")

    def __init__(self, loss, grads, core_sq):
        self.loss, self.grads, self.core_sq = loss, grads, core_sq


class BatchStepper:
    """Walks the training entries with an update rule.

    Parameters
    ----------
    model : TensorModel
        The parametrization.
    train : Batch
        Training observations.
    update : PlainUpdate, SAMUpdate or DASUpdate
        The update rule; its schedules see the fraction of all steps done.
    batch_size : int or None
        Observations per step (over all ranks); None means one full-batch step per pass.
    rng : numpy Generator
        Shuffles the mini-batches of each pass.
    l2_reg : float
        Ridge strength (see :func:`~tensorly_das.fit.make_objective`).
    reducer : AllReduce or None
        Data-parallel fit.
    first_pass, n_passes : int
        Passes already done (warm start) and passes planned now; they place the
        schedules on their range.
    """

    def __init__(self, model, train, update, *, batch_size=None, rng=None, l2_reg=0.0,
                 reducer=None, first_pass=0, n_passes=1):
        self.model, self.train, self.update = model, train, update
        self.rng = np.random.default_rng() if rng is None else rng
        self.l2_reg, self.reducer = l2_reg, reducer
        n_global = len(train) if reducer is None else int(reducer.sum([len(train)])[0])
        self.batch_size = None if batch_size is None or batch_size >= n_global else batch_size
        steps_per_pass = 1 if self.batch_size is None else math.ceil(n_global / self.batch_size)
        self.total_steps = (first_pass + n_passes) * steps_per_pass
        self.steps_done = first_pass * steps_per_pass

    def batches(self):
        """The batches of one pass, in the order they are stepped on."""
        if self.batch_size is None:
            return [self.train]
        perm = self.rng.permutation(len(self.train))
        return [self.train.select(perm[s : s + self.batch_size])
                for s in range(0, len(self.train), self.batch_size)]

    def run_pass(self, cores):
        """Update ``cores`` in place over one pass; returns a :class:`PassResult`."""
        batches = self.batches()
        loss = 0.0
        for k, batch in enumerate(batches):
            if k == len(batches) - 1:
                core_sq = squared_core_norms(cores)
            objective = make_objective(self.model, batch, self.l2_reg, self.reducer)
            batch_loss, grads = self.update.step(cores, objective, self.steps_done / self.total_steps)
            loss = loss + batch_loss * (len(batch) / len(self.train))
            self.steps_done += 1
        return PassResult(loss, grads, core_sq)
