"""Does GridSearchCV with shuffled folds pick the true rank? Over seeds, with the defaults.

Run:  python -m benchmarks.rank_selection [--seeds 5] [--models cp tucker] [--missing 0.9]
                                          [--noise 0.0 0.1]

The problems are those of ``benchmarks.synthetic`` (CP rank 4 and Tucker rank (4, 4, 4) truths
of shape 40^3), one per seed. ``GridSearchCV`` searches the rank over the grid below with
``KFold(3, shuffle=True, random_state=seed)`` on the observed entries only, every other
parameter at its default. Reported per case and rule: how often each rank was picked, by the
highest mean score (GridSearchCV's default ``refit=True``) and by
``tensorly_das.one_standard_error_rule`` (the smallest rank within one standard error of the
best), both from the same cross-validation; the median (over seeds) of the mean
cross-validated R^2 at the true rank and at the picked rank; and how many of the seeds x 3 fold
fits at the true rank scored an R^2 below :data:`FAILED_FOLD` on their held-out fold (fits that
recover score about 1 - noise^2 there: those below stopped in a poor local solution).
"""

import argparse
import collections
import warnings

import numpy as np
from sklearn.model_selection import GridSearchCV, KFold

import tensorly_das as td
from benchmarks.synthetic import PROBLEMS, make_problem

GRIDS = {"cp": [2, 3, 4, 5, 6], "tucker": [(3, 3, 3), (4, 4, 4), (5, 5, 5), (6, 6, 6)]}
ESTIMATORS = {"cp": td.CPCompletion, "tucker": td.TuckerCompletion}
#: a fold's R^2 below this at the true rank counts as a failed fit
FAILED_FOLD = 0.95


def search(model, obs, seed):
    """(rank by best mean score, rank by the one-SE rule), mean score per rank, fold scores per rank."""
    est = ESTIMATORS[model](shape=obs.shape, random_state=seed)
    grid = GridSearchCV(est, {"rank": GRIDS[model]}, cv=KFold(3, shuffle=True, random_state=seed),
                        refit=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # diverged-start and unobserved-slice notes
        grid.fit(obs.indices, obs.values)
    results = grid.cv_results_
    scores = dict(zip(map(str, results["param_rank"]), results["mean_test_score"]))
    folds = {str(rank): [results[f"split{k}_test_score"][i] for k in range(3)]
             for i, rank in enumerate(results["param_rank"])}
    best = results["params"][int(np.argmax(results["mean_test_score"]))]["rank"]
    simplest = results["params"][td.one_standard_error_rule("rank")(results)]["rank"]
    return {"best score": best, "one-SE rule": simplest}, scores, folds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--models", nargs="+", default=list(GRIDS), choices=list(GRIDS))
    parser.add_argument("--missing", nargs="+", type=float, default=[0.9])
    parser.add_argument("--noise", nargs="+", type=float, default=[0.0, 0.1])
    args = parser.parse_args(argv)
    print(f"GridSearchCV over the rank, KFold(3, shuffle=True), defaults otherwise; {args.seeds} seeds "
          "(problem, folds and fits seeded 0..)")
    print(f"{'model':<7}{'missing':>8}{'noise':>6}  {'true':<10}{'rule':<12}{'picked (count)':<44}"
          f"{'CV R^2 true':>12}{'CV R^2 picked':>14}{'failed folds at true':>22}")
    for model in args.models:
        true = PROBLEMS[model][1]
        for missing in args.missing:
            for noise in args.noise:
                runs = [search(model, make_problem(model, missing, noise, seed)[0], seed)
                        for seed in range(args.seeds)]
                at_true_folds = [score for _, _, folds in runs for score in folds[str(true)]]
                failed = f"{sum(score < FAILED_FOLD for score in at_true_folds)}/{len(at_true_folds)}"
                for rule in ("best score", "one-SE rule"):
                    picked = [str(chosen[rule]) for chosen, _, _ in runs]
                    counts = collections.Counter(picked)
                    text = ", ".join(f"{r}: {counts[r]}" for r in map(str, GRIDS[model]) if counts[r])
                    at_true = np.median([scores[str(true)] for _, scores, _ in runs])
                    at_picked = np.median([scores[p] for (_, scores, _), p in zip(runs, picked)])
                    print(f"{model:<7}{missing:>8.0%}{noise:>6.0%}  {str(true):<10}{rule:<12}{text:<44}"
                          f"{at_true:>12.5f}{at_picked:>14.5f}{failed:>22}", flush=True)


if __name__ == "__main__":
    main()
