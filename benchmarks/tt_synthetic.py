"""Tensor-Train completion of a synthetic TT tensor, against tntorch's ``optimize``.

Run:  python -m benchmarks.tt_synthetic [--seeds 5] [--size 12] [--order 5] [--rank 3]

Problem: a TT tensor of rank 3 and shape 12^5 with Gaussian cores; 5% of its entries observed
with 5% relative Gaussian noise. Reported: NRMSE against the noiseless tensor on 50,000
unobserved entries, the number of seeds with NRMSE <= 0.01, and wall time per fit.

tntorch (if installed) is run as its completion tutorial does: ``tn.rand`` TT with the true
ranks, loss = relative squared error on the observed entries, ``tn.optimize`` with its
defaults (Adam, lr 1e-3 in torch's default, tol 1e-4).
"""

import argparse
import time

import numpy as np

import tensorly_das as td
from benchmarks import peers
from tensorly_das.models import TTModel


def tt_problem(seed, size=12, order=5, rank=3, observed=0.05, noise=0.05, n_heldout=50_000):
    rng = np.random.default_rng(seed)
    shape = (size,) * order
    model = TTModel(shape, rank)
    cores = [rng.standard_normal(s) for s in model.core_shapes()]
    total = int(np.prod(shape))
    n_obs = int(observed * total)
    perm = rng.permutation(total)
    obs_flat, held_flat = perm[:n_obs], perm[n_obs : n_obs + n_heldout]
    obs_idx = np.stack(np.unravel_index(obs_flat, shape), 1)
    held_idx = np.stack(np.unravel_index(held_flat, shape), 1)
    clean = model.predict(cores, [obs_idx[:, n].copy() for n in range(order)])
    e = rng.standard_normal(n_obs)
    e *= noise * np.linalg.norm(clean) / np.linalg.norm(e)
    held_truth = model.predict(cores, [held_idx[:, n].copy() for n in range(order)])
    return td.ObservedTensor(obs_idx, clean + e, shape), held_idx, held_truth


def ours(**params):
    def run(obs, rank, seed):
        est = td.TTCompletion(rank=rank, random_state=seed, **params).fit(obs)
        return est.predict

    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--size", type=int, default=12)
    parser.add_argument("--order", type=int, default=5)
    parser.add_argument("--rank", type=int, default=3)
    args = parser.parse_args()
    runners = {
        "defaults (ALS, l2 auto)": ours(),
        "ALS, l2_reg=0": ours(l2_reg=0.0),
        "Adam lr 0.05, l2_reg=0": ours(method="plain", solver="adam", l2_reg=0.0),
        "Adam lr 0.1, l2_reg=0": ours(method="plain", solver="adam", lr=0.1, l2_reg=0.0),
        "SAM rho=0.05 lr 0.1": ours(method="sam", lr=0.1),
        "DAS (paper form) lr 0.1": ours(method="das", lr=0.1),
        "DAS relative a=0.1 lr 0.1": ours(method="das", lr=0.1, das_alpha=0.1, das_deviation="relative"),
        "DAS rel. a=0.1 rebal. lr 0.1": ours(method="das", lr=0.1, das_alpha=0.1, das_deviation="relative",
                                             das_rebalance=True),
        "defaults, n_init=3": ours(n_init=3),
    }
    if peers.available("tntorch"):
        runners["tntorch optimize (defaults)"] = peers.tntorch_tt
    else:
        print("tntorch not installed: its row is skipped")
    results = {name: [] for name in runners}
    for seed in range(args.seeds):
        obs, held_idx, held_truth = tt_problem(seed, args.size, args.order, args.rank)
        for name, run in runners.items():
            t0 = time.perf_counter()
            predict = run(obs, args.rank, seed)
            seconds = time.perf_counter() - t0
            results[name].append((td.nrmse(held_truth, predict(held_idx)), seconds))
    print(f"TT rank {args.rank}, shape {args.size}^{args.order}, 5% observed, 5% noise, "
          f"{args.seeds} seeds; NRMSE vs the noiseless tensor on 50,000 unobserved entries")
    print(f"{'method':<32}{'median NRMSE':>14}{'<= 0.01':>9}{'per seed':>44}{'s/fit':>8}")
    for name, rows in results.items():
        r = np.array(rows)
        per_seed = " ".join(f"{v:.4f}" for v in r[:, 0])
        print(f"{name:<32}{np.median(r[:, 0]):>14.4f}{int((r[:, 0] <= 0.01).sum()):>5}/{args.seeds:<3}"
              f"{per_seed:>44}{r[:, 1].mean():>8.2f}")


if __name__ == "__main__":
    main()
