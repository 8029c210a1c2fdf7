"""What ``l2_reg="auto"`` costs: the ridge path against one fit at the strength it chooses.

Run:  python -m benchmarks.ridge_path_cost [--cases covid il2 kinetic pines] [--seeds 3]
          [--variant shipped|quarter|norms-only]

On the real tensors of ``benchmarks/real_data.py`` (same splits), Tucker at the rank that
table's selection chose for our defaults, per seed: our defaults (block least squares, the
ridge path of ``l2_reg="auto"``, final sweeps), then a fit with ``l2_reg`` fixed at the strength
the path chose (final sweeps as the defaults). Reported: wall time, block least-squares sweeps
(all of the path's steps for the defaults), seconds per sweep, the chosen strength, the path's
steps, and the held-out NRMSE of both. The gap between the two times is what the path costs a
user who would otherwise have known the strength; it is where the time of our Tucker fits in
the real-data table goes.
"""

import argparse
import time
import warnings

import numpy as np

import tensorly_das as td
from benchmarks import real_data
from tensorly_das.estimators import base
from tensorly_das.models import TensorModel, TuckerModel

#: ``--variant``: the shipped defaults, or one of them switched back to the previous rule
VARIANTS = ("shipped", "quarter", "norms-only")


def use_variant(variant):
    """``quarter``: the ridge path's continued block least-squares steps get the first step's
    quarter patience and wait for the training loss to stall, as before commit 7d7a747;
    ``norms-only``: Tucker sweeps equalize the core norms only, without solving the factors'
    bases (before commit 03156c5)."""
    if variant == "quarter":
        base.CONTINUED_PATIENCE, base.CONTINUED_WAIT = base.PATH_PATIENCE, True
    elif variant == "norms-only":
        TuckerModel.balance = TensorModel.balance

#: the Tucker rank the real-data table's selection chose for our defaults on every seed
RANKS = {"covid": (8, 6, 8), "il2": (8, 4, 8, 8), "kinetic": (8, 8, 8, 8), "pines": (8, 8, 8)}


def timed_fit(train, rank, seed, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        est = td.TuckerCompletion(rank=rank, random_state=seed, **params).fit(train)
    seconds = time.perf_counter() - start
    return est, seconds, est.fit_time_ / est.time_per_iter_


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=list(RANKS), choices=list(RANKS))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--variant", choices=VARIANTS, default="shipped", help=use_variant.__doc__)
    args = parser.parse_args(argv)
    use_variant(args.variant)
    print(f"Tucker at the real-data table's rank, split seeds 0..{args.seeds - 1}; held-out NRMSE; "
          f"'fixed' = one fit with l2_reg at the strength the path chose; variant: {args.variant}")
    print(f"{'case':<9}{'seed':>5}{'auto s':>8}{'sweeps':>8}{'s/sweep':>9}{'chosen l2':>11}{'steps':>7}"
          f"{'fixed s':>9}{'sweeps':>8}{'auto/fixed s':>14}{'NRMSE auto':>12}{'NRMSE fixed':>13}")
    ratios = {}
    for case in args.cases:
        for seed in range(args.seeds):
            train, test, _ = real_data.load(case, seed)
            auto, auto_s, auto_sweeps = timed_fit(train, RANKS[case], seed)
            fixed, fixed_s, fixed_sweeps = timed_fit(train, RANKS[case], seed, l2_reg=auto.l2_reg_)
            error = [float(td.nrmse(test.values, e.predict(test.indices))) for e in (auto, fixed)]
            ratios.setdefault(case, []).append(auto_s / fixed_s)
            print(f"{case:<9}{seed:>5}{auto_s:>8.2f}{auto_sweeps:>8.0f}{auto_s / auto_sweeps:>9.4f}"
                  f"{auto.l2_reg_:>11.2g}{len(auto.l2_path_):>7}{fixed_s:>9.2f}{fixed_sweeps:>8.0f}"
                  f"{auto_s / fixed_s:>14.2f}{error[0]:>12.4f}{error[1]:>13.4f}", flush=True)
    print("\nmedian time of the defaults over one fit at their chosen strength: "
          + ", ".join(f"{case} {np.median(r):.2f}" for case, r in ratios.items()))


if __name__ == "__main__":
    main()
