"""Time and peak memory of one call, the way every benchmark here measures a fit."""

import time

from tensorly_das.allocator import release_free_memory


def _status_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def measure(function, *args, **kwargs):
    """Run ``function`` and return ``(result, seconds, peak_mb)``.

    ``peak_mb`` is the rise of the process's peak resident memory above its resident memory
    at the start (Linux: the peak is reset through ``/proc/self/clear_refs``), so it counts
    what the call itself allocated at its worst moment, NumPy and torch alike. NaN where
    ``/proc`` does not offer this.
    """
    release_free_memory()  # return freed heap pages, so a fit reusing them counts them again
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        start_kb = _status_kb("VmRSS")
    except OSError:
        start_kb = None
    t0 = time.perf_counter()
    result = function(*args, **kwargs)
    seconds = time.perf_counter() - t0
    peak_mb = float("nan") if start_kb is None else (_status_kb("VmHWM") - start_kb) / 1024
    return result, seconds, peak_mb


def available(module):
    try:
        __import__(module)
        return True
    except ImportError:
        return False
