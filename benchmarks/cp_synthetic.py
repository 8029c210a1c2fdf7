"""CP completion quality on a synthetic tensor, against the usual alternatives.

Run:  python -m benchmarks.cp_synthetic [--seeds 3] [--size 100] [--rank 5] [--observed 0.05] [--noise 0.1]
                                       [--plot FILE.png]

Problem: a rank-5 tensor from ``tensorly.random.random_cp`` (size^3), ``observed`` of its
entries observed with Gaussian noise of relative level ``noise``
(``||noise|| = noise * ||observed values||``). Reported: NRMSE against the *noiseless* truth on
200,000 unobserved entries (held out; never seen by any method), wall time of the fit.

Compared, under the protocol of ``benchmarks/protocol.py`` (several seeds; the true rank; ridge
and iteration count chosen on the same validation entries where a method has them): our
CPCompletion at its defaults (block least squares, ``l2_reg="auto"``, early stopping on 10% of
the observed entries, then two final sweeps on all observed entries), the same without the final
sweeps (``final_sweeps=0``), without ridge, and with the first-order solver (Adam), pyttb's
``gcp_opt`` (Gaussian loss, L-BFGS-B, dense mask, best of 5 starts) and TensorLy's masked
``parafac`` (dense EM imputation; at its defaults and with its ridge tuned), when installed.
"""

import argparse

import numpy as np
import tensorly as tl
from tensorly.random import random_cp

import tensorly_das as td
from benchmarks import peers, protocol


def make_problem(size, rank, observed, noise, seed, n_heldout=200_000):
    rng = np.random.default_rng(seed)
    shape = (size, size, size)
    truth = tl.cp_to_tensor(random_cp(shape, rank=rank, random_state=seed))
    total = truth.size
    n_obs = int(observed * total)
    perm = rng.permutation(total)
    obs_flat, held_flat = perm[:n_obs], perm[n_obs : n_obs + min(n_heldout, total - n_obs)]
    obs_idx = np.stack(np.unravel_index(obs_flat, shape), 1)
    held_idx = np.stack(np.unravel_index(held_flat, shape), 1)
    clean = truth.ravel()[obs_flat]
    e = rng.standard_normal(n_obs)
    e *= noise * np.linalg.norm(clean) / np.linalg.norm(e)
    return td.ObservedTensor(obs_idx, clean + e, shape), held_idx, truth.ravel()[held_flat]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100)
    parser.add_argument("--rank", type=int, default=5)
    parser.add_argument("--observed", type=float, default=0.05)
    parser.add_argument("--noise", type=float, default=0.1)
    parser.add_argument("--no-peers", action="store_true", help="only our estimators")
    protocol.add_arguments(parser)
    args = parser.parse_args(argv)
    methods = [peers.ours("cp"), peers.ours("cp", final_sweeps=0), peers.ours("cp", l2_reg=0.0),
               peers.ours("cp", solver="adam")]
    if not args.no_peers:
        if peers.available("pyttb"):
            methods.append(peers.gcp)
        methods += [peers.masked_parafac, peers.masked_parafac_ridge]
    peers.warm_up()
    print(f"CP rank {args.rank}, shape {(args.size,) * 3}, {args.observed:.0%} observed, "
          f"{args.noise:.0%} noise, seeds 0..{args.seeds - 1}")
    print("held-out NRMSE against the noiseless tensor on 200,000 unobserved entries; time = final fit wall time")
    protocol.print_run_header()
    case = f"cp {args.size}^3 {args.observed:.0%} obs"
    runs = []
    for seed in range(args.seeds):
        obs, held_idx, held_truth = make_problem(args.size, args.rank, args.observed, args.noise, seed)
        runs += protocol.run_methods(case, [(m, [args.rank]) for m in methods], obs, seed,
                                     protocol.nrmse_on(held_idx, held_truth))
    protocol.print_summary(runs, "recovered")
    if args.plot:
        protocol.plot_runs(runs, args.plot, "recovered")


if __name__ == "__main__":
    main()
