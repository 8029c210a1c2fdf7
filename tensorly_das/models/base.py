"""The interface every tensorized completion model implements.

A model is stateless apart from its ``shape`` and ``rank``: the cores are
passed in and returned as plain lists of arrays (NumPy or torch), so the same
model object serves every backend and device. Subclasses implement
:meth:`init_cores`, :meth:`forward`, :meth:`backward` and :meth:`to_tensorly`;
the squared loss and its gradient are written once here.
"""

import math

import numpy as np
import tensorly as tl

from ..backend import backend_of, concatenate, index_like, positions_to_backend, to_backend

#: Observations handled at once by :meth:`TensorModel.loss_and_grads` and
#: :meth:`TensorModel.predict`; bounds the temporary memory of a pass (for CP,
#: about CHUNK_SIZE * N * R * 8 bytes in float64) independently of nnz.
CHUNK_SIZE = 1 << 20


class Batch:
    """Observed entries placed on a backend, split by mode for fast gathers.

    Parameters
    ----------
    mode_indices : tuple of 1-D int arrays
        ``mode_indices[n][i]`` is the index in mode ``n`` of entry ``i``.
    values : 1-D float array or None
        Observed values (None for prediction-only batches).
    """

    __slots__ = ("mode_indices", "values")

    def __init__(self, mode_indices, values=None):
        self.mode_indices = tuple(mode_indices)
        self.values = values

    def __len__(self):
        return int(self.mode_indices[0].shape[0])

    @classmethod
    def place(cls, indices, values=None, backend="numpy", device="cpu", dtype="float64", narrow=True):
        """Entries given as an (n, N) index array (and values) placed on a backend.

        Parameters
        ----------
        indices : (n, N) int array
            One row per entry.
        values : (n,) array or None
            Their values (None for prediction-only batches).
        backend, device, dtype : str
            Where the copies live and the values' dtype.
        narrow : bool
            Store NumPy indices in the narrowest unsigned type (less memory; each gather
            casts them), else as int64 (:func:`~tensorly_das.backend.positions_to_backend`).

        Returns
        -------
        batch : Batch
        """
        columns = [positions_to_backend(indices[:, n], backend, device, narrow)
                   for n in range(indices.shape[1])]
        return cls(columns, None if values is None else to_backend(values, backend, device, dtype))

    def select(self, rows):
        """The sub-batch at positions ``rows`` (a NumPy integer array).

        Parameters
        ----------
        rows : 1-D int array
            Positions of the entries to keep.

        Returns
        -------
        batch : Batch
        """
        rows = index_like(rows, self.mode_indices[0])
        return Batch([idx[rows] for idx in self.mode_indices],
                     None if self.values is None else self.values[rows])


class TensorModel:
    """A multilinear parametrization of an N-way tensor by K cores.

    Parameters
    ----------
    shape : tuple of int
        Shape of the tensor being modelled.
    rank : int or tuple
        Model-specific rank.
    """

    #: Short name used by the CLI and in messages.
    name = "model"
    #: Whether the spectral start refines its subspaces by Tucker sweeps on the observations
    #: before :meth:`from_subspaces` (:mod:`tensorly_das.starts.refine`); models opt in.
    refine_subspaces = False

    def __init__(self, shape, rank):
        self.shape = tuple(int(s) for s in shape)
        if len(self.shape) < 2:
            raise ValueError(
                f"tensor completion needs a tensor of order >= 2, got shape {self.shape}"
            )
        self.rank = self.check_rank(rank)

    # -- to implement ---------------------------------------------------------------
    def check_rank(self, rank):
        """Validate ``rank`` against ``self.shape`` and return its canonical form.

        Parameters
        ----------
        rank : int or tuple
            The rank as given.

        Returns
        -------
        rank : int or tuple of int
        """
        raise NotImplementedError

    def init_cores(self, rng, scale):
        """Random NumPy cores whose predictions have root-mean-square about ``scale``.

        Every core gets i.i.d. N(0, c^2) entries. A prediction is a sum over
        ``n_paths()`` products of ``chain_length()`` entries, so its variance is
        ``n_paths * c^(2 * chain_length)``; ``c`` is set to match ``scale^2``.

        Parameters
        ----------
        rng : numpy Generator
            Source of the random entries.
        scale : float
            Target root-mean-square of the predictions.

        Returns
        -------
        cores : list of ndarray
        """
        c = (max(scale, 1e-12) ** 2 / self.n_paths()) ** (1.0 / (2 * self.chain_length()))
        return [c * rng.standard_normal(shape) for shape in self.core_shapes()]

    def n_paths(self):
        """Number of terms in the sum that makes one prediction.

        Returns
        -------
        n : int
        """
        raise NotImplementedError

    def chain_length(self):
        """Number of core entries multiplied together in each term of a prediction.

        Returns
        -------
        n : int
        """
        return len(self.core_shapes())

    def forward(self, cores, mode_indices):
        """Predictions at the given entries and a cache for :meth:`backward`.

        Parameters
        ----------
        cores : list of arrays
            The model's cores.
        mode_indices : sequence of 1-D int arrays
            Index of each entry in every mode.

        Returns
        -------
        predictions : 1-D array
        cache : object
            Intermediate products reused by :meth:`backward`.
        """
        raise NotImplementedError

    def backward(self, cores, mode_indices, cache, weights):
        """Gradients w.r.t. every core of ``sum_i weights[i] * prediction[i]``.

        Parameters
        ----------
        cores, mode_indices :
            As for :meth:`forward`.
        cache : object
            What :meth:`forward` returned for the same entries.
        weights : 1-D array
            One weight per entry (the loss's derivative w.r.t. each prediction).

        Returns
        -------
        grads : list of arrays, one per core
        """
        raise NotImplementedError

    def design(self, cores, mode_indices, k):
        """Per-entry design matrix of core ``k``: the contraction of all the other cores.

        Every model is linear in each core once the others are fixed: the prediction at
        entry ``i`` is ``design[i] @ rows[r_i]``, where ``rows`` is core ``k`` seen as a
        matrix by :meth:`core_as_rows` and ``r_i`` the row entry ``i`` uses
        (:meth:`row_mode`). It is the design matrix of core ``k``'s least-squares problem
        (the block solver of :mod:`tensorly_das.updates.block_ls`).

        Parameters
        ----------
        cores, mode_indices :
            As for :meth:`forward`; the index of :meth:`row_mode` (the row, not the design)
            is never read and may be None.
        k : int
            The core.

        Returns
        -------
        design : array of shape (n, W_k)
            ``W_k`` is the width of a row of :meth:`core_as_rows`.
        """
        raise NotImplementedError

    def design_cost(self, k):
        """Multiply-adds that build one design row of core ``k`` (:meth:`design`), beyond
        gathering the rows it uses; 0 where that is all it does.

        The block solver builds the rows once per fiber of :meth:`row_mode` (the entries
        sharing every other index, hence the row) when this exceeds the row's own Gram cost
        ``W_k^2``.

        Parameters
        ----------
        k : int
            The core.

        Returns
        -------
        cost : int
        """
        return 0

    def kronecker_factors(self, cores, k):
        """The per-mode matrices whose rows' Kronecker product is core ``k``'s design row.

        Where ``design(cores, idx, k)[j]`` is ``kron_n M_n[idx[n][j]]`` (C order, mode 0
        slowest), the block solver forms core ``k``'s normal equations fiber by fiber
        (:func:`~tensorly_das.updates.fibers.kronecker_normal_equations`).

        Parameters
        ----------
        cores : list of arrays
        k : int
            The core.

        Returns
        -------
        factors : list of arrays (I_n, R_n), or None
            None where the design has no such form (the default).
        """
        return None

    def row_mode(self, k):
        """The mode whose index picks the row of core ``k`` an entry uses (None: one row, the
        whole core, used by every entry, as Tucker's core tensor).

        Parameters
        ----------
        k : int
            The core.

        Returns
        -------
        mode : int or None
        """
        for n, (core, _) in enumerate(self.mode_axes()):
            if core == k:
                return n
        return None

    def _row_axis(self, k):
        mode = self.row_mode(k)
        return None if mode is None else self.mode_axes()[mode][1]

    def core_as_rows(self, core, k):
        """Core ``k`` as a matrix with one row per index of its mode (:meth:`row_mode`), or
        one row holding the whole core.

        Parameters
        ----------
        core : array
            Core ``k``.
        k : int
            Its position.

        Returns
        -------
        rows : array of shape (I, W_k)
        """
        axis = self._row_axis(k)
        if axis is None:
            return core.reshape(1, -1)
        with backend_of(core):
            moved = tl.moveaxis(core, axis, 0)
            return tl.reshape(moved, (moved.shape[0], -1))

    def rows_as_core(self, rows, k):
        """The inverse of :meth:`core_as_rows`: core ``k`` of shape ``core_shapes()[k]``.

        Parameters
        ----------
        rows : array of shape (I, W_k)
        k : int

        Returns
        -------
        core : array
        """
        shape = self.core_shapes()[k]
        axis = self._row_axis(k)
        if axis is None:
            return rows.reshape(shape)
        moved = (shape[axis],) + tuple(s for a, s in enumerate(shape) if a != axis)
        with backend_of(rows):
            return tl.moveaxis(tl.reshape(rows, moved), 0, axis)

    def balance(self, cores):
        """Rescale the cores in place so that their norms are equal, the tensor unchanged.

        Multiplying core ``k`` by ``c_k`` with ``prod_k c_k = 1`` leaves a multilinear model's
        predictions as they are; with equal norms, the ridge penalty ``sum_k ||G_k||^2`` is the
        lowest among those rescalings. Models with finer invariances (CP's columns) override it.

        Parameters
        ----------
        cores : list of arrays
            Updated in place.
        """
        with backend_of(cores[0]):
            norms = tl.sqrt(tl.stack([tl.sum(c * c) for c in cores]))
            if not bool(tl.all(norms > 0)):
                return
            target = tl.exp(tl.mean(tl.log(norms)))
            for c, norm in zip(cores, norms):
                c *= target / norm

    def entry_width(self):
        """Floats held per observation while a chunk's loss and gradients are computed.

        The default counts the gathered slices, the running products and the gradients
        (three arrays of every core's per-row size); models with other intermediates
        override it. Used by the memory estimate (:mod:`tensorly_das.budget`).

        Returns
        -------
        width : int
        """
        sizes = [math.prod(s) for s in self.core_shapes()]
        for k, axis in self.mode_axes():
            sizes[k] //= self.core_shapes()[k][axis]
        return 3 * sum(sizes) + 4

    def mode_axes(self):
        """Where each mode's rows live: for mode ``n``, (index of the core, its axis).

        Row ``i`` of mode ``n`` is the slice of that core at position ``i`` along that axis;
        it enters only the predictions of entries whose mode-``n`` index is ``i``.

        Returns
        -------
        axes : list of (int, int)
        """
        raise NotImplementedError

    def basis_dims(self):
        """Dimension of each mode's subspace that the spectral start estimates.

        Returns
        -------
        dims : tuple of int
            One per mode, at most the mode's size.
        """
        raise NotImplementedError

    def from_subspaces(self, bases, core, rng):
        """Cores from per-mode bases and a small dense core (the spectral start's hook).

        The tensor is approximately ``core`` multiplied by ``bases[n]`` along each mode ``n``;
        the model fits its own cores to that small Tucker form.

        Parameters
        ----------
        bases : list of ndarray
            ``bases[n]`` of shape ``(I_n, d_n)`` with orthonormal columns: ``d_n`` is
            ``basis_dims()[n]``, or up to :data:`~tensorly_das.starts.refine.REFINE_OVERSAMPLE`
            more for a model whose start refines its subspaces (:attr:`refine_subspaces`).
        core : ndarray of shape ``(d_0, ..., d_{N-1})``
            The observations projected onto the bases.
        rng : numpy Generator
            For the small perturbations that break exact symmetries.

        Returns
        -------
        cores : list of ndarray
        """
        raise NotImplementedError

    def to_tensorly(self, cores):
        """The TensorLy object (CPTensor, TuckerTensor, ...) holding ``cores``.

        Parameters
        ----------
        cores : list of arrays
            The model's cores.

        Returns
        -------
        decomposition : tensorly factorized tensor
        """
        raise NotImplementedError

    def from_tensorly(self, decomposition):
        """The list of cores of a TensorLy decomposition (used for ``init``).

        Parameters
        ----------
        decomposition : tensorly factorized tensor
            A CPTensor, TuckerTensor, TTTensor or TRTensor of this model's kind.

        Returns
        -------
        cores : list of ndarray
        """
        raise NotImplementedError

    # -- shared ---------------------------------------------------------------------
    def predict(self, cores, mode_indices):
        """Model values at the given entries (computed in chunks of :data:`CHUNK_SIZE`).

        Parameters
        ----------
        cores, mode_indices :
            As for :meth:`forward`, on one backend and device.

        Returns
        -------
        values : 1-D array
        """
        n = int(mode_indices[0].shape[0])
        if n <= CHUNK_SIZE:
            return self.forward(cores, mode_indices)[0]
        parts = [self.forward(cores, [idx[s : s + CHUNK_SIZE] for idx in mode_indices])[0]
                 for s in range(0, n, CHUNK_SIZE)]
        return concatenate(parts)

    def loss_and_grads(self, cores, batch):
        """Squared loss ``0.5 * mean((prediction - value)^2)`` and its gradients.

        Observations are processed in chunks of :data:`CHUNK_SIZE`, so the temporary
        memory of one evaluation is bounded whatever the number of observations.

        Parameters
        ----------
        cores : list of arrays
            The model's cores.
        batch : Batch
            Observed entries and values on the cores' backend and device.

        Returns
        -------
        loss : scalar array (same backend and device as the cores)
        grads : list of arrays, one per core
        """
        n = len(batch)
        loss, grads = 0.0, None
        for start in range(0, n, CHUNK_SIZE):
            stop = min(start + CHUNK_SIZE, n)
            mode_indices = [idx[start:stop] for idx in batch.mode_indices]  # views, no copies
            pred, cache = self.forward(cores, mode_indices)
            residual = pred - batch.values[start:stop]
            loss = loss + 0.5 * (residual * residual).sum() / n
            chunk_grads = self.backward(cores, mode_indices, cache, residual / n)
            if grads is None:
                grads = chunk_grads
            else:
                for total, part in zip(grads, chunk_grads):
                    total += part
        return loss, grads

    def check_cores(self, cores):
        """Raise a clear error when ``cores`` do not fit this model's shape and rank.

        Parameters
        ----------
        cores : list of arrays
            Candidate cores.
        """
        expected = self.core_shapes()
        got = [tuple(c.shape) for c in cores]
        if got != expected:
            raise ValueError(
                f"initial {self.name} cores have shapes {got}, expected {expected} "
                f"for shape={self.shape} and rank={self.rank}"
            )

    def core_shapes(self):
        """Shapes of the cores, in order.

        Returns
        -------
        shapes : list of tuple of int
        """
        raise NotImplementedError

    def n_parameters(self):
        """Number of scalar parameters in all cores.

        Returns
        -------
        n : int
        """
        return int(sum(np.prod(s) for s in self.core_shapes()))
