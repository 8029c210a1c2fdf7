"""Keep freed heap memory for reuse while a fit runs (glibc only; opt-in).

Every pass of a fit allocates and frees the same large temporaries (gathered rows,
partial contractions, gradients). By default glibc hands large freed blocks straight
back to the operating system (``munmap`` and heap trimming), so the next pass pays page
faults on fresh zeroed pages for all of them. While at least one fit runs,
:func:`reuse_freed_memory` raises glibc's mmap and trim thresholds so freed blocks are
reused; when the last fit ends it sets them to the values glibc's dynamic thresholds reach
for large blocks (32 MiB and 64 MiB) and returns free memory to the operating system
(``malloc_trim``), so a finished fit keeps nothing. Peak memory is unchanged (the same
blocks are live at the worst moment).

``python -m benchmarks.bench_allocator`` measures the gain per model (see the docs' results
page). glibc offers no way to read its thresholds back, so what a process had before cannot
be restored: changing them is a process-wide side effect, and it is therefore **opt-in**.
Set the environment variable ``TENSORLY_DAS_REUSE_MEMORY=1`` in a process that mostly fits
(the ``tensorly-das`` command line does this for itself). It does nothing where the C
library is not glibc.
"""

import contextlib
import ctypes
import ctypes.util
import os
import threading

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: blocks up to this size come from the heap during a fit (larger ones stay mapped)
MMAP_THRESHOLD = 512 * 1024 * 1024
#: free memory a fit may keep at the top of the heap between passes
TRIM_THRESHOLD = 1024 * 1024 * 1024
#: set when the last fit ends: the values glibc's own dynamic thresholds reach for large
#: blocks (32 MiB mmap threshold, twice that for trimming), so code that runs after a fit
#: allocates as it would have without it
RESTORE_MMAP_THRESHOLD = 32 * 1024 * 1024
RESTORE_TRIM_THRESHOLD = 64 * 1024 * 1024

_lock = threading.Lock()
_active = 0
_libc = None


def _glibc():
    global _libc
    if _libc is None:
        _libc = False
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim"):
                _libc = libc
        except OSError:
            pass
    return _libc or None


def enabled():
    """Whether fits tune the allocator here (opted in, and glibc present).

    Returns
    -------
    bool
    """
    return os.environ.get("TENSORLY_DAS_REUSE_MEMORY", "0") == "1" and _glibc() is not None


def release_free_memory():
    """Return free heap memory to the operating system now (``malloc_trim``; glibc only).

    Returns
    -------
    bool
        Whether anything could be done here.
    """
    libc = _glibc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True


@contextlib.contextmanager
def reuse_freed_memory():
    """Context (and decorator) inside which freed heap memory is kept for reuse.

    Does nothing unless :func:`enabled`. Nested and concurrent uses are counted; when the
    last one exits, the thresholds are set to the values glibc's dynamic rule reaches and free
    memory is returned to the operating system.

    Yields
    ------
    None
    """
    global _active
    libc = _glibc() if enabled() else None
    if libc is None:
        yield
        return
    with _lock:
        if _active == 0:
            libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
            libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
        _active += 1
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if _active == 0:
                libc.mallopt(_M_MMAP_THRESHOLD, RESTORE_MMAP_THRESHOLD)
                libc.mallopt(_M_TRIM_THRESHOLD, RESTORE_TRIM_THRESHOLD)
                release_free_memory()
