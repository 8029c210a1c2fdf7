"""Run by tests/test_distributed.py under torchrun (gloo on localhost): one rank's side."""

import json
import os
import sys

import numpy as np
import torch.distributed as dist

import tensorly_das as td
from tensorly_das.models import TuckerModel
from tensorly_das.updates import block_ls

#: (estimator, rank, method, batch_size, extra parameters); every fit keeps early stopping
CONFIGS = [
    ("CPCompletion", 3, "plain", None, {}),
    ("CPCompletion", 3, "sam", None, {}),
    ("CPCompletion", 3, "das", None, {}),
    ("TuckerCompletion", (3, 2, 3), "das", None, {}),
    ("CPCompletion", 3, "das", 50, {}),
    ("TuckerCompletion", (3, 2, 3), "plain", 40, {}),
    ("TuckerCompletion", (3, 2, 3), "plain", None, {}),  # block least squares, core by CG (see fit)
    ("TRCompletion", 2, "plain", None, {}),  # block least squares
    ("CPCompletion", 3, "plain", None, {"final_sweeps": 2}),  # then sweeps on all entries
]
COMMON = dict(backend="pytorch", max_iter=25, lr=0.05, random_state=0, das_alpha=5.0, das_deviation="relative")
#: share of the entries each rank holds, by world size: uneven on purpose
SHARES = {1: [1.0], 2: [0.7, 0.3], 3: [0.5, 0.35, 0.15]}


def problem():
    model = TuckerModel((9, 8, 7), (3, 2, 3))
    rng = np.random.default_rng(0)
    cores = model.init_cores(rng, 1.0)
    mask = rng.random(model.shape) < 0.5
    idx = np.argwhere(mask)
    values = model.predict(cores, [idx[:, n].copy() for n in range(3)])
    return td.ObservedTensor(idx, values, model.shape)


def shard(obs, rank, world):
    """An uneven share of the entries, scattered over the tensor."""
    order = np.random.default_rng(1).permutation(obs.nnz)
    edges = np.round(np.cumsum([0.0] + SHARES[world]) * obs.nnz).astype(int)
    return obs.subset(np.sort(order[edges[rank] : edges[rank + 1]]))


def fit(name, rank, method, batch_size, extra, data, **params):
    params = {**extra, **params}
    # block least squares solves Tucker's core (18 unknowns) by conjugate gradients here, so the
    # all-reduced CG runs too; every other core keeps its exact normal equations
    saved, block_ls.EXACT_WIDTH = block_ls.EXACT_WIDTH, 8
    try:
        est = getattr(td, name)(rank=rank, method=method, batch_size=batch_size, shape=data.shape, **COMMON,
                                **params)
        return est.fit(data.indices, data.values)
    finally:
        block_ls.EXACT_WIDTH = saved


def main(out):
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    obs = shard(problem(), rank, world)
    results = {"n_local": obs.nnz}
    for k, config in enumerate(CONFIGS):
        est = fit(*config, obs, distributed=True)
        np.savez(os.path.join(out, f"config{k}-rank{rank}.npz"), *[c.numpy() for c in est.cores_])
        results[f"config{k}"] = {"n_iter": est.n_iter_, "best_val_rmse": est.best_val_rmse_}
    # a progress bar on rank 0 only
    td.CPCompletion(rank=3, distributed=True, backend="pytorch", max_iter=5, verbose=True, l2_reg=0.0,
                    early_stopping=False, random_state=0).fit(obs)
    # ranks that disagree, and an empty shard, get a clear error on every rank
    for case, kwargs, data in (
        ("disagree", {"rank": 2 + rank}, obs),
        ("empty", {"rank": 2}, (np.zeros((0, 3), int), np.zeros(0)) if rank == 1 else (obs.indices, obs.values)),
    ):
        try:
            est = td.CPCompletion(distributed=True, backend="pytorch", shape=obs.shape, max_iter=3, **kwargs)
            est.fit(*data) if isinstance(data, tuple) else est.fit(data)
            results[case] = "no error"
        except ValueError as err:
            results[case] = str(err)
    with open(os.path.join(out, f"results-rank{rank}.json"), "w") as f:
        json.dump(results, f)
    dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])
