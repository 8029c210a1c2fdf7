"""Completion problems built from data that ships with the install (no download)."""

import numpy as np

from .observed import ObservedTensor


def covid19_completion(observed_fraction=0.3, random_state=0):
    """The paper's COVID-19 serology completion split.

    The 438 x 6 x 11 serology tensor shipped with TensorLy
    (:func:`tensorly.datasets.load_covid19_serology`) with ``observed_fraction`` of
    its entries observed, chosen uniformly at random, and the rest held out.

    Parameters
    ----------
    observed_fraction : float in (0, 1), default 0.3
    random_state : int or None

    Returns
    -------
    observed, held_out : ObservedTensor
    """
    from tensorly.datasets import load_covid19_serology

    tensor = np.asarray(load_covid19_serology().tensor, dtype=np.float64)
    full = ObservedTensor.from_dense(tensor)
    observed, held_out = full.split(1.0 - observed_fraction, random_state=random_state)
    return observed, held_out
