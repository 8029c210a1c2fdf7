"""Refining the spectral start's subspaces by a few Tucker block least-squares sweeps.

The debiased Gram matrices estimate each mode's subspace from zero-filled unfoldings; at low
sampling the weakest directions drown in their noise, and a CP fit started from the CP of the
projected core can then stop in a local solution that lacks the missed component (the
rank-selection folds of ``benchmarks/rank_selection.py`` at 6% observed were such a case). A few
sweeps of block least squares of the Tucker model (the bases as factors, the projected core as
core) fit the observed entries themselves rather than their zero-filled projections and can
recover the missed directions, much as CANDELINC (Carroll, Pruzansky and Kruskal 1980) fits CP
inside a Tucker compression. The model then builds its cores from the refined bases and core as
before (:meth:`~tensorly_das.models.TensorModel.from_subspaces`).

The refined subspaces hold :data:`REFINE_OVERSAMPLE` more directions per mode than the model
asks for (CANDELINC's compression need not be tight): on the rank-selection folds the weakest
component was then recovered where the tight subspaces had missed it. The refinement runs
where the Tucker core's rows are solved exactly (at most
:data:`~tensorly_das.updates.block_ls.EXACT_WIDTH` unknowns, e.g. CP rank <= 8 on a 3-way
tensor); wider cores would need the conjugate-gradient path and cost more than the fit they
start. Cost per sweep: that of a Tucker sweep on the same entries, O(nnz * prod(dims)).
"""

import math

import numpy as np

from ..fit.objective import make_objective
from ..models import Batch, TuckerModel
from ..updates.block_ls import EXACT_WIDTH, BlockLeastSquares, solver_memory

#: Tucker block least-squares sweeps on the observations after the spectral estimate
REFINE_SWEEPS = 5
#: the sweeps stop early once one lowers the training loss by less than this fraction
REFINE_TOL = 1e-6
#: directions per mode the refined subspaces hold beyond the model's own (where the wider Tucker
#: core is still refinable): a direction the spectral estimate missed can enter through them
REFINE_OVERSAMPLE = 1


def refinable(dims, nnz):
    """Whether the subspaces of dimensions ``dims`` are refined on ``nnz`` observations.

    Parameters
    ----------
    dims : tuple of int
        The spectral start's subspace dimensions.
    nnz : int
        Observations that feed the start.

    Returns
    -------
    bool
        The Tucker core is solved exactly and the entries outnumber its unknowns.
    """
    width = math.prod(dims)
    return width <= EXACT_WIDTH and nnz > width + sum(dims)


def refined_dims(dims, limits, nnz):
    """The subspace dimensions to refine: ``dims`` widened by :data:`REFINE_OVERSAMPLE` per mode
    (at most ``limits``, each mode's observed rows) when that core is still :func:`refinable`,
    else ``dims`` itself (also when :data:`REFINE_SWEEPS` is 0: nothing would be refined).

    Parameters
    ----------
    dims : tuple of int
        The model's subspace dimensions.
    limits : sequence of int
        The most each mode can hold (its observed rows, or its size).
    nnz : int
        Observations that feed the start.

    Returns
    -------
    dims : tuple of int
    """
    if not REFINE_SWEEPS:
        return tuple(dims)
    wider = tuple(max(d, min(d + REFINE_OVERSAMPLE, int(limit))) for d, limit in zip(dims, limits))
    return wider if refinable(wider, nnz) else tuple(dims)


def refinement_memory(shape, dims, nnz):
    """Bytes the refinement holds beyond its input: the Tucker solver's layout and systems.

    Parameters
    ----------
    shape, dims : tuple of int
        The tensor's shape and the subspace dimensions.
    nnz : int
        Observations.

    Returns
    -------
    bytes : int
    """
    if not refinable(dims, nnz):
        return 0
    return solver_memory(TuckerModel(shape, dims), nnz) + 8 * (math.prod(dims) + sum(s * d for s, d in zip(shape, dims)))


def refine_subspaces(shape, bases, core, indices, values, sweeps=None, tol=REFINE_TOL):
    """Bases and core after Tucker block least-squares sweeps on the observations.

    Parameters
    ----------
    shape : tuple of int
        The tensor's shape.
    bases : list of ndarray
        ``bases[n]`` of shape ``(I_n, d_n)``, orthonormal columns (the spectral estimate).
    core : ndarray of shape ``(d_1, ..., d_N)``
        The observations projected onto the bases.
    indices : (nnz, N) int array
        Observations.
    values : (nnz,) array
        Their values.
    sweeps : int, optional
        At most this many sweeps; :data:`REFINE_SWEEPS` (read when called) by default.
    tol : float
        Stop once a sweep lowers the loss by less than this fraction.

    Returns
    -------
    bases : list of ndarray
        Orthonormal bases of the fitted factors' column spaces.
    core : ndarray
        The fitted core in those bases (the fitted Tucker tensor is unchanged).

    Raises
    ------
    ValueError
        When the shapes disagree, an index is out of range, or a value or basis is not finite.
        The inputs are never modified.
    """
    _check_inputs(shape, bases, core, indices, values, sweeps)
    if sweeps is None:
        sweeps = REFINE_SWEEPS
    dims = tuple(U.shape[1] for U in bases)
    model = TuckerModel(shape, dims)
    cores = [np.array(core, dtype=np.float64)] + [np.array(U, dtype=np.float64) for U in bases]
    batch = Batch([np.ascontiguousarray(indices[:, n]) for n in range(indices.shape[1])],
                  np.asarray(values, dtype=np.float64))
    objective = make_objective(model, batch)
    solver = BlockLeastSquares()
    previous = None
    for _ in range(sweeps):
        loss = float(solver.sweep(cores, objective))  # the loss where this sweep started
        if previous is not None and not previous - loss > tol * previous:
            break
        previous = loss
    solver.release()
    if not all(np.isfinite(c).all() for c in cores):
        return bases, core  # keep the spectral estimate
    factors, refined = [], cores[0]
    for mode, U in enumerate(cores[1:]):
        Q, R = np.linalg.qr(U)  # U = Q R: R moves into the core along this mode
        factors.append(Q)
        refined = np.moveaxis(np.tensordot(R, refined, axes=(1, mode)), 0, mode)
    return factors, refined


def _check_inputs(shape, bases, core, indices, values, sweeps):
    """Clear errors for inputs that do not describe one Tucker start on these observations."""
    shape = tuple(shape)
    if len(bases) != len(shape):
        raise ValueError(f"refine_subspaces needs one basis per mode: {len(bases)} bases for shape {shape}")
    for n, (U, size) in enumerate(zip(bases, shape)):
        if np.ndim(U) != 2 or np.shape(U)[0] != size:
            raise ValueError(f"basis {n} must have shape ({size}, d), got {np.shape(U)}")
        if not np.isfinite(U).all():
            raise ValueError(f"basis {n} contains NaN or inf")
    dims = tuple(np.shape(U)[1] for U in bases)
    if np.shape(core) != dims:
        raise ValueError(f"the core must have the bases' dimensions {dims}, got shape {np.shape(core)}")
    if np.ndim(indices) != 2 or np.shape(indices)[1] != len(shape):
        raise ValueError(f"indices must have shape (nnz, {len(shape)}), got {np.shape(indices)}")
    if np.shape(values) != (np.shape(indices)[0],):
        raise ValueError(f"values must have shape ({np.shape(indices)[0]},), got {np.shape(values)}")
    if np.shape(indices)[0] and (np.min(indices, axis=0) < 0).any() | (np.max(indices, axis=0) >= shape).any():
        raise ValueError(f"indices out of range for shape {shape}")
    if not np.isfinite(values).all() or not np.isfinite(core).all():
        raise ValueError("values and core must be finite (NaN or inf found)")
    if sweeps is not None and (isinstance(sweeps, bool) or not isinstance(sweeps, int) or sweeps < 0):
        raise ValueError(f"sweeps must be an int >= 0, got {sweeps!r}")
