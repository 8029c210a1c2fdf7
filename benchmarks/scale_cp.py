"""Scale: a CP fit of a 1000 x 1000 x 1000 tensor (1e9 entries) from 1e7 observations.

Run:  python -m benchmarks.scale_cp [--size 1000] [--nnz 10000000] [--rank 10] [--passes 5]
      python -m benchmarks.scale_cp --sweep      (nnz = 1e5 ... 1e7 and rank = 5 ... 40, each in
                                                  its own process, to show linear growth)

Each measurement runs in a fresh process and reports seconds per full pass (a block least
squares sweep, the default, and a DAS step on Adam; full batch, default early stopping split,
no ridge) and the process's peak resident memory, which includes building the observations. The dense tensor would need 8 GB (float64) plus a mask;
the dense peers cannot run at this size on the 24 GB machine with their temporaries.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np


def observations(size, nnz, rank, seed=0):
    import tensorly_das as td
    from tensorly_das.models import CPModel

    rng = np.random.default_rng(seed)
    total = size**3
    flat = np.unique(rng.integers(0, total, size=int(nnz * 1.01) + 10))
    flat = rng.permutation(flat)[:nnz]
    idx = np.stack(np.unravel_index(flat, (size,) * 3), axis=1)
    del flat
    model = CPModel((size,) * 3, rank)
    truth = model.init_cores(rng, 1.0)
    values = model.predict(truth, [idx[:, n].copy() for n in range(3)])
    values += 0.1 * rng.standard_normal(len(values))
    return td.ObservedTensor(idx, values, (size,) * 3)


#: the rows of the table: (label, estimator parameters)
SOLVERS = {"als": ("plain, block least squares (default)", dict(method="plain", solver="als")),
           "das": ("das, Adam", dict(method="das"))}


def one(size, nnz, rank, passes, solver):
    import tensorly_das as td

    obs = observations(size, nnz, rank)
    t0 = time.perf_counter()
    # l2_reg=0: the cost of one fit's passes is measured, not a path of strengths
    est = td.CPCompletion(rank=rank, max_iter=passes, l2_reg=0.0, random_state=0, **SOLVERS[solver][1]).fit(obs)
    seconds = time.perf_counter() - t0
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    # steady-state pass time (the fit's total also holds validation, splitting and set-up)
    per_pass = float(np.median(np.diff(est.history_["time"])))
    return {"size": size, "nnz": nnz, "rank": rank, "sec_per_pass": per_pass,
            "kernel_seconds": kernel_seconds(est.cores_, obs), "fit_seconds": seconds, "peak_gb": peak_gb,
            "val_rmse": est.best_val_rmse_}


def kernel_seconds(cores, obs, repeats=3):
    """Median time of the bare gather-multiply prediction over all observations, in the
    fit's chunks: the least work a pass must do."""
    from benchmarks.bench_updates import gather_multiply, median_time
    from tensorly_das.models.base import CHUNK_SIZE

    modes = [obs.indices[:, n].copy() for n in range(obs.indices.shape[1])]
    starts = range(0, obs.nnz, CHUNK_SIZE)

    def kernel():
        for s in starts:
            gather_multiply(cores, [m[s : s + CHUNK_SIZE] for m in modes])

    return median_time(kernel, repeats)


def in_subprocess(size, nnz, rank, passes, solver):
    cmd = [sys.executable, "-m", "benchmarks.scale_cp", "--one", "--size", str(size), "--nnz", str(nnz),
           "--rank", str(rank), "--passes", str(passes), "--solvers", solver]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    # each run is a process that only fits: it opts in to reusing freed memory, as the CLI does
    env = dict(os.environ, TENSORLY_DAS_REUSE_MEMORY=os.environ.get("TENSORLY_DAS_REUSE_MEMORY", "1"))
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=root, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--nnz", type=int, default=10_000_000)
    parser.add_argument("--rank", type=int, default=10)
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--sweep", action="store_true")
    parser.add_argument("--solvers", nargs="+", default=list(SOLVERS), choices=list(SOLVERS))
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.size, args.nnz, args.rank, args.passes, args.solvers[0])))
        return
    if args.sweep:
        runs = [(args.size, n, args.rank) for n in (100_000, 1_000_000, 3_000_000, 10_000_000)]
        runs += [(args.size, 1_000_000, r) for r in (5, 20, 40)]
    else:
        runs = [(args.size, args.nnz, args.rank)]
    print(f"CP completion, l2_reg=0, full batch, {args.passes} passes, each run in its own process; "
          "s/pass = median time of a pass (a sweep, or gradient and update; validation); fit s = the whole "
          "fit with set-up; "
          "peak = the process's peak resident memory, data generation included")
    print("kernel = the bare gather-multiply prediction over the same observations, timed in the same process "
          "(target: s/pass <= 4x kernel); spectral start (the default); freed-memory reuse "
          f"{'on' if os.environ.get('TENSORLY_DAS_REUSE_MEMORY', '1') == '1' else 'off'} "
          "(TENSORLY_DAS_REUSE_MEMORY)")
    print(f"{'solver':<38}{'shape':>16}{'nnz':>12}{'rank':>6}{'s/pass':>10}{'s/pass per 1e6 nnz':>20}"
          f"{'kernel s':>10}{'pass/kernel':>12}{'fit s':>8}{'peak GB':>9}")
    for (size, nnz, rank), solver in [(run, s) for run in runs for s in args.solvers]:
        r = in_subprocess(size, nnz, rank, args.passes, solver)
        print(f"{SOLVERS[solver][0]:<38}{str((size,) * 3):>16}{nnz:>12,}{rank:>6}{r['sec_per_pass']:>10.2f}"
              f"{r['sec_per_pass'] / nnz * 1e6:>20.3f}{r['kernel_seconds']:>10.3f}"
              f"{r['sec_per_pass'] / r['kernel_seconds']:>12.2f}{r['fit_seconds']:>8.1f}{r['peak_gb']:>9.2f}", flush=True)


if __name__ == "__main__":
    main()
