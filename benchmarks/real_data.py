"""Completion of real tensors that ship with TensorLy, against the dense alternatives.

Run:  python benchmarks/real_data.py [--cases covid il2 kinetic pines] [--no-peers]

Cases (all offline): COVID-19 serology (30% observed), IL2 (its own missing values kept
missing; 20% of the known entries held out), Kinetic (10% observed), Indian Pines (64 x 64 crop,
every fifth band, 10% observed). Values are standardized with the training entries' mean and
standard deviation, the same for every method.

Every method picks its rank the same way: fit each setting of the grid on 90% of the training
entries, keep the one with the lowest error on the other 10%, refit on all training entries
(our estimators choose ``l2_reg`` in {0, 1e-4, 1e-3} together with the rank, on that split).
Reported: held-out R^2 and NRMSE on the held-out entries, and the wall time of the final fit.
Methods: our CP (plain, SAM, DAS) and Tucker (plain) with default settings otherwise;
TensorLy's masked ``parafac`` and masked ``tucker`` (dense EM imputation); pyttb's ``gcp_opt``
(Gaussian, L-BFGS-B, dense mask) when installed.
"""

import argparse
import time

import numpy as np
import tensorly as tl

import tensorly_das as td

CP_RANKS = (2, 4, 8)
TUCKER_RANKS = (2, 4, 8)  # per mode, capped by the mode's size


def load(case, seed=0):
    from tensorly import datasets

    if case == "covid":
        X = np.asarray(datasets.load_covid19_serology().tensor, dtype=float)
        observed = 0.3
    elif case == "il2":
        X = np.asarray(datasets.load_IL2data().tensor, dtype=float)
        observed = 0.8  # of the entries that are known at all
    elif case == "kinetic":
        X = np.asarray(datasets.load_kinetic().tensor, dtype=float)
        observed = 0.1
    elif case == "pines":
        X = np.asarray(datasets.load_indian_pines().tensor, dtype=float)[:64, :64, ::5]
        observed = 0.1
    else:
        raise ValueError(case)
    full = td.ObservedTensor.from_dense(X)  # NaN entries (IL2) are never used
    train, test = full.split(1.0 - observed, random_state=seed)
    mean, std = train.values.mean(), train.values.std()
    scale = lambda o: td.ObservedTensor(o.indices, (o.values - mean) / std, o.shape)  # noqa: E731
    return scale(train), scale(test)


def tucker_ranks(shape):
    return [tuple(min(s, r) for s in shape) for r in TUCKER_RANKS]


def dense_and_mask(obs):
    dense = np.zeros(obs.shape)
    dense[tuple(obs.indices.T)] = obs.values
    mask = np.zeros(obs.shape)
    mask[tuple(obs.indices.T)] = 1.0
    return dense, mask


L2_GRID = (0.0, 1e-4, 1e-3)


def ours(cls, **params):
    def fit(train, setting, seed):
        rank, l2_reg = setting
        est = cls(rank=rank, l2_reg=l2_reg, random_state=seed, **params).fit(train)
        return est.predict

    return fit


def with_l2(ranks):
    """Our estimators choose (rank, l2_reg) on the same validation split the peers use for rank."""
    return [(r, l2) for r in ranks for l2 in L2_GRID]


def masked_parafac(train, rank, seed):
    from tensorly.decomposition import parafac

    dense, mask = dense_and_mask(train)
    cp = parafac(dense, rank, mask=mask, init="random", random_state=seed, n_iter_max=200, tol=1e-7)
    full = tl.cp_to_tensor(cp)
    return lambda idx: full[tuple(np.asarray(idx).T)]


def masked_tucker(train, rank, seed):
    from tensorly.decomposition import tucker

    dense, mask = dense_and_mask(train)
    tt = tucker(dense, rank, mask=mask, init="random", random_state=seed, n_iter_max=100, tol=1e-7)
    full = tl.tucker_to_tensor(tt)
    return lambda idx: full[tuple(np.asarray(idx).T)]


def gcp(train, rank, seed):
    import pyttb as ttb
    from pyttb.gcp.handles import Objectives
    from pyttb.gcp.optimizers import LBFGSB

    dense, mask = dense_and_mask(train)
    np.random.seed(seed)
    model, _, _ = ttb.gcp_opt(ttb.tensor(dense), rank, Objectives.GAUSSIAN, LBFGSB(), mask=ttb.tensor(mask),
                              printitn=0)
    full = model.full().data
    return lambda idx: full[tuple(np.asarray(idx).T)]


def select_and_fit(fit, ranks, train, seed=0):
    """Choose the rank on a 10% validation part of ``train``, then refit on all of it."""
    sub, val = train.split(0.1, random_state=seed + 100)
    errors = []
    for rank in ranks:
        predict = fit(sub, rank, seed)
        errors.append(np.sqrt(np.mean((predict(val.indices) - val.values) ** 2)))
    rank = ranks[int(np.argmin(errors))]
    t0 = time.perf_counter()
    predict = fit(train, rank, seed)
    return predict, rank, time.perf_counter() - t0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=["covid", "il2", "kinetic", "pines"])
    parser.add_argument("--no-peers", action="store_true")
    args = parser.parse_args()
    for case in args.cases:
        train, test = load(case)
        methods = {
            "ours CP plain": (ours(td.CPCompletion, method="plain"), with_l2(CP_RANKS)),
            "ours CP SAM": (ours(td.CPCompletion, method="sam"), with_l2(CP_RANKS)),
            "ours CP DAS": (ours(td.CPCompletion, method="das"), with_l2(CP_RANKS)),
            "ours Tucker plain": (ours(td.TuckerCompletion, method="plain"), with_l2(tucker_ranks(train.shape))),
        }
        if not args.no_peers:
            methods["tensorly masked parafac"] = (masked_parafac, CP_RANKS)
            methods["tensorly masked tucker"] = (masked_tucker, tucker_ranks(train.shape))
            try:
                import pyttb  # noqa: F401

                methods["pyttb gcp_opt L-BFGS-B"] = (gcp, CP_RANKS)
            except ImportError:
                pass
        print(f"\n{case}: shape {train.shape}, {train.nnz} training / {test.nnz} held-out entries")
        print(f"{'method':<28}{'chosen rank (, l2_reg)':>24}{'held-out R^2':>14}{'NRMSE':>9}{'fit s':>8}")
        for name, (fit, ranks) in methods.items():
            predict, rank, seconds = select_and_fit(fit, list(ranks), train)
            pred = predict(test.indices)
            print(f"{name:<28}{str(rank):>24}{td.r2_score(test.values, pred):>14.4f}"
                  f"{td.nrmse(test.values, pred):>9.4f}{seconds:>8.2f}", flush=True)


if __name__ == "__main__":
    main()
