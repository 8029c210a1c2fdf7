"""Training entries grouped by fiber, so block least squares builds per fiber what entries share.

A *fiber* of mode ``m`` is a set of entries that agree on every index but the ``m``-th. Two uses:

- **Shared design rows.** The design row of a core whose rows are picked by mode ``m``
  (:meth:`~tensorly_das.models.TensorModel.design`) depends only on the other modes' indices,
  so it is the same for every entry of a mode-``m`` fiber. Where a row is costly (a Tucker
  factor's: the core contracted with every other mode's row), it is built once per fiber and
  gathered for the entries (:func:`fiber_design`).
- **Kronecker normal equations.** Where a core's design row is the Kronecker product of one
  row per mode (Tucker's core tensor), the Gram matrix ``sum_j d_j d_j^T`` over a fiber of mode
  ``m`` is ``(p p^T) (x) S`` with ``p`` the Kronecker product of the other modes' rows, fixed
  on the fiber, and ``S`` the sum of mode ``m``'s row outer products over it
  (:meth:`KroneckerDesign.normal_equations`; its products with a core and with per-entry
  weights, for conjugate gradients on wide cores, likewise). The cost falls from ``nnz * W^2`` to
  ``fibers * W^2 + nnz * R_m^2``: about the number of entries per fiber fewer multiply-adds
  (the 8,672 entries of the COVID serology tensor at 30% observed lie on 66 mode-0 fibers).

Everything is built from the entries' indices once per fit (:class:`Fibers`, host work) and
bounded in memory by the block least squares' chunk size.
"""

import math

import numpy as np
import tensorly as tl

from ..backend import add_segments, backend_of, concatenate, index_like, scatter_add_rows, take_rows, to_numpy
from ..ordering import stable_order

#: Numbers :class:`KroneckerDesign` keeps of its fibers' Kronecker rows between products (the
#: products of one conjugate-gradient solve, on fixed factors): up to this many (32 MB in
#: float64) they are built once per solve instead of on every product
KRONECKER_CACHE_FLOATS = 1 << 22


class Fibers:
    """The training entries grouped by their fibers of one mode.

    Parameters
    ----------
    mode_indices : list of 1-D int arrays
        The entries' index in every mode (any backend).
    shape : tuple of int
        The tensor's shape.
    mode : int
        The fibers' mode: entries of a fiber share every other mode's index.
    like : array
        The index arrays go to its backend and device.

    Attributes
    ----------
    count : int
        Number of fibers (at most the number of entries).
    of_entry : int array (nnz,)
        The fiber of every entry (fibers numbered 0..count-1).
    first : int array (count,)
        One entry of each fiber (its first in the entries' order).
    """

    def __init__(self, mode_indices, shape, mode, like):
        indices = [np.asarray(to_numpy(i), dtype=np.int64) for i in mode_indices]
        others = [n for n in range(len(shape)) if n != mode]
        nnz = len(indices[0])
        if not others:
            key = np.zeros(nnz, dtype=np.int64)
        elif math.prod(shape[n] for n in others) < 2**62:
            key = np.ravel_multi_index([indices[n] for n in others], [shape[n] for n in others])
        else:  # too many fibers for one int64 key: group the index tuples themselves
            key = np.unique(np.stack([indices[n] for n in others], axis=1), axis=0, return_inverse=True)[1]
        _, first, of_entry = np.unique(key, return_index=True, return_inverse=True)
        of_entry = of_entry.ravel()
        self.mode, self.count, self._like = mode, len(first), like
        self.of_entry = index_like(of_entry, like)
        self.first = index_like(first, like)
        self._of_entry_host = of_entry
        self._sorted = None

    def sorted_entries(self):
        """The entries in fiber order, built on first use (only the Kronecker equations need them).

        Returns
        -------
        entries : int array (nnz,)
            The entries' positions in fiber order, on the backend.
        fiber_of_sorted : numpy int array (nnz,)
            The fiber of each of them, on the host.
        """
        if self._sorted is None:
            order = stable_order(self._of_entry_host, self.count)
            self._sorted = (index_like(order, self._like), self._of_entry_host[order])
        return self._sorted

    @staticmethod
    def nbytes(nnz, sorted_too=True):
        """Bytes held for ``nnz`` entries, at most.

        Parameters
        ----------
        nnz : int
            Number of entries.
        sorted_too : bool, default=True
            Count the entries in fiber order (backend and host) beside the fiber numbers (backend
            and host) and one entry per fiber.

        Returns
        -------
        int
            The bytes.
        """
        return nnz * 8 * (5 if sorted_too else 3)


def fiber_design(model, cores, mode_indices, k, fibers, block):
    """Design rows of core ``k`` at one entry of each fiber of its row mode (``(count, W)``),
    built ``block`` fibers at a time."""
    parts = []
    for start in range(0, fibers.count, block):
        reps = fibers.first[start:start + block]
        parts.append(model.design(cores, [take_rows(idx, reps) for idx in mode_indices], k))
    return parts[0] if len(parts) == 1 else concatenate(parts)


class KroneckerDesign:
    """Design rows ``d_j = kron_n factors[n][i_n(j)]`` (C order, mode 0 slowest), used through
    the fibers of one mode ``m``: the other modes' part ``p_f`` is fixed on a fiber, so every
    product below costs ``fibers * W`` (plus ``nnz * R_m``) rather than ``nnz * W``.

    Parameters
    ----------
    factors : list of arrays (I_n, R_n)
        One matrix per mode.
    batch : Batch
        The entries (their indices and values).
    fibers : Fibers
        The entries' fibers of one mode ``m``.
    chunk_floats : int
        Bound on the numbers a temporary block holds.
    cache_floats : int, optional
        Where every fiber's Kronecker row fits in this many numbers, :meth:`matvec` and
        :meth:`rmatvec` build them on their first call and reuse them (the factors must not
        change in between); beyond it they rebuild them block by block on every call.
        Default: :data:`KRONECKER_CACHE_FLOATS`, read when the design is made.
    """

    def __init__(self, factors, batch, fibers, chunk_floats, cache_floats=None):
        self.factors, self.batch, self.fibers, self.chunk_floats = factors, batch, fibers, chunk_floats
        self.cache_floats = KRONECKER_CACHE_FLOATS if cache_floats is None else cache_floats
        self._kron = None  # every fiber's Kronecker row, once built (within cache_floats)
        self.m = fibers.mode
        self.dims = [f.shape[1] for f in factors]
        self.others = [n for n in range(len(factors)) if n != self.m]
        self.r_m = self.dims[self.m]
        self.width_other = math.prod(self.dims[n] for n in self.others)
        self.width = self.r_m * self.width_other
        self._back = list(np.argsort([self.m] + self.others))  # (m, others) -> mode order
        self._rows = None

    def _context(self):
        return tl.context(self.factors[self.m])

    def _kronecker_rows(self, start, stop):
        """The Kronecker products of the other modes' rows of fibers ``start:stop``,
        ``(stop - start, width_other)``."""
        reps = self.fibers.first[start:stop]
        p = tl.ones((len(reps), 1), **self._context())
        for n in self.others:
            row = take_rows(self.factors[n], take_rows(self.batch.mode_indices[n], reps))
            p = (p[:, :, None] * row[:, None, :]).reshape(len(reps), -1)
        return p

    def _blocks(self, floats_per_fiber, reuse=False):
        """``(start, p)`` over blocks of fibers: ``p`` the Kronecker rows of each fiber of the
        block (:meth:`_kronecker_rows`). With ``reuse`` and all of them within ``cache_floats``,
        one block of every fiber, built on the first call only."""
        count = self.fibers.count
        if reuse and 0 < count * self.width_other <= self.cache_floats:
            if self._kron is None:
                self._kron = self._kronecker_rows(0, count)
            yield 0, self._kron
            return
        per_block = max(1, self.chunk_floats // floats_per_fiber)
        for start in range(0, count, per_block):
            yield start, self._kronecker_rows(start, start + per_block)

    def mode_rows(self):
        """Mode ``m``'s row of every entry, gathered once.

        Returns
        -------
        array (nnz, R_m)
            The rows.
        """
        if self._rows is None:
            self._rows = take_rows(self.factors[self.m], self.batch.mode_indices[self.m])
        return self._rows

    def _mode_first(self, x):
        """A flat C-order core as ``(R_m, width_other)``, mode ``m`` first."""
        x = tl.reshape(x, self.dims)
        return tl.reshape(tl.transpose(x, [self.m] + self.others), (self.r_m, self.width_other))

    def _mode_order(self, x):
        """The inverse of :meth:`_mode_first`: a flat C-order core."""
        x = tl.reshape(x, [self.r_m] + [self.dims[n] for n in self.others])
        return tl.reshape(tl.transpose(x, self._back), (self.width,))

    def matvec(self, x):
        """``D @ x``: the prediction at every entry of a core.

        Parameters
        ----------
        x : array (W,)
            The core, flat in C order.

        Returns
        -------
        array (nnz,)
            The prediction at every entry.
        """
        with backend_of(x):
            x_m = self._mode_first(x)
            per_fiber = tl.zeros((self.fibers.count, self.r_m), **self._context())
            for start, p in self._blocks(self.width_other + self.r_m, reuse=True):
                per_fiber[start:start + len(p)] = p @ x_m.T
            return tl.sum(self.mode_rows() * take_rows(per_fiber, self.fibers.of_entry), axis=1)

    def rmatvec(self, weights):
        """``D^T @ weights``.

        Parameters
        ----------
        weights : array (nnz,)
            One weight per entry.

        Returns
        -------
        array (W,)
            The product, flat in C order.
        """
        with backend_of(weights):
            per_fiber = scatter_add_rows(self.fibers.of_entry, self.mode_rows() * weights[:, None],
                                         self.fibers.count)
            out = tl.zeros((self.r_m, self.width_other), **self._context())
            for start, p in self._blocks(self.width_other + self.r_m, reuse=True):
                out += per_fiber[start:start + len(p)].T @ p
            return self._mode_order(out)

    def normal_equations(self):
        """The normal equations of the core over the entries.

        Returns
        -------
        gram : array (W, W)
            ``sum_j d_j d_j^T``.
        rhs : array (W,)
            ``sum_j y_j d_j``.
        """
        r_m, width_other, batch = self.r_m, self.width_other, self.batch
        with backend_of(self.factors[self.m]):
            context = self._context()
            # per fiber: the sums of mode m's row outer products (S) and of its rows times the values
            outer = tl.zeros((self.fibers.count, r_m * r_m), **context)
            moment = tl.zeros((self.fibers.count, r_m), **context)
            entries, fiber_of_sorted = self.fibers.sorted_entries()
            block = max(1, self.chunk_floats // (r_m * r_m))
            for start in range(0, len(fiber_of_sorted), block):
                pos = entries[start:start + block]
                fib = fiber_of_sorted[start:start + block]
                starts = np.flatnonzero(np.r_[True, fib[1:] != fib[:-1]])
                lo, hi = int(fib[0]), int(fib[-1]) + 1
                rows = take_rows(self.factors[self.m], take_rows(batch.mode_indices[self.m], pos))
                values = take_rows(batch.values, pos)
                outer[lo:hi] += add_segments((rows[:, :, None] * rows[:, None, :]).reshape(-1, r_m * r_m), starts)
                moment[lo:hi] += add_segments(rows * values[:, None], starts)
            # sum over fibers of S_f (x) p_f p_f^T, one row a of blocks (a, b >= a) per product:
            # block (a, b) is p^T diag(S[:, a, b]) p, and block (b, a) its transpose
            outer = tl.reshape(outer, (self.fibers.count, r_m, r_m))
            gram = tl.zeros((r_m, width_other, r_m, width_other), **context)
            rhs = tl.zeros((r_m, width_other), **context)
            for start, p in self._blocks(r_m * width_other):
                stop = start + len(p)
                for a in range(r_m):
                    weighted = (outer[start:stop, a, a:][:, :, None] * p[:, None, :]).reshape(len(p), -1)
                    blocks = tl.reshape(weighted.T @ p, (r_m - a, width_other, width_other))  # (b, alpha, beta)
                    gram[a, :, a:, :] += tl.transpose(blocks, (1, 0, 2))
                    gram[a + 1:, :, a, :] += tl.transpose(blocks[1:], (0, 2, 1))
                rhs += moment[start:stop].T @ p
            # (a_m, others_a, b_m, others_b) -> C order over the modes, on both sides
            order, other_dims = len(self.dims), [self.dims[n] for n in self.others]
            gram = tl.transpose(tl.reshape(gram, [r_m] + other_dims + [r_m] + other_dims),
                                self._back + [order + i for i in self._back])
            return tl.reshape(gram, (self.width, self.width)), self._mode_order(rhs)
