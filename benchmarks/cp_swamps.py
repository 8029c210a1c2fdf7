"""How often does a CP completion fit from a random start end in a poor local solution?

Run:  python -m benchmarks.cp_swamps [--starts 16]

A rank-3 CP tensor (Gaussian factors) of shape 20 x 18 x 16, 30% of entries observed
without noise; 20% of those held out for scoring. Each method is fitted from the same
``--starts`` random starts (``random_state`` 0..starts-1, default settings otherwise);
a start "succeeds" when held-out R^2 > 0.99. This is the regime the paper's analysis
points at: failed fits end with exploding, imbalanced factor norms (large Q), which
SAM and DAS are meant to control.
"""

import argparse
import time

import numpy as np

import tensorly_das as td
from tensorly_das.models import CPModel

SETTINGS = [
    ("plain", {}),
    ("sam", {"sam_rho": 0.05}),
    ("sam", {"sam_rho": 0.5}),
    ("das", {}),
    ("das", {"das_alpha": 0.1, "das_deviation": "relative"}),
    ("das", {"das_alpha": 1.0, "das_deviation": "relative"}),
    ("das", {"das_alpha": 1.0, "das_deviation": "relative", "das_rebalance": True}),
]


def problem(seed=0, shape=(20, 18, 16), rank=3, fraction=0.3):
    rng = np.random.default_rng(seed)
    model = CPModel(shape, rank)
    cores = [rng.standard_normal(s) for s in model.core_shapes()]
    mask = rng.random(shape) < fraction
    idx = np.argwhere(mask)
    values = model.predict(cores, [idx[:, n].copy() for n in range(len(shape))])
    return td.ObservedTensor(idx, values, shape).split(0.2, random_state=seed)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=16)
    parser.add_argument("--problem-seed", type=int, default=0)
    args = parser.parse_args()
    train, test = problem(args.problem_seed)
    print(f"CP rank 3, 20x18x16, {train.nnz} training / {test.nnz} held-out entries, no noise, "
          f"{args.starts} random starts per method")
    print(f"{'method':<8}{'setting':<52}{'succeeded':>10}{'median R^2':>12}{'median Q':>11}{'s/fit':>7}")
    for method, params in SETTINGS:
        scores, qs, seconds = [], [], []
        for start in range(args.starts):
            t0 = time.perf_counter()
            est = td.CPCompletion(rank=3, method=method, random_state=start, **params).fit(train)
            seconds.append(time.perf_counter() - t0)
            scores.append(est.score(test))
            qs.append(float(td.norm_deviation(est.cores_)))
        ok = sum(s > 0.99 for s in scores)
        setting = ", ".join(f"{k}={v}" for k, v in params.items()) or "-"
        print(f"{method:<8}{setting:<52}{ok:>5}/{args.starts:<4}{np.median(scores):>12.3f}"
              f"{np.median(qs):>11.3g}{np.mean(seconds):>7.2f}", flush=True)


if __name__ == "__main__":
    main()
