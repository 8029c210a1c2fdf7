"""What the update rule minimizes: the model's squared loss on a batch, summed over the
ranks of a data-parallel fit, plus the ridge penalty."""


class Objective:
    """The function ``cores -> (loss, grads)`` an update rule calls, and what it is made of.

    A second-order base step (:class:`~tensorly_das.updates.BlockLeastSquares`) reads
    ``model``, ``batch``, ``l2_reg`` and ``reducer`` to solve instead of stepping.

    Parameters
    ----------
    model : TensorModel
        Gives the squared loss ``0.5 * mean(residual^2)`` and its gradients.
    batch : Batch
        Observations on the cores' backend and device.
    l2_reg : float
        Adds ``0.5 * l2_reg * sum_k ||G_k||^2`` to the loss.
    reducer : tensorly_das.distributed.AllReduce or None
        Sums the loss and gradients over the ranks of a data-parallel fit.
    """

    __slots__ = ("model", "batch", "l2_reg", "reducer")

    def __init__(self, model, batch, l2_reg=0.0, reducer=None):
        self.model, self.batch, self.l2_reg, self.reducer = model, batch, l2_reg, reducer

    def __call__(self, cores):
        if len(self.batch) == 0:  # this rank holds none of the batch: it adds nothing to the sums
            loss, grads = cores[0].sum() * 0.0, [c * 0.0 for c in cores]
        else:
            loss, grads = self.model.loss_and_grads(cores, self.batch)
        if self.reducer is not None:
            loss, grads = self.reducer.reduce_loss_and_grads(loss, grads, len(self.batch))
        if self.l2_reg:
            loss = loss + self.penalty(cores)
            grads = [g + self.l2_reg * c for g, c in zip(grads, cores)]
        return loss, grads

    def penalty(self, cores):
        """The ridge term ``0.5 * l2_reg * sum_k ||G_k||^2`` (a backend scalar, 0 without ridge)."""
        return 0.5 * self.l2_reg * sum((c * c).sum() for c in cores) if self.l2_reg else cores[0].sum() * 0.0

    def value(self, cores):
        """The objective without gradients: one prediction pass over the batch."""
        sse, count = squared_error_sum(self.model, cores, self.batch, self.reducer)
        return 0.5 * sse / max(count, 1) + self.penalty(cores)


def make_objective(model, batch, l2_reg=0.0, reducer=None):
    """The :class:`Objective` ``cores -> (loss, grads)`` of ``model`` on ``batch``.

    Parameters
    ----------
    model, batch, l2_reg, reducer :
        See :class:`Objective`.

    Returns
    -------
    objective : Objective
    """
    return Objective(model, batch, l2_reg, reducer)


def squared_error_sum(model, cores, batch, reducer=None):
    """Sum of squared residuals of the model on ``batch`` (a backend scalar) and the number of
    entries, both over every rank of a data-parallel fit."""
    residual = (model.predict(cores, batch.mode_indices) - batch.values if len(batch)
                else cores[0].sum() * 0.0)  # a rank without entries adds nothing
    sse = (residual * residual).sum()
    if reducer is None:
        return sse, len(batch)
    return reducer.reduce_sum(sse), reducer.sum([len(batch)])[0]


def rmse(model, cores, batch, reducer=None):
    """Root-mean-square error of the model on ``batch`` (a backend scalar).

    Parameters
    ----------
    model : TensorModel
        The parametrization.
    cores : list of arrays
        Its cores.
    batch : Batch
        Observations with values.
    reducer : tensorly_das.distributed.AllReduce or None
        With a data-parallel fit, the error is over the union of all ranks' batches.

    Returns
    -------
    rmse : scalar array
    """
    sse, count = squared_error_sum(model, cores, batch, reducer)
    return (sse / count) ** 0.5
