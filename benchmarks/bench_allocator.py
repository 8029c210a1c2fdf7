"""Fit pass time with and without reusing freed memory (``tensorly_das.allocator``).

Run:  python -m benchmarks.bench_allocator [--passes 40]

For each model, a fit of ``--passes`` full-batch passes (plain Adam, early stopping off) runs
twice, each in its own process: once as shipped, once with ``TENSORLY_DAS_REUSE_MEMORY=0``.
Reported: the median time of a pass (from the fit's history) and the ratio. Problems: CP rank
10 on 200^3 with 1e6 observations; Tucker (8, 6, 8) on the COVID-19 serology tensor (30%
observed); TT and TR rank 3 on 10^5 with 45,000 observations.
"""

import argparse
import json
import os
import subprocess
import sys

import numpy as np

PROBLEMS = ("cp", "tucker", "tt", "tr")


def problem(name):
    import tensorly_das as td

    rng = np.random.default_rng(0)
    if name == "tucker":
        from tensorly import datasets

        X = np.asarray(datasets.load_covid19_serology().tensor, dtype=float)
        train, _ = td.ObservedTensor.from_dense(X).split(0.7, random_state=0)
        values = (train.values - train.values.mean()) / train.values.std()
        return td.TuckerCompletion(rank=(8, 6, 8)), td.ObservedTensor(train.indices, values, train.shape)
    shape, n, est = {
        "cp": ((200, 200, 200), 1_000_000, td.CPCompletion(rank=10)),
        "tt": ((10,) * 5, 45_000, td.TTCompletion(rank=3)),
        "tr": ((10,) * 5, 45_000, td.TRCompletion(rank=3)),
    }[name]
    flat = rng.choice(int(np.prod(shape)), size=n, replace=False)
    idx = np.stack(np.unravel_index(flat, shape), axis=1)
    return est, td.ObservedTensor(idx, rng.standard_normal(n), shape)


def one(name, passes):
    est, obs = problem(name)
    est.set_params(max_iter=passes, early_stopping=False, random_state=0).fit(obs)
    return float(np.median(np.diff(est.history_["time"])))


def in_subprocess(name, passes, reuse):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, TENSORLY_DAS_REUSE_MEMORY="1" if reuse else "0")
    cmd = [sys.executable, "-m", "benchmarks.bench_allocator", "--one", name, "--passes", str(passes)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=root, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passes", type=int, default=40)
    parser.add_argument("--one", choices=PROBLEMS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.passes)))
        return
    print(f"median pass time over {args.passes} passes; each fit in its own process")
    print(f"{'model':<8}{'reuse on ms':>13}{'reuse off ms':>14}{'speed-up':>10}")
    for name in PROBLEMS:
        on = in_subprocess(name, args.passes, True)
        off = in_subprocess(name, args.passes, False)
        print(f"{name:<8}{on * 1e3:>13.2f}{off * 1e3:>14.2f}{off / on:>10.2f}", flush=True)


if __name__ == "__main__":
    main()
