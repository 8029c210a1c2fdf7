"""Seconds per training step of SGD, SAM and DAS on tensorized networks of growing width.

Run:  python -m benchmarks.bench_torch_optim [--repeats 30]

Each network is two TT layers (width = side^2, TT rank 8) and a linear head, on random data
(batch 256). A step is zero_grad, forward, backward and the update. The optimizers are timed
in one run, interleaved, and the median is reported. DAS adds a fixed amount of work per step
(one pass over the core norms, independent of the batch), so its relative cost falls as the
network grows; SAM's second forward/backward keeps it near 2x.
"""

import argparse
import statistics
import time

import torch

from tensorly_das.torch import DAS, SAM, TTLinear


def network(side, rank=8):
    width = side * side
    return torch.nn.Sequential(
        TTLinear((side, side), (side, side), rank), torch.nn.ReLU(),
        TTLinear((side, side), (side, side), rank), torch.nn.ReLU(),
        torch.nn.Linear(width, 10),
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--sides", type=int, nargs="+", default=[8, 16, 32, 48])
    args = parser.parse_args()
    torch.manual_seed(0)
    loss_fn = torch.nn.CrossEntropyLoss()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch 256, median of {args.repeats}")
    print(f"{'width':>7}{'params':>10}{'SGD ms':>10}{'SAM ms':>10}{'DAS ms':>10}{'SAM/SGD':>9}{'DAS/SGD':>9}")
    for side in args.sides:
        net = network(side)
        x = torch.randn(256, side * side)
        y = torch.randint(0, 10, (256,))
        opts = {
            "sgd": torch.optim.SGD(net.parameters(), lr=1e-3, momentum=0.9),
            "sam": SAM(net.parameters(), lr=1e-3, momentum=0.9),
            "das": DAS(net, lr=1e-3, momentum=0.9, alpha=0.2, total_steps=10**6),
        }

        def step(name):
            opt = opts[name]
            opt.zero_grad()
            loss_fn(net(x), y).backward()
            if name == "sam":
                opt.step(lambda: (opt.zero_grad(), loss_fn(net(x), y).backward()))
            else:
                opt.step()

        times = {name: [] for name in opts}
        for name in opts:
            for _ in range(3):
                step(name)
        for _ in range(args.repeats):
            for name in opts:
                t0 = time.perf_counter()
                step(name)
                times[name].append(time.perf_counter() - t0)
        med = {name: statistics.median(t) * 1e3 for name, t in times.items()}
        n_params = sum(p.numel() for p in net.parameters())
        print(f"{side * side:>7}{n_params:>10}{med['sgd']:>10.2f}{med['sam']:>10.2f}{med['das']:>10.2f}"
              f"{med['sam'] / med['sgd']:>9.2f}{med['das'] / med['sgd']:>9.2f}")


if __name__ == "__main__":
    main()
