"""Does DAS move the core norms the way SAM does? The paper's mechanism, measured.

Run:  python -m benchmarks.das_dynamics [--steps 600] [--seeds 3] [--plot docs/results/das_dynamics.png]

The matched strength. Beyond plain SGD's step, a SAM step of radius ``rho`` changes each core's
squared norm by ``2 lr rho u ||g_k||^2`` plus a part shared by the cores of a layer (the paper's
Theorem 2: the cores enter the loss multilinearly), ``u = 1 / ||g||``; a DAS step (eq. 9) by
``2 lr alpha u (||g_k||^2 - gbar)``. Both carry the step's ``lr``, so DAS matches SAM at
``alpha = rho`` (not ``lr * alpha = rho``, which this benchmark used up to commit cbeddda and which
made DAS ``1 / lr`` times too strong). Three measurements:

1. *One step from the same point* on completion problems (CP rank 3 on the COVID-19 serology
   tensor, 30% observed; synthetic CP rank 4 and Tucker (4, 4, 4) of shape 40^3, 90% missing,
   10% noise). Along a plain trajectory, every 20 steps, one step of SAM and one of DAS
   (``alpha = rho``) are taken from the current cores (and, with Adam, from copies of the
   current moments); each one's change of ``||G_k||^2`` minus the plain step's, centred over
   the cores (the part that moves Q), is compared: the slope of a least-squares fit of DAS's on
   SAM's (1: DAS tracks SAM) and their correlation, over the whole trajectory and over its
   second half. With SGD (the theorem's setting) and with Adam, whose per-coordinate scaling
   acts on SAM's perturbed gradient but not on DAS's rescaling.
2. *Whole runs from the same start*: Q after ``--steps`` full-batch steps of plain, SAM and DAS
   from the same random cores, and the held-out NRMSE (hidden entries), over ``--seeds``
   starts; DAS at ``alpha = rho`` and at the estimators' ``das_alpha=1``.
3. *Tensorized networks* on scikit-learn's digits (two tensorized layers and a linear head, SGD
   with momentum 0.9, lr 0.05, batch 64, 15 epochs): this package's TT layers (the gallery's
   ``examples/plot_das_tensorized_network.py``) and tensorly-torch's CP, Tucker and block-TT
   ``FactorizedLinear`` layers when it is installed. Runs: SGD, SAM (rho 0.05), DAS at
   ``alpha = rho`` with ``u`` per layer (the optimizer's default, the authors' network code) and
   with ``u`` over every parameter (``gradient_norm="global"``, SAM's), the latter also at
   ``alpha = rho / (1 - momentum)`` (SGD's momentum buffer sums SAM's perturbed gradients over
   about ``1 / (1 - momentum)`` steps, while DAS's rescaling bypasses it), and DAS at
   ``alpha = 1`` (``rho / lr``, the gallery's setting until this measurement). Reported: final mean Q over the
   layers, test accuracy, and the one-step slope of DAS's centred change on SAM's per layer
   (every 5 epochs, in float64 copies of the network, each optimizer fresh), with the ratio
   ``||g|| / ||g_layer||`` by which the layer's ``u`` exceeds SAM's.

``--plot`` draws the Q trajectories of measurement 2 (first seed).
"""

import argparse
import copy

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
    """plain, SAM(rho) and DAS at the matched alpha = rho (paper form, unbounded in practice)."""
    return {
        "plain": make_update("plain", make_base_step(solver, lr)),
        "sam": make_update("sam", make_base_step(solver, lr), rho=rho),
        "das": make_update("das", make_base_step(solver, lr), alpha=rho, alpha_schedule="constant",
                           max_scale=0.5),
    }


def fit_line(x, y):
    """(slope of y on x through 0, correlation)."""
    x, y = np.asarray(x), np.asarray(y)
    slope = float(x @ y / (x @ x)) if x @ x > 0 else float("nan")
    corr = float(np.corrcoef(x, y)[0, 1]) if x.std() > 0 and y.std() > 0 else float("nan")
    return slope, corr


def start_rng(seed):
    """The random start's generator: a stream of its own, since the synthetic problems draw
    their truth from ``default_rng(0)`` (sharing it would start seed 0 at the truth)."""
    return np.random.default_rng([seed, 0xDA5])


def one_step_comparison(model, obs, solver, lr, seed, steps=200, every=20):
    """(slope, correlation, slope over the second half) of DAS's centred excess change of
    ||G_k||^2 on SAM's."""
    rng = start_rng(seed)
    batch = Batch.place(obs.indices, obs.values)
    objective = make_objective(model, batch)
    cores = model.init_cores(rng, float(np.std(obs.values)))
    walker = make_update("plain", make_base_step(solver, lr))
    sam_x, das_y, late = [], [], []
    for t in range(steps):
        if t % every == 0:
            changes = {}
            for name, update in updates(solver, lr).items():
                # from copies of the walker's moments (Adam updates them in place)
                update.base = copy.deepcopy(walker.base)
                trial = [c.copy() for c in cores]
                update.step(trial, objective, 0.0)
                changes[name] = squared_core_norms(trial) - squared_core_norms(cores)
            for name, series in (("sam", sam_x), ("das", das_y)):
                excess = changes[name] - changes["plain"]
                series.extend(excess - excess.mean())
            if t >= steps // 2:
                late.append(len(sam_x))
        walker.step(cores, objective, 0.0)
    slope, corr = fit_line(sam_x, das_y)
    first_late = late[0] - len(cores) if late else len(sam_x)
    return slope, corr, fit_line(sam_x[first_late:], das_y[first_late:])[0]


def whole_runs(model, obs, held_idx, held_values, lr, seed, steps):
    """Q trajectories and held-out NRMSE of full-batch runs from one start (SGD and Adam)."""
    batch = Batch.place(obs.indices, obs.values)
    objective = make_objective(model, batch)
    start = model.init_cores(start_rng(seed), float(np.std(obs.values)))
    runs = {f"SGD {k}": v for k, v in updates("sgd", lr).items()}
    runs.update({f"Adam {k}": v for k, v in updates("adam", 0.05).items()})
    runs["Adam das, alpha 1 (estimators)"] = make_update("das", make_base_step("adam", 0.05), alpha=1.0,
                                                         alpha_schedule="constant")
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


def _tt_network(seed):
    import torch

    from tensorly_das.torch import TTLinear

    torch.manual_seed(seed)
    return torch.nn.Sequential(
        TTLinear((8, 8), (8, 8), rank=4), torch.nn.ReLU(), TTLinear((8, 8), (4, 8), rank=4),
        torch.nn.ReLU(), torch.nn.Linear(32, 10))


def _tltorch_network(factorization, rank):
    def build(seed):
        import torch
        import tltorch

        torch.manual_seed(seed)

        def layer(out_features):
            return tltorch.FactorizedLinear(in_tensorized_features=(8, 8), out_tensorized_features=out_features,
                                            factorization=factorization, rank=rank, implementation="reconstructed")

        return torch.nn.Sequential(layer((8, 8)), torch.nn.ReLU(), layer((4, 8)), torch.nn.ReLU(),
                                   torch.nn.Linear(32, 10))

    return build


def networks():
    """name: builder(seed) of the networks of measurement 3 (tensorly-torch's when installed)."""
    import importlib.util
    import warnings

    nets = {"TT rank 4 (ours, gallery)": _tt_network}
    if importlib.util.find_spec("tltorch") is not None:
        warnings.filterwarnings("ignore", message="Given only one int for 'rank'")
        nets.update({"CP rank 8 (tltorch)": _tltorch_network("cp", 8),
                     "Tucker rank 4 (tltorch)": _tltorch_network("tucker", 4),
                     "block-TT rank 4 (tltorch)": _tltorch_network("blocktt", 4)})
    return nets


NET_LR = 0.05
NET_MOMENTUM = 0.9
#: lr = rho of the first-order one-step probe (small enough for the theorem's first order)
PROBE = 1e-4
#: run: options at (lr, rho)
NET_RUNS = {
    "SGD": lambda lr, rho: {},
    "SAM rho 0.05": lambda lr, rho: {"rho": rho},
    "DAS alpha = rho, layer u": lambda lr, rho: {"alpha": rho},
    "DAS alpha = rho, global u": lambda lr, rho: {"alpha": rho, "gradient_norm": "global"},
    # SGD's momentum sums SAM's perturbed gradients over about 1 / (1 - momentum) steps; DAS's
    # rescaling bypasses the momentum buffer
    "DAS alpha = rho/(1-mom), global u": lambda lr, rho: {"alpha": rho / (1 - NET_MOMENTUM),
                                                          "gradient_norm": "global"},
    "DAS alpha 1 (= rho / lr)": lambda lr, rho: {"alpha": rho / lr},
}


def _optimizer(name, net, lr=NET_LR, rho=RHO):
    import torch

    from tensorly_das.torch import DAS, SAM

    options = NET_RUNS[name](lr, rho)
    if name == "SGD":
        return torch.optim.SGD(net.parameters(), lr=lr, momentum=NET_MOMENTUM)
    if name.startswith("SAM"):
        return SAM(net.parameters(), lr=lr, momentum=NET_MOMENTUM, **options)
    return DAS(net, lr=lr, momentum=NET_MOMENTUM, alpha_schedule="constant", **options)


def _layer_sq_norms(net):
    """Squared norms of each tensorized layer's cores (one array per layer)."""
    import torch

    from tensorly_das.torch import tensorized_layers

    return [np.array([float(torch.sum(p.detach() ** 2)) for p in cores]) for _, cores in tensorized_layers(net)]


def _one_step_per_layer(name, net, loss_of, lr=NET_LR, rho=RHO):
    """Per layer: (SAM's, this DAS's) centred change of ||G_k||^2 beyond SGD's over one step
    from ``net`` (a float64 copy; fresh optimizers at ``lr`` and ``rho``), and
    ``||g|| / ||g_layer||`` there."""
    import torch

    from tensorly_das.torch import tensorized_layers

    change = {}
    for other in ("SGD", "SAM rho 0.05", name):
        trial = copy.deepcopy(net).double()
        opt = _optimizer(other, trial, lr, rho)

        def closure(trial=trial, opt=opt):
            opt.zero_grad()
            loss = loss_of(trial)
            loss.backward()
            return loss

        closure()
        if other == "SGD":
            total = sum(float(torch.sum(p.grad ** 2)) for p in trial.parameters() if p.grad is not None)
            ratios = [(total / sum(float(torch.sum(p.grad ** 2)) for p in cores)) ** 0.5
                      for _, cores in tensorized_layers(trial)]
        before = _layer_sq_norms(trial)
        opt.step(closure) if other.startswith("SAM") else opt.step()
        change[other] = [b - a for a, b in zip(before, _layer_sq_norms(trial))]
    out = []
    for sgd, sam, das, ratio in zip(change["SGD"], change["SAM rho 0.05"], change[name], ratios):
        x, y = sam - sgd, das - sgd
        out.append((x - x.mean(), y - y.mean(), ratio))
    return out


def network_part(seeds, epochs=15, batch=64):
    import torch

    from tensorly_das.torch import layer_diagnostics

    Xtr, Xte, ytr, yte = _digits()
    loss_fn = torch.nn.CrossEntropyLoss()

    print(f"\n3. tensorized networks on digits (two tensorized layers and a linear head, SGD momentum 0.9, "
          f"lr {NET_LR}, batch {batch}, {epochs} epochs); median over {seeds} seeds; one-step slope of DAS's "
          f"centred change of ||G_k||^2 on SAM's per layer, median over layers, checkpoints and seeds [range], "
          f"at the run's lr and rho and at lr = rho = {PROBE:g} (first order)")
    print(f"{'network':<27}{'run':<36}{'final mean Q':>13}{'test accuracy':>14}{'slope at lr 0.05':>28}"
          f"{'first order':>32}{'||g||/||g_layer||':>19}")
    for net_name, build in networks().items():
        for name in NET_RUNS:
            finals, accs, slopes, probes, ratios = [], [], [], [], []
            for seed in range(seeds):
                net, gen = build(seed), torch.Generator().manual_seed(seed)
                opt = _optimizer(name, net)
                for epoch in range(epochs):
                    perm = torch.randperm(len(ytr), generator=gen)
                    for k, start in enumerate(range(0, len(ytr), batch)):
                        idx = perm[start : start + batch]
                        if name.startswith("DAS") and epoch % 5 == 0 and k == 0:
                            xb, yb = Xtr[idx].double(), ytr[idx]
                            loss_of = lambda m: loss_fn(m(xb), yb)  # noqa: E731
                            for x, y, ratio in _one_step_per_layer(name, net, loss_of):
                                slopes.append(fit_line(x, y)[0])
                                ratios.append(ratio)
                            for x, y, _ in _one_step_per_layer(name, net, loss_of, PROBE, PROBE):
                                probes.append(fit_line(x, y)[0])

                        def closure():
                            opt.zero_grad()
                            loss = loss_fn(net(Xtr[idx]), ytr[idx])
                            loss.backward()
                            return loss

                        closure()
                        opt.step(closure) if name.startswith("SAM") else opt.step()
                with torch.no_grad():
                    accs.append((net(Xte).argmax(1) == yte).float().mean().item())
                finals.append(np.mean([float(d["norm_deviation"]) for d in layer_diagnostics(net)]))
            def spread(values):
                return f"{np.median(values):.3g} [{min(values):.3g}, {max(values):.3g}]" if values else ""

            ratio = f"{np.median(ratios):.3g}" if ratios and "layer" in name else ""
            print(f"{net_name:<27}{name:<36}{np.median(finals):>13.3g}{np.median(accs):>14.3f}"
                  f"{spread(slopes):>28}{spread(probes):>32}{ratio:>19}", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--plot", default=None)
    args = parser.parse_args(argv)
    problems = cases()
    print(f"1. one step from the same point (every 20 steps of a plain run, 200 steps; rho = {RHO}, "
          "DAS alpha = rho): DAS's centred excess change of ||G_k||^2 against SAM's; median over seeds [range]")
    print(f"{'case':<24}{'base':<6}{'lr':>6}{'slope':>22}{'correlation':>14}{'slope, 2nd half':>24}")
    for name, (model, obs, _, _, lr) in problems.items():
        for solver, step in (("sgd", lr), ("adam", 0.05)):
            res = np.array([one_step_comparison(model, obs, solver, step, s) for s in range(args.seeds)])
            print(f"{name:<24}{solver:<6}{step:>6g}{np.median(res[:, 0]):>10.3f} [{res[:, 0].min():.2f}, "
                  f"{res[:, 0].max():.2f}]{np.median(res[:, 1]):>12.3f}{np.median(res[:, 2]):>12.3f} "
                  f"[{res[:, 2].min():.2f}, {res[:, 2].max():.2f}]", flush=True)
    print(f"\n2. whole runs, {args.steps} full-batch steps from the same random start; "
          f"median over {args.seeds} starts [range]")
    print(f"{'case':<24}{'run':<32}{'Q at start':>12}{'Q at end':>22}{'held-out NRMSE':>24}")
    trajectories = {}
    for name, (model, obs, held_idx, held_values, lr) in problems.items():
        per_seed = [whole_runs(model, obs, held_idx, held_values, lr, s, args.steps) for s in range(args.seeds)]
        trajectories[name] = per_seed[0]
        for run in per_seed[0]:
            q0 = np.median([r[run][0][0] for r in per_seed])
            q1 = np.array([r[run][0][-1] for r in per_seed])
            err = np.array([r[run][1] for r in per_seed])
            print(f"{name:<24}{run:<32}{q0:>12.3g}{np.median(q1):>10.3g} [{q1.min():.2g}, {q1.max():.2g}]"
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
