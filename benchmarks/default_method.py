"""Which update rule should the estimators use by default? Held-out error first, then time.

Run:  python -m benchmarks.default_method [--seeds 5]

Cases: the synthetic problems of ``benchmarks.synthetic`` at 90% missing with 10% noise (CP,
Tucker, TT, TR; true rank; error is NRMSE against the noiseless truth on hidden entries) and
the COVID-19 Tucker task (rank (8, 6, 8), 30% observed; error is 1 - R^2 on the 70% held out,
so lower is better everywhere). Every rule runs with the estimators' other defaults (Adam lr
0.05, spectral start, early stopping) on the same seeds. Rules: plain (the default since
0.2); DAS as the estimators ran it by default in 0.1 (paper form, alpha = 1); DAS in the relative form at alpha 0.1 and 1
(strengths that act); SAM at rho 0.05. Reported per case and rule: the median error with its
range, how many seeds recover (synthetic: NRMSE below 0.1, the threshold of
``benchmarks/recovery.py``; COVID has no truth to recover, so no count), the median relative
change of the held-out predictions from plain's (0 means the rule did nothing), and the median
fit seconds.
"""

import argparse
import time
import warnings

import numpy as np

import tensorly_das as td
from benchmarks.synthetic import PROBLEMS, make_problem
from tensorly_das.datasets import covid19_completion

RULES = {
    "plain": dict(method="plain"),
    "DAS paper alpha 1 (0.1 default)": dict(method="das"),
    "DAS relative alpha 0.1": dict(method="das", das_deviation="relative", das_alpha=0.1),
    "DAS relative alpha 1": dict(method="das", das_deviation="relative", das_alpha=1.0),
    "SAM rho 0.05": dict(method="sam", sam_rho=0.05),
}
#: NRMSE below which a synthetic fit counts as recovered (as in benchmarks/recovery.py)
RECOVERED = 0.1
ESTIMATORS = {"cp": td.CPCompletion, "tucker": td.TuckerCompletion, "tt": td.TTCompletion, "tr": td.TRCompletion}


def problems(seeds):
    """case name -> list of (estimator, rank, train, hidden indices, hidden truth, error fn)."""
    nrmse = td.nrmse

    def one_minus_r2(truth, pred):
        return 1.0 - td.r2_score(truth, pred)

    out = {}
    for model in ESTIMATORS:
        out[f"{model} 90% missing 10% noise"] = [
            (ESTIMATORS[model], PROBLEMS[model][1], *make_problem(model, 0.9, 0.1, seed), nrmse)
            for seed in range(seeds)]
    out["COVID Tucker (8,6,8), 1 - R^2"] = [
        (td.TuckerCompletion, (8, 6, 8), obs, held.indices, held.values, one_minus_r2)
        for obs, held in (covid19_completion(0.3, random_state=seed) for seed in range(seeds))]
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args(argv)
    print(f"defaults otherwise (Adam lr 0.05, spectral start, early stopping); seeds 0..{args.seeds - 1}")
    print(f"{'case':<32}{'rule':<34}{'error median':>13}  {'range':<18}{'recovered':>10}"
          f"{'change vs plain':>16}{'fit s':>8}")
    for case, runs in problems(args.seeds).items():
        plain_predictions = {}
        for rule, params in RULES.items():
            errors, changes, seconds = [], [], []
            for seed, (cls, rank, obs, idx, truth, error) in enumerate(runs):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    t0 = time.perf_counter()
                    est = cls(rank=rank, random_state=seed, **params).fit(obs)
                    seconds.append(time.perf_counter() - t0)
                pred = est.predict(idx)
                errors.append(error(truth, pred))
                if rule == "plain":
                    plain_predictions[seed] = pred
                ref = plain_predictions[seed]
                changes.append(float(np.linalg.norm(pred - ref) / np.linalg.norm(ref)))
            e = np.array(errors)
            ok = f"{int((e < RECOVERED).sum())}/{len(e)}" if case.startswith(tuple(ESTIMATORS)) else "-"
            print(f"{case:<32}{rule:<34}{np.median(e):>13.4f}  [{e.min():.4f}, {e.max():.4f}]{ok:>10}"
                  f"{np.median(changes):>16.2e}{np.median(seconds):>8.2f}", flush=True)


if __name__ == "__main__":
    main()
