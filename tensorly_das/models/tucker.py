"""Tucker model: ``X[i_1..i_N] = sum_{r_1..r_N} G[r_1..r_N] prod_n A_n[i_n, r_n]``.

Cores are ``[G, A_1, ..., A_N]`` (K = N + 1): the core tensor of shape ``rank`` and
the factor matrices ``A_n`` of shape ``(I_n, R_n)``. Predictions contract the core
with one gathered factor row per mode, mode by mode; the gradients run the same
contractions backwards. Cost per pass: O(nnz * prod_n R_n) time (plus
O(nnz * sum_n R_n) for the gathers and scatters) and O(nnz * prod_{n>1} R_n)
temporary memory; never a dense tensor.
"""

import math

import numpy as np
from tensorly.tucker_tensor import TuckerTensor

import tensorly as tl

from ..backend import backend_of, scatter_add_rows, take_rows, to_numpy
from ..options import check_positive_int, is_integer
from .base import TensorModel
from .gauge import balance_bond


class TuckerModel(TensorModel):
    """Tucker parametrization with multilinear rank ``rank = (R_1, ..., R_N)``.

    Parameters
    ----------
    shape : tuple of int
    rank : int or tuple of int
        An int gives the same rank in every mode. Each ``R_n`` must satisfy
        ``1 <= R_n <= I_n``: a larger rank cannot be used by the model and is refused.
    """

    name = "tucker"

    def check_rank(self, rank):
        order = len(self.shape)
        if is_integer(rank):
            rank = (rank,) * order
        if not isinstance(rank, (tuple, list)):
            raise TypeError(f"Tucker rank must be an int or a tuple of {order} ints, got {rank!r}")
        if len(rank) != order:
            raise ValueError(f"Tucker rank {tuple(rank)} has {len(rank)} entries, the tensor has {order} modes")
        rank = tuple(check_positive_int(r, "Tucker rank") for r in rank)
        too_big = [(n, r, i) for n, (r, i) in enumerate(zip(rank, self.shape)) if r > i]
        if too_big:
            n, r, i = too_big[0]
            raise ValueError(
                f"Tucker rank {rank} is impossible for shape {self.shape}: rank {r} in mode {n} "
                f"exceeds that mode's size {i}"
            )
        return rank

    def core_shapes(self):
        return [tuple(self.rank)] + [(dim, r) for dim, r in zip(self.shape, self.rank)]

    def n_paths(self):
        return math.prod(self.rank)

    def entry_width(self):
        # gathered rows and their gradients, the partial contractions forward and backward
        partial = sum(math.prod(self.rank[k + 1:]) for k in range(len(self.rank)))
        return 2 * sum(self.rank) + 3 * partial + 4

    def mode_axes(self):
        return [(n + 1, 0) for n in range(len(self.shape))]

    def balance(self, cores):
        """Each factor's basis, then the norms, to the lowest ridge penalty; the tensor unchanged.

        ``A_n -> A_n B`` with the core's mode ``n`` multiplied by ``B^{-1}`` changes no
        prediction; :func:`~.gauge.balance_bond` picks the ``B`` of the lowest
        ``||A_n||^2 + ||G||^2``, mode after mode, and the norms are then equalized as for every
        model.

        Parameters
        ----------
        cores : list of arrays
            Updated in place.
        """
        for n in range(len(self.shape)):
            balance_bond(cores[n + 1], 1, cores[0], n)
        super().balance(cores)

    def basis_dims(self):
        return tuple(self.rank)

    def from_subspaces(self, bases, core, rng):
        return [np.array(core, dtype=np.float64)] + [np.array(U, dtype=np.float64) for U in bases]

    def forward(self, cores, mode_indices):
        core, factors = cores[0], cores[1:]
        rows = [take_rows(a, idx) for a, idx in zip(factors, mode_indices)]
        n = rows[0].shape[0]
        # partial[k]: (n, R_{k+1} * ... * R_N), the core contracted with rows 0..k
        partial = [rows[0] @ core.reshape(self.rank[0], -1)]
        with backend_of(core):
            for k in range(1, len(rows)):
                rest = partial[-1].shape[1] // self.rank[k]
                stacked = partial[-1].reshape(n, self.rank[k], rest)
                partial.append(tl.einsum("nr,nrp->np", rows[k], stacked))
        return partial[-1][:, 0], (rows, partial)

    def backward(self, cores, mode_indices, cache, weights):
        core, factors = cores[0], cores[1:]
        rows, partial = cache
        n = rows[0].shape[0]
        row_grads = [None] * len(rows)
        upstream = weights[:, None]  # d loss / d partial[k], shape (n, R_{k+1} * ... * R_N)
        with backend_of(core):
            for k in range(len(rows) - 1, 0, -1):
                rest = upstream.shape[1]
                stacked = partial[k - 1].reshape(n, self.rank[k], rest)
                row_grads[k] = tl.einsum("nrp,np->nr", stacked, upstream)
                upstream = tl.einsum("nr,np->nrp", rows[k], upstream).reshape(n, self.rank[k] * rest)
        flat_core = core.reshape(self.rank[0], -1)
        row_grads[0] = upstream @ flat_core.T
        core_grad = (rows[0].T @ upstream).reshape(core.shape)
        factor_grads = [
            scatter_add_rows(idx, g, a.shape[0]) for idx, g, a in zip(mode_indices, row_grads, factors)
        ]
        return [core_grad] + factor_grads

    def design_cost(self, k):
        # a factor's row contracts the whole core with the other modes' rows
        return 0 if k == 0 else math.prod(self.rank)

    def kronecker_factors(self, cores, k):
        return list(cores[1:]) if k == 0 else None

    def design(self, cores, mode_indices, k):
        core, factors = cores[0], cores[1:]
        rows = [None if m == k - 1 else take_rows(a, idx) for m, (a, idx) in enumerate(zip(factors, mode_indices))]
        n = next(r for r in rows if r is not None).shape[0]
        with backend_of(core):
            if k == 0:  # the core tensor: the Kronecker product of the rows (C order)
                out = rows[0]
                for r in rows[1:]:
                    out = (out[:, :, None] * r[:, None, :]).reshape(n, -1)
                return out
            mode = k - 1  # factor of ``mode``: the core contracted with every other mode's row
            order = [m for m in range(len(rows)) if m != mode] + [mode]
            partial = tl.transpose(core, order)
            partial = rows[order[0]] @ tl.reshape(partial, (self.rank[order[0]], -1))
            for m in order[1:-1]:
                partial = tl.einsum("nr,nrp->np", rows[m], partial.reshape(n, self.rank[m], -1))
            return partial

    def to_tensorly(self, cores):
        with backend_of(cores[0]):
            return TuckerTensor((cores[0], list(cores[1:])))

    def from_tensorly(self, decomposition):
        core, factors = decomposition
        return [np.array(to_numpy(core), dtype=np.float64)] + [
            np.array(to_numpy(f), dtype=np.float64) for f in factors
        ]
