"""The paper's network experiments in miniature, on scikit-learn's digits (ships offline).

Run:  python -m benchmarks.nn_digits [--seeds 3] [--experiment noise compress peft]

noise     TT-layer MLP trained on digits whose training labels are 40/60/80% symmetrically
          corrupted; test accuracy on clean labels (the paper's Table 2 in miniature).
compress  a dense MLP is trained, its hidden layers compressed to TT (TT-SVD, rank 4), then
          fine-tuned (the paper's Table 3 in miniature).
peft      an MLP pretrained on digits 0-4 is adapted to digits 5-9 with tensorized adapters
          only (Tucker A G B^T as in FLoRA, or TT as in LoRETTA; Tables 4-5 in miniature).

Optimizers: the base (SGD with momentum, or Adam), SAM (rho 0.05), DAS as in the authors'
network code (paper form, ||G_k|| denominator, alpha 0.2, linear decay) and DAS with the
loss-scale-free relative deviation (alpha 1.0). Each row: mean +/- std test accuracy over the
seeds, seconds per optimizer step (zero_grad, forward, backward and update; measured in the
same run for all optimizers), and the mean norm deviation Q of the tensorized layers at the end.
"""

import argparse
import time

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from tensorly_das.torch import DAS, SAM, TTLinear, add_adapters, layer_diagnostics

torch.set_num_threads(2)


def digits(seed, classes=None):
    X, y = load_digits(return_X_y=True)
    if classes is not None:
        keep = np.isin(y, classes)
        X, y = X[keep], y[keep]
    Xtr, Xte, ytr, yte = train_test_split(X / 16.0, y, test_size=0.3, random_state=seed, stratify=y)
    mean, std = Xtr.mean(0), Xtr.std(0) + 1e-6
    t = lambda a: torch.tensor(a, dtype=torch.float32)  # noqa: E731
    return t((Xtr - mean) / std), torch.tensor(ytr), t((Xte - mean) / std), torch.tensor(yte)


def corrupt(y, rate, seed, n_classes=10):
    rng = np.random.default_rng(seed)
    y = y.clone()
    flip = rng.random(len(y)) < rate
    # symmetric noise: a flipped label becomes one of the other classes uniformly
    offsets = rng.integers(1, n_classes, size=int(flip.sum()))
    y[torch.tensor(flip)] = (y[torch.tensor(flip)] + torch.tensor(offsets)) % n_classes
    return y


def make_optimizer(name, model, base, lr, total_steps, rho, alpha):
    kwargs = {"lr": lr, "momentum": 0.9} if base is torch.optim.SGD else {"lr": lr}
    if name == "base":
        return base([p for p in model.parameters() if p.requires_grad], **kwargs)
    if name == "sam":
        return SAM([p for p in model.parameters() if p.requires_grad], base, rho=rho, **kwargs)
    if name == "das-rel":
        return DAS(model, base, alpha=1.0, total_steps=total_steps, deviation="relative", **kwargs)
    return DAS(model, base, alpha=alpha, total_steps=total_steps, denominator="norm", **kwargs)


def train(model, name, data, epochs, lr, seed, base=torch.optim.SGD, rho=0.05, alpha=0.2, batch=64):
    Xtr, ytr, Xte, yte = data
    steps_per_epoch = (len(ytr) + batch - 1) // batch
    opt = make_optimizer(name, model, base, lr, epochs * steps_per_epoch, rho, alpha)
    loss_fn = torch.nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(seed)
    step_time, steps = 0.0, 0
    for _ in range(epochs):
        perm = torch.randperm(len(ytr), generator=gen)
        for start in range(0, len(ytr), batch):
            idx = perm[start : start + batch]
            x, y = Xtr[idx], ytr[idx]
            t0 = time.perf_counter()
            opt.zero_grad()
            loss_fn(model(x), y).backward()
            if name == "sam":
                opt.step(lambda: (opt.zero_grad(), loss_fn(model(x), y).backward()))
            else:
                opt.step()
            step_time += time.perf_counter() - t0
            steps += 1
    with torch.no_grad():
        acc = (model(Xte).argmax(1) == yte).float().mean().item()
    qs = [float(d["norm_deviation"]) for d in layer_diagnostics(model)]
    return acc, step_time / steps, float(np.mean(qs)) if qs else float("nan")


def tt_mlp(rank=8):
    return torch.nn.Sequential(
        TTLinear((8, 8), (8, 16), rank), torch.nn.ReLU(),
        TTLinear((8, 16), (8, 8), rank), torch.nn.ReLU(),
        torch.nn.Linear(64, 10),
    )


def dense_mlp(out=10):
    return torch.nn.Sequential(
        torch.nn.Linear(64, 256), torch.nn.ReLU(), torch.nn.Linear(256, 128), torch.nn.ReLU(), torch.nn.Linear(128, out)
    )


def table(title, rows):
    print(f"\n{title}")
    print(f"{'setting':<30}{'optimizer':<10}{'test accuracy':>18}{'s/step':>10}{'vs base':>9}{'Q':>10}")
    for setting, by_opt in rows.items():
        base_time = np.mean([r[1] for r in by_opt["base"]])
        for name, results in by_opt.items():
            r = np.array(results)
            print(f"{setting:<30}{name:<10}{100 * r[:, 0].mean():>10.2f} +/- {100 * r[:, 0].std():.2f}"
                  f"{r[:, 1].mean():>10.2e}{r[:, 1].mean() / base_time:>9.2f}{np.nanmean(r[:, 2]):>10.3g}",
                  flush=True)


OPTIMIZERS = ("base", "sam", "das", "das-rel")


def run_noise(seeds):
    rows = {}
    for rate in (0.4, 0.6, 0.8):
        rows[f"TT-MLP, {int(rate * 100)}% label noise"] = by_opt = {k: [] for k in OPTIMIZERS}
        for seed in range(seeds):
            Xtr, ytr, Xte, yte = digits(seed)
            data = (Xtr, corrupt(ytr, rate, seed), Xte, yte)
            for name in OPTIMIZERS:
                torch.manual_seed(seed)
                by_opt[name].append(train(tt_mlp(), name, data, epochs=30, lr=0.02, seed=seed))
    table("label noise (SGD momentum 0.9, lr 0.02, 30 epochs)", rows)


def run_compress(seeds):
    rows = {"dense -> TT rank 4, fine-tune": {k: [] for k in OPTIMIZERS}}
    before = []
    for seed in range(seeds):
        data = digits(seed)
        torch.manual_seed(seed)
        dense = dense_mlp()
        train(dense, "base", data, epochs=20, lr=0.05, seed=seed)
        for name in OPTIMIZERS:
            compressed = torch.nn.Sequential(
                TTLinear.from_linear(dense[0], (8, 8), (16, 16), rank=4), torch.nn.ReLU(),
                TTLinear.from_linear(dense[2], (16, 16), (8, 16), rank=4), torch.nn.ReLU(),
                torch.nn.Linear(128, 10),
            )
            compressed[4].load_state_dict(dense[4].state_dict())
            if name == "base":
                with torch.no_grad():
                    before.append((compressed(data[2]).argmax(1) == data[3]).float().mean().item())
            torch.manual_seed(seed)
            rows["dense -> TT rank 4, fine-tune"][name].append(
                train(compressed, name, data, epochs=10, lr=0.01, seed=seed))
    print(f"\naccuracy right after compression (no fine-tuning): {100 * np.mean(before):.2f} +/- {100 * np.std(before):.2f}")
    table("compress then fine-tune (SGD momentum 0.9, lr 0.01, 10 epochs)", rows)


def run_peft(seeds):
    rows = {}
    for kind in ("tucker", "tt"):
        rows[f"{kind} adapters, 0-4 -> 5-9"] = by_opt = {k: [] for k in OPTIMIZERS}
        for seed in range(seeds):
            torch.manual_seed(seed)
            pre = dense_mlp()
            train(pre, "base", digits(seed, classes=[0, 1, 2, 3, 4]), epochs=20, lr=0.05, seed=seed)
            target = digits(seed, classes=[5, 6, 7, 8, 9])
            for name in OPTIMIZERS:
                model = dense_mlp()
                model.load_state_dict(pre.state_dict())
                torch.manual_seed(seed)
                modes = {"0": ((8, 8), (16, 16)), "2": ((16, 16), (8, 16)), "4": ((8, 16), (2, 5))}
                add_adapters(model, ["0", "2", "4"], kind=kind, rank=4, modes=modes)
                by_opt[name].append(train(model, name, target, epochs=15, lr=3e-3, seed=seed,
                                          base=torch.optim.Adam))
    table("parameter-efficient fine-tuning, adapters only (Adam lr 3e-3, 15 epochs)", rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--experiment", nargs="+", default=["noise", "compress", "peft"])
    args = parser.parse_args()
    t0 = time.perf_counter()
    for name in args.experiment:
        {"noise": run_noise, "compress": run_compress, "peft": run_peft}[name](args.seeds)
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
