"""Does DAS move the core norms the way SAM does? The paper's mechanism, measured.

Run:  python -m benchmarks.das_dynamics [--steps 600] [--seeds 3] [--plot docs/results/das_dynamics.png]

By the paper's Theorem 2 and eq. 9, DAS with ``lr * alpha = rho`` reproduces, to first order,
how SAM with radius ``rho`` changes each core's squared norm relative to the others (the part
that moves the norm deviation Q; both leave the shared part alone). Two measurements, on
completion problems (CP rank 3 on the COVID-19 serology tensor, 30% observed; synthetic CP
rank 4 and Tucker (4, 4, 4) of shape 40^3, 90% missing, 10% noise):

1. *One step from the same point.* Along a plain trajectory, every 20 steps, one step of SAM
   and one of DAS are taken from the current cores; each one's change of ``||G_k||^2`` minus
   the plain step's, centred over the cores (the deviation part), is compared: the slope of a
   least-squares fit of DAS's on SAM's (1: DAS tracks SAM) and their correlation. With SGD as
   the base step (the theorem's setting) and with Adam (the estimators' default).
2. *Whole runs from the same start.* Q after ``--steps`` full-batch steps of plain, SAM and DAS
   from the same random cores, and the held-out NRMSE (hidden entries), over ``--seeds``
   starts. Also DAS at the estimators' default (paper form, alpha = 1 at Adam's lr 0.05).

3. *The gallery's tensorized network* (``examples/plot_das_tensorized_network.py``: two TT
   layers on scikit-learn's digits, SGD with momentum, lr 0.05, batch 64, 15 epochs): the
   one-step comparison per TT layer and the final mean Q and test accuracy of SGD, SAM (rho
   0.05), DAS in the paper's form with ``lr * alpha = rho`` and DAS as the gallery runs it
   (relative deviation, alpha 1).

``--plot`` draws the Q trajectories of measurement 2 (first seed).
"""

import argparse

import numpy as np

import tensorly_das as td
from benchmarks.synthetic import make_problem
from tensorly_das.datasets import covid19_completion
from tensorly_das.fit import make_objective
from tensorly_das.models import Batch, CPModel, TuckerModel
from tensorly_das.norms import norm_deviation, squared_core_norms
from tensorly_das.updates import make_base_step, make_update

RHO = 0.05


def cases():
    """name: (model, train, hidden entries, their values, learning rate for SGD)."""
    covid, held = covid19_completion(0.3, random_state=0)
    cp, idx_cp, truth_cp = make_problem("cp", 0.9, 0.1, 0)
    tk, idx_tk, truth_tk = make_problem("tucker", 0.9, 0.1, 0)
    return {
        "COVID CP 3": (CPModel(covid.shape, 3), covid, held.indices, held.values, 0.05),
        "synthetic CP 4": (CPModel(cp.shape, 4), cp, idx_cp, truth_cp, 0.5),
        "synthetic Tucker 4,4,4": (TuckerModel(tk.shape, (4, 4, 4)), tk, idx_tk, truth_tk, 0.5),
    }


def updates(solver, lr, rho=RHO):
    """plain, SAM(rho) and DAS with lr * alpha = rho (paper form, unbounded in practice)."""
    return {
        "plain": make_update("plain", make_base_step(solver, lr)),
        "sam": make_update("sam", make_base_step(solver, lr), rho=rho),
        "das": make_update("das", make_base_step(solver, lr), alpha=rho / lr, alpha_schedule="constant",
                           max_scale=0.5),
    }


def start_rng(seed):
    """The random start's generator: a stream of its own, since the synthetic problems draw
    their truth from ``default_rng(0)`` (sharing it would start seed 0 at the truth)."""
    return np.random.default_rng([seed, 0xDA5])


def one_step_comparison(model, obs, solver, lr, seed, steps=200, every=20):
    """(slope, correlation) of DAS's centred excess change of ||G_k||^2 on SAM's."""
    rng = start_rng(seed)
    batch = Batch.place(obs.indices, obs.values)
    objective = make_objective(model, batch)
    cores = model.init_cores(rng, float(np.std(obs.values)))
    walker = make_update("plain", make_base_step(solver, lr))
    sam_x, das_y = [], []
    for t in range(steps):
        if t % every == 0:
            changes = {}
            for name, update in updates(solver, lr).items():
                if solver == "adam":  # the same moments as the walker for a fair one-step comparison
                    update.base.__dict__.update({k: (v.copy() if hasattr(v, "copy") else v)
                                                 for k, v in walker.base.__dict__.items() if k.startswith("_")})
                trial = [c.copy() for c in cores]
                update.step(trial, objective, 0.0)
                changes[name] = squared_core_norms(trial) - squared_core_norms(cores)
            for name, series in (("sam", sam_x), ("das", das_y)):
                excess = changes[name] - changes["plain"]
                series.extend(excess - excess.mean())
        walker.step(cores, objective, 0.0)
    x, y = np.asarray(sam_x), np.asarray(das_y)
    slope = float(x @ y / (x @ x)) if x @ x > 0 else float("nan")
    corr = float(np.corrcoef(x, y)[0, 1]) if x.std() > 0 and y.std() > 0 else float("nan")
    return slope, corr


def whole_runs(model, obs, held_idx, held_values, lr, seed, steps):
    """Q trajectories and held-out NRMSE of full-batch runs from one start (SGD and Adam)."""
    batch = Batch.place(obs.indices, obs.values)
    objective = make_objective(model, batch)
    start = model.init_cores(start_rng(seed), float(np.std(obs.values)))
    runs = {f"SGD {k}": v for k, v in updates("sgd", lr).items()}
    runs["Adam plain"] = make_update("plain", make_base_step("adam", 0.05))
    runs["Adam das (estimator default)"] = make_update("das", make_base_step("adam", 0.05), alpha=1.0,
                                                       alpha_schedule="constant")
    runs["Adam sam"] = make_update("sam", make_base_step("adam", 0.05), rho=RHO)
    out = {}
    for name, update in runs.items():
        cores = [c.copy() for c in start]
        q = [float(norm_deviation(cores))]
        with np.errstate(all="ignore"):
            for _ in range(steps):
                update.step(cores, objective, 0.0)
                q.append(float(norm_deviation(cores)))
        pred = model.predict(cores, [held_idx[:, n].copy() for n in range(held_idx.shape[1])])
        out[name] = (q, td.nrmse(held_values, pred))
    return out


def _digits():
    import torch
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X / 16.0, y, test_size=0.3, random_state=0, stratify=y)
    return (torch.tensor(Xtr, dtype=torch.float32), torch.tensor(Xte, dtype=torch.float32),
            torch.tensor(ytr), torch.tensor(yte))


def _network(seed):
    import torch

    from tensorly_das.torch import TTLinear

    torch.manual_seed(seed)
    return torch.nn.Sequential(
        TTLinear((8, 8), (8, 8), rank=4), torch.nn.ReLU(), TTLinear((8, 8), (4, 8), rank=4),
        torch.nn.ReLU(), torch.nn.Linear(32, 10))


NET_RUNS = {
    "SGD": {},
    "SAM rho 0.05": {"rho": RHO},
    "DAS paper, lr*alpha = rho": {"alpha": RHO / 0.05, "alpha_schedule": "constant"},
    "DAS relative, alpha 1 (gallery)": {"alpha": 1.0, "deviation": "relative", "alpha_schedule": "constant"},
}


def _optimizer(name, net, steps):
    import torch

    from tensorly_das.torch import DAS, SAM

    options = NET_RUNS[name]
    if name == "SGD":
        return torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    if name.startswith("SAM"):
        return SAM(net.parameters(), lr=0.05, momentum=0.9, **options)
    return DAS(net, lr=0.05, momentum=0.9, total_steps=steps, **options)


def network_part(seeds, epochs=15, batch=64):
    import copy

    import torch

    from tensorly_das.torch import layer_diagnostics

    Xtr, Xte, ytr, yte = _digits()
    loss_fn = torch.nn.CrossEntropyLoss()
    steps = epochs * ((len(ytr) + batch - 1) // batch)

    def closure_for(net, opt, idx):
        def closure():
            opt.zero_grad()
            loss = loss_fn(net(Xtr[idx]), ytr[idx])
            loss.backward()
            return loss
        return closure

    def take_step(name, net, opt, idx):
        closure = closure_for(net, opt, idx)
        closure()
        opt.step(closure) if name.startswith("SAM") else opt.step()

    def sq_norms(net):  # the TT cores (4-way parameters) of both layers
        return np.array([float(torch.sum(p.detach() ** 2)) for p in net.parameters() if p.dim() >= 3])

    print("\n3. the gallery's network (digits, two TT layers, SGD momentum lr 0.05, 15 epochs); "
          f"median over {seeds} seeds")
    print(f"{'run':<34}{'final mean Q':>14}{'test accuracy':>15}{'one-step slope vs SAM':>24}{'corr':>7}")
    for name in NET_RUNS:
        finals, accs, slopes, corrs = [], [], [], []
        for seed in range(seeds):
            net, gen = _network(seed), torch.Generator().manual_seed(seed)
            opt = _optimizer(name, net, steps)
            xs, ys = [], []
            for epoch in range(epochs):
                perm = torch.randperm(len(ytr), generator=gen)
                for k, start in enumerate(range(0, len(ytr), batch)):
                    idx = perm[start : start + batch]
                    if name.startswith("DAS") and epoch % 5 == 0 and k == 0:
                        # one step of SGD, SAM and this DAS from the current point
                        change = {}
                        for other in ("SGD", "SAM rho 0.05", name):
                            trial, trial_opt = copy.deepcopy(net), None
                            trial_opt = _optimizer(other, trial, steps)
                            before = sq_norms(trial)
                            take_step(other, trial, trial_opt, idx)
                            change[other] = sq_norms(trial) - before
                        sam = change["SAM rho 0.05"] - change["SGD"]
                        das = change[name] - change["SGD"]
                        xs.extend(sam - sam.mean())
                        ys.extend(das - das.mean())
                    take_step(name, net, opt, idx)
            with torch.no_grad():
                accs.append((net(Xte).argmax(1) == yte).float().mean().item())
            finals.append(np.mean([float(d["norm_deviation"]) for d in layer_diagnostics(net)]))
            if xs:
                x, y = np.asarray(xs), np.asarray(ys)
                slopes.append(x @ y / (x @ x))
                corrs.append(np.corrcoef(x, y)[0, 1])
        slope = f"{np.median(slopes):>16.3f}" if slopes else f"{'':>16}"
        corr = f"{np.median(corrs):>13.3f}" if corrs else ""
        print(f"{name:<34}{np.median(finals):>14.3g}{np.median(accs):>15.3f}{slope}{corr}", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--plot", default=None)
    args = parser.parse_args(argv)
    problems = cases()
    print(f"1. one step from the same point (every 20 steps of a plain run, 200 steps; rho = {RHO}, "
          "DAS alpha = rho / lr): DAS's centred excess change of ||G_k||^2 against SAM's")
    print(f"{'case':<24}{'base':<6}{'slope (median over seeds)':>28}{'correlation':>14}")
    for name, (model, obs, _, _, lr) in problems.items():
        for solver, step in (("sgd", lr), ("adam", 0.05)):
            res = np.array([one_step_comparison(model, obs, solver, step, s) for s in range(args.seeds)])
            print(f"{name:<24}{solver:<6}{np.median(res[:, 0]):>20.3f} [{res[:, 0].min():.2f}, "
                  f"{res[:, 0].max():.2f}]{np.median(res[:, 1]):>10.3f}", flush=True)
    print(f"\n2. whole runs, {args.steps} full-batch steps from the same random start; "
          f"median over {args.seeds} starts [range]")
    print(f"{'case':<24}{'run':<30}{'Q at start':>12}{'Q at end':>22}{'held-out NRMSE':>24}")
    trajectories = {}
    for name, (model, obs, held_idx, held_values, lr) in problems.items():
        per_seed = [whole_runs(model, obs, held_idx, held_values, lr, s, args.steps) for s in range(args.seeds)]
        trajectories[name] = per_seed[0]
        for run in per_seed[0]:
            q0 = np.median([r[run][0][0] for r in per_seed])
            q1 = np.array([r[run][0][-1] for r in per_seed])
            err = np.array([r[run][1] for r in per_seed])
            print(f"{name:<24}{run:<30}{q0:>12.3g}{np.median(q1):>10.3g} [{q1.min():.2g}, {q1.max():.2g}]"
                  f"{np.median(err):>12.4f} [{err.min():.3f}, {err.max():.3f}]", flush=True)
    network_part(args.seeds)
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, len(trajectories), figsize=(5 * len(trajectories), 3.6))
        for ax, (name, runs) in zip(np.atleast_1d(axes), trajectories.items()):
            for run, (q, _) in runs.items():
                ax.semilogy(np.maximum(q, 1e-12), label=run, lw=1.2,
                            ls="-" if run.startswith("SGD") else "--")
            ax.set_title(name)
            ax.set_xlabel("step")
            ax.set_ylabel("norm deviation Q")
        np.atleast_1d(axes)[0].legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(args.plot, dpi=110)
        print(f"\nplot: {args.plot}")


if __name__ == "__main__":
    main()
