"""Cost against the mode sizes at a fixed number of observations.

Run:  python -m benchmarks.sparse_rows [--nnz 100] [--rank 5] [--sizes 1000 10000 100000 1000000 10000000]

The issue behind it: CP rank 5, 100 observations of a tensor with modes of size 1e6 cost 769 ms
per pass and 1.14 GB before rows without observations were left out of the fit. Each size runs
in its own process: a CP fit (default spectral start, plain Adam, 50 passes, no early
stopping) of ``--nnz`` random observations of a ``size^3`` tensor. Reported: seconds per pass
of the fit loop alone (from the history's clock, passes 2 to 50), the whole
fit's seconds, the peak of traced (NumPy) memory during another such fit, the estimate of
``tensorly_das.budget.estimate_fit_memory``, and the size of the full cores the result holds.
"""

import argparse
import json
import subprocess
import sys
import time
import tracemalloc
import warnings

import numpy as np


def measure(size, nnz, rank):
    import tensorly_das as td
    from tensorly_das.budget import estimate_fit_memory

    rng = np.random.default_rng(0)
    idx = np.unique(rng.integers(0, size, size=(nnz, 3)), axis=0)
    values = rng.standard_normal(len(idx))

    def fit(passes):
        est = td.CPCompletion(rank=rank, method="plain", max_iter=passes, early_stopping=False,
                              random_state=0, shape=(size,) * 3)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = time.perf_counter()
            est.fit(idx, values)
        return est, time.perf_counter() - t0

    fit(1)  # warm-up: imports, first allocations
    est, seconds = fit(50)
    times = est.history_["time"]  # seconds since the loop started, after each pass
    per_pass = (times[-1] - times[0]) / (len(times) - 1)
    tracemalloc.start()  # a separate fit: tracing slows the allocations down
    est, _ = fit(50)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"size": size, "pass_s": per_pass, "fit_s": seconds, "peak": peak,
            "estimate": estimate_fit_memory(est.model_, len(idx)),
            "cores": sum(c.nbytes for c in est.cores_)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nnz", type=int, default=100)
    parser.add_argument("--rank", type=int, default=5)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10**3, 10**4, 10**5, 10**6, 10**7])
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(measure(args.one, args.nnz, args.rank)))
        return
    print(f"CP rank {args.rank}, {args.nnz} random observations of a size^3 tensor; plain Adam, "
          "50 passes; each size in its own process")
    print(f"{'mode size':>10}{'s/pass':>10}{'x smallest':>11}{'fit s':>8}{'peak MB':>9}"
          f"{'estimate MB':>12}{'cores MB':>10}")
    first = None
    for size in args.sizes:
        out = subprocess.run([sys.executable, "-m", "benchmarks.sparse_rows", "--one", str(size),
                              "--nnz", str(args.nnz), "--rank", str(args.rank)],
                             capture_output=True, text=True, check=True).stdout
        row = json.loads(out.strip().splitlines()[-1])
        first = first or row["pass_s"]
        print(f"{size:>10.0e}{row['pass_s']:>10.2e}{row['pass_s'] / first:>11.2f}{row['fit_s']:>8.2f}"
              f"{row['peak'] / 1e6:>9.1f}{row['estimate'] / 1e6:>12.1f}{row['cores'] / 1e6:>10.1f}",
              flush=True)


if __name__ == "__main__":
    main()
