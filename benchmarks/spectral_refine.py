"""How many Tucker sweeps, and how many extra directions per mode, the CP spectral start's
refinement needs (``REFINE_SWEEPS``, ``REFINE_OVERSAMPLE``).

Run:  python -m benchmarks.spectral_refine [--seeds 10] [--sweeps 0 2 5 10] [--oversample 0 1 2 4]

CP at the true rank with the estimator's defaults, the refinement's sweep count (0 = no
refinement) and its extra subspace directions varied on the same seeds: the problems of
``benchmarks.synthetic`` (CP rank 4, 40^3, 90% missing, no noise and 10% noise), fitted on all
observed entries and on each of the three shuffled folds' training parts that
``benchmarks/rank_selection.py`` uses (6% of the tensor). A fit recovers when its NRMSE against
the noiseless truth on hidden entries is below 0.1. Reported per case, sweep count and extra
directions: recovered fits, median NRMSE, median fit time. Without sweeps the extra directions
change nothing (the start is then not refined and uses the model's own dimensions).
"""

import argparse
import warnings

import numpy as np
from sklearn.model_selection import KFold

import tensorly_das as td
from benchmarks.synthetic import make_problem
from tensorly_das.starts import refine


def fits(noise, seeds, folds):
    """(training indices, values, hidden indices, hidden truth, seed) of every fit of a case."""
    for seed in range(seeds):
        obs, held_idx, held_truth = make_problem("cp", 0.9, noise, seed)
        if not folds:
            yield obs.indices, obs.values, held_idx, held_truth, seed
            continue
        for train, _ in KFold(3, shuffle=True, random_state=seed).split(obs.indices):
            yield obs.indices[train], obs.values[train], held_idx, held_truth, seed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--sweeps", type=int, nargs="+", default=[0, 2, 5, 10])
    parser.add_argument("--oversample", type=int, nargs="+", default=[0, 1, 2, 4])
    args = parser.parse_args(argv)
    print(f"CP rank 4, 40^3, 90% missing, defaults but the refinement's sweeps and extra directions; seeds "
          f"0..{args.seeds - 1}; recovered = NRMSE < 0.1 on hidden entries (REFINE_SWEEPS = "
          f"{refine.REFINE_SWEEPS}, REFINE_OVERSAMPLE = {refine.REFINE_OVERSAMPLE})")
    print(f"{'entries':<22}{'noise':>6}{'sweeps':>8}{'extra':>7}{'recovered':>11}{'median NRMSE':>14}"
          f"{'median s':>10}")
    default = refine.REFINE_SWEEPS, refine.REFINE_OVERSAMPLE
    settings = [(0, 0)] + [(sweeps, extra) for sweeps in args.sweeps if sweeps for extra in args.oversample]
    try:
        for folds in (False, True):
            for noise in (0.0, 0.1):
                for sweeps, extra in settings:
                    refine.REFINE_SWEEPS, refine.REFINE_OVERSAMPLE = sweeps, extra
                    errors, seconds = [], []
                    for indices, values, held_idx, held_truth, seed in fits(noise, args.seeds, folds):
                        with warnings.catch_warnings():
                            warnings.simplefilter("ignore")
                            est = td.CPCompletion(4, shape=(40, 40, 40), random_state=seed).fit(indices, values)
                        errors.append(float(td.nrmse(held_truth, est.predict(held_idx))))
                        seconds.append(est.fit_time_)
                    errors = np.array(errors)
                    label = "3-fold training parts" if folds else "all observed"
                    print(f"{label:<22}{noise:>6.0%}{sweeps:>8}{extra:>7}"
                          f"{f'{(errors < 0.1).sum()}/{errors.size}':>11}"
                          f"{np.median(errors):>14.4f}{np.median(seconds):>10.3f}", flush=True)
    finally:
        refine.REFINE_SWEEPS, refine.REFINE_OVERSAMPLE = default


if __name__ == "__main__":
    main()
