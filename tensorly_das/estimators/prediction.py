"""Using a fitted estimator: predictions, scores and the completed tensor."""

import warnings

import numpy as np
import tensorly as tl
from sklearn.utils.validation import check_is_fitted

from ..backend import backend_of, to_numpy
from ..metrics import r2_score
from ..models import Batch
from ..models.base import CHUNK_SIZE
from ..observed import check_dense_size
from .inputs import as_observations, entries


class PredictionMixin:
    """``predict``, ``score``, ``transform`` and ``reconstruct`` of a fitted completion estimator.

    Every method takes the input forms ``fit`` takes (see :mod:`tensorly_das.estimators.inputs`).
    """

    def predict(self, X, mask=None):
        """Model values at the entries ``X`` designates.

        Parameters
        ----------
        X : (n, N) int array, ObservedTensor, sparse array or dense array
            An integer array of shape (n, N) lists entries; an ObservedTensor, a sparse
            array or a floating array of the tensor's shape (NaN = missing, or ``mask``)
            designates its observed entries, in the order :class:`ObservedTensor` lists them.
        mask : bool array, optional
            True where a dense ``X`` is observed.

        Returns
        -------
        values : ndarray of shape (n,)
            A NumPy array of the fit's ``dtype`` (computed in chunks on the fit's
            backend and device).
        """
        check_is_fitted(self, "cores_")
        indices = entries(X, self.shape_, mask)
        out = np.empty(indices.shape[0], dtype=self.dtype_)
        for start in range(0, indices.shape[0], CHUNK_SIZE):
            batch = Batch.place(indices[start : start + CHUNK_SIZE], None, self.backend_, self.device_)
            out[start : start + len(batch)] = to_numpy(self.model_.predict(self.cores_, batch.mode_indices))
        return out

    def score(self, X, y=None, mask=None):
        """R^2 (``1 - SSE/SST``) of the predictions at the observed entries of ``X``.

        Parameters
        ----------
        X : ObservedTensor, sparse array, dense array, or (n, N) int array
            Observations in any form ``fit`` takes.
        y : array of shape (n,), optional
            Values at the indices ``X``.
        mask : bool array, optional
            True where a dense ``X`` is observed.

        Returns
        -------
        r2 : float
        """
        check_is_fitted(self, "cores_")
        if X is None:
            raise ValueError("score needs observations, got X=None")
        if y is None and mask is None and not _has_values(X, self.shape_):
            raise ValueError("score needs values: pass observations, or indices and y")
        obs = as_observations(X, y, mask, shape=self.shape_)
        return r2_score(obs.values, self.predict(obs))

    def reconstruct(self):
        """The model's full dense reconstruction, refusing shapes above 1e8 entries.

        Returns
        -------
        tensor : ndarray of shape ``shape_``
            A NumPy array of the fit's ``dtype``.
        """
        check_is_fitted(self, "cores_")
        check_dense_size(self.shape_)
        with backend_of(self.cores_[0]):
            return np.asarray(tl.to_numpy(self.decomposition_.to_tensor()), dtype=self.dtype_)

    def transform(self, X=None, y=None, mask=None):
        """``X`` with its missing entries filled by the model (scikit-learn's imputer convention).

        Observed entries keep their values; every other entry of the tensor gets the
        model's value. For the model alone at every entry, use :meth:`reconstruct`.
        Calling ``transform()`` without ``X`` is deprecated: it returns :meth:`reconstruct`,
        as before 0.2.

        Parameters
        ----------
        X, y, mask :
            Observations in any form ``fit`` takes, as for :meth:`score`.

        Returns
        -------
        completed : ndarray of shape ``shape_``
            A NumPy array of the fit's ``dtype``.
        """
        if X is None:
            warnings.warn("transform() without X is deprecated since 0.2 and returns the model's "
                          "reconstruction; call reconstruct() for that, or transform(X) to fill "
                          "the missing entries of X", FutureWarning, stacklevel=2)
            return self.reconstruct()
        check_is_fitted(self, "cores_")
        obs = as_observations(X, y, mask, shape=self.shape_)
        completed = self.reconstruct()
        completed[tuple(obs.indices.T)] = obs.values
        return completed

    def fit_transform(self, X, y=None, mask=None):
        """Fit, then fill the missing entries of ``X`` (see :meth:`transform`).

        Parameters
        ----------
        X, y, mask :
            As for :meth:`fit`.

        Returns
        -------
        completed : ndarray of shape ``shape_``
        """
        return self.fit(X, y, mask=mask).transform(X, y, mask=mask)


def _has_values(X, shape):
    """False for a bare index array (which carries no values to score against)."""
    if isinstance(X, np.ndarray) and X.dtype.kind in "iu" and X.ndim == 2 and X.shape != tuple(shape):
        return False
    return True
