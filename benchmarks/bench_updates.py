"""Cost of one plain, SAM and DAS step, and of the sparse gradient, measured in one run.

Run:  python -m benchmarks.bench_updates [--nnz 1000000] [--rank 10] [--backend numpy pytorch]

Prints one table per backend. Ratios are what to read (machines are noisy):
  DAS / plain  target <= 1.05      SAM / plain  expected about 2
  gradient / gather-multiply kernel  target <= 4
The gather-multiply kernel is the bare prediction ``sum_r prod_n A_n[i_n, r]`` over
the same observations: the least work any method must do per pass.
"""

import argparse
import statistics
import time

import numpy as np

from tensorly_das.backend import take_rows, to_backend
from tensorly_das.models import Batch, CPModel
from tensorly_das.updates import make_base_step, make_update


def median_time(fn, repeats):
    fn()  # warm up (allocations, torch kernels)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def gather_multiply(cores, mode_indices):
    prod = take_rows(cores[0], mode_indices[0])
    for core, idx in zip(cores[1:], mode_indices[1:]):
        prod = prod * take_rows(core, idx)
    return prod.sum(1)


def run(backend, shape, rank, nnz, repeats, seed=0):
    rng = np.random.default_rng(seed)
    flat = rng.choice(int(np.prod(shape)), size=nnz, replace=False)
    idx = np.stack(np.unravel_index(flat, shape), axis=1)
    model = CPModel(shape, rank)
    truth = model.init_cores(rng, 1.0)
    values = model.predict(truth, [idx[:, n].copy() for n in range(len(shape))])
    values = values + 0.1 * rng.standard_normal(nnz)
    batch = Batch([to_backend(idx[:, n].copy(), backend) for n in range(len(shape))], to_backend(values, backend))
    start = [to_backend(c, backend) for c in model.init_cores(rng, 1.0)]

    def grad_fn(cs):
        return model.loss_and_grads(cs, batch)

    rows = {}
    rows["gather-multiply kernel"] = median_time(lambda: gather_multiply(start, batch.mode_indices), repeats)
    rows["loss + gradient"] = median_time(lambda: grad_fn(start), repeats)
    for method, opts in (("plain", {}), ("sam", {"rho": 0.05}), ("das", {"alpha": 1.0, "deviation": "relative"})):
        cores = [c * 1.0 for c in start]
        update = make_update(method, make_base_step("adam", 1e-3), **opts)
        rows[f"{method} step (Adam)"] = median_time(lambda: update.step(cores, grad_fn, 0.5), repeats)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nnz", type=int, default=1_000_000)
    parser.add_argument("--rank", type=int, default=10)
    parser.add_argument("--shape", type=int, nargs="+", default=[200, 200, 200])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--backend", nargs="+", default=["numpy", "pytorch"])
    args = parser.parse_args()
    for backend in args.backend:
        if backend == "pytorch":
            try:
                import torch
            except ImportError:
                print("pytorch: not installed, skipped")
                continue
            threads = torch.get_num_threads()
        else:
            threads = "-"
        rows = run(backend, tuple(args.shape), args.rank, args.nnz, args.repeats)
        kernel, plain = rows["gather-multiply kernel"], rows["plain step (Adam)"]
        print(f"\n{backend} (torch threads: {threads}), CP shape {tuple(args.shape)}, rank {args.rank}, "
              f"nnz {args.nnz:,}, median of {args.repeats}")
        print(f"{'what':<26}{'ms':>10}{'/ plain step':>14}{'/ kernel':>10}")
        for name, seconds in rows.items():
            print(f"{name:<26}{1e3 * seconds:>10.1f}{seconds / plain:>14.2f}{seconds / kernel:>10.2f}")


if __name__ == "__main__":
    main()
