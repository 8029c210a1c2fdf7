"""What the validation hold-out costs, and what ``final_sweeps`` gives back.

Run:  python -m benchmarks.final_sweeps [--cases covid il2 pines cp_synthetic tt_synthetic
                                          cp_90 tucker_90] [--seeds 3]

Our estimators at their defaults (block least squares, ``l2_reg="auto"``, early stopping on 10%
of the training entries, spectral start from the other 90%, and ``final_sweeps="auto"``: two
block least-squares sweeps on all training entries, the validation part included, once early
stopping and the ridge path have chosen) against the same without the sweeps
(``final_sweeps=0``, the default before they were measured here), under the protocol of
``benchmarks/protocol.py`` (rank chosen on the same validation entries; held-out entries never
seen). Cases: the real tensors of ``benchmarks/real_data.py`` (Tucker rank grid), the CP case
of ``benchmarks/cp_synthetic.py``, the TT case of ``benchmarks/tt_synthetic.py`` and the
90%-missing, 10%-noise CP and Tucker cases of ``benchmarks/synthetic.py``. Reported: held-out
NRMSE (against the noiseless truth on synthetic tensors), the fit's wall time, and per case the
ratio of the medians with the sweeps to those without.
"""

import argparse

import numpy as np

import tensorly_das as td
from benchmarks import cp_synthetic, peers, protocol, real_data, synthetic, tt_synthetic

REAL = ("covid", "il2", "pines")
SYNTHETIC = ("cp_synthetic", "tt_synthetic", "cp_90", "tucker_90")


def synthetic_case(case, seed):
    """``(train, held-out indices, noiseless values, model, ranks)`` of a synthetic case."""
    if case == "cp_synthetic":
        return (*cp_synthetic.make_problem(100, 5, 0.05, 0.1, seed), "cp", [5])
    if case == "tt_synthetic":
        return (*tt_synthetic.tt_problem(seed), "tt", [3])
    model = case.split("_")[0]
    return (*synthetic.make_problem(model, 0.9, 0.1, seed), model, [synthetic.PROBLEMS[model][1]])


VARIANTS = {  # label: parameters; the first is the reference of the ratios
    "no final sweeps": {"final_sweeps": 0},
    "defaults (2 final sweeps)": {},
}


def rows(model):
    return [peers.ours(model, name=f"ours {model}, {label}", **params) for label, params in VARIANTS.items()]


def print_ratios(runs):
    print("\nthe defaults' final sweeps against none: ratio of median errors (below 1: better), ratio of"
          " median times, seeds with a lower error")
    by_case = {}
    for run in runs:
        by_case.setdefault(run.case, {}).setdefault(run.method.split(", ", 1)[1], []).append(run)
    for case, groups in by_case.items():
        base = groups[next(iter(VARIANTS))]
        for label in list(VARIANTS)[1:]:
            runs_v = groups[label]
            ratio = np.median([r.error for r in runs_v]) / np.median([r.error for r in base])
            time_ratio = np.median([r.seconds for r in runs_v]) / np.median([r.seconds for r in base])
            better = sum(v.error < d.error for v, d in zip(runs_v, base))
            print(f"{case:<26}{label:<28}error {ratio:.3f}   time {time_ratio:.2f}   lower on {better}/{len(runs_v)}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=list(REAL + SYNTHETIC), choices=list(REAL + SYNTHETIC))
    protocol.add_arguments(parser)
    args = parser.parse_args(argv)
    print(f"held-out NRMSE; our estimators at their defaults (final_sweeps='auto': 2) and with final_sweeps=0; seeds 0..{args.seeds - 1}")
    protocol.print_run_header()
    real_runs, synthetic_runs = [], []
    for case in args.cases:
        for seed in range(args.seeds):
            if case in REAL:
                train, test, _ = real_data.load(case, seed)
                _, tucker_ranks = real_data.grids(case, train.shape)
                score = lambda p, test=test: float(td.nrmse(test.values, p(test.indices)))  # noqa: E731
                real_runs += protocol.run_methods(case, [(m, tucker_ranks) for m in rows("tucker")], train, seed,
                                                  score)
            else:
                train, held_idx, held_truth, model, ranks = synthetic_case(case, seed)
                synthetic_runs += protocol.run_methods(case, [(m, ranks) for m in rows(model)], train, seed,
                                                       protocol.nrmse_on(held_idx, held_truth))
    if real_runs:
        protocol.print_summary(real_runs, "near best", title="real tensors, held-out NRMSE")
    if synthetic_runs:
        protocol.print_summary(synthetic_runs, "recovered", title="synthetic tensors, NRMSE against the truth")
    print_ratios(real_runs + synthetic_runs)


if __name__ == "__main__":
    main()
