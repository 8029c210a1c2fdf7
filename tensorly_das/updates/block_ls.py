"""Block least squares ("ALS"): a second-order base step that solves for one core at a time.

Every model here is linear in each core once the others are fixed, so the training loss
restricted to core ``k`` is a ridge least-squares problem, separate for every row of that core
(every index of the mode that picks it). For row ``i`` with design rows ``d_j`` (the model's
:meth:`~tensorly_das.models.TensorModel.design`) and values ``y_j`` over its entries ``j``::

    (sum_j d_j d_j^T + (n * l2_reg + floor_i) I) x_i = sum_j d_j y_j

where ``n`` is the number of training entries (the loss is a mean) and ``floor_i`` a tiny
relative ridge (:data:`RIDGE_FLOOR` times the mean diagonal) that keeps rows with fewer
entries than unknowns solvable. A sweep solves every core in turn, each exactly given the
others, and then rebalances the core norms (:meth:`~tensorly_das.models.TensorModel.balance`),
which changes no prediction and lowers the ridge penalty. Each sweep therefore never raises the
objective ``0.5 * mean(residual^2) + 0.5 * l2_reg * sum_k ||G_k||^2`` beyond the floor's effect.

How the normal equations are formed (the step knows no model):

- **Layout, built once per fit and core.** The entries are sorted by row; a row with more
  entries than fit in one chunk is cut into pieces; pieces are padded to a power-of-two length
  (at most 2x the work) and grouped by that length, so a chunk of pieces is one
  ``(pieces, length, W)`` block.
- **One batched product per chunk.** ``D^T D`` and ``D^T y`` of the block give every piece's
  Gram matrix and right-hand side at once; padding is masked to zero. Chunks hold about
  :data:`CHUNK_FLOATS` design numbers, so memory stays bounded whatever ``nnz x W^2``.
- **Batched solves** of all rows of the core at once.

With a data-parallel fit the Gram matrices and right-hand sides are summed over the ranks before
the solves, so every rank solves the same system.
"""

import math

import numpy as np
import tensorly as tl

from ..backend import add_segments, backend_of, batched_solve, index_add_rows, index_like, to_numpy

#: relative ridge added to every row's system: this fraction of its mean diagonal
RIDGE_FLOOR = 1e-6
#: design numbers (slots x W) handled per chunk: bounds the temporary memory of a sweep
CHUNK_FLOATS = 1 << 17
#: entries per piece: longer rows are cut, so padding to a power of two wastes little
MAX_PIECE = 512
#: cores whose rows have more unknowns than this are solved by conjugate gradients instead
#: (forming W x W normal equations costs nnz * W^2 multiply-adds: about 7e11 per sweep for a
#: (8, 8, 8, 8) Tucker core, W = 4096, on Kinetic's 41,000 training entries)
EXACT_WIDTH = 512
#: conjugate-gradient iterations per wide core and sweep, from the current core
CG_ITERATIONS = 5


def solver_memory(model, nnz, itemsize=8):
    """Bytes block least squares holds beyond a first-order fit: the per-core layouts (entry
    positions and padding mask, at most twice the entries each), the largest exact core's
    normal equations and one chunk's workspace.

    Parameters
    ----------
    model : TensorModel
        The model (shape and rank).
    nnz : int
        Training entries.
    itemsize : int
        Bytes per float.

    Returns
    -------
    bytes : int
    """
    n_cores = len(model.core_shapes())
    normal = 0
    for k in range(n_cores):
        width = BlockLeastSquares.width(model, k)
        mode = model.row_mode(k)
        rows = 1 if mode is None else min(model.shape[mode], nnz)
        if width <= EXACT_WIDTH:
            normal = max(normal, 3 * rows * width * (width + 1) * itemsize)
    layout = n_cores * 2 * nnz * (8 + 1)
    workspace = 4 * CHUNK_FLOATS * itemsize + 8 * len(model.shape) * CHUNK_FLOATS
    return int(layout + normal + workspace)


class _Chunk:
    """A block of padded pieces: entry positions, the padding mask, the rows they add to and,
    when a row has several pieces here, where each row's pieces start (None: one piece per row).
    """

    __slots__ = ("slots", "mask", "targets", "n_pieces", "length", "segments")

    def __init__(self, slots, mask, targets, n_pieces, length, segments=None):
        self.slots, self.mask, self.targets = slots, mask, targets
        self.n_pieces, self.length, self.segments = n_pieces, length, segments

    def per_row(self, stats):
        """Per-piece ``stats`` summed over each row's pieces (one entry per target)."""
        if self.segments is None:
            return stats
        return add_segments(stats, self.segments)


def _pieces(row_of_entry, n_rows, max_length):
    """Entries grouped by row and cut into pieces of at most ``max_length``: (order of the
    entries, start and length of each piece in that order, row of each piece)."""
    order = np.argsort(row_of_entry, kind="stable")
    counts = np.bincount(row_of_entry, minlength=n_rows)
    ends = np.cumsum(counts)
    rows = np.flatnonzero(counts)
    per_row = -(-counts[rows] // max_length)
    piece_row = np.repeat(rows, per_row)
    first_piece = np.cumsum(per_row) - per_row
    within = np.arange(len(piece_row)) - np.repeat(first_piece, per_row)
    start = ends[piece_row] - counts[piece_row] + within * max_length
    length = np.minimum(max_length, ends[piece_row] - start)
    return order, start, length, piece_row


def build_layout(row_of_entry, n_rows, width, like):
    """The chunks of one core's normal equations (host work, done once per fit).

    Parameters
    ----------
    row_of_entry : 1-D int ndarray
        The row each training entry uses.
    n_rows : int
        Rows of the core.
    width : int
        Unknowns per row (``W``).
    like : array
        The chunks' arrays go to its backend and device.

    Returns
    -------
    chunks : list of _Chunk
    """
    max_slots = max(1, CHUNK_FLOATS // width)
    piece_length = min(max_slots, MAX_PIECE)
    order, start, length, piece_row = _pieces(row_of_entry, n_rows, piece_length)
    padded = np.minimum(2 ** np.ceil(np.log2(np.maximum(length, 1))).astype(np.int64), piece_length)
    padded = np.maximum(padded, length)
    chunks = []
    for size in np.unique(padded):
        pieces = np.flatnonzero(padded == size)  # in row order: a row's pieces are consecutive
        per_chunk = max(1, max_slots // int(size))
        for s in range(0, len(pieces), per_chunk):
            group = pieces[s : s + per_chunk]
            offsets = np.arange(size)[None, :]
            valid = offsets < length[group, None]
            positions = np.where(valid, start[group, None] + offsets, start[group, None])
            mask = None if valid.all() else index_like(valid.ravel(), like)
            rows = piece_row[group]
            first = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])  # each row's first piece
            segments = None if len(first) == len(rows) else first
            chunks.append(_Chunk(index_like(order[positions.ravel()], like), mask,
                                 index_like(rows if segments is None else rows[first], like),
                                 len(group), int(size), segments))
    return chunks


class _Layout:
    """Per-core chunks, the rows that hold entries (over all ranks) and the global count."""

    def __init__(self, model, batch, reducer, like):
        values_sq = (batch.values * batch.values).sum() if len(batch) else like.sum() * 0.0
        self.n_global = len(batch) if reducer is None else int(reducer.sum([len(batch)])[0])
        self.values_sq = values_sq if reducer is None else reducer.reduce_sum(values_sq)
        self.chunks, self.observed = [], []
        for k, shape in enumerate(model.core_shapes()):
            mode = model.row_mode(k)
            n_rows = 1 if mode is None else model.shape[mode]
            width = math.prod(shape) // n_rows
            rows = (np.zeros(len(batch), dtype=np.int64) if mode is None
                    else np.asarray(to_numpy(batch.mode_indices[mode]), dtype=np.int64))
            counts = np.bincount(rows, minlength=n_rows)
            if reducer is not None:
                counts = np.asarray(reducer.sum(counts.tolist()))
            self.chunks.append(build_layout(rows, n_rows, width, like))
            self.observed.append(index_like(counts > 0, like))


class BlockLeastSquares:
    """Exact ridge least squares for each core in turn (alternating least squares).

    A base step like :class:`~tensorly_das.updates.Adam`, but it ignores the gradient: it
    needs the objective's model and entries (see :func:`tensorly_das.fit.make_objective`).
    Only the plain update wraps it (SAM and DAS steer a gradient step; there is none here).

    Parameters
    ----------
    ridge_floor : float, default :data:`RIDGE_FLOOR`
        Relative ridge added to every row's system.
    """

    #: it solves rather than steps: the update rules refuse SAM and DAS around it
    solves = True

    def __init__(self, ridge_floor=RIDGE_FLOOR):
        self.ridge_floor = ridge_floor
        self._layout, self._key, self._end_loss = None, None, {}

    def __getstate__(self):  # the layout is rebuilt from the entries; never stored
        return {"ridge_floor": self.ridge_floor, "_layout": None, "_key": None, "_end_loss": {}}

    def __deepcopy__(self, memo):
        return BlockLeastSquares(self.ridge_floor)

    def step(self, cores, grads, objective):
        """One sweep (the base-step signature; ``grads`` is unused): see :meth:`sweep`."""
        self.sweep(cores, objective)

    def sweep(self, cores, objective):
        """Solve every core given the others, then balance the norms (in place).

        Parameters
        ----------
        cores : list of arrays
            Updated in place.
        objective : Objective
            Gives the model, the training entries, ``l2_reg`` and the reducer.

        Returns
        -------
        loss : scalar array
            The objective at the cores the sweep started from. After the first sweep it comes
            from the previous sweep's last normal equations, so a sweep evaluates no gradient.
        """
        model = objective.model
        start = self._end_loss.get(self._state_key(cores, objective))
        if start is None:
            start = objective.value(cores)
        sse = None
        for k in range(len(cores)):
            if self.width(model, k) > EXACT_WIDTH:
                self.descend_core(cores, objective, k)
                sse = None
            else:
                sse = self.solve_core(cores, objective, k)
        model.balance(cores)
        if sse is None:
            end = objective.value(cores)
        else:  # the residual of the last solved core, from its normal equations
            with backend_of(sse):
                end = 0.5 * tl.clip(sse, 0.0, None) / self._layout.n_global + objective.penalty(cores)
        self._end_loss = {self._state_key(cores, objective): end}
        return start

    @staticmethod
    def _state_key(cores, objective):
        return (id(objective.batch), objective.l2_reg, tuple(id(c) for c in cores))

    @staticmethod
    def width(model, k):
        """Unknowns per row of core ``k``."""
        mode = model.row_mode(k)
        return math.prod(model.core_shapes()[k]) // (1 if mode is None else model.shape[mode])

    def descend_core(self, cores, objective, k, n_iter=None):
        """Approach core ``k``'s block minimizer (in place) by conjugate gradients.

        The block problem is quadratic: its gradient is the objective's gradient for core ``k``
        and its Hessian times ``p`` is that gradient for core ``p`` on zero values (no other
        core changes). Each iteration costs one evaluation of the loss and gradients; the
        normal equations are never formed.

        Parameters
        ----------
        cores, objective, k :
            As for :meth:`solve_core`.
        n_iter : int, optional
            Iterations (default :data:`CG_ITERATIONS`).
        """
        zeros = type(objective)(objective.model, type(objective.batch)(
            objective.batch.mode_indices, objective.batch.values * 0.0), objective.l2_reg, objective.reducer)
        core = cores[k]
        residual = -objective(cores)[1][k]
        direction = residual
        rr = (residual * residual).sum()
        saved = core
        for _ in range(CG_ITERATIONS if n_iter is None else n_iter):
            if not float(rr) > 0:
                break
            cores[k] = direction
            curvature = zeros(cores)[1][k]
            cores[k] = saved
            p_hp = (direction * curvature).sum()
            if not float(p_hp) > 0:
                break
            step = rr / p_hp
            core += step * direction
            residual = residual - step * curvature
            rr_next = (residual * residual).sum()
            direction = residual + (rr_next / rr) * direction
            rr = rr_next

    def solve_core(self, cores, objective, k):
        """Replace core ``k`` (in place) by the minimizer of the objective given the others.

        Rows of the core that hold no training entry (on any rank) keep their values.

        Parameters
        ----------
        cores : list of arrays
            Core ``k`` is updated in place.
        objective : Objective
            The model, the training entries, ``l2_reg`` and the reducer.
        k : int
            The core.

        Returns
        -------
        sse : scalar array
            Sum of squared training residuals at the new core (over all ranks).
        """
        model, batch = objective.model, objective.batch
        key = (id(batch), len(batch))
        if self._key != key:  # the layout of these entries, built once
            self._layout = _Layout(model, batch, objective.reducer, cores[0])
            self._key = key
        layout = self._layout
        current = model.core_as_rows(cores[k], k)
        n_rows, width = current.shape
        with backend_of(current):
            gram = tl.zeros((n_rows, width, width), **tl.context(current))
            rhs = tl.zeros((n_rows, width), **tl.context(current))
            for chunk in layout.chunks[k]:
                design = model.design(cores, [idx[chunk.slots] for idx in batch.mode_indices], k)
                values = batch.values[chunk.slots]
                if chunk.mask is not None:
                    design = design * chunk.mask[:, None]
                    values = values * chunk.mask
                design = design.reshape(chunk.n_pieces, chunk.length, width)
                design_t = design.swapaxes(1, 2)
                index_add_rows(gram, chunk.targets, chunk.per_row(design_t @ design))
                index_add_rows(rhs, chunk.targets,
                               chunk.per_row((design_t @ values.reshape(chunk.n_pieces, -1, 1))[..., 0]))
            if objective.reducer is not None:
                gram = objective.reducer.reduce_sum(gram)
                rhs = objective.reducer.reduce_sum(rhs)
            eye = tl.eye(width, **tl.context(current))
            diagonal = tl.einsum("rii->r", gram) / width
            ridge = layout.n_global * objective.l2_reg + self.ridge_floor * diagonal
            ridge = tl.where(ridge > 0, ridge, tl.ones(ridge.shape, **tl.context(ridge)))
            solved = batched_solve(gram + ridge[:, None, None] * eye[None], rhs)
            rows = tl.where(layout.observed[k][:, None], solved, current)
            cores[k][...] = model.rows_as_core(rows, k)
            # sum of squared residuals at the new core: y'y - 2 x'b + x'Gx, row by row
            return layout.values_sq - 2.0 * tl.sum(rows * rhs) + tl.sum(rows * tl.einsum("rij,rj->ri", gram, rows))
