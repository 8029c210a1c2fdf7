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

from ..backend import (add_segments, backend_of, batched_solve, index_add_rows, index_bytes, index_like,
                       narrow_index_like, take_rows, to_numpy)
from ..ordering import stable_order
from .fibers import KRONECKER_CACHE_FLOATS, Fibers, KroneckerDesign, fiber_design

#: relative ridge added to every row's system: this fraction of its mean diagonal
RIDGE_FLOOR = 1e-6
#: design numbers (slots x W) handled per chunk: bounds the temporary memory of a sweep
CHUNK_FLOATS = 1 << 17
#: multiply-adds of the design rows built per block of fibers (``fibers x design_cost``), which
#: bounds their temporaries (a Tucker factor's: the core contracted with one other mode's rows,
#: ``fibers x prod(rank) / R``): 2,048 fibers of an (8, 8, 8, 8) core, 8 MB, where 16,384
#: (``CHUNK_FLOATS / W``) made 67 MB blocks and slower sweeps (benchmarks/wide_core.py)
DESIGN_BLOCK_COST = 1 << 23
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
    normal equations, the entries' fibers and what is built per fiber where the model's
    designs share rows (:mod:`~tensorly_das.updates.fibers`; for a wide core solved by conjugate
    gradients its fibers' Kronecker rows), and one chunk's workspace.

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
    normal = fibers = shared = kron = 0
    for k in range(n_cores):
        width = BlockLeastSquares.width(model, k)
        mode = model.row_mode(k)
        rows = 1 if mode is None else min(model.shape[mode], nnz)
        if width <= EXACT_WIDTH:
            normal = max(normal, 3 * rows * width * (width + 1) * itemsize)
        if mode is None:  # a core every entry uses (Tucker's): its design may be Kronecker products,
            # through every mode's fibers and, per entry or fiber, one mode's rows and outer products
            r_max = max(model.core_shapes()[k])
            fibers = Fibers.nbytes(nnz) * len(model.shape)
            shared = max(shared, nnz * (r_max + r_max * r_max + 1) * itemsize)
            if width > EXACT_WIDTH:  # conjugate gradients keep the fibers' Kronecker rows
                kron = max(kron, min(nnz * width, KRONECKER_CACHE_FLOATS) * itemsize)
        elif model.design_cost(k) > width * width:  # its design rows built once per fiber
            fibers = max(fibers, Fibers.nbytes(nnz, sorted_too=False) * len(model.shape))
            shared = max(shared, nnz * width * itemsize)
    # per core, for at most twice the entries (padding): position, mask and, unless its designs
    # are shared per fiber, every other mode's index (counted at torch's int32, wider than NumPy's)
    layout = 0
    for k in range(n_cores):
        others = len(model.shape) - (model.row_mode(k) is not None)
        modes = 0 if _shares_designs(model, k) else others * index_bytes(max(model.shape), "torch")
        layout += 2 * nnz * (index_bytes(nnz, "torch") + 1 + modes)
    workspace = 4 * CHUNK_FLOATS * itemsize + 8 * len(model.shape) * CHUNK_FLOATS
    return int(layout + normal + fibers + shared + kron + workspace)


class _Chunk:
    """A block of padded pieces: entry positions, the padding mask, the rows they add to and,
    when a row has several pieces here, where each row's pieces start (None: one piece per row);
    ``modes``: the entries' index in every mode, in slot order (None: gathered per sweep).
    """

    __slots__ = ("slots", "mask", "targets", "n_pieces", "length", "segments", "modes")

    def __init__(self, slots, mask, targets, n_pieces, length, segments=None, modes=None):
        self.slots, self.mask, self.targets = slots, mask, targets
        self.n_pieces, self.length, self.segments, self.modes = n_pieces, length, segments, modes

    def mode_indices(self, batch):
        """Every mode's index of the chunk's entries (slot order)."""
        if self.modes is not None:
            return self.modes
        return [idx[self.slots] for idx in batch.mode_indices]

    def per_row(self, stats):
        """Per-piece ``stats`` summed over each row's pieces (one entry per target)."""
        if self.segments is None:
            return stats
        return add_segments(stats, self.segments)


def _shares_designs(model, k):
    """Whether core ``k``'s design rows may be built once per fiber (see :meth:`design_cost`):
    its chunks then gather them by fiber, and keep no indices of their own."""
    return model.row_mode(k) is not None and model.design_cost(k) > BlockLeastSquares.width(model, k) ** 2


def _pieces(row_of_entry, n_rows, max_length):
    """Entries grouped by row and cut into pieces of at most ``max_length``: (order of the
    entries, start and length of each piece in that order, row of each piece)."""
    order = stable_order(row_of_entry, n_rows)
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


def build_layout(row_of_entry, n_rows, width, like, entries=None):
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
    entries : (list of 1-D int ndarray or None, shape), optional
        Every mode's index of the training entries, on the host (None for the mode of the
        rows, which a design never reads), and the tensor's shape: each chunk then keeps its
        entries' indices in slot order (narrow integers), so a sweep reads them in sequence
        instead of gathering them from the whole training set.

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
            slots = order[positions.ravel()]
            modes = None if entries is None else [  # the row's own mode: the targets say it
                None if idx is None else narrow_index_like(idx[slots], bound, like) for idx, bound in zip(*entries)]
            chunks.append(_Chunk(narrow_index_like(slots, len(row_of_entry), like), mask,
                                 index_like(rows if segments is None else rows[first], like),
                                 len(group), int(size), segments, modes))
    return chunks


class _Layout:
    """Per-core chunks (built on first use), the rows that hold entries (over all ranks), the
    global count, and the entries' fibers of each mode (:class:`~.fibers.Fibers`, on first use)."""

    def __init__(self, model, batch, reducer, like):
        values_sq = (batch.values * batch.values).sum() if len(batch) else like.sum() * 0.0
        self.n_global = len(batch) if reducer is None else int(reducer.sum([len(batch)])[0])
        self.values_sq = values_sq if reducer is None else reducer.reduce_sum(values_sq)
        self._model, self._batch, self._like = model, batch, like
        self._chunks, self._fibers, self.observed = {}, {}, []
        for k in range(len(model.core_shapes())):
            mode = model.row_mode(k)
            n_rows = 1 if mode is None else model.shape[mode]
            counts = np.bincount(self._rows(k), minlength=n_rows)
            if reducer is not None:
                counts = np.asarray(reducer.sum(counts.tolist()))
            self.observed.append(index_like(counts > 0, like))

    def _rows(self, k):
        mode = self._model.row_mode(k)
        if mode is None:
            return np.zeros(len(self._batch), dtype=np.int64)
        return np.asarray(to_numpy(self._batch.mode_indices[mode]), dtype=np.int64)

    def chunks(self, k):
        """The chunks of core ``k``'s normal equations (:func:`build_layout`)."""
        if k not in self._chunks:
            model = self._model
            mode = model.row_mode(k)
            n_rows = 1 if mode is None else model.shape[mode]
            width = math.prod(model.core_shapes()[k]) // n_rows
            entries = None
            if not _shares_designs(model, k):  # each sweep gathers the rows of the other modes
                entries = ([None if m == mode else np.asarray(to_numpy(i))
                            for m, i in enumerate(self._batch.mode_indices)], model.shape)
            self._chunks[k] = build_layout(self._rows(k), n_rows, width, self._like, entries)
        return self._chunks[k]

    def fibers(self, mode):
        """The entries' fibers of ``mode``."""
        if mode not in self._fibers:
            self._fibers[mode] = Fibers(self._batch.mode_indices, self._model.shape, mode, self._like)
        return self._fibers[mode]

    def fewest_fibers(self):
        """The fibers of the mode whose fibers hold the most entries each."""
        return min((self.fibers(m) for m in range(len(self._model.shape))), key=lambda f: f.count)


def _conjugate_gradients(x, residual, curvature, n_iter):
    """``n_iter`` conjugate-gradient steps on a quadratic, updating ``x`` in place.

    ``residual`` is minus the gradient at ``x``; ``curvature(p)`` the Hessian times ``p``.
    Stops early when the residual or the curvature along a direction is not positive.
    """
    direction = residual
    rr = (residual * residual).sum()
    for _ in range(n_iter):
        if not float(rr) > 0:
            break
        hp = curvature(direction)
        p_hp = (direction * hp).sum()
        if not float(p_hp) > 0:
            break
        step = rr / p_hp
        x += step * direction
        residual = residual - step * hp
        rr_next = (residual * residual).sum()
        direction = residual + (rr_next / rr) * direction
        rr = rr_next


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

    def release(self):
        """Forget the layout of the last fit's entries (it is rebuilt when needed)."""
        self._layout, self._key, self._end_loss = None, None, {}

    def step(self, cores, grads, objective):
        """One sweep, with the base-step signature: see :meth:`sweep`.

        Parameters
        ----------
        cores : list of arrays
            Updated in place.
        grads : list of arrays
            Unused (block least squares needs no gradient).
        objective : Objective
            The loss on the training entries.
        """
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
        """Unknowns per row of a core.

        Parameters
        ----------
        model : TensorModel
            The parametrization.
        k : int
            The core.

        Returns
        -------
        int
            Core ``k``'s entries per row of its row mode (all of them if it has none).
        """
        mode = model.row_mode(k)
        return math.prod(model.core_shapes()[k]) // (1 if mode is None else model.shape[mode])

    def descend_core(self, cores, objective, k, n_iter=None):
        """Approach core ``k``'s block minimizer (in place) by conjugate gradients.

        The block problem is quadratic: its gradient is the objective's gradient for core ``k``
        and its Hessian times ``p`` is that gradient for core ``p`` on zero values (no other
        core changes). Where the model gives core ``k``'s design as Kronecker products
        (:meth:`~tensorly_das.models.TensorModel.kronecker_factors`), both come from products
        with that design through the entries' fibers (:class:`~.fibers.KroneckerDesign`);
        otherwise each iteration costs one evaluation of the loss and gradients. The normal
        equations are never formed.

        Parameters
        ----------
        cores, objective, k :
            As for :meth:`solve_core`.
        n_iter : int, optional
            Iterations (default :data:`CG_ITERATIONS`).
        """
        n_iter = CG_ITERATIONS if n_iter is None else n_iter
        factors = objective.model.kronecker_factors(cores, k)
        if factors is None:
            zeros = type(objective)(objective.model, type(objective.batch)(
                objective.batch.mode_indices, objective.batch.values * 0.0), objective.l2_reg, objective.reducer)
            saved = cores[k]

            def curvature(direction):
                cores[k] = direction
                try:
                    return zeros(cores)[1][k]
                finally:
                    cores[k] = saved

            _conjugate_gradients(saved, -objective(cores)[1][k], curvature, n_iter)
            return
        layout = self._layout_of(cores, objective)
        design = KroneckerDesign(factors, objective.batch, layout.fewest_fibers(), CHUNK_FLOATS)
        reduce = (lambda x: x) if objective.reducer is None else objective.reducer.reduce_sum
        n, l2_reg = layout.n_global, objective.l2_reg
        core = cores[k].reshape(-1)
        with backend_of(core):
            gradient = reduce(design.rmatvec(design.matvec(core) - objective.batch.values)) / n + l2_reg * core
            _conjugate_gradients(core, -gradient,
                                 lambda d: reduce(design.rmatvec(design.matvec(d))) / n + l2_reg * d, n_iter)
            cores[k][...] = core.reshape(cores[k].shape)

    def _normal_equations(self, model, cores, batch, k, n_rows, width, like):
        """Every row's Gram matrix and right-hand side, chunk by chunk; design rows built once
        per fiber where the model says they cost more than their Gram matrix."""
        layout = self._layout
        mode = model.row_mode(k)
        shared = None
        if _shares_designs(model, k):
            fibers = layout.fibers(mode)
            if fibers.count < len(batch):
                block = min(CHUNK_FLOATS // width, DESIGN_BLOCK_COST // model.design_cost(k))
                shared = (fibers, fiber_design(model, cores, batch.mode_indices, k, fibers, max(1, block)))
        gram = tl.zeros((n_rows, width, width), **tl.context(like))
        rhs = tl.zeros((n_rows, width), **tl.context(like))
        for chunk in layout.chunks(k):
            if shared is None:
                design = model.design(cores, chunk.mode_indices(batch), k)
            else:
                design = take_rows(shared[1], take_rows(shared[0].of_entry, chunk.slots))
            values = batch.values[chunk.slots]
            if chunk.mask is not None:
                design = design * chunk.mask[:, None]
                values = values * chunk.mask
            design = design.reshape(chunk.n_pieces, chunk.length, width)
            design_t = design.swapaxes(1, 2)
            index_add_rows(gram, chunk.targets, chunk.per_row(design_t @ design))
            index_add_rows(rhs, chunk.targets,
                           chunk.per_row((design_t @ values.reshape(chunk.n_pieces, -1, 1))[..., 0]))
        return gram, rhs

    def _layout_of(self, cores, objective):
        """The layout of the objective's entries, built once."""
        key = (id(objective.batch), len(objective.batch))
        if self._key != key:
            self._layout = _Layout(objective.model, objective.batch, objective.reducer, cores[0])
            self._key = key
        return self._layout

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
        layout = self._layout_of(cores, objective)
        current = model.core_as_rows(cores[k], k)
        n_rows, width = current.shape
        with backend_of(current):
            factors = model.kronecker_factors(cores, k)
            if factors is not None:
                gram, rhs = KroneckerDesign(factors, batch, layout.fewest_fibers(), CHUNK_FLOATS).normal_equations()
                gram, rhs = gram[None], rhs[None]
            else:
                gram, rhs = self._normal_equations(model, cores, batch, k, n_rows, width, current)
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
