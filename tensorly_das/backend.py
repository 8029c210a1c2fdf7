"""The few array operations the fit loop needs that TensorLy's backend lacks.

Every function dispatches on the *type* of its array argument (NumPy array or
``torch.Tensor``), so the math runs where the data lives (CPU or CUDA) and the
NumPy path never imports torch. TensorLy's own ops are used through
:func:`backend_of`, which enters :func:`tensorly.backend_context` for the
backend that owns a given array.
"""

import math
from contextlib import contextmanager

import numpy as np
import tensorly as tl

from .options import BACKENDS, DTYPES

_ALIASES = {**{name: name for name in BACKENDS}, "torch": "pytorch"}


def check_backend(backend):
    """Return the canonical backend name, or raise a clear error.

    Parameters
    ----------
    backend : {"numpy", "pytorch", "torch"}

    Returns
    -------
    name : {"numpy", "pytorch"}
    """
    try:
        name = _ALIASES[backend]
    except (KeyError, TypeError):
        raise ValueError(
            f"backend must be one of {BACKENDS} (or the alias 'torch'), got {backend!r}"
        ) from None
    if name == "pytorch":
        try:
            import torch  # noqa: F401
        except ImportError as err:  # pragma: no cover - depends on the install
            raise ImportError(
                "backend='pytorch' needs PyTorch: pip install 'tensorly_das[torch]'"
            ) from err
    return name


def check_dtype(dtype):
    """Return ``"float32"`` or ``"float64"``, or raise a clear error."""
    name = np.dtype(dtype).name if dtype is not None else None
    if name not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
    return name


def is_torch(x):
    """True when ``x`` is a ``torch.Tensor`` (checked without importing torch)."""
    return type(x).__module__.split(".")[0] == "torch"


def backend_name(x):
    """Name of the TensorLy backend that owns array ``x``."""
    return "pytorch" if is_torch(x) else "numpy"


@contextmanager
def backend_of(x):
    """Context in which TensorLy ops use the backend owning array ``x``."""
    name = backend_name(x)
    if tl.get_backend() == name:  # already there: skip the switch (it costs microseconds)
        yield
        return
    with tl.backend_context(name, local_threadsafe=True):
        yield


def _check_numpy_device(device):
    if device not in (None, "cpu"):
        raise ValueError(f"backend='numpy' runs on device='cpu' only, got {device!r}")


def positions_to_backend(x, backend="numpy", device="cpu", narrow=True):
    """A copy of non-negative integer positions ``x`` (1-D) on ``backend``: on NumPy with
    ``narrow`` in the narrowest unsigned type that holds them (:func:`narrow_index_like`: less
    memory), otherwise as :func:`to_backend` gives them (int64 on both backends).

    NumPy's gathers and ``bincount`` cast narrow positions to ``intp`` on every call, so
    ``narrow=False`` suits arrays gathered on every pass (a gradient step's batch)."""
    if backend != "numpy" or not narrow:
        return to_backend(np.ascontiguousarray(x), backend, device)
    _check_numpy_device(device)
    arr = np.asarray(to_numpy(x))
    bound = int(arr.max()) + 1 if arr.size else 1
    out = narrow_index_like(arr, bound, None)
    return out.copy() if out is arr else out  # never the caller's array


def to_backend(x, backend="numpy", device="cpu", dtype="float64"):
    """Copy array-like ``x`` to ``backend`` on ``device`` with ``dtype``.

    Integer inputs keep an integer dtype (int64); everything else becomes
    ``dtype``. Always returns a new array: callers' arrays are never shared.
    """
    if backend == "numpy":
        _check_numpy_device(device)
        arr = to_numpy(x)
        target = np.int64 if arr.dtype.kind in "iu" else dtype
        return np.array(arr, dtype=target, copy=True)
    import torch

    if is_torch(x):
        src = x.detach()
    else:
        arr = np.ascontiguousarray(np.asarray(x))
        src = torch.from_numpy(arr if arr.flags.writeable else arr.copy())  # torch wants writable
    integer = not (src.is_floating_point() or src.is_complex())
    target = torch.int64 if integer else getattr(torch, dtype)
    return src.to(device=torch.device(device), dtype=target, copy=True)


def to_numpy(x):
    """Return ``x`` as a NumPy array (a host copy for torch tensors).

    Unlike ``tensorly.to_numpy``, which always copies, a NumPy input is returned as is:
    callers pass users' data of any size through here and copy only where they must.
    """
    if is_torch(x):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def copy(x):
    """An independent copy of array ``x`` on the same device (``tensorly.copy`` of its backend)."""
    with backend_of(x):
        return tl.copy(x)


def take_rows(matrix, index):
    """``matrix[index]`` for a 1-D integer ``index`` (a gather of rows)."""
    if is_torch(matrix):
        return matrix.index_select(0, index)
    return np.take(matrix, index, axis=0)


def scatter_add_rows(index, rows, n_rows):
    """``out[i] = sum_{j : index[j] == i} rows[j]`` for (n, ...) ``rows``: an (n_rows, ...) array.

    The transpose of :func:`take_rows`. NumPy copies the rows to a contiguous
    (..., n) layout and uses one ``bincount`` per column; torch uses ``index_add_``.
    """
    if is_torch(rows):
        import torch

        out = torch.zeros((n_rows,) + tuple(rows.shape[1:]), dtype=rows.dtype, device=rows.device)
        return out.index_add_(0, index, rows)
    columns = np.ascontiguousarray(rows.reshape(rows.shape[0], math.prod(rows.shape[1:])).T)
    return scatter_add_transposed(index, columns, n_rows).reshape((n_rows,) + rows.shape[1:])


def index_add_rows(out, index, rows):
    """``out[index[j]] += rows[j]`` in place, for an ``index`` without repeats."""
    if is_torch(out):
        out.index_add_(0, index, rows)
    else:
        out[index] += rows


def add_segments(values, starts):
    """Sums of consecutive runs of ``values`` along axis 0; run ``j`` begins at ``starts[j]``
    (a NumPy int array whose first element is 0)."""
    if is_torch(values):
        import torch

        counts = np.diff(np.r_[starts, values.shape[0]])
        segment = torch.repeat_interleave(torch.arange(len(starts), device=values.device),
                                          torch.as_tensor(counts, device=values.device))
        out = torch.zeros((len(starts),) + tuple(values.shape[1:]), dtype=values.dtype, device=values.device)
        return out.index_add_(0, segment, values)
    return np.add.reduceat(values, starts, axis=0)


def batched_solve(matrices, rhs):
    """Solutions ``x[i]`` of ``matrices[i] @ x[i] = rhs[i]`` for a (n, W, W) stack and (n, W) ``rhs``."""
    if is_torch(matrices):
        import torch

        return torch.linalg.solve(matrices, rhs)
    return np.linalg.solve(matrices, rhs[..., None])[..., 0]


def take_rows_transposed(matrix, index):
    """``matrix[index].T`` as a contiguous (R, n) array for a (I, R) ``matrix``.

    Keeping the observations along the last axis makes the products, sums and
    scatter-adds that follow run over contiguous memory (about 3x faster in
    NumPy than the (n, R) layout).
    """
    if is_torch(matrix):
        return matrix.t().contiguous().index_select(1, index)
    return np.take(np.ascontiguousarray(matrix.T), index, axis=1)


def scatter_add_transposed(index, values, n_rows):
    """``out[i, r] = sum_{j : index[j] == i} values[r, j]`` for (R, n) ``values``.

    The transpose of :func:`take_rows_transposed`: returns an (n_rows, R) array.
    NumPy uses one ``bincount`` per row of ``values`` (contiguous, much faster
    than ``np.add.at``); torch uses ``index_add_`` on the values' device.
    """
    if is_torch(values):
        import torch

        out = torch.zeros((values.shape[0], n_rows), dtype=values.dtype, device=values.device)
        return out.index_add_(1, index, values).t()
    out = np.empty((n_rows, values.shape[0]), dtype=values.dtype)
    index = np.asarray(index, dtype=np.intp)  # bincount casts narrow indices: once, not per row
    for r in range(values.shape[0]):
        out[:, r] = np.bincount(index, weights=values[r], minlength=n_rows)
    return out


def concatenate(parts):
    """Join arrays of one backend end to end along their first axis."""
    if is_torch(parts[0]):
        import torch

        return torch.cat(parts)
    return np.concatenate(parts)


def all_finite(arrays):
    """True when every array in ``arrays`` holds only finite values (one host sync)."""
    if not arrays:
        return True
    if is_torch(arrays[0]):
        import torch

        return bool(torch.stack([torch.isfinite(a).all() for a in arrays]).all())
    return all(bool(np.isfinite(a).all()) for a in arrays)


def index_like(rows, reference):
    """Integer positions ``rows`` (NumPy) on the backend and device of array ``reference``."""
    if is_torch(reference):
        import torch

        return torch.as_tensor(rows, device=reference.device)
    return rows


def index_bytes(bound, reference=None):
    """Bytes per position of :func:`narrow_index_like` for positions below ``bound``, on the
    backend of array ``reference`` (NumPy when None; the string ``"torch"`` for torch)."""
    if (isinstance(reference, str) and reference == "torch") or is_torch(reference):
        return 4 if bound <= 2**31 else 8
    return next((size for size in (1, 2, 4) if bound <= 2 ** (8 * size)), 8)


def narrow_index_like(rows, bound, reference):
    """Positions ``rows`` (NumPy, in ``[0, bound)``) as :func:`index_like` gives them, stored
    in the narrowest integer type the backend's gathers take: NumPy's unsigned 8/16/32 bits,
    torch's int32. The gathers return the same rows in less memory, and NumPy's faster."""
    size = index_bytes(bound, reference)
    if is_torch(reference):
        dtype = np.int32 if size == 4 else np.int64
    else:
        dtype = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.int64}[size]
    return index_like(np.asarray(rows).astype(dtype, copy=False), reference)


def scalars_to_host(values):
    """Backend scalars (or None) as Python floats (NaN for None), with one host sync."""
    present = [v for v in values if v is not None]
    if present and is_torch(present[0]):
        import torch

        host = torch.stack([torch.as_tensor(v, device=present[0].device) for v in present])
        host = host.double().cpu().tolist()
    else:
        host = [float(v) for v in present]
    it = iter(host)
    return [next(it) if v is not None else float("nan") for v in values]


#: per-pass work (floats: observations x the model's entry width) below which a fit on the CPU
#: runs with one thread (torch's and the BLAS's): beside busy processes their default threads
#: made such passes several times slower in ``benchmarks/pass_cost.py --load`` (and one torch
#: gradient 39 times), far more than they gain on a quiet machine
SMALL_WORK = 10**7


@contextmanager
def small_fit_threads(backend, device, work):
    """Scope of a fit: one thread for a small fit on the CPU (restored after), else as is.

    Both torch's intra-op threads (with ``backend="pytorch"``) and the BLAS threads of NumPy's
    products (through ``threadpoolctl``) are limited.

    Parameters
    ----------
    backend, device : str
        Where the fit runs; a CUDA device is left alone.
    work : float
        Floats of per-entry work per pass (observations x entry width).
    """
    if not str(device).startswith("cpu") or work >= SMALL_WORK:
        yield
        return
    from threadpoolctl import threadpool_limits

    torch = None
    if backend == "pytorch":
        import torch

        saved = torch.get_num_threads()
        torch.set_num_threads(1)
    try:
        with threadpool_limits(1):
            yield
    finally:
        if torch is not None:
            torch.set_num_threads(saved)


def check_device(backend, device):
    """Raise a clear error when ``device`` cannot be used with ``backend`` here.

    Parameters
    ----------
    backend : {"numpy", "pytorch"}
        Canonical backend name.
    device : str or None
        ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ...
    """
    if backend == "numpy":
        if device not in ("cpu", None):
            raise ValueError(f"backend='numpy' runs on device='cpu' only, got device={device!r}")
    elif str(device).split(":")[0] == "meta":
        raise ValueError(f"device={device!r} holds no data (torch uses it for shapes only); "
                         "use 'cpu' or 'cuda'")
    elif str(device).startswith("cuda") and not cuda_available():
        raise RuntimeError(f"device={device!r} was requested but CUDA is not available")


def cuda_available():
    """True when torch is installed and sees a CUDA device (False without torch)."""
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def tensors_to_bytes(tensors):
    """Serialize a dict of torch objects in torch's own format (any device).

    Parameters
    ----------
    tensors : dict
        Values holding torch tensors.

    Returns
    -------
    data : bytes
    """
    import io

    import torch

    buffer = io.BytesIO()
    torch.save(tensors, buffer)
    return buffer.getvalue()


def tensors_from_bytes(data, to_cpu=False):
    """The dict :func:`tensors_to_bytes` made, optionally mapped to the CPU.

    Unpickling runs code: load only data from a source you trust.

    Parameters
    ----------
    data : bytes
        What :func:`tensors_to_bytes` returned.
    to_cpu : bool
        Place every tensor on the CPU (for a CUDA state on a machine without CUDA).

    Returns
    -------
    tensors : dict
    """
    import io

    try:
        import torch
    except ImportError as err:
        raise ImportError("this state holds PyTorch tensors; loading it needs PyTorch: "
                          "pip install 'tensorly_das[torch]'") from err
    return torch.load(io.BytesIO(data), map_location="cpu" if to_cpu else None, weights_only=False)
