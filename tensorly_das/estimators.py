"""scikit-learn style completion estimators: thin classes that wire observations,
a model, an update rule and the fit loop together."""

import io
import numbers
import time
import warnings

import numpy as np
import tensorly as tl
from sklearn.base import BaseEstimator, RegressorMixin

from .backend import backend_of, check_backend, check_dtype, to_backend, to_numpy
from .fit import DivergenceError, fit_cores, rmse
from .metrics import r2_score
from .models import Batch, CPModel, TRModel, TTModel, TuckerModel
from .observed import ObservedTensor, as_index_array, check_dense_size, check_index_range
from .updates import ALPHA_SCHEDULES, METHODS, make_base_step, make_update

#: Observations predicted per chunk in :meth:`predict` (bounds temporary memory).
PREDICT_CHUNK = 1_000_000


def _is_sparse(X):
    module = type(X).__module__.split(".")[0]
    return module == "sparse" or (module == "scipy" and hasattr(X, "tocoo"))


def _check_number(value, name, low=None, high=None, low_open=False, integer=False):
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, kind):
        what = "an integer" if integer else "a real number"
        raise TypeError(f"{name} must be {what}, got {value!r}")
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if low is not None and (value <= low if low_open else value < low):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low}, got {value!r}")
    if high is not None and value > high:
        raise ValueError(f"{name} must be <= {high}, got {value!r}")


def _check_flag(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")


def _check_random_state(value):
    if value is None or isinstance(value, (np.random.Generator, np.random.SeedSequence)):
        return
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < 0:
        raise TypeError(f"random_state must be None, a non-negative int or a numpy Generator, got {value!r}")


def _check_choice(value, name, choices):
    if value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")


class BaseCompletion(RegressorMixin, BaseEstimator):
    """Shared behaviour of the completion estimators (see :class:`CPCompletion`)."""

    def __init__(
        self,
        rank=5,
        method="das",
        solver="adam",
        lr=0.05,
        alpha=1.0,
        rho=0.05,
        alpha_schedule="linear",
        max_iter=5000,
        tol=1e-4,
        batch_size=None,
        early_stopping=True,
        validation_fraction=0.1,
        n_iter_no_change=200,
        n_init=1,
        l2_reg=0.0,
        init="random",
        shape=None,
        sam_adaptive=False,
        das_denominator="squared",
        das_deviation="paper",
        das_max_scale=0.05,
        das_rebalance=False,
        distributed=False,
        backend="numpy",
        device="cpu",
        dtype="float64",
        random_state=None,
        verbose=False,
        warm_start=False,
    ):
        self.rank = rank
        self.method = method
        self.solver = solver
        self.lr = lr
        self.alpha = alpha
        self.rho = rho
        self.alpha_schedule = alpha_schedule
        self.max_iter = max_iter
        self.tol = tol
        self.batch_size = batch_size
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.n_init = n_init
        self.l2_reg = l2_reg
        self.init = init
        self.shape = shape
        self.sam_adaptive = sam_adaptive
        self.das_denominator = das_denominator
        self.das_deviation = das_deviation
        self.das_max_scale = das_max_scale
        self.das_rebalance = das_rebalance
        self.distributed = distributed
        self.backend = backend
        self.device = device
        self.dtype = dtype
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start

    #: Model class built in :meth:`fit`; set by each subclass.
    _model_class = None

    # ------------------------------------------------------------------ pickling
    #: fitted attributes that may hold torch tensors (on any device)
    _TENSOR_STATE = ("cores_", "decomposition_", "update_")

    def __getstate__(self):
        state = dict(super().__getstate__())  # a copy: the estimator itself keeps its tensors
        if state.get("backend_") == "pytorch":
            import torch

            # torch's own format, so a CUDA fit can be mapped to the CPU when unpickled
            buffer = io.BytesIO()
            torch.save({k: state.pop(k) for k in self._TENSOR_STATE if k in state}, buffer)
            state["_torch_state"] = buffer.getvalue()
        return state

    def __setstate__(self, state):
        state = dict(state)
        tensors = state.pop("_torch_state", None)
        if tensors is not None:
            import torch

            device = str(state.get("device_", "cpu"))
            map_location = None
            if device.startswith("cuda") and not torch.cuda.is_available():
                warnings.warn(
                    f"this {type(self).__name__} was fitted on {device}, which this machine lacks; "
                    "its state is loaded on the CPU (use set_params(device='cpu') to keep training)",
                    UserWarning,
                    stacklevel=2,
                )
                map_location, state["device_"] = "cpu", "cpu"
            state.update(torch.load(io.BytesIO(tensors), map_location=map_location, weights_only=False))
        super().__setstate__(state)

    # ------------------------------------------------------------------ validation
    def _validate_params(self):
        _check_choice(self.method, "method", METHODS)
        _check_choice(self.solver, "solver", ("adam", "sgd"))
        _check_choice(self.alpha_schedule, "alpha_schedule", ALPHA_SCHEDULES)
        _check_choice(self.das_denominator, "das_denominator", ("squared", "norm"))
        _check_choice(self.das_deviation, "das_deviation", ("paper", "relative"))
        _check_number(self.lr, "lr", low=0, low_open=True)
        _check_number(self.alpha, "alpha", low=0)
        _check_number(self.rho, "rho", low=0)
        _check_number(self.das_max_scale, "das_max_scale", low=0, high=0.5)
        _check_number(self.tol, "tol", low=0)
        _check_number(self.max_iter, "max_iter", low=1, integer=True)
        _check_number(self.n_iter_no_change, "n_iter_no_change", low=1, integer=True)
        _check_number(self.n_init, "n_init", low=1, integer=True)
        _check_number(self.l2_reg, "l2_reg", low=0)
        _check_number(self.validation_fraction, "validation_fraction", low=0, high=0.9, low_open=True)
        if self.batch_size is not None:
            _check_number(self.batch_size, "batch_size", low=1, integer=True)
        for flag in ("early_stopping", "warm_start", "sam_adaptive", "das_rebalance", "distributed"):
            _check_flag(getattr(self, flag), flag)
        if not isinstance(self.verbose, (bool, np.bool_)):
            _check_number(self.verbose, "verbose", low=0, integer=True)
        _check_random_state(self.random_state)
        backend = check_backend(self.backend)
        dtype = check_dtype(self.dtype)
        if backend == "pytorch" and str(self.device).startswith("cuda"):
            import torch

            if not torch.cuda.is_available():
                raise RuntimeError(f"device={self.device!r} was requested but CUDA is not available")
        elif backend == "numpy" and self.device not in ("cpu", None):
            raise ValueError(f"backend='numpy' runs on device='cpu' only, got device={self.device!r}")
        return backend, dtype

    def _observations(self, X, y=None, mask=None):
        if y is not None:
            if mask is not None:
                raise ValueError("pass either y (with X as indices) or mask, not both")
            obs = ObservedTensor(X, y, shape=self.shape)
        elif isinstance(X, ObservedTensor):
            obs = X
        elif _is_sparse(X):
            obs = ObservedTensor.from_sparse(X)
        elif X is None:
            raise ValueError("fit needs observations, got X=None")
        else:
            obs = ObservedTensor.from_dense(X, mask=mask)
        if self.shape is not None and tuple(self.shape) != obs.shape:
            raise ValueError(f"the data have shape {obs.shape} but shape={tuple(self.shape)} was given")
        return obs

    def _initial_cores(self, model, train, rng, reducer=None, warm=False):
        if warm:  # continue from the fitted cores
            return [np.array(to_numpy(c), dtype=np.float64) for c in self.cores_]
        if isinstance(self.init, str):
            _check_choice(self.init, "init", ("random",))
            sum_sq, count = float(np.sum(train.values**2)), train.nnz
            if reducer is not None:  # the scale of all ranks' data, as a 1-process fit sees it
                sum_sq, count = reducer.sum([sum_sq, count])
            return model.init_cores(rng, float(np.sqrt(sum_sq / count)))
        if isinstance(self.init, (list, tuple)) and all(hasattr(c, "shape") for c in self.init):
            cores = [np.array(to_numpy(c), dtype=np.float64) for c in self.init]
        else:
            cores = model.from_tensorly(self.init)
        model.check_cores(cores)
        if not all(np.isfinite(c).all() for c in cores):
            raise ValueError("the initial cores given as init contain NaN or inf")
        return cores

    # ------------------------------------------------------------------ fitting
    def fit(self, X, y=None, mask=None):
        """Complete a tensor from its observed entries.

        Parameters
        ----------
        X : ObservedTensor, sparse array, dense array, or (n, N) int array
            The observations. A dense array marks missing entries with NaN (or
            with ``mask``); a pydata/scipy sparse array observes its stored entries;
            with ``y`` given, ``X`` holds the indices of the observed entries.
        y : array of shape (n,), optional
            Observed values at the indices ``X``.
        mask : bool array, optional
            True where a dense ``X`` is observed.

        Returns
        -------
        self
        """
        backend, dtype = self._validate_params()
        reducer = self._reducer(backend)
        rng = np.random.default_rng(self.random_state)
        try:
            obs = self._observations(X, y, mask)
            model = self._model_class(obs.shape, self.rank)
            train, val = self._split(obs, rng)
            error = None
        except (ValueError, TypeError) as err:
            if reducer is None:
                raise
            error = f"{type(err).__name__}: {err}"
        if reducer is not None:
            reducer.check_errors(error)  # the same clear error on every rank, no hang
            reducer.check_agreement(self._signature(obs.shape))
        train_batch = self._batch(train, backend, dtype)
        val_batch = self._batch(val, backend, dtype) if val is not None else None
        # warm start: continue from the fitted cores (also those restored after a divergence);
        # history and optimizer state continue too when a fit completed
        warm_cores = (
            self.warm_start
            and getattr(self, "model_", None) is not None
            and (self.model_.shape, self.model_.rank) == (model.shape, model.rank)
        )
        warm = warm_cores and hasattr(self, "history_")
        t0 = time.perf_counter()
        best, passes = None, 0
        for _ in range(1 if warm_cores else self.n_init):
            cores = [to_backend(c, backend, self.device, dtype) for c in self._initial_cores(model, train, rng, reducer, warm_cores)]
            if reducer is not None:
                reducer.broadcast_(cores)  # every rank starts from rank 0's cores
            if warm and getattr(self, "update_", None) is not None and self._update_signature_ == self._update_signature():
                update = self.update_  # continue with the optimizer state (Adam moments)
            else:
                update = make_update(self.method, make_base_step(self.solver, self.lr), **self._update_options())
            history = {k: list(v) for k, v in self.history_.items()} if warm else None
            try:
                result = fit_cores(
                    model,
                    cores,
                    train_batch,
                    update,
                    val=val_batch,
                    max_iter=self.max_iter,
                    tol=self.tol,
                    n_iter_no_change=self.n_iter_no_change,
                    batch_size=self.batch_size,
                    rng=rng,
                    verbose=self.verbose,
                    history=history,
                    start_iter=len(history["loss"]) if warm else 0,
                    l2_reg=self.l2_reg,
                    reducer=reducer,
                )
            except DivergenceError:
                self._store(model, cores, obs, None)
                raise
            passes += result["n_iter"]
            score = result["best_val_rmse"] if val is not None else result["history"]["loss"][-1]
            if best is None or score < best[0]:
                best = (score, cores, result, update)
        _, cores, result, update = best
        self.update_ = update
        self._update_signature_ = self._update_signature()
        self._store(model, cores, obs, result)
        self.fit_time_ = time.perf_counter() - t0
        self.time_per_iter_ = self.fit_time_ / max(passes, 1)  # over all n_init starts
        self.train_rmse_ = float(rmse(model, cores, train_batch, reducer))
        return self

    def _split(self, obs, rng):
        if not self.early_stopping:
            return obs, None
        if obs.nnz < 2:
            raise ValueError(
                "early_stopping needs at least 2 observed entries to hold some out; "
                "pass early_stopping=False"
            )
        return obs.split(self.validation_fraction, random_state=rng)

    def _reducer(self, backend):
        if not self.distributed:
            return None
        if backend != "pytorch":
            raise ValueError("distributed=True needs backend='pytorch' (gloo on CPU, NCCL on CUDA)")
        import torch

        from .distributed import AllReduce

        return AllReduce(torch.device(self.device))

    def _signature(self, shape):
        """What every rank of a data-parallel fit must agree on."""
        params = {k: v for k, v in self.get_params().items() if k not in ("verbose", "device", "init")}
        params["init"] = self.init if isinstance(self.init, str) else "given"
        return {"estimator": type(self).__name__, "data shape": tuple(shape), **params}

    def _update_signature(self):
        return (self.method, self.solver, self.lr, tuple(sorted(self._update_options().items())))

    def _update_options(self):
        if self.method == "sam":
            return {"rho": self.rho, "adaptive": self.sam_adaptive}
        if self.method == "das":
            return {
                "alpha": self.alpha,
                "alpha_schedule": self.alpha_schedule,
                "denominator": self.das_denominator,
                "deviation": self.das_deviation,
                "max_scale": self.das_max_scale,
                "rebalance": bool(self.das_rebalance),
            }
        return {}

    def _batch(self, obs, backend, dtype, with_values=True):
        columns = [to_backend(np.ascontiguousarray(obs.indices[:, n]), backend, self.device) for n in range(obs.ndim)]
        values = to_backend(obs.values, backend, self.device, dtype) if with_values else None
        return Batch(columns, values)

    def _store(self, model, cores, obs, result):
        self.backend_ = check_backend(self.backend)
        self.device_ = self.device if self.backend_ == "pytorch" else "cpu"
        self.model_ = model
        self.cores_ = cores
        self.shape_ = obs.shape
        self.n_features_in_ = obs.ndim
        self.decomposition_ = model.to_tensorly(cores)
        if result is not None:
            self.history_ = result["history"]
            self.n_iter_ = result["n_iter"]
            self.best_iter_ = result["best_iter"]
            self.best_val_rmse_ = result["best_val_rmse"]
            self.stopped_ = result["stopped"]

    # ------------------------------------------------------------------ using the fit
    def _check_fitted(self):
        if not hasattr(self, "cores_"):
            raise AttributeError(
                f"this {type(self).__name__} is not fitted yet: call fit before using it"
            )

    def _as_indices(self, X):
        self._check_fitted()
        if isinstance(X, ObservedTensor):
            if X.shape != self.shape_:
                raise ValueError(f"observations have shape {X.shape}, the model has {self.shape_}")
            return X.indices
        indices = as_index_array(X)
        if indices.shape[1] != len(self.shape_):
            raise ValueError(
                f"indices have {indices.shape[1]} columns but the fitted tensor has "
                f"{len(self.shape_)} modes"
            )
        check_index_range(indices, self.shape_)
        return indices

    def predict(self, X):
        """Model values at the given entries.

        Parameters
        ----------
        X : (n, N) int array or ObservedTensor

        Returns
        -------
        values : ndarray of shape (n,)
            Always a NumPy array (computed in chunks on the fit's backend/device).
        """
        indices = self._as_indices(X)
        out = np.empty(indices.shape[0], dtype=np.float64)
        for start in range(0, indices.shape[0], PREDICT_CHUNK):
            chunk = indices[start : start + PREDICT_CHUNK]
            columns = [
                to_backend(np.ascontiguousarray(chunk[:, n]), self.backend_, self.device_)
                for n in range(chunk.shape[1])
            ]
            out[start : start + chunk.shape[0]] = to_numpy(self.model_.predict(self.cores_, columns))
        return out

    def score(self, X, y=None):
        """R^2 (``1 - SSE/SST``) of the predictions at the given observed entries.

        Parameters
        ----------
        X : ObservedTensor, or (n, N) int array of indices with ``y``
        y : array of shape (n,), optional

        Returns
        -------
        r2 : float
        """
        self._check_fitted()
        if isinstance(X, ObservedTensor):
            if y is not None:
                raise ValueError("pass y only with an index array, not with an ObservedTensor")
            return r2_score(X.values, self.predict(X))
        if y is None:
            raise ValueError("score needs values: pass an ObservedTensor, or indices and y")
        obs = ObservedTensor(X, y, shape=self.shape_)
        return r2_score(obs.values, self.predict(obs))

    def transform(self, X=None):
        """The completed dense tensor (NumPy), refusing shapes above 1e8 entries.

        ``X`` is ignored; it is accepted for scikit-learn's transformer signature.
        """
        self._check_fitted()
        check_dense_size(self.shape_)
        with backend_of(self.cores_[0]):
            return np.asarray(tl.to_numpy(self.decomposition_.to_tensor()), dtype=np.float64)

    def fit_transform(self, X, y=None, mask=None):
        """Fit, then return the completed dense tensor."""
        return self.fit(X, y, mask=mask).transform()


_DOC = """Tensor completion with a {title} model trained by Adam/SGD, optionally with SAM or DAS.

    The model is {formula}; it is fitted to the observed entries only (squared loss
    ``0.5 * mean(residual^2)``) without ever forming the dense tensor: one pass costs
    {cost} time.

    Parameters
    ----------
    rank : {rank_type}, default {rank_default}
        {rank_doc}
    method : {{"plain", "sam", "das"}}, default "das"
        Update rule wrapped around the base step: the plain step, sharpness-aware
        minimization (two gradients per step) or Deviation-Aware Scaling (one).
    solver : {{"adam", "sgd"}}, default "adam"
        Base step.
    lr : float, default 0.05
        Learning rate of the base step.
    alpha : float, default 1.0
        DAS strength (``method="das"``); 0 gives exactly the plain step. In the
        paper's form the per-step scale change is ``lr * alpha * u * (||g_k||^2 - gbar)
        / ||G_k||^2``, which carries the gradient's units: on unit-scale data with
        this package's mean squared loss, ``alpha=1`` changes core norms by about
        1e-5 per step. Tune it (e.g. with GridSearchCV), or use
        ``das_deviation="relative"``, whose ``alpha`` does not depend on the loss scale.
    rho : float, default 0.05
        SAM radius (``method="sam"``); 0 gives exactly the plain step.
    alpha_schedule : {{"linear", "cosine", "constant"}}, default "linear"
        How alpha decays over the ``max_iter`` passes.
    max_iter : int, default 5000
        Maximum number of passes over the training entries.
    tol : float, default 1e-4
        Relative improvement of the monitored error (validation RMSE, or training loss
        without early stopping) that resets the patience counter.
    batch_size : int or None, default None
        Observations per step; None uses them all (one step per pass).
    early_stopping : bool, default True
        Hold out ``validation_fraction`` of the observed entries, monitor their RMSE,
        keep the best cores and stop after ``n_iter_no_change`` passes without
        improvement. When False, the training loss is monitored instead.
    validation_fraction : float, default 0.1
    n_iter_no_change : int, default 200
        Patience. With early stopping the fit stops once the validation RMSE has not
        improved for this many passes *and* the training loss fell by less than 5%
        over them (CP fits often see the validation error rise for a while before it
        falls to a much lower value).
    n_init : int, default 1
        Number of random starts; the fit with the lowest validation RMSE (training
        loss without early stopping) is kept. First-order fits of small, sparsely
        observed tensors land in a poor local solution from some starts (about 1 in
        5 to 1 in 10 in our tests); a few starts make that rare.
    l2_reg : float, default 0
        Ridge penalty ``0.5 * l2_reg * sum_k ||G_k||^2`` added to the training loss.
        For a multilinear model it also pulls the core norms together (at a
        minimum of the penalty over rescalings all cores have equal norm).
    init : "random", {tensorly_name} or list of cores, default "random"
        Random cores are scaled so that predictions match the data's RMS.
    shape : tuple of int, optional
        Shape of the tensor; needed with ``fit(indices, values)`` when the largest
        index does not reach the end of every mode (e.g. inside cross-validation).
    sam_adaptive : bool, default False
        ASAM-style perturbation (``rho * |G|^2 g``).
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
    device : str, default "cpu"
        Torch device (``"cuda"``, ``"cuda:1"``) with ``backend="pytorch"``.
    dtype : {{"float64", "float32"}}, default "float64"
    random_state : int, Generator or None
        Seeds the validation split, the initialization and mini-batch order.
    verbose : bool, default False
        Show a progress bar with training loss, validation RMSE and Q.
    warm_start : bool, default False
        Continue from the fitted cores (and append to ``history_``) on the next fit.

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
        Seconds for the whole fit (all ``n_init`` starts) and per pass.

    Examples
    --------
    >>> import numpy as np, tensorly as tl
    >>> from tensorly.random import random_cp
    >>> X = tl.cp_to_tensor(random_cp((10, 11, 12), rank=2, random_state=0))
    >>> X[np.random.default_rng(0).random(X.shape) < 0.5] = np.nan
    >>> est = {name}(rank={example_rank}, max_iter=200, random_state=0).fit(X)
    >>> est.transform().shape
    (10, 11, 12)
    >>> type(est.decomposition_).__name__
    '{tensorly_name}'
    """


def _document(cls, **fields):
    cls.__doc__ = _DOC.format(name=cls.__name__, **fields)
    return cls


class CPCompletion(BaseCompletion):
    _model_class = CPModel


class TuckerCompletion(BaseCompletion):
    _model_class = TuckerModel


class TTCompletion(BaseCompletion):
    _model_class = TTModel


class TRCompletion(BaseCompletion):
    _model_class = TRModel


_document(
    CPCompletion,
    title="CP",
    formula="``X[i_1, ..., i_N] = sum_r prod_n A_n[i_n, r]``",
    cost="O(nnz * N * R)",
    rank_type="int",
    rank_default="5",
    rank_doc="Number of CP components.",
    tensorly_name="CPTensor",
    tensorly_path="tensorly.cp_tensor.CPTensor",
    cores_doc="The factor matrices ``A_n`` of shape ``(I_n, R)`` (weights are ones).",
    example_rank="2",
)
_document(
    TuckerCompletion,
    title="Tucker",
    formula="``X[i_1, ..., i_N] = sum_r G[r_1, ..., r_N] prod_n A_n[i_n, r_n]``",
    cost="O(nnz * (sum_n R_n + prod_n R_n))",
    rank_type="int or tuple of int",
    rank_default="5",
    rank_doc="Multilinear rank ``(R_1, ..., R_N)``; an int is used for every mode. "
    "Each ``R_n`` must not exceed the mode's size ``I_n``.",
    tensorly_name="TuckerTensor",
    tensorly_path="tensorly.tucker_tensor.TuckerTensor",
    cores_doc="``[G, A_1, ..., A_N]``: the core tensor, then the factor matrices.",
    example_rank="(2, 2, 2)",
)
_document(
    TTCompletion,
    title="Tensor-Train",
    formula="``X[i_1, ..., i_N] = G_1[:, i_1, :] @ ... @ G_N[:, i_N, :]``",
    cost="O(nnz * N * R^2)",
    rank_type="int or tuple of int",
    rank_default="5",
    rank_doc="TT rank ``(1, r_1, ..., r_{{N-1}}, 1)``; an int ``r`` gives ``(1, r, ..., r, 1)``.",
    tensorly_name="TTTensor",
    tensorly_path="tensorly.tt_tensor.TTTensor",
    cores_doc="The N cores ``G_n`` of shape ``(r_{{n-1}}, I_n, r_n)``.",
    example_rank="2",
)
_document(
    TRCompletion,
    title="Tensor-Ring",
    formula="``X[i_1, ..., i_N] = trace(G_1[:, i_1, :] @ ... @ G_N[:, i_N, :])``",
    cost="O(nnz * N * R^3)",
    rank_type="int or tuple of int",
    rank_default="5",
    rank_doc="TR rank ``(r_0, r_1, ..., r_{{N-1}}, r_0)``; an int ``r`` gives ``(r, ..., r)``.",
    tensorly_name="TRTensor",
    tensorly_path="tensorly.tr_tensor.TRTensor",
    cores_doc="The N cores ``G_n`` of shape ``(r_{{n-1}}, I_n, r_n)``, with ``r_N = r_0``.",
    example_rank="2",
)
