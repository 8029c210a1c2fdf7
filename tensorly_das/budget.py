"""Memory budget: estimate what a fit or a file will take before any heavy work, and refuse
clearly when it does not fit.

A fit holds, with ``nnz`` observations of an ``N``-way tensor, ``P`` core entries in all
and ``P_obs`` of them on rows that have observations (see :mod:`tensorly_das.models.restrict`):

- the observations, O(nnz * N) (indices and values, a few copies: split, batches);
- the full cores, O(P) = O(sum_n I_n R) for CP (the start and the result);
- the optimizer's arrays on the observed rows, O(P_obs) (gradients, Adam moments, best state);
- one chunk of per-entry work, O(min(nnz, CHUNK_SIZE) * width) (see
  :meth:`~tensorly_das.models.TensorModel.entry_width`);
- with block least squares, its layouts, O(nnz * K), and normal equations, O(rows * W^2);
- before the fit, the spectral start's work (:func:`~tensorly_das.starts.spectral.spectral_memory`).
"""

import math
import os
import zipfile

import numpy as np

from .options import parse_bytes

#: copies of the observations alive during a fit (caller's copy, split, remapped, batches)
OBSERVATION_COPIES = 4
#: float64 copies of the full cores (start of the best start, a new start, the result)
FULL_CORE_COPIES = 3
#: arrays of the size of the trained cores (cores, gradients, Adam moments, SAM/DAS scratch,
#: divergence snapshot, best state)
FIT_COPIES = 8


class MemoryBudgetError(MemoryError):
    """The estimated memory of a fit or a file exceeds the budget."""


def available_memory():
    """Bytes the system can give without swapping (``MemAvailable``), or None if unknown.

    Returns
    -------
    bytes : int or None
    """
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def budget(max_memory=None):
    """The budget in bytes: ``max_memory`` (bytes or a string such as ``"4GB"``) or the
    available memory (None when unknown: no check)."""
    return available_memory() if max_memory is None else parse_bytes(max_memory)


def format_bytes(n):
    """``n`` bytes as a short human string (``"1.2 GB"``)."""
    if n < 1000:
        return f"{int(n)} B"
    for unit in ("KB", "MB", "GB", "TB"):
        n /= 1000
        if n < 1000:
            return f"{n:.3g} {unit}"
    return f"{n / 1000:.3g} PB"


def estimate_fit_memory(model, nnz, itemsize=8, solver="adam"):
    """Estimated peak bytes of a fit of ``model`` to ``nnz`` observations.

    Parameters
    ----------
    model : TensorModel
        The full model (shape and rank).
    nnz : int
        Observed entries.
    itemsize : int
        Bytes per float of the fit (8 for float64, 4 for float32).
    solver : str
        The base step; ``"als"`` adds its layouts and normal equations
        (:func:`~tensorly_das.updates.block_ls.solver_memory`).

    Returns
    -------
    bytes : int
    """
    from .models.base import CHUNK_SIZE
    from .updates.block_ls import solver_memory
    from .starts.spectral import spectral_memory

    order = len(model.shape)
    shapes = model.core_shapes()
    full = sum(math.prod(s) for s in shapes)
    observed = list(shapes)
    for n, (k, axis) in enumerate(model.mode_axes()):
        shape = list(observed[k])
        shape[axis] = min(shape[axis], nnz)
        observed[k] = tuple(shape)
    trained = sum(math.prod(s) for s in observed)
    fit = FIT_COPIES * itemsize * trained + min(nnz, CHUNK_SIZE) * model.entry_width() * itemsize
    if solver == "als":
        fit += solver_memory(model, nnz, itemsize)
    return int(
        OBSERVATION_COPIES * nnz * (8 * order + itemsize)
        + FULL_CORE_COPIES * 8 * full
        + max(fit, spectral_memory(model, nnz))  # the start's work is freed before the fit's
    )


def check_fit_memory(model, nnz, itemsize=8, max_memory=None, solver="adam"):
    """Raise :class:`MemoryBudgetError`, naming the estimate, when a fit would not fit.

    Parameters
    ----------
    model : TensorModel
        The full model.
    nnz : int
        Observed entries.
    itemsize : int
        Bytes per float of the fit.
    max_memory : int, float, str or None
        The budget (None: the available memory).
    solver : str
        The base step (see :func:`estimate_fit_memory`).
    """
    limit = budget(max_memory)
    if limit is None:
        return
    need = estimate_fit_memory(model, nnz, itemsize, solver)
    if need > limit:
        source = "max_memory" if max_memory is not None else "the available memory"
        raise MemoryBudgetError(
            f"this fit needs about {format_bytes(need)}, more than {source} ({format_bytes(limit)}): "
            f"{nnz} observations of a tensor of shape {tuple(model.shape)} at rank {model.rank} "
            f"(cores: {format_bytes(8 * sum(math.prod(s) for s in model.core_shapes()))}). Lower the "
            "rank, use dtype='float32', fewer observations, or raise max_memory if the estimate "
            "is too cautious."
        )


def npy_header_bytes(handle):
    """Bytes the array stored in an open ``.npy`` stream expands to, read from its header only.

    Parameters
    ----------
    handle : binary file object
        Positioned at the start of the ``.npy`` data.

    Returns
    -------
    bytes : int
    """
    version = np.lib.format.read_magic(handle)
    read = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
    if version not in read:
        raise ValueError(f"unsupported .npy format version {version}")
    shape, _, dtype = read[version](handle)
    return math.prod(shape) * dtype.itemsize


def file_arrays_bytes(path):
    """Bytes the arrays of a ``.npy`` or ``.npz`` file expand to, without reading them.

    Parameters
    ----------
    path : str
        The file.

    Returns
    -------
    bytes : int
    """
    if path.endswith(".npz"):
        with zipfile.ZipFile(path) as archive:
            total = 0
            for name in archive.namelist():
                with archive.open(name) as member:
                    total += npy_header_bytes(member)
            return total
    with open(path, "rb") as handle:
        return npy_header_bytes(handle)


def check_file_memory(path, max_memory=None):
    """Raise :class:`MemoryBudgetError` when a file's arrays expand past the budget.

    A small compressed ``.npz`` can hold huge arrays (deflated zeros): the headers say how
    big they are before anything is decompressed.

    Parameters
    ----------
    path : str
        A ``.npy`` or ``.npz`` file.
    max_memory : int, float, str or None
        The budget (None: the available memory).
    """
    limit = budget(max_memory)
    if limit is None:
        return
    need = file_arrays_bytes(path)
    if need > limit:
        source = "max_memory" if max_memory is not None else "the available memory"
        raise MemoryBudgetError(
            f"{path}: its arrays expand to {format_bytes(need)} ({format_bytes(os.path.getsize(path))} "
            f"on disk), more than {source} ({format_bytes(limit)})"
        )
