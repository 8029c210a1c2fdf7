"""A model restricted to the rows that hold observations.

A row (slice) of a mode that no training or validation entry touches gets no gradient from
the data. Fitting the model restricted to the observed rows gives the same steps for those
rows while the fit's time and optimizer memory grow with the observations, not the mode
sizes (the embedding-table trick of lazy/sparse Adam, done once up front): 100 entries of a
``10^6 x 10^6 x 10^6`` tensor train three ``100 x R`` factors, not three ``10^6 x R`` ones.
The full cores are only built at the start and at the end.
"""

import hashlib

import numpy as np

from ..backend import backend_of, index_like


class ObservedRows:
    """The observed rows of each mode and the model restricted to them.

    Parameters
    ----------
    model : TensorModel
        The full model.
    rows : list of (1-D int array or None) or None
        Sorted observed rows of each mode (None: the mode is kept whole). None for no
        restriction at all.
    trained : list of 1-D bool arrays or None
        Per mode, True for the rows with a training entry (the others, if any, are filled
        with the mean of these after the fit; see :func:`fill_rows_with_mean`).
    observed : list of 1-D bool arrays or None
        Per mode, True for the rows with any entry (training or validation).
    """

    def __init__(self, model, rows=None, trained=None, observed=None):
        self.full = model
        self.rows = rows
        self.trained = trained
        self.observed = observed
        if rows is None:
            self.model = model
        else:
            shape = tuple(len(r) if r is not None else size for r, size in zip(rows, model.shape))
            self.model = type(model)(shape, model.rank)

    @classmethod
    def of(cls, model, counts, trained=None):
        """The restriction of ``model`` to the rows with a nonzero count.

        Parameters
        ----------
        model : TensorModel
            The full model.
        counts : list of 1-D int arrays
            Observations per row of each mode.
        trained : list of 1-D bool arrays or None
            Stored as :attr:`trained`; :attr:`observed` marks the nonzero counts.

        Returns
        -------
        rows : ObservedRows
            No restriction when every row is observed, or when the restricted shape is not
            a valid shape for the model's rank (e.g. a Tucker mode with fewer observed rows
            than its rank).
        """
        observed = [np.asarray(c) > 0 for c in counts]
        rows = [np.flatnonzero(c) for c in counts]
        rows = [r if len(r) < size else None for r, size in zip(rows, model.shape)]
        if all(r is None for r in rows):
            return cls(model, trained=trained, observed=observed)
        try:
            return cls(model, rows, trained, observed)
        except ValueError:  # the rank does not fit the observed rows: fit the full model
            return cls(model, trained=trained, observed=observed)

    @property
    def restricted(self):
        """True when the fit runs on fewer rows than the full model has."""
        return self.rows is not None

    def remap(self, indices):
        """Entries' indices in the restricted model (an (n, N) int array; never in place)."""
        if not self.restricted:
            return indices
        out = np.array(indices, dtype=np.int64, copy=True)
        for n, rows in enumerate(self.rows):
            if rows is not None:
                out[:, n] = np.searchsorted(rows, indices[:, n])
        return out

    def take(self, cores):
        """The restricted cores (NumPy copies) of full NumPy ``cores``."""
        if not self.restricted:
            return cores
        cores = list(cores)
        for n, (k, axis) in enumerate(self.full.mode_axes()):
            if self.rows[n] is not None:
                cores[k] = np.take(cores[k], self.rows[n], axis=axis)
        return cores

    def put(self, full_cores, cores):
        """Full cores: ``full_cores`` (backend arrays, changed in place) with the restricted
        ``cores`` written at the observed rows; returns ``full_cores``."""
        if not self.restricted:
            return cores
        done = set()
        for n, (k, axis) in enumerate(self.full.mode_axes()):
            if self.rows[n] is not None:
                where = (slice(None),) * axis + (index_like(self.rows[n], full_cores[k]),)
                full_cores[k][where] = cores[k]
                done.add(k)
        for k, core in enumerate(cores):
            if k not in done:
                full_cores[k] = core
        return full_cores

    def digest(self):
        """A short fingerprint of the restriction (optimizer state is only valid for it)."""
        if not self.restricted:
            return "all rows"
        h = hashlib.sha1()
        for rows in self.rows:
            h.update(b"-" if rows is None else np.ascontiguousarray(rows, dtype=np.int64).tobytes())
        return h.hexdigest()


def fill_rows_with_mean(model, cores, seen):
    """Set, in place, the rows not marked in ``seen`` to the mean of the marked rows.

    Parameters
    ----------
    model : TensorModel
        Says where each mode's rows live.
    cores : list of arrays
        NumPy or torch cores.
    seen : list of 1-D bool arrays (NumPy)
        Per mode, True for the rows to average and keep.
    """
    for n, (k, axis) in enumerate(model.mode_axes()):
        mask = seen[n]
        if mask.any() and not mask.all():
            core = cores[k]
            with backend_of(core):
                import tensorly as tl

                rows = tl.moveaxis(core, axis, 0)  # a view: assignments reach the core
                keep = index_like(np.flatnonzero(mask), core)
                fill = index_like(np.flatnonzero(~mask), core)
                rows[fill] = tl.mean(rows[keep], axis=0)
