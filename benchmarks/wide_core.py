"""What two block least-squares settings save on Tucker fits of the real tensors: the Kronecker
rows kept through a conjugate-gradient solve, and design blocks bounded by their multiply-adds.

Run:  python -m benchmarks.wide_core [--cases il2 kinetic] [--rounds 3] [--seed 0]

Our Tucker defaults (block least squares, ``l2_reg="auto"``) at the rank of
``benchmarks/ridge_path_cost.py``, on one split of each real tensor, with four settings
alternating in one process, ``rounds`` fits each:

- *as shipped*;
- *rows rebuilt per product*: ``KRONECKER_CACHE_FLOATS = 0``, the fibers' Kronecker rows built
  again on every product of a conjugate-gradient solve (IL2's and Kinetic's cores, 2,048 and
  4,096 entries, are solved that way);
- *blocks of CHUNK_FLOATS / W fibers*: ``DESIGN_BLOCK_COST`` unbounded, so the factor designs
  built per fiber come in blocks of ``CHUNK_FLOATS / W`` fibers as before;
- both of the above (the code before these settings).

Reported: the median seconds of a fit, its ratio to the shipped one, the sweeps run and the
held-out NRMSE (the settings change where the time goes, not the answer).
"""

import argparse
import contextlib
import time
import warnings

import numpy as np

import tensorly_das as td
import tensorly_das.updates.block_ls as block_ls
import tensorly_das.updates.fibers as fibers
from benchmarks import real_data
from benchmarks.ridge_path_cost import RANKS

SETTINGS = {
    "as shipped": {},
    "rows rebuilt per product": {"cache": 0},
    "blocks of CHUNK_FLOATS / W fibers": {"block": 1 << 62},
    "both (before)": {"cache": 0, "block": 1 << 62},
}


@contextlib.contextmanager
def setting(cache=None, block=None):
    saved = fibers.KRONECKER_CACHE_FLOATS, block_ls.DESIGN_BLOCK_COST
    if cache is not None:
        fibers.KRONECKER_CACHE_FLOATS = cache
    if block is not None:
        block_ls.DESIGN_BLOCK_COST = block
    try:
        yield
    finally:
        fibers.KRONECKER_CACHE_FLOATS, block_ls.DESIGN_BLOCK_COST = saved


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=["il2", "kinetic"], choices=list(RANKS))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(f"Tucker defaults at the ridge_path_cost rank, split seed {args.seed}; {args.rounds} fits per "
          "setting, alternating in one process; held-out NRMSE")
    print(f"{'case':<9}{'setting':<36}{'median s':>10}{'/ shipped':>11}{'sweeps':>8}{'NRMSE':>9}")
    for case in args.cases:
        train, test, _ = real_data.load(case, args.seed)
        seconds = {name: [] for name in SETTINGS}
        outcome = {}
        for _ in range(args.rounds):
            for name, options in SETTINGS.items():
                with setting(**options), warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    start = time.perf_counter()
                    est = td.TuckerCompletion(rank=RANKS[case], random_state=args.seed).fit(train)
                    seconds[name].append(time.perf_counter() - start)
                error = float(td.nrmse(test.values, est.predict(test.indices)))
                outcome[name] = (round(est.fit_time_ / est.time_per_iter_), error)
        shipped = np.median(seconds["as shipped"])
        for name in SETTINGS:
            median = np.median(seconds[name])
            sweeps, error = outcome[name]
            print(f"{case:<9}{name:<36}{median:>10.2f}{median / shipped:>11.2f}{sweeps:>8}{error:>9.4f}",
                  flush=True)


if __name__ == "__main__":
    main()
