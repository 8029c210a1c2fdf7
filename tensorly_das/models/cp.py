"""CP (CANDECOMP/PARAFAC) model: ``X[i_1..i_N] = sum_r prod_n A_n[i_n, r]``.

Cores are the N factor matrices ``A_n`` of shape ``(I_n, R)`` (weights absorbed).
Cost per pass over ``nnz`` observations: O(nnz * N * R) time, O(nnz * N * R)
temporary memory for the gathered rows, O(sum_n I_n * R) for the cores.
"""

import numpy as np
import tensorly as tl
from tensorly.cp_tensor import CPTensor
from tensorly.decomposition import parafac

from ..backend import backend_of, scatter_add_transposed, take_rows, take_rows_transposed, to_numpy
from ..options import check_positive_int
from .base import TensorModel


class CPModel(TensorModel):
    """CP parametrization with ``rank`` components.

    Parameters
    ----------
    shape : tuple of int
    rank : int >= 1
    """

    name = "cp"
    #: the CP of a refined Tucker core (CANDELINC-like): benchmarks/recovery.py and
    #: benchmarks/rank_selection.py measure it. Not for TT/TR yet: tried while their start
    #: still added noise of the cores' joint RMS, the suite's TT rank-2 start fitted worse
    #: refined than not; not measured since TT's start balances its cores first
    refine_subspaces = True

    def check_rank(self, rank):
        return check_positive_int(rank, "CP rank")

    def core_shapes(self):
        return [(dim, self.rank) for dim in self.shape]

    def n_paths(self):
        return self.rank

    def mode_axes(self):
        return [(n, 0) for n in range(len(self.shape))]

    def basis_dims(self):
        return tuple(min(self.rank, dim) for dim in self.shape)

    def from_subspaces(self, bases, core, rng):
        # a CP decomposition of the small core, mapped back by the bases
        seed = int(rng.integers(2**31))
        with tl.backend_context("numpy"):
            try:
                weights, small = parafac(core, self.rank, init="svd", n_iter_max=200, tol=1e-10,
                                         normalize_factors=True, random_state=seed)
            except np.linalg.LinAlgError:  # a degenerate core: ALS from a random start instead
                weights, small = parafac(core, self.rank, init="random", n_iter_max=200, tol=1e-10,
                                         normalize_factors=True, random_state=seed)
        weights = np.asarray(weights, dtype=np.float64)
        root = np.abs(weights) ** (1.0 / len(bases))
        factors = [U @ (B * root) for U, B in zip(bases, small)]
        factors[0] = factors[0] * np.sign(weights + (weights == 0))
        return factors

    def forward(self, cores, mode_indices):
        # gathered rows are kept transposed, (R, n), for contiguous products and sums
        rows = [take_rows_transposed(core, idx) for core, idx in zip(cores, mode_indices)]
        # prefix[n] = rows[0] * ... * rows[n-1]; prefix[0] is implicit ones
        prefix = [None, rows[0]]
        for n in range(1, len(rows) - 1):
            prefix.append(prefix[-1] * rows[n])
        pred = (prefix[-1] * rows[-1]).sum(0)
        return pred, (rows, prefix)

    def backward(self, cores, mode_indices, cache, weights):
        rows, prefix = cache
        order = len(rows)
        grads = [None] * order
        # running suffix product, with the weights folded in from the start
        suffix = weights[None, :]
        for n in range(order - 1, -1, -1):
            others = suffix if prefix[n] is None else prefix[n] * suffix
            grads[n] = scatter_add_transposed(mode_indices[n], others, cores[n].shape[0])
            if n > 0:
                suffix = suffix * rows[n]
        return grads

    def design(self, cores, mode_indices, k):
        others = [take_rows(core, idx) for m, (core, idx) in enumerate(zip(cores, mode_indices)) if m != k]
        out = others[0]
        for rows in others[1:]:
            out = out * rows
        return out

    def balance(self, cores):
        # each component separately: column r of every factor gets the geometric mean norm
        with backend_of(cores[0]):
            norms = tl.sqrt(tl.stack([tl.sum(c * c, axis=0) for c in cores]))  # (N, R)
            usable = tl.all(norms > 0, axis=0)
            safe = tl.where(usable[None, :], norms, tl.ones(norms.shape, **tl.context(norms)))
            target = tl.exp(tl.mean(tl.log(safe), axis=0))
            for c, norm in zip(cores, safe):
                c *= (target / norm)[None, :]

    def to_tensorly(self, cores):
        with backend_of(cores[0]):
            weights = tl.ones(self.rank, **tl.context(cores[0]))
            return CPTensor((weights, list(cores)))

    def from_tensorly(self, decomposition):
        weights, factors = decomposition
        factors = [np.array(to_numpy(f), dtype=np.float64) for f in factors]
        weights = np.asarray(to_numpy(weights), dtype=np.float64)
        factors[0] = factors[0] * weights[None, :]
        return factors
