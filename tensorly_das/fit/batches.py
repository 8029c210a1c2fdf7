"""Stepping over the training entries: one update step per (mini-)batch, pass after pass."""

import math

import numpy as np

from ..backend import to_numpy
from ..entry_hash import entry_keys, pass_buckets
from ..norms import squared_core_norms
from ..ordering import stable_order
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
        Observations per step on average (over all ranks); None means one full-batch step
        per pass. Each pass deals every entry to one of ``ceil(n / batch_size)`` batches by a
        hash of its indices and the pass (:func:`~tensorly_das.entry_hash.pass_buckets`), so
        the batches hold the same entries whichever process holds them; their sizes vary
        around ``batch_size``.
    rng : numpy Generator
        Draws the seed of the batches (the same on every rank of a data-parallel fit).
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
        self.n_global = len(train) if reducer is None else int(reducer.sum([len(train)])[0])
        self.batch_size = None if batch_size is None or batch_size >= self.n_global else batch_size
        self.steps_per_pass = 1 if self.batch_size is None else math.ceil(self.n_global / self.batch_size)
        self.total_steps = (first_pass + n_passes) * self.steps_per_pass
        self.steps_done = first_pass * self.steps_per_pass
        self.pass_index = first_pass
        seed = int(self.rng.integers(2**63))
        self.keys = None
        if self.batch_size is not None:
            indices = np.column_stack([to_numpy(c) for c in train.mode_indices]).reshape(len(train), -1)
            self.keys = entry_keys(indices, seed)

    def batches(self):
        """The batches of one pass, in step order: (this rank's part, share of all entries)."""
        if self.batch_size is None:
            return [(self.train, 1.0)]
        buckets = pass_buckets(self.keys, self.pass_index, self.steps_per_pass)
        local = np.bincount(buckets, minlength=self.steps_per_pass)
        total = local if self.reducer is None else np.asarray(self.reducer.sum(local.tolist()))
        order = stable_order(buckets, self.steps_per_pass)
        ends = np.cumsum(local)
        return [(self.train.select(order[end - size : end]), count / self.n_global)
                for size, end, count in zip(local, ends, total)]

    def run_pass(self, cores):
        """Update ``cores`` in place over one pass; returns a :class:`PassResult`."""
        batches = self.batches()
        last = max(k for k, (_, share) in enumerate(batches) if share > 0)
        loss = 0.0
        for k, (batch, share) in enumerate(batches):
            if share > 0:  # a batch that no rank holds any entry of is skipped by all
                if k == last:
                    core_sq = squared_core_norms(cores)
                objective = make_objective(self.model, batch, self.l2_reg, self.reducer)
                batch_loss, grads = self.update.step(cores, objective, self.steps_done / self.total_steps)
                loss = loss + batch_loss * share
            self.steps_done += 1
        self.pass_index += 1
        return PassResult(loss, grads, core_sq)
