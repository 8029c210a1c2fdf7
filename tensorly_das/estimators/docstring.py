"""The docstring shared by the four completion estimators, filled per model."""

#: the doctest lines both templates start their example with (a tensor with NaN at half its entries)
EXAMPLE_SETUP = """    >>> import numpy as np, tensorly as tl
    >>> from tensorly.random import random_cp
    >>> X = tl.cp_to_tensor(random_cp((10, 11, 12), rank=2, random_state=0))
    >>> X[np.random.default_rng(0).random(X.shape) < 0.5] = np.nan
"""

_DOC = """Tensor completion with a {title} model by block least squares or Adam/SGD (with SAM or DAS).

    The model is {formula}; it is fitted to the observed entries only (squared loss
    ``0.5 * mean(residual^2)``) without ever forming the dense tensor: one pass costs
    {cost} time.

    Parameters
    ----------
    rank : {rank_type}, default {rank_default}
        {rank_doc}
    method : {{"plain", "sam", "das"}}, default "plain"
        Update rule wrapped around the base step: the plain step, sharpness-aware
        minimization (two gradients per step) or Deviation-Aware Scaling (one). The
        default is plain since 0.2 (0.1: "das", which at its default strength barely
        acted): on the completion benchmarks it is best or tied on held-out error and the
        cheapest of the rules that do not raise it (``benchmarks/default_method.py``).
    solver : {{"auto", "als", "adam", "sgd"}}, default "auto"
        Base step. ``"als"``: block least squares, every core solved exactly given the others
        (ridge least squares per row of the core, from the observed entries only), the core
        norms balanced after every sweep (:mod:`tensorly_das.updates.block_ls`); it needs
        ``method="plain"`` and full batches. ``"adam"``, ``"sgd"``: gradient steps.
        ``"auto"``: ``"als"`` for the plain method on full batches, else ``"adam"``; the one
        that ran is ``solver_``.
    lr : float, default 0.05
        Learning rate of Adam and SGD (unused by ``"als"``).
    das_alpha : float, default 1.0
        DAS strength (``method="das"``); 0 gives exactly the plain step. In the
        paper's form the per-step scale change is ``lr * das_alpha * u * (||g_k||^2 - gbar)
        / ||G_k||^2``, which carries the gradient's units: on unit-scale data with
        this package's mean squared loss, ``das_alpha=1`` changes core norms by about
        1e-5 per step. With ``solver="sgd"`` it matches SAM's first-order change of the
        core norms at ``das_alpha = sam_rho``; with Adam no value does (the user guide's
        *What the strength means*). Tune it (e.g. with GridSearchCV), or use
        ``das_deviation="relative"``, whose strength does not depend on the loss scale.
    sam_rho : float, default 0.05
        SAM radius (``method="sam"``); 0 gives exactly the plain step.
    das_alpha_schedule : {{"linear", "cosine", "constant"}}, default "linear"
        How ``das_alpha`` decays over the ``max_iter`` passes.
    max_iter : int, default 5000
        Maximum number of passes over the training entries (sweeps for ``"als"``).
    tol : float, default 1e-4
        Relative improvement of the monitored error (validation RMSE, or training loss
        without early stopping) that resets the patience counter, measured from the error
        at its last reset: a fit that gains less than ``tol`` per pass but more over
        ``n_iter_no_change`` passes goes on.
    batch_size : int or None, default None
        Observations per step; None uses them all (one step per pass).
    early_stopping : bool, default True
        Hold out ``validation_fraction`` of the observed entries, monitor their RMSE,
        keep the best cores and stop after ``n_iter_no_change`` passes without
        improvement. When False, the training loss is monitored instead.
    validation_fraction : float, default 0.1
        Share of the observed entries held out for early stopping.
    final_sweeps : int or "auto", default "auto"
        Block least-squares sweeps on *all* observed entries, the validation part
        included, after early stopping has chosen the cores (and ``l2_reg="auto"`` the
        ridge): they give back what holding out the validation entries cost. A number
        needs ``solver="als"`` and early stopping; ``"auto"`` is 2 where both hold, and 0 otherwise
        or when the kept fit was overfitting as it stopped (its validation RMSE had risen
        more than 5% past its best): sweeps past it would overfit further. The validation
        entries are then no longer held out:
        ``best_val_rmse_`` and ``history_`` describe the fit before these sweeps.
    n_iter_no_change : int or "auto", default "auto"
        Patience (``"auto"``: 20 sweeps of block least squares, 200 passes of Adam or SGD).
        With early stopping the fit stops once the validation RMSE has not
        improved for this many passes *and* the training loss fell by less than 5%
        over them (CP fits often see the validation error rise for a while before it
        falls to a much lower value).
    n_init : int, default 1
        Number of starts; the fit with the lowest validation RMSE (training loss
        without early stopping) is kept. With ``init="spectral"`` the first start is
        spectral and the others random.
    l2_reg : float or "auto", default "auto"
        Ridge penalty ``0.5 * l2_reg * sum_k ||G_k||^2`` added to the training loss.
        ``"auto"`` chooses it on the validation entries: the fit without ridge, then stronger
        strengths relative to the data's scale, each continuing from the previous one's cores
        with a quarter of the patience, until two in a row validate worse
        (:mod:`tensorly_das.estimators.ridge`); the choice is ``l2_reg_`` and the strengths
        tried with their validation errors ``l2_path_``; ``history_`` and ``n_iter_`` are those
        of the chosen step. Without early stopping ``"auto"`` means 0.
        For a multilinear model it also pulls the core norms together (at a
        minimum of the penalty over rescalings all cores have equal norm).
    init : "spectral", "random", {tensorly_name} or list of cores, default "spectral"
        ``"spectral"`` estimates each mode's subspace from the observed entries (the
        leading eigenvectors of the debiased Gram matrix of the zero-filled unfolding),
        projects the observations on them and fits the model to that small core; it
        falls back to ``"random"`` with a warning when a mode has fewer observed rows
        than the subspace needs. Random cores are scaled so that predictions match the
        data's RMS. Either way, rows of a mode without any training entry start at the
        mean of the observed rows (``fit`` warns about them).
    shape : tuple of int, optional
        Shape of the tensor; needed with ``fit(indices, values)`` when the largest
        index does not reach the end of every mode (e.g. inside cross-validation).
    sam_adaptive : bool, default False
        ASAM-style perturbation (``sam_rho * |G|^2 g``).
    das_denominator : {{"squared", "norm"}}, default "squared"
        Divide the DAS deviation by ``||G_k||^2`` (paper) or ``||G_k||``.
    das_deviation : {{"paper", "relative"}}, default "paper"
        Paper form ``u (||g_k||^2 - gbar)`` or the loss-scale-free
        ``(||g_k||^2 / gbar - 1) * mean_j ||G_j||^2``.
    das_rebalance : bool, default False
        Divide the DAS factors ``1 + lambda_k`` by their geometric mean, so their
        product is exactly 1: a pure rebalancing of core norms that leaves the
        reconstruction unchanged (the paper's DAS changes it slightly).
    das_max_scale : float, default 0.05
        Bound on the per-step DAS scale change: each core is multiplied by a factor
        in ``[1 - das_max_scale, 1 + das_max_scale]`` per step.
    distributed : bool, default False
        Data-parallel fit on an initialized ``torch.distributed`` process group (needs
        ``backend="pytorch"``): each rank passes its own shard of the observations to
        ``fit``; losses and gradients are all-reduced, so every rank ends with the same
        cores. Validation entries are held out of each shard; ``batch_size`` counts
        observations per step over all ranks. Ranks that disagree on the parameters or
        the data shape, or hold an unusable shard, get the same clear error.
    backend : {{"numpy", "pytorch"}}, default "numpy"
        Array library of the fit (``"torch"`` is an alias of ``"pytorch"``).
    device : str, default "cpu"
        Torch device (``"cuda"``, ``"cuda:1"``) with ``backend="pytorch"``.
    dtype : {{"float64", "float32"}}, default "float64"
        Floating type of the cores, and of what ``predict``, ``transform`` and
        ``reconstruct`` return.
    max_memory : int, str or None, default None
        Memory budget of a fit, in bytes or as a string such as ``"4GB"``. Before any
        heavy work, ``fit`` estimates its peak memory from the number of observations, the
        mode sizes and the rank (:func:`tensorly_das.budget.estimate_fit_memory`) and raises
        :class:`~tensorly_das.budget.MemoryBudgetError` naming the estimate when it exceeds
        the budget. None: the memory the system has available.
    random_state : int, Generator or None
        Seeds the validation split, the initialization and mini-batch order.
    verbose : bool, default False
        Show a progress bar with training loss, validation RMSE and Q.
    warm_start : bool, default False
        Continue from the fitted cores (and append to ``history_``) on the next fit.
    alpha, rho, alpha_schedule : deprecated
        Old names of ``das_alpha``, ``sam_rho`` and ``das_alpha_schedule`` (renamed in
        0.2, removed in 0.3); a value given under an old name is used with a FutureWarning.

    Attributes
    ----------
    decomposition_ : {tensorly_path}
        The fitted model (arrays on the chosen backend and device).
    cores_ : list of arrays
        {cores_doc}
    history_ : dict of lists
        Per pass: ``loss`` (training, before the step), ``val_rmse`` (held-out
        validation RMSE, NaN without early stopping), ``norm_deviation`` (Q),
        ``covariance`` (Cov(||G_k||^2, ||g_k||^2)), ``time`` (seconds since fit start).
    n_iter_ : int
        Passes run.
    best_iter_ : int
        Pass whose cores were kept.
    train_rmse_ : float
        RMSE on the entries used for training (excludes the validation part).
    fit_time_, time_per_iter_ : float
        Seconds for the whole fit (all ``n_init`` starts, every strength ``l2_reg="auto"``
        tried) and per pass.
    final_sweeps_ : int
        The block least-squares sweeps run on all observed entries after early stopping.
    l2_reg_ : float
        The ridge strength used (the chosen one with ``l2_reg="auto"``).
    l2_path_ : list of (float, float) or None
        With ``l2_reg="auto"``: each strength tried and its validation RMSE.
    validation_seed_ : int or None
        Seed of the validation split (``obs.hash_split(validation_fraction, validation_seed_)``
        gives the held-out entries); None without early stopping.

    Examples
    --------
{example_setup}    >>> est = {name}(rank={example_rank}, max_iter=200, random_state=0).fit(X)
    >>> completed = est.transform(X)  # X with its NaNs filled by the model
    >>> bool(np.isnan(completed).any()), completed.shape
    (False, (10, 11, 12))
    >>> type(est.decomposition_).__name__
    '{tensorly_name}'
    """


def document(cls, **fields):
    """Fill the shared docstring for ``cls`` and keep its fields (for the function form).

    Parameters
    ----------
    cls : type
        The estimator class.
    **fields
        The template's per-model fields.

    Returns
    -------
    cls : type
    """
    cls.__doc__ = _DOC.format(name=cls.__name__, example_setup=EXAMPLE_SETUP, **fields)
    cls._doc_fields = fields
    return cls


#: docstring of the function forms (``cp_completion`` & co.), filled per model
FUNCTION_DOC = """Complete a tensor with a {title} model: the function form of :class:`{cls}`.

    Parameters
    ----------
    X : ObservedTensor, sparse array, dense array, or (n, N) int array
        The observations (see :meth:`{cls}.fit`).
    rank : {rank_type}, default 5
        {rank_doc}
    y : array of shape (n,), optional
        Values at the indices ``X``.
    mask : bool array, optional
        True where a dense ``X`` is observed.
    return_estimator : bool, default False
        Also return the fitted estimator (history, validation error, ...).
    **params
        Any other parameter of :class:`{cls}` (keyword only).

    Returns
    -------
    decomposition : {tensorly_name}
        The fitted model, on the chosen backend and device.
    estimator : {cls}
        Only with ``return_estimator=True``.

    Examples
    --------
{example_setup}    >>> decomposition = {name}(X, rank={example_rank}, max_iter=50, random_state=0)
    >>> type(decomposition).__name__
    '{tensorly_name}'
    """
