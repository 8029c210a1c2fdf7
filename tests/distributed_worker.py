"""Run by tests/test_distributed.py under torchrun (2 processes, gloo): one rank's side."""

import json
import os
import sys

import numpy as np
import torch.distributed as dist

import tensorly_das as td
from tensorly_das.distributed import shard_rows
from tensorly_das.models import TuckerModel

CONFIGS = [
    ("CPCompletion", 3, "plain"),
    ("CPCompletion", 3, "sam"),
    ("CPCompletion", 3, "das"),
    ("TuckerCompletion", (3, 2, 3), "plain"),
    ("TuckerCompletion", (3, 2, 3), "sam"),
    ("TuckerCompletion", (3, 2, 3), "das"),
]
COMMON = dict(backend="pytorch", max_iter=25, lr=0.05, random_state=0, das_alpha=5.0, das_deviation="relative")


def problem():
    model = TuckerModel((9, 8, 7), (3, 2, 3))
    rng = np.random.default_rng(0)
    cores = model.init_cores(rng, 1.0)
    mask = rng.random(model.shape) < 0.5
    idx = np.argwhere(mask)
    values = model.predict(cores, [idx[:, n].copy() for n in range(3)])
    return td.ObservedTensor(idx, values, model.shape)


def main(out):
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    obs = problem().subset(shard_rows(problem().nnz, rank, world))
    results = {}
    for name, r, method in CONFIGS:
        est = getattr(td, name)(rank=r, method=method, early_stopping=False, distributed=True, **COMMON).fit(obs)
        np.savez(os.path.join(out, f"{name}-{method}-rank{rank}.npz"), *[c.numpy() for c in est.cores_])
    # early stopping: validation held out of each shard, decisions taken on reduced errors
    est = td.CPCompletion(rank=2, distributed=True, backend="pytorch", max_iter=300, n_iter_no_change=20,
                          random_state=0).fit(obs)
    results["early_stopping"] = {"n_iter": est.n_iter_, "best_iter": est.best_iter_,
                                 "val": est.history_["val_rmse"][-5:]}
    # a progress bar on rank 0 only
    td.CPCompletion(rank=3, distributed=True, backend="pytorch", max_iter=5, verbose=True,
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
