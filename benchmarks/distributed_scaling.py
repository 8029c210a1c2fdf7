"""Seconds per pass of a data-parallel CP fit with 1 and 2 gloo processes on this machine.

Run:  python -m benchmarks.distributed_scaling [--nnz 2000000] [--rank 10] [--iters 20]

Launches ``torchrun --standalone --nproc_per_node P`` for P = 1 and 2 (1 torch thread per
process), each rank fitting its shard of the same observations of a 300^3 CP tensor
(full batch, plain Adam, no early stopping), and prints seconds per pass as rank 0 measures
them, with the speed-up. Two processes on a 2-core machine is not a cluster: the all-reduce of
the (small) gradients is cheap, the observation work splits in two.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np


def problem(nnz, rank, size=300, seed=0):
    import tensorly_das as td
    from tensorly_das.models import CPModel

    rng = np.random.default_rng(seed)
    shape = (size, size, size)
    flat = rng.choice(size**3, size=nnz, replace=False)
    idx = np.stack(np.unravel_index(flat, shape), axis=1)
    model = CPModel(shape, rank)
    values = model.predict(model.init_cores(rng, 1.0), [idx[:, n].copy() for n in range(3)])
    return td.ObservedTensor(idx, values + 0.1 * rng.standard_normal(nnz), shape)


def worker(args):
    import torch
    import torch.distributed as dist

    import tensorly_das as td
    from tensorly_das.distributed import shard_rows

    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    r, world = dist.get_rank(), dist.get_world_size()
    obs = problem(args.nnz, args.rank)
    shard = obs.subset(shard_rows(obs.nnz, r, world))
    est = td.CPCompletion(rank=args.rank, method="plain", backend="pytorch", early_stopping=False,
                          max_iter=args.iters, n_iter_no_change=args.iters + 1, random_state=0,
                          distributed=True).fit(shard)
    if r == 0:
        with open(args.out, "w") as f:
            json.dump({"sec_per_pass": est.time_per_iter_, "loss": est.history_["loss"][-1]}, f)
    dist.destroy_process_group()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nnz", type=int, default=2_000_000)
    parser.add_argument("--rank", type=int, default=10)
    parser.add_argument("--iters", type=int, default=20)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join([root] + sys.path))
    rows = {}
    for procs in (1, 2):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "result.json")
            cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(procs),
                   "-m", "benchmarks.distributed_scaling", "--worker", "--out", out, "--nnz", str(args.nnz),
                   "--rank", str(args.rank), "--iters", str(args.iters)]
            subprocess.run(cmd, check=True, env=env, cwd=root, capture_output=True)
            with open(out) as f:
                rows[procs] = json.load(f)
    print(f"CP rank {args.rank}, 300^3, {args.nnz:,} observations, full batch, {args.iters} passes, gloo, "
          f"1 thread per process, {os.cpu_count()} CPUs")
    print(f"{'processes':>10}{'s/pass':>10}{'speed-up':>10}{'final loss':>14}")
    for procs, r in rows.items():
        print(f"{procs:>10}{r['sec_per_pass']:>10.3f}{rows[1]['sec_per_pass'] / r['sec_per_pass']:>10.2f}"
              f"{r['loss']:>14.6g}")


if __name__ == "__main__":
    main()
