"""What the update rule minimizes: the model's squared loss on a batch, summed over the
ranks of a data-parallel fit, plus the ridge penalty."""


def make_objective(model, batch, l2_reg=0.0, reducer=None):
    """The function ``cores -> (loss, grads)`` that an update rule calls.

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

    Returns
    -------
    objective : callable
        ``objective(cores) -> (loss, grads)``.
    """

    def objective(cores):
        if len(batch) == 0:  # this rank holds none of the batch: it adds nothing to the sums
            loss, grads = cores[0].sum() * 0.0, [c * 0.0 for c in cores]
        else:
            loss, grads = model.loss_and_grads(cores, batch)
        if reducer is not None:
            loss, grads = reducer.reduce_loss_and_grads(loss, grads, len(batch))
        if l2_reg:
            penalty = sum((c * c).sum() for c in cores)
            loss = loss + 0.5 * l2_reg * penalty
            grads = [g + l2_reg * c for g, c in zip(grads, cores)]
        return loss, grads

    return objective


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
    residual = model.predict(cores, batch.mode_indices) - batch.values
    sse = (residual * residual).sum()
    if reducer is None:
        return (sse / len(batch)) ** 0.5
    return (reducer.reduce_sum(sse) / reducer.sum([len(batch)])[0]) ** 0.5
