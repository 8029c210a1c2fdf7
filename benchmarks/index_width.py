"""What storing the entries' indices narrow costs a gradient pass: NumPy batches keep each
mode's indices in the narrowest unsigned type (16 bits for 1000-row modes) against int64.

Run:  python -m benchmarks.index_width [--nnz 1000000 8000000] [--repeats 7]

CP rank 10 on a 1000^3 tensor, random entries: the loss and gradients over every entry
(:meth:`TensorModel.loss_and_grads`, the work of a full-batch Adam/SGD/DAS pass) and the
predictions (a validation pass), timed on the same entries and cores with the two index types,
alternating in one process. Reported: median seconds of each and the ratio narrow/int64 of the
medians (below 1: narrow is faster), and the indices' memory.
"""

import argparse
import time

import numpy as np

from tensorly_das.models import Batch, CPModel


def timed(fn, repeats):
    """Seconds of each of ``repeats`` calls."""
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - start)
    return seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nnz", type=int, nargs="+", default=[1_000_000, 8_000_000])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    print(f"CP rank 10, 1000^3, random entries; median of {args.repeats} alternating runs per index type, "
          "one process")
    print(f"{'nnz':>11}  {'work':<16}{'narrow s':>10}{'int64 s':>10}{'narrow/int64':>14}{'index MB':>10}"
          f"{'int64 MB':>10}")
    for nnz in args.nnz:
        rng = np.random.default_rng(0)
        indices = np.stack([rng.integers(0, 1000, nnz) for _ in range(3)], axis=1)
        model = CPModel((1000,) * 3, 10)
        cores = model.init_cores(rng, 1.0)
        values = rng.standard_normal(nnz)
        batches = {"narrow": Batch.place(indices, values),
                   "int64": Batch([indices[:, n].copy() for n in range(3)], values.copy())}
        memory = {name: sum(i.nbytes for i in b.mode_indices) / 1e6 for name, b in batches.items()}
        work = {"loss and grads": lambda b: model.loss_and_grads(cores, b),
                "predict": lambda b: model.predict(cores, b.mode_indices)}
        for label, fn in work.items():
            seconds = {"narrow": [], "int64": []}
            for rep in range(args.repeats):  # alternate which goes first
                order = ("narrow", "int64") if rep % 2 else ("int64", "narrow")
                for name in order:
                    seconds[name] += timed(lambda: fn(batches[name]), 1)
            narrow, wide = np.median(seconds["narrow"]), np.median(seconds["int64"])
            print(f"{nnz:>11,}  {label:<16}{narrow:>10.3f}{wide:>10.3f}{narrow / wide:>14.2f}"
                  f"{memory['narrow']:>10.0f}{memory['int64']:>10.0f}", flush=True)


if __name__ == "__main__":
    main()
