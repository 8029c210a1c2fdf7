"""What a pass costs beyond the loss and gradient, and torch's CPU threads against NumPy.

Run:  python -m benchmarks.pass_cost [--cases il2 covid pines] [--passes 200] [--load]

For each case (a real tensor of ``benchmarks.real_data`` and a model), in one run:

- ``loss+grad``: one evaluation of the training loss and its gradients (the least an Adam pass
  must do), median of repeats;
- ``Adam pass``: the fit loop's median time per pass (from ``history_["time"]``, so the start is
  not counted) of an Adam fit with early stopping (validation RMSE, history, divergence guard,
  best-state snapshots every pass);
- ``ALS sweep``: the same for block least squares;
- the ratio Adam pass / loss+grad (target <= 1.3).

Every row runs on NumPy and on torch (CPU), each with one thread and with one per CPU (torch's
threads and the BLAS threads NumPy's products use, set with ``threadpoolctl``).
``--load`` repeats the table with one busy process per CPU running beside it (a shared server
or CI box), where threads wait for busy cores. The estimators' own choice of threads for small
fits (:func:`tensorly_das.backend.small_fit_threads`) is turned off here, so each row runs with
the threads it names.
"""

import argparse
import multiprocessing
import os
import warnings

import numpy as np

import tensorly_das as td
from benchmarks.bench_updates import median_time
from benchmarks.real_data import load
from tensorly_das.backend import to_backend
from tensorly_das.models import Batch

CASES = {
    "il2": ("il2", "cp", 5),
    "covid": ("covid", "tucker", (8, 6, 8)),
    "pines": ("pines", "cp", 8),
}
ESTIMATORS = {"cp": td.CPCompletion, "tucker": td.TuckerCompletion}


def _spin(stop):
    while not stop.is_set():
        sum(i * i for i in range(10_000))


def measure(case, backend, threads, passes):
    from threadpoolctl import threadpool_limits

    import_torch = backend == "pytorch"
    if import_torch:
        import torch

        saved = torch.get_num_threads()
        torch.set_num_threads(threads)
    limits = threadpool_limits(threads)  # NumPy's BLAS (OpenBLAS, MKL)
    from tensorly_das import backend as backend_module

    small_work, backend_module.SMALL_WORK = backend_module.SMALL_WORK, 0  # the threads set here
    try:
        name, model_name, rank = CASES[case]
        train, _, _ = load(name)
        cls = ESTIMATORS[model_name]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            probe = cls(rank=rank, max_iter=1, l2_reg=0.0, backend=backend, random_state=0).fit(train)
        model = probe.model_
        cores = [to_backend(c, backend) for c in probe.cores_]
        batch = Batch.place(train.indices, train.values, backend)
        grad = median_time(lambda: model.loss_and_grads(cores, batch), 20)
        row = {"loss+grad": grad}
        for solver in ("adam", "als"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                est = cls(rank=rank, solver=solver, max_iter=passes, n_iter_no_change=passes, l2_reg=0.0,
                          backend=backend, random_state=0).fit(train)
            row[solver] = float(np.median(np.diff(est.history_["time"])))  # passes only, no start
        return row
    finally:
        backend_module.SMALL_WORK = small_work
        limits.restore_original_limits()
        if import_torch:
            torch.set_num_threads(saved)


def table(args, title):
    print(f"\n{title}")
    print(f"{'case':<28}{'backend':<18}{'loss+grad ms':>14}{'Adam pass ms':>14}{'pass/grad':>11}"
          f"{'ALS sweep ms':>14}")
    for case in args.cases:
        name, model_name, rank = CASES[case]
        label = f"{name} {model_name} {rank}"
        configs = [("numpy, 1 thread", "numpy", 1), (f"numpy, {os.cpu_count()} threads", "numpy", os.cpu_count())]
        if args.torch:
            configs += [("torch, 1 thread", "pytorch", 1),
                        (f"torch, {os.cpu_count()} threads", "pytorch", os.cpu_count())]
        for tag, backend, threads in configs:
            row = measure(case, backend, threads, args.passes)
            print(f"{label:<28}{tag:<18}{row['loss+grad'] * 1e3:>14.2f}{row['adam'] * 1e3:>14.2f}"
                  f"{row['adam'] / row['loss+grad']:>11.2f}{row['als'] * 1e3:>14.2f}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--passes", type=int, default=200)
    parser.add_argument("--load", action="store_true", help="also measure beside one busy process per CPU")
    parser.add_argument("--no-torch", dest="torch", action="store_false")
    args = parser.parse_args()
    table(args, "quiet machine")
    if args.load:
        stop = multiprocessing.Event()
        workers = [multiprocessing.Process(target=_spin, args=(stop,)) for _ in range(os.cpu_count())]
        for w in workers:
            w.start()
        try:
            table(args, f"beside {len(workers)} busy processes")
        finally:
            stop.set()
            for w in workers:
                w.join()


if __name__ == "__main__":
    main()
