"""Completion of synthetic CP, Tucker, TT and TR tensors with known truth, against the peers.

Run:  python -m benchmarks.synthetic [--models cp tucker tt tr] [--missing 0.5 0.9 0.99]
                                     [--noise 0.0 0.1] [--seeds 3] [--quick] [--no-peers]
                                     [--plot FILE.png]

For each model a ground-truth tensor is drawn from that model (Gaussian cores; CP and Tucker
of shape 40^3 with rank 4 and (4, 4, 4), TT and TR of shape 10^5 with rank 3), a fraction
``missing`` of its entries is hidden, and the rest are observed with Gaussian noise of relative
level ``noise`` (``||noise|| = noise * ||observed values||``). Every method gets the true rank
and the protocol of ``benchmarks/protocol.py`` (several seeds; ridge and iteration count
chosen on the same validation entries where the method has them; success counts). Reported:
NRMSE against the *noiseless* truth on (up to 50,000 of) the hidden entries, the final fit's
wall time and its peak memory above the process's resident memory at its start.

Methods: our estimator of the truth's model at its defaults and with ``l2_reg=0``, the peers
that fit that model (TensorLy masked ``parafac`` and pyttb ``gcp_opt`` on CP, TensorLy masked
``tucker`` on Tucker, tntorch ``optimize`` on TT), and a plain PyTorch Adam loop on every model,
stopped early and run a fixed 2000 steps (see ``benchmarks/peers.py``). SAM and DAS are
compared in ``benchmarks/default_method.py``.
"""

import argparse

import numpy as np

import tensorly_das as td
from benchmarks import peers, protocol

PROBLEMS = {  # model: (shape, true rank)
    "cp": ((40, 40, 40), 4),
    "tucker": ((40, 40, 40), (4, 4, 4)),
    "tt": ((10,) * 5, (1, 3, 3, 3, 3, 1)),
    "tr": ((10,) * 5, (3,) * 6),
}


def make_problem(model, missing, noise, seed, n_heldout=50_000):
    """Observed entries and (hidden indices, noiseless values) of a random ``model`` tensor."""
    shape, rank = PROBLEMS[model]
    rng = np.random.default_rng(seed)
    spec = peers.MODELS[model]._model_class(shape, rank)
    truth = spec.init_cores(rng, 1.0)
    total = int(np.prod(shape))
    perm = rng.permutation(total)
    n_obs = total - int(round(missing * total))
    obs_idx = np.stack(np.unravel_index(perm[:n_obs], shape), 1)
    held_idx = np.stack(np.unravel_index(perm[n_obs : n_obs + n_heldout], shape), 1)
    clean = spec.predict(truth, [obs_idx[:, n].copy() for n in range(len(shape))])
    e = rng.standard_normal(n_obs)
    if noise > 0:
        e *= noise * np.linalg.norm(clean) / np.linalg.norm(e)
    else:
        e[:] = 0.0
    held_truth = spec.predict(truth, [held_idx[:, n].copy() for n in range(len(shape))])
    return td.ObservedTensor(obs_idx, clean + e, shape), held_idx, held_truth


def methods(model, with_peers):
    rows = [peers.ours(model), peers.ours(model, l2_reg=0.0)]
    if not with_peers:
        return rows
    if model == "cp":
        rows += [peers.masked_parafac, peers.masked_parafac_ridge]
        if peers.available("pyttb"):
            rows.append(peers.gcp)
    if model == "tucker":
        rows.append(peers.masked_tucker)
    if model == "tt" and peers.available("tntorch"):
        rows.append(peers.tntorch_tt)
    if peers.available("torch"):
        rows += [peers.torch_adam(model), peers.torch_adam(model, fixed_steps=2000)]
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(PROBLEMS), choices=list(PROBLEMS))
    parser.add_argument("--missing", nargs="+", type=float, default=[0.5, 0.9, 0.99])
    parser.add_argument("--noise", nargs="+", type=float, default=[0.0, 0.1])
    parser.add_argument("--quick", action="store_true", help="90%% missing, 10%% noise only")
    parser.add_argument("--no-peers", action="store_true")
    protocol.add_arguments(parser)
    args = parser.parse_args(argv)
    if args.quick:
        args.missing, args.noise = [0.9], [0.1]
    peers.warm_up()

    print("held-out NRMSE against the noiseless truth on hidden entries; every method gets the true rank;"
          f" seeds 0..{args.seeds - 1}")
    protocol.print_run_header()
    runs = []
    for model in args.models:
        rank = PROBLEMS[model][1]
        for missing in args.missing:
            for noise in args.noise:
                case = f"{model} {missing:.0%} miss {noise:.0%} noise"
                for seed in range(args.seeds):
                    obs, held_idx, held_truth = make_problem(model, missing, noise, seed)
                    entries = [(m, [rank]) for m in methods(model, not args.no_peers)]
                    runs += protocol.run_methods(case, entries, obs, seed, protocol.nrmse_on(held_idx, held_truth))
    protocol.print_summary(runs, "recovered")
    if args.plot:
        protocol.plot_runs(runs, args.plot, "recovered")


if __name__ == "__main__":
    main()
