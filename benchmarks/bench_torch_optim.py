"""Seconds per training step of SGD, SAM and DAS on tensorized networks of growing width.

Run:  python -m benchmarks.bench_torch_optim [--repeats 100] [--sides 8 16 32 48]

Each network is two tensorized layers (width = side^2) and a linear head, on random data (batch
256): this package's TT layers (TT rank 8) and, when tensorly-torch is installed, its CP
``FactorizedLinear`` (rank 8, reconstructed weights). A step is zero_grad, forward, backward
and the update. The
optimizers are timed in one run, interleaved, and the median is reported. DAS adds a fixed
amount of work per step (the norms of the cores and their gradients, a few numbers of
arithmetic, one scaling of the cores), so its relative cost falls as the network grows; SAM's
second forward/backward keeps it near 2x. ``floor us`` is the median time of DAS's two tensor
operations alone (``torch._foreach_norm`` of cores and gradients, ``torch._foreach_mul_`` of the
cores), timed inside the same loop: no implementation of eq. 9 in eager PyTorch does less.

Where DAS's extra time goes, from three more optimizers timed in the same loop: ``groups us``
is SGD over DAS's parameter groups (one per tensorized layer, then the rest) minus SGD over
one group; ``book us`` is DAS with ``alpha=0`` (every step of its own but the rescaling) minus
SGD over those groups; ``rescale us`` is DAS minus DAS with ``alpha=0``. They add up to
``DAS-SGD us``, each a difference of medians, so small ones are noisy.
"""

import argparse
import importlib.util
import statistics
import time

import torch

from tensorly_das.torch import DAS, SAM, TTLinear, tensorized_layers, tensorized_param_groups


def tt_network(side, rank=8):
    return torch.nn.Sequential(
        TTLinear((side, side), (side, side), rank), torch.nn.ReLU(),
        TTLinear((side, side), (side, side), rank), torch.nn.ReLU(),
        torch.nn.Linear(side * side, 10),
    )


def cp_network(side, rank=8):
    import tltorch

    def layer():
        return tltorch.FactorizedLinear(in_tensorized_features=(side, side), out_tensorized_features=(side, side),
                                        factorization="cp", rank=rank, implementation="reconstructed")

    return torch.nn.Sequential(layer(), torch.nn.ReLU(), layer(), torch.nn.ReLU(), torch.nn.Linear(side * side, 10))


def time_step(net, side, repeats):
    """Median ms per step of SGD, SAM and DAS, and the floor in us (see the module docstring)."""
    loss_fn = torch.nn.CrossEntropyLoss()
    x = torch.randn(256, side * side)
    y = torch.randint(0, 10, (256,))
    opts = {
        "sgd": torch.optim.SGD(net.parameters(), lr=1e-3, momentum=0.9),
        "sam": SAM(net.parameters(), lr=1e-3, momentum=0.9),
        "das": DAS(net, lr=1e-3, momentum=0.9, alpha=0.2, total_steps=10**6),
        "sgd_groups": torch.optim.SGD(tensorized_param_groups(net), lr=1e-3, momentum=0.9),
        "das_off": DAS(net, lr=1e-3, momentum=0.9, alpha=0.0, alpha_schedule="constant"),
    }
    cores = [p for _, layer in tensorized_layers(net) for p in layer]

    def step(name):
        """Seconds of one training step (for "floor": of DAS's two kernels after its backward)."""
        t0 = time.perf_counter()
        opt = opts.get(name, opts["sgd"])
        opt.zero_grad()
        loss_fn(net(x), y).backward()
        if name == "floor":
            with torch.no_grad():
                t0 = time.perf_counter()
                torch._foreach_norm(cores + [p.grad for p in cores])
                torch._foreach_mul_(cores, [1.0] * len(cores))
        elif name == "sam":
            opt.step(lambda: (opt.zero_grad(), loss_fn(net(x), y).backward()))
        else:
            opt.step()
        return time.perf_counter() - t0

    names = list(opts) + ["floor"]
    times = {name: [] for name in names}
    for name in names:
        for _ in range(3):
            step(name)
    for _ in range(repeats):
        for name in names:
            times[name].append(step(name))
    med = {name: statistics.median(t) * 1e3 for name, t in times.items()}
    return med, sum(p.numel() for p in net.parameters())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=100)
    parser.add_argument("--sides", type=int, nargs="+", default=[8, 16, 32, 48])
    args = parser.parse_args()
    torch.manual_seed(0)
    networks = {"TT (ours)": tt_network}
    if importlib.util.find_spec("tltorch") is not None:
        networks["CP (tltorch)"] = cp_network
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch 256, median of {args.repeats}")
    print(f"{'layers':<14}{'width':>6}{'params':>9}{'SGD ms':>9}{'SAM ms':>9}{'DAS ms':>9}{'SAM/SGD':>9}"
          f"{'DAS/SGD':>9}{'DAS-SGD us':>12}{'floor us':>10}{'groups us':>11}{'book us':>9}{'rescale us':>12}")
    for label, build in networks.items():
        for side in args.sides:
            med, n_params = time_step(build(side), side, args.repeats)
            print(f"{label:<14}{side * side:>6}{n_params:>9}{med['sgd']:>9.2f}{med['sam']:>9.2f}{med['das']:>9.2f}"
                  f"{med['sam'] / med['sgd']:>9.2f}{med['das'] / med['sgd']:>9.2f}"
                  f"{(med['das'] - med['sgd']) * 1e3:>12.0f}{med['floor'] * 1e3:>10.0f}"
                  f"{(med['sgd_groups'] - med['sgd']) * 1e3:>11.0f}{(med['das_off'] - med['sgd_groups']) * 1e3:>9.0f}"
                  f"{(med['das'] - med['das_off']) * 1e3:>12.0f}")


if __name__ == "__main__":
    main()
