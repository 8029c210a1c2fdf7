"""The spectral start: per-mode subspaces and a small core, from the observed entries only.

For each mode ``n`` the leading eigenvectors of the *debiased* Gram matrix of the zero-filled
mode-``n`` unfolding (scaled by ``1/p``, ``p`` the observed fraction; the diagonal, which the
missing entries bias, is removed) estimate the column space of the full unfolding (Montanari and
Sun 2018; Cai, Li, Poor and Chen 2019). Projecting the observations onto those bases gives a
small dense core. Where that core is small, a few Tucker block least-squares sweeps on the
observations then refine bases and core (:mod:`.refine`); each model builds its cores from
them (:meth:`TensorModel.from_subspaces`).

Cost: O(nnz) per Gram product plus O(nnz * prod(dims)) for the core, memory O(nnz + sum I_n d_n):
nothing of the dense tensor's size is formed. Small modes use a dense Gram of I_n x I_n.
"""

import math

import numpy as np
import scipy.sparse
import scipy.sparse.linalg

from ..entry_hash import entry_uniform
from ..ordering import canonical_order
from .refine import refinable, refine_subspaces, refined_dims, refinement_memory

#: modes up to this size use a dense I_n x I_n Gram matrix and a full eigendecomposition
DENSE_GRAM_SIZE = 2048
#: elements of the temporary (chunk x prod(dims[:-1])) block when projecting the core
CORE_BLOCK = 1 << 22
#: at most this many observations (a fixed random subset beyond it) feed the start: its cost
#: then stays bounded on very large data sets, whose subspaces this many entries already fix
MAX_OBSERVATIONS = 2_000_000
#: seed of the entry hash (:mod:`~tensorly_das.entry_hash`) that draws that subset
SAMPLE_SEED = 0x5EC7


def spectral_memory(model, nnz):
    """Estimated peak bytes of the spectral start's work (beyond its input and output).

    One mode at a time: the dense Gram matrix of up to :data:`DENSE_GRAM_SIZE` observed
    rows with its eigendecomposition, the sparse unfolding, and the blocks that project the
    observations onto the bases; then, where it runs, the refinement's Tucker solver.

    Parameters
    ----------
    model : TensorModel
        The model (shape and the subspace dimensions it asks for).
    nnz : int
        Observed entries.

    Returns
    -------
    bytes : int
    """
    nnz = min(nnz, MAX_OBSERVATIONS)
    rows = max(min(size, nnz, DENSE_GRAM_SIZE) for size in model.shape)
    dims = model.basis_dims()
    if model.refine_subspaces:
        dims = refined_dims(dims, model.shape, nnz)
    lead = math.prod(dims[:-1])
    block = min(nnz * lead, CORE_BLOCK) + min(nnz, max(1, CORE_BLOCK // max(lead, 1))) * dims[-1]
    bases = sum(size * d for size, d in zip(model.shape, dims))
    refinement = refinement_memory(model.shape, dims, nnz) if model.refine_subspaces else 0
    return max(8 * (4 * rows * rows + 2 * block + 2 * bases), refinement) + 6 * 8 * nnz


class SpectralStartError(ValueError):
    """The observations cannot support a spectral start (the message says why)."""


def _unfolding(rows, n_rows, indices, values, shape, mode):
    """The zero-filled mode-``mode`` unfolding, as a sparse matrix over observed columns only.

    ``rows`` (values in ``[0, n_rows)``) numbers each entry's row; columns are the distinct
    combinations of the other modes' indices that occur.
    """
    others = [n for n in range(len(shape)) if n != mode]
    n_columns = math.prod(shape[n] for n in others)
    if n_columns < 2**62:
        column = np.ravel_multi_index(tuple(indices[:, n] for n in others), tuple(shape[n] for n in others))
        if n_columns > 4 * indices.shape[0]:  # keep only the columns that occur (a sort)
            _, column = np.unique(column, return_inverse=True)
    else:  # too many columns for one int64 key: number the distinct index rows instead
        _, column = np.unique(indices[:, others], axis=0, return_inverse=True)
    column = column.ravel()
    return scipy.sparse.csr_matrix((values, (rows, column)), shape=(n_rows, int(column.max()) + 1))


def mode_subspace(indices, values, shape, mode, dim):
    """Orthonormal basis (I_n x dim) of the leading eigenvectors of the debiased Gram matrix.

    Rows without an observation have zero rows and columns in the Gram matrix, so the
    eigenproblem is solved on the observed rows only and the basis is zero elsewhere.

    Parameters
    ----------
    indices : (nnz, N) int array
        Observed entries.
    values : (nnz,) array
        Their values (already divided by the observed fraction, or not: the basis is the same).
    shape : tuple of int
        The tensor's shape.
    mode : int
        The mode.
    dim : int
        Number of leading eigenvectors (at most the number of observed rows).

    Returns
    -------
    basis : ndarray of shape (shape[mode], dim)
    """
    seen = np.bincount(indices[:, mode], minlength=shape[mode]) > 0
    rows = np.flatnonzero(seen)
    local = (np.cumsum(seen) - 1)[indices[:, mode]]  # each entry's row among the observed rows
    basis = np.zeros((shape[mode], dim))
    unfolding = _unfolding(local, rows.size, indices, values, shape, mode)
    eigvals, basis[rows] = _leading_eigenvectors(unfolding, dim)
    energy = float(unfolding.multiply(unfolding).sum())
    if not eigvals.max() > 1e-9 * energy:  # the debiased Gram holds no signal at all
        raise SpectralStartError(
            f"mode {mode}: the debiased Gram matrix has no positive eigenvalue (too few observed "
            "entries share a slice with others to estimate its subspace)")
    return basis


def _leading_eigenvectors(M, dim):
    """The ``dim`` leading eigenvalues and eigenvectors of ``M M^T`` with its diagonal removed."""
    size = M.shape[0]
    diagonal = np.asarray(M.multiply(M).sum(axis=1)).ravel()
    if dim >= size:
        return np.ones(dim), np.eye(size)[:, :dim]
    if size <= DENSE_GRAM_SIZE:
        gram = (M @ M.T).toarray()
        gram[np.diag_indices(size)] -= diagonal
        eigvals, eigvecs = np.linalg.eigh(gram)
        top = np.argsort(eigvals)[::-1][:dim]
        return eigvals[top], eigvecs[:, top]
    operator = scipy.sparse.linalg.LinearOperator(
        (size, size), matvec=lambda v: M @ (M.T @ v) - diagonal * v, dtype=np.float64)
    v0 = np.cos(np.arange(size) + 1.0)  # deterministic start vector
    eigvals, eigvecs = scipy.sparse.linalg.eigsh(operator, k=dim, which="LA", v0=v0)
    top = np.argsort(eigvals)[::-1]
    return eigvals[top], eigvecs[:, top]


def projected_core(indices, values, bases):
    """``sum_obs value * (U_1[i_1] o ... o U_N[i_N])``: the observations projected on the bases.

    Parameters
    ----------
    indices : (nnz, N) int array
        Observed entries.
    values : (nnz,) array
        Their values.
    bases : list of ndarray
        ``bases[n]`` of shape (I_n, d_n).

    Returns
    -------
    core : ndarray of shape (d_1, ..., d_N)
    """
    dims = [U.shape[1] for U in bases]
    lead = math.prod(dims[:-1])
    core = np.zeros((lead, dims[-1]))
    chunk = max(1, CORE_BLOCK // max(lead, 1))
    for start in range(0, indices.shape[0], chunk):
        idx = indices[start : start + chunk]
        block = values[start : start + chunk, None] * bases[0][idx[:, 0]]
        for n in range(1, len(bases) - 1):
            rows = bases[n][idx[:, n]]
            block = (block[:, :, None] * rows[:, None, :]).reshape(block.shape[0], -1)
        core += block.T @ bases[-1][idx[:, -1]]
    return core.reshape(dims)


def start_sample(indices, values):
    """The observations a spectral start uses, in canonical order (sorted by position).

    Beyond :data:`MAX_OBSERVATIONS` entries, a subset of at most that many, drawn by a hash of
    each entry's indices: the same entries, in the same order, whatever the order or the
    sharding of the input, so the start is too.

    Parameters
    ----------
    indices : (nnz, N) int array
    values : (nnz,) array

    Returns
    -------
    indices, values : arrays
        The kept entries, sorted by their position in the tensor.
    """
    nnz = indices.shape[0]
    if nnz > MAX_OBSERVATIONS:
        u = entry_uniform(indices, SAMPLE_SEED)
        # a threshold that keeps fewer than the limit but for a 5-sigma draw, then the lowest
        keep = np.flatnonzero(u < (MAX_OBSERVATIONS - 5 * math.sqrt(MAX_OBSERVATIONS)) / nnz)
        if len(keep) > MAX_OBSERVATIONS:
            keep = np.sort(keep[np.argsort(u[keep], kind="stable")[:MAX_OBSERVATIONS]])
        indices, values = indices[keep], values[keep]
    return canonical_order(indices, values)


def spectral_cores(model, indices, values, rng):
    """A spectral start for ``model`` from the observations (NumPy cores).

    Parameters
    ----------
    model : TensorModel
        The parametrization (its ``basis_dims`` and ``from_subspaces`` hooks).
    indices : (nnz, N) int array
        Training entries.
    values : (nnz,) array
        Their values.
    rng : numpy Generator
        For the model's symmetry-breaking perturbations.

    Returns
    -------
    cores : list of ndarray

    Raises
    ------
    SpectralStartError
        When a mode has fewer observed rows than its subspace dimension.
    """
    shape, dims = model.shape, model.basis_dims()
    observed = []
    for n, (size, dim) in enumerate(zip(shape, dims)):
        observed.append(int(np.count_nonzero(np.bincount(indices[:, n], minlength=size))))
        if observed[n] < dim:
            raise SpectralStartError(
                f"mode {n} has observations in only {observed[n]} of its {size} rows, fewer than "
                f"the {dim} directions a spectral start estimates there")
    indices, values = start_sample(indices, values)
    if model.refine_subspaces:  # room for a direction the estimate misses
        dims = refined_dims(dims, observed, indices.shape[0])
    p = indices.shape[0] / math.prod(shape)
    bases = [mode_subspace(indices, values, shape, n, d) for n, d in enumerate(dims)]
    core = projected_core(indices, values / p, bases)
    if not np.linalg.norm(core) > 1e-12 * np.linalg.norm(values / p):
        raise SpectralStartError("the observations projected on the estimated subspaces vanish "
                                 "(too few entries share a row with others to estimate them)")
    if model.refine_subspaces and refinable(dims, indices.shape[0]):
        bases, core = refine_subspaces(shape, bases, core, indices, values)
    return _least_squares_scale(model, model.from_subspaces(bases, core, rng), indices, values)


def _least_squares_scale(model, cores, indices, values):
    """``cores`` scaled (equally, in place) so their predictions best fit ``values`` in least squares."""
    pred = model.predict(cores, [np.ascontiguousarray(indices[:, n]) for n in range(indices.shape[1])])
    energy = float(pred @ pred)
    if energy > 0:
        alpha = float(pred @ values) / energy
        factor = abs(alpha) ** (1.0 / len(cores))
        for core in cores:
            core *= factor
        if alpha < 0:
            cores[0] *= -1.0
    return cores
