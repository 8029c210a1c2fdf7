"""Held-out R^2 on the COVID-19 completion splits as SAM's rho and DAS's alpha grow.

Run:  python -m benchmarks.covid_cp_strength [--rank 3] [--seeds 3]

30% of the serology tensor observed, 70% held out (3 random splits), CP, Adam, default
early stopping. Prints mean +/- std of held-out R^2 and seconds per fit for each setting.
"""

import argparse
import time

import numpy as np

import tensorly_das as td
from tensorly_das.datasets import covid19_completion

SETTINGS = [
    ("plain", {}),
    ("sam", {"sam_rho": 0.05}),
    ("sam", {"sam_rho": 0.5}),
    ("das", {"das_alpha": 1.0}),
    ("das", {"das_alpha": 100.0}),
    ("das", {"das_alpha": 0.01, "das_deviation": "relative"}),
    ("das", {"das_alpha": 0.1, "das_deviation": "relative"}),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rank", type=int, default=3)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    splits = [covid19_completion(0.3, random_state=s) for s in range(args.seeds)]
    print(f"COVID-19 serology, 30% observed / 70% held out, CP rank {args.rank}, {args.seeds} splits")
    print(f"{'method':<8}{'setting':<42}{'held-out R^2':>20}{'s/fit':>8}")
    for method, params in SETTINGS:
        scores, seconds = [], []
        for seed, (observed, held_out) in enumerate(splits):
            t0 = time.perf_counter()
            est = td.CPCompletion(rank=args.rank, method=method, random_state=seed, **params).fit(observed)
            seconds.append(time.perf_counter() - t0)
            scores.append(est.score(held_out))
        setting = ", ".join(f"{k}={v}" for k, v in params.items()) or "-"
        print(f"{method:<8}{setting:<42}{np.mean(scores):>11.4f} +/- {np.std(scores):.4f}{np.mean(seconds):>8.2f}")


if __name__ == "__main__":
    main()
