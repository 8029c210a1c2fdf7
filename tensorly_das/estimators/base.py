"""The shared estimator: parameters, validation and the fit that wires observations, a
model, an update rule and the fit loop together."""

import copy
import functools
import math
import numbers
import time
import warnings

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, _fit_context
from sklearn.utils._param_validation import Hidden, StrOptions

from ..backend import check_backend, check_device, check_dtype, to_backend, to_numpy
from ..backend import copy as copy_array
from ..backend import small_fit_threads
from ..fit import DivergenceError, fit_cores, rmse
from ..budget import check_fit_memory
from ..models import Batch
from ..models.restrict import ObservedRows, fill_rows_with_mean
from ..options import (
    ALPHA_SCHEDULES,
    DAS_DENOMINATORS,
    DAS_DEVIATIONS,
    METHODS,
    SOLVERS,
    Number,
    choice,
    parse_bytes,
    positive_int,
    real,
)
from ..starts import initial_cores, warn_unobserved_slices
from ..updates import make_base_step, make_update
from .inputs import as_observations, check_value_range
from .persistence import TorchStateMixin
from .prediction import PredictionMixin
from .ridge import reference_strength, search_strength

#: parameters renamed in 0.2 (old name -> new name); the old names go in 0.3
RENAMED = {"alpha": "das_alpha", "rho": "sam_rho", "alpha_schedule": "das_alpha_schedule"}
_DEPRECATED = Hidden(StrOptions({"deprecated"}))
#: ``n_iter_no_change="auto"``: patience in sweeps of block least squares and in gradient passes
AUTO_PATIENCE = {"als": 20, "gradient": 200}
#: ``final_sweeps="auto"`` with block least squares and early stopping: measured in
#: ``benchmarks/final_sweeps.py`` (docs/results/final_sweeps_*.txt), 1.7-2.3% lower held-out
#: error on COVID, IL2 and Indian Pines Tucker at the same time
AUTO_FINAL_SWEEPS = 2
#: ... unless the fit was overfitting: its validation RMSE had risen past this factor of its best
#: before it stopped, and sweeps past early stopping would go on overfitting. COVID Tucker
#: (8, 6, 8), benchmarks/paper_covid_tucker.py (docs/results/covid_defaults.txt): with
#: l2_reg=0 the last validation RMSE is 2.1-9.6 times the best and two forced sweeps take the
#: held-out R^2 from 0.460 to 0.165; the defaults end within 1% of their best and the sweeps
#: raise it from 0.749 to 0.759
OVERFIT_RISE = 1.05
#: ``l2_reg="auto"``: share of the patience given to each step of the ridge path (the first, from
#: the start, too: the later steps continue from its best cores, so waiting the full patience for
#: its training loss to stall cost 15-35 sweeps of 87-235 on the real tensors' Tucker paths and
#: changed no prediction there; benchmarks/ridge_path_cost at commits 353d649 and 14e1ef6)
PATH_PATIENCE = 0.25
#: ... and of each block least-squares step that continues from a fitted strength's cores, which
#: also stops without waiting for the training loss to stall (that wait guards fits from a start
#: against stopping in a swamp). On the real tensors' Tucker paths (COVID, IL2, Indian Pines crop,
#: split seeds 0-2) the quarter and the wait took 18-112% more sweeps, and the held-out NRMSE
#: differed by at most 0.0009 (docs/results/ridge_path_cost_quarter.txt against ridge_path_cost.txt)
CONTINUED_PATIENCE = 0.1
#: whether those continued steps also wait for the training loss to stall (the first step does)
CONTINUED_WAIT = False


class BaseCompletion(PredictionMixin, TorchStateMixin, RegressorMixin, BaseEstimator):
    """Shared behaviour of the completion estimators (see :class:`CPCompletion`)."""

    #: Model class built in :meth:`fit`; set by each subclass.
    _model_class = None

    _parameter_constraints = {
        "rank": "no_validation",  # the model checks it against the data's shape
        "method": [choice(METHODS)],
        "solver": [choice(SOLVERS + ("auto",))],
        "lr": [real(0, None, closed="neither")],
        "das_alpha": [real(0, None)],
        "sam_rho": [real(0, None)],
        "das_alpha_schedule": [choice(ALPHA_SCHEDULES)],
        "max_iter": [positive_int()],
        "tol": [real(0, None)],
        "batch_size": [positive_int(), None],
        "early_stopping": ["boolean"],
        "validation_fraction": [real(0, 0.9, closed="right")],
        "n_iter_no_change": [positive_int(), StrOptions({"auto"})],
        "n_init": [positive_int()],
        "final_sweeps": [Number(numbers.Integral, 0, None, closed="left"), StrOptions({"auto"})],
        "l2_reg": [real(0, None), StrOptions({"auto"})],
        "init": "no_validation",  # a name, cores or a TensorLy decomposition: checked in fit
        "shape": [tuple, list, np.ndarray, None],
        "sam_adaptive": ["boolean"],
        "das_denominator": [choice(DAS_DENOMINATORS)],
        "das_deviation": [choice(DAS_DEVIATIONS)],
        "das_max_scale": [real(0, 0.5)],
        "das_rebalance": ["boolean"],
        "distributed": ["boolean"],
        "backend": "no_validation",  # check_backend: aliases and a clear install hint
        "device": "no_validation",
        "dtype": "no_validation",  # check_dtype: strings and NumPy dtypes
        "max_memory": "no_validation",  # parse_bytes: bytes or "4GB"
        "random_state": [Number(numbers.Integral, 0, None, closed="left"), np.random.Generator,
                         np.random.SeedSequence, None],
        "verbose": ["boolean", Number(numbers.Integral, 0, None, closed="left")],
        "warm_start": ["boolean"],
        "alpha": [real(0, None), _DEPRECATED],
        "rho": [real(0, None), _DEPRECATED],
        "alpha_schedule": [choice(ALPHA_SCHEDULES), _DEPRECATED],
    }

    def __init__(self, rank=5, *, method="plain", solver="auto", lr=0.05, das_alpha=1.0, sam_rho=0.05,
                 das_alpha_schedule="linear", max_iter=5000, tol=1e-4, batch_size=None,
                 early_stopping=True, validation_fraction=0.1, n_iter_no_change="auto", n_init=1,
                 final_sweeps="auto", l2_reg="auto", init="spectral", shape=None, sam_adaptive=False,
                 das_denominator="squared", das_deviation="paper", das_max_scale=0.05,
                 das_rebalance=False, distributed=False, backend="numpy", device="cpu",
                 dtype="float64", max_memory=None, random_state=None, verbose=False, warm_start=False,
                 alpha="deprecated", rho="deprecated", alpha_schedule="deprecated"):
        self.rank = rank
        self.method = method
        self.solver = solver
        self.lr = lr
        self.das_alpha = das_alpha
        self.sam_rho = sam_rho
        self.das_alpha_schedule = das_alpha_schedule
        self.max_iter = max_iter
        self.tol = tol
        self.batch_size = batch_size
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.n_init = n_init
        self.final_sweeps = final_sweeps
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
        self.max_memory = max_memory
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.alpha = alpha
        self.rho = rho
        self.alpha_schedule = alpha_schedule

    # ------------------------------------------------------------------ checks
    def _param(self, name):
        """The value of parameter ``name``, honouring (with a warning) its deprecated old name."""
        old = {new: old for old, new in RENAMED.items()}.get(name)
        if old is not None and getattr(self, old) != "deprecated":
            warnings.warn(f"{old} was renamed {name} in 0.2 and will be removed in 0.3; "
                          f"pass {name}={getattr(self, old)!r}", FutureWarning, stacklevel=5)
            return getattr(self, old)
        return getattr(self, name)

    def _solver(self):
        """The base step that runs: ``solver``, or for ``"auto"`` block least squares with the
        plain rule on full batches and Adam otherwise (SAM and DAS need a gradient step)."""
        if self.solver != "auto":
            return self.solver
        return "als" if self.method == "plain" and self.batch_size is None else "adam"

    def _patience(self):
        """``n_iter_no_change``, or for ``"auto"`` the patience suited to the solver."""
        if self.n_iter_no_change != "auto":
            return self.n_iter_no_change
        return AUTO_PATIENCE["als" if self._solver() == "als" else "gradient"]

    def _final_sweeps(self, result):
        """``final_sweeps``, or for ``"auto"`` 2 where block least squares fitted with early
        stopping and the kept fit (``result``) was not overfitting when it stopped, 0 otherwise."""
        if self.final_sweeps != "auto":
            return self.final_sweeps
        if self._solver() != "als" or not self.early_stopping or not result or not result["history"]["val_rmse"]:
            return 0
        last = result["history"]["val_rmse"][-1]
        overfitting = not last <= OVERFIT_RISE * result["best_val_rmse"]  # NaN counts as overfitting
        return 0 if overfitting else AUTO_FINAL_SWEEPS

    def _check_environment(self):
        """Backend, dtype, device and solver (beyond ``_parameter_constraints``): (backend, dtype)."""
        if self.solver == "als" and self.batch_size is not None:
            raise ValueError(f"solver='als' solves on all training entries at once; batch_size must be "
                             f"None, got {self.batch_size} (use solver='adam' for mini-batches)")
        make_update(self.method, make_base_step(self._solver(), self.lr))  # refuses SAM/DAS with ALS
        explicit_sweeps = 0 if self.final_sweeps == "auto" else self.final_sweeps  # "auto" adapts
        if explicit_sweeps and self._solver() != "als":
            raise ValueError(f"final_sweeps={self.final_sweeps} runs block least-squares sweeps; it needs "
                             f"solver='als' (this fit's solver is {self._solver()!r}), or final_sweeps=0")
        if explicit_sweeps and not self.early_stopping:
            raise ValueError("final_sweeps adds the validation entries back for the last sweeps; with "
                             "early_stopping=False every entry is already trained on: use final_sweeps=0")
        backend = check_backend(self.backend)
        check_device(backend, self.device)
        if self.max_memory is not None:
            parse_bytes(self.max_memory)
        return backend, check_dtype(self.dtype)

    # ------------------------------------------------------------------ fitting
    @_fit_context(prefer_skip_nested_validation=True)
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
        self : object
            The fitted estimator.
        """
        backend, dtype = self._check_environment()
        reducer = self._reducer(backend)
        rng = self._shared_rng(reducer)
        obs, model, train, val, rows = self._prepare(X, y, mask, rng, reducer, dtype)
        # narrow NumPy indices save memory where block least squares keeps its own layout of
        # the entries; a gradient step gathers the batch's on every pass, where the casts cost
        # time (benchmarks/scale_cp, benchmarks/index_width)
        narrow = self._solver() == "als"
        place = lambda part: None if part is None else Batch.place(  # noqa: E731
            rows.remap(part.indices), part.values, backend, self.device, dtype, narrow)
        train_batch, val_batch = place(train), place(val)
        options = self._update_options()
        t0 = time.perf_counter()
        fit = functools.partial(self._fit_starts, model, rows, train, train_batch, val_batch,
                                reducer=reducer, backend=backend, dtype=dtype, options=options)
        with small_fit_threads(backend, self.device, len(train.values) * model.entry_width()):
            (cores, result, update, start, passes), l2, path = self._fit_l2(fit, rng, model, train, reducer)
            update.release()  # the solver's layout of the training entries
            sweeps = self._final_sweeps(result)
            if sweeps:
                self._sweep_all_entries(rows, cores, place(obs), l2, sweeps, reducer)
        train_rmse = float(rmse(rows.model, cores, train_batch, reducer))
        cores = self._full_cores(rows, cores, start, backend, dtype)
        self.train_rmse_, self.l2_reg_, self.l2_path_, self.final_sweeps_ = train_rmse, l2, path, sweeps
        self.update_ = update
        self.solver_ = self._solver()
        self._update_signature_ = self._update_signature(options, rows)
        self._store(model, cores, obs, result)
        self.fit_time_ = time.perf_counter() - t0
        self.time_per_iter_ = self.fit_time_ / max(passes, 1)  # over all n_init starts
        return self

    def _prepare(self, X, y, mask, rng, reducer, dtype):
        """Observations, model, split and observed rows; with a reducer, the same error on
        every rank."""
        error = obs = model = train = val = None
        try:
            obs = as_observations(X, y, mask, shape=self.shape)
            check_value_range(obs.values, dtype)
            model = self._model_class(obs.shape, self.rank)
            check_fit_memory(model, obs.nnz, np.dtype(dtype).itemsize, self.max_memory, self._solver())
        except (ValueError, TypeError, MemoryError) as err:
            if reducer is None:
                raise
            error = f"{type(err).__name__}: {err}"
        if reducer is not None:
            reducer.check_errors(error)  # the same clear error on every rank, no hang
            reducer.check_agreement(self._signature(obs.shape))
        train, val, self._validation_seed = self._split(obs, rng, reducer)  # after the checks
        return obs, model, train, val, self._observed_rows(model, train, val, reducer)

    @staticmethod
    def _observed_rows(model, train, val, reducer):
        """The rows the fit trains (over all ranks); warns about rows without a training entry."""
        parts = [train] if val is None else [train, val]
        counts = [[np.bincount(part.indices[:, n], minlength=size) for n, size in enumerate(model.shape)]
                  for part in parts]
        if reducer is not None:
            counts = [[np.asarray(reducer.sum(c.tolist())) for c in part] for part in counts]
        warn_unobserved_slices(counts[0], model.shape)
        total = [sum(part[n] for part in counts) for n in range(len(model.shape))]
        return ObservedRows.of(model, total, trained=[c > 0 for c in counts[0]])

    def _warm(self, model):
        """(continue from the fitted cores, continue history and optimizer state too)."""
        cores = (self.warm_start and getattr(self, "model_", None) is not None
                 and (self.model_.shape, self.model_.rank) == (model.shape, model.rank))
        return cores, cores and hasattr(self, "history_")

    def _fit_l2(self, fit, rng, model, train, reducer):
        """The fit with ``l2_reg``, or the strength ``"auto"`` picks (see :mod:`.ridge`);
        returns (fit's outcome, strength, path of (strength, validation error))."""
        if self.l2_reg != "auto":
            return fit(rng, self.l2_reg), self.l2_reg, None
        if not self.early_stopping:  # nothing to choose on: no ridge
            return fit(rng, 0.0), 0.0, None
        if self._warm(model)[0] and getattr(self, "l2_reg_", None) is not None:
            return fit(rng, self.l2_reg_), self.l2_reg_, self.l2_path_  # a warm fit keeps its choice
        probe_rng = copy.deepcopy(rng)
        probe = self._initial_cores(model, train, probe_rng, reducer)
        passes, previous = [], []

        def fit_with(strength):
            # the first strength fits from the starts (a copy of rng: every start as without
            # "auto"; its first start is the probe, with the generator where the probe left
            # it); each stronger one continues from the previous strength's fitted cores
            if previous:
                outcome = fit(copy.deepcopy(rng), strength, path_cores=previous[-1], on_path=True)
            else:
                outcome = fit(copy.deepcopy(rng), strength, first_start=(probe, probe_rng.bit_generator.state),
                              on_path=True)
            passes.append(outcome[4])
            previous.append((outcome[0], outcome[3]))
            return outcome[1]["best_val_rmse"], outcome

        energy = [float(np.sum(np.square(train.values))), float(len(train.values))]
        total, count = energy if reducer is None else reducer.sum(energy)  # over every rank
        l2, outcome, path = search_strength(fit_with, reference_strength(probe, total / count))
        return (*outcome[:4], sum(passes)), l2, path

    def _fit_starts(self, model, rows, train, train_batch, val_batch, rng, l2_reg, *, reducer, backend,
                    dtype, options, path_cores=None, first_start=None, on_path=False):
        """Run every start (one when warm) on the observed rows with ridge ``l2_reg``; returns
        the best start's (restricted cores, result, update, (full start cores, named)) and the
        passes run. ``path_cores`` (a previous strength's (restricted cores, start)) is the one
        start of a step along the ridge path of ``l2_reg="auto"``. ``first_start`` (full cores,
        the generator's state after drawing them) is the first start, already computed from
        this ``rng``: it is not computed again. ``on_path``: a step of that path, the first
        included, stopped with :data:`PATH_PATIENCE` of the patience (block least squares'
        steps from ``path_cores``: :data:`CONTINUED_PATIENCE`, without waiting for the training
        loss to stall)."""
        warm_cores, warm = self._warm(model)
        best, passes, diverged = None, 0, []
        n_starts = 1 if warm_cores or path_cores is not None else self.n_init
        patience = self._patience()
        continued = path_cores is not None and self._solver() == "als"
        if on_path:  # the next step continues from this one's best cores
            patience = max(1, math.ceil((CONTINUED_PATIENCE if continued else PATH_PATIENCE) * patience))
        for start in range(n_starts):
            if path_cores is not None:
                cores, origin = [copy_array(c) for c in path_cores[0]], path_cores[1]
            else:
                if start == 0 and first_start is not None and not warm_cores:
                    full = [np.array(c) for c in first_start[0]]
                    rng.bit_generator.state = first_start[1]
                else:
                    full = self._initial_cores(model, train, rng, reducer, warm_cores, start == 0)
                cores = [to_backend(c, backend, self.device, dtype) for c in rows.take(full)]
                origin = (full, not warm_cores)
            if reducer is not None:
                reducer.broadcast_(cores)  # every rank starts from rank 0's cores
            update = self._make_update(warm, options, rows)
            history = {k: list(v) for k, v in self.history_.items()} if warm else None
            try:
                result = fit_cores(
                    rows.model, cores, train_batch, update, val=val_batch, max_iter=self.max_iter,
                    tol=self.tol, n_iter_no_change=patience,
                    batch_size=self.batch_size, rng=rng, verbose=self.verbose, history=history,
                    start_iter=len(history["loss"]) if warm else 0, l2_reg=l2_reg,
                    reducer=reducer, wait_for_training=CONTINUED_WAIT or not continued,
                )
            except DivergenceError as err:
                err.cores = cores  # restored to the last finite state, for inspection
                diverged.append(err)
                continue
            passes += result["n_iter"]
            score = result["best_val_rmse"] if val_batch is not None else result["history"]["loss"][-1]
            if best is None or score < best[0]:
                best = (score, cores, result, update, origin)
        self._report_diverged(diverged, n_starts, best is None)
        return best[1], best[2], best[3], best[4], passes

    def _sweep_all_entries(self, rows, cores, batch, l2_reg, sweeps, reducer):
        """``sweeps`` block least-squares sweeps on every observed entry (training and
        validation), in place, with the chosen ridge; the rows seen only in validation are
        then trained rows too."""
        fit_cores(rows.model, cores, batch, make_update("plain", make_base_step("als", self.lr)),
                  max_iter=sweeps, tol=self.tol, n_iter_no_change=sweeps,
                  l2_reg=l2_reg, reducer=reducer)
        rows.trained = rows.observed

    def _full_cores(self, rows, cores, start, backend, dtype):
        """The fitted cores on every row: the start's rows where nothing was observed, and
        for a named start, the rows without a training entry set to the mean of the others."""
        full, named = start
        if rows.restricted:
            full = [to_backend(c, backend, self.device, dtype) for c in full]
            cores = rows.put(full, cores)
        if named and isinstance(self.init, str):
            fill_rows_with_mean(rows.full, cores, rows.trained)
        return cores

    @staticmethod
    def _report_diverged(diverged, n_starts, none_left):
        """Raise when every start diverged (the estimator keeps its previous fit); else warn."""
        if none_left:
            err = diverged[-1]
            if n_starts > 1:
                err.args = (f"all {n_starts} starts diverged; the last: {err}",)
            raise err
        if diverged:
            warnings.warn(f"{len(diverged)} of {n_starts} starts diverged and were dropped "
                          f"(first: {diverged[0]})", UserWarning, stacklevel=5)

    def _make_update(self, warm, options, rows):
        if (warm and getattr(self, "update_", None) is not None
                and self._update_signature_ == self._update_signature(options, rows)):
            # continue with the optimizer state (Adam moments), on a copy: a fit that fails
            # or is interrupted leaves the stored state as the stored cores had it
            return copy.deepcopy(self.update_)
        return make_update(self.method, make_base_step(self._solver(), self.lr), **options)

    def _initial_cores(self, model, train, rng, reducer=None, warm=False, first=True):
        if warm:  # continue from the fitted cores
            return [np.array(to_numpy(c), dtype=np.float64) for c in self.cores_]
        indices, values = train.indices, train.values
        if isinstance(self.init, str) and reducer is not None:  # every rank's entries
            indices, values = reducer.gather_observations(indices, values)
        # with n_init > 1 the first start is spectral and the others random
        init = "random" if self.init == "spectral" and not first else self.init
        return initial_cores(init, model, indices, values, rng)

    def _split(self, obs, rng, reducer=None):
        """Training and validation entries, chosen by a hash of each entry's indices (see
        :meth:`ObservedTensor.hash_split`): 1 and K processes hold out the same entries."""
        seed = int(rng.integers(2**63))
        if not self.early_stopping:
            return obs, None, None
        return (*obs._hash_split(self.validation_fraction, seed, reducer), seed)

    def _shared_rng(self, reducer):
        """The fit's generator, seeded from ``random_state`` (by rank 0 in a data-parallel fit,
        so every rank draws the same split, start and batches)."""
        seed = int(np.random.default_rng(self.random_state).integers(2**63))
        if reducer is not None:
            seed = reducer.broadcast_object(seed)
        return np.random.default_rng(seed)

    def _reducer(self, backend):
        if not self.distributed:
            return None
        if backend != "pytorch":
            raise ValueError("distributed=True needs backend='pytorch' (gloo on CPU, NCCL on CUDA)")
        from ..distributed import AllReduce

        return AllReduce(self.device)

    def _signature(self, shape):
        """What every rank of a data-parallel fit must agree on."""
        params = {k: v for k, v in self.get_params().items() if k not in ("verbose", "device", "init")}
        params["init"] = self.init if isinstance(self.init, str) else "given"
        return {"estimator": type(self).__name__, "data shape": tuple(shape), **params}

    def _update_signature(self, options, rows):
        """What the stored optimizer state depends on: a change starts a fresh state."""
        return (self.method, self._solver(), self.lr, check_backend(self.backend), str(self.device),
                check_dtype(self.dtype), tuple(sorted(options.items())), rows.digest())



    def _update_options(self):
        if self.method == "sam":
            return {"rho": self._param("sam_rho"), "adaptive": self.sam_adaptive}
        if self.method == "das":
            return {
                "alpha": self._param("das_alpha"),
                "alpha_schedule": self._param("das_alpha_schedule"),
                "denominator": self.das_denominator,
                "deviation": self.das_deviation,
                "max_scale": self.das_max_scale,
                "rebalance": bool(self.das_rebalance),
            }
        return {}

    def _store(self, model, cores, obs, result):
        self.backend_ = check_backend(self.backend)
        self.device_ = self.device if self.backend_ == "pytorch" else "cpu"
        self.dtype_ = check_dtype(self.dtype)
        self.model_ = model
        self.cores_ = cores
        self.shape_ = obs.shape
        self.n_features_in_ = obs.ndim
        self.decomposition_ = model.to_tensorly(cores)
        self.validation_seed_ = self._validation_seed
        if result is not None:
            self.history_ = result["history"]
            self.n_iter_ = result["n_iter"]
            self.best_iter_ = result["best_iter"]
            self.best_val_rmse_ = result["best_val_rmse"]
            self.stopped_ = result["stopped"]
