"""The one protocol every comparison in ``benchmarks/`` follows.

1. **Seeds.** Every case runs on several seeds (``--seeds``, 3 by default): seed ``s`` draws the
   problem (synthetic truth and its observed entries, or the split of a real tensor) and starts
   every method. Nothing is reported from one seed alone.
2. **The same selection budget for every method, on the same validation entries.** The
   training entries are split once per seed (10% for validation, :func:`validation_split`);
   every method fits each of its candidate settings on the other 90%, is scored on those 10%,
   and the best setting is refitted on all training entries. The candidates are the same rank
   grid for every method, plus what the method itself can tune:

   - a ridge, for the methods that have one (ours chooses it inside each fit with
     ``l2_reg="auto"``; the peers with a ridge get the same search over the same grid:
     no ridge, then :data:`tensorly_das.estimators.ridge.RELATIVE_GRID` times the data's
     reference strength, weakest first, stopping after two worse, :func:`ridge_path`);
   - an iteration count, for the methods without a stopping rule of their own (the PyTorch
     loops stop early on the validation entries, and their refit runs as many steps);
   - restarts, for a method whose documentation asks for them (pyttb: best of
     :data:`benchmarks.peers.RESTARTS` random starts by the final training loss).

   Each peer runs at its documented settings; ``benchmarks/peers.py`` says where each comes
   from.
3. **Spread and success counts.** Per case and method: the median error over the seeds, its
   range, the number of seeds on which the method *succeeds*, and the median time of the final
   fit. On synthetic tensors a fit succeeds when it recovers the truth (NRMSE below
   :data:`RECOVERED`); on real tensors, when its error is within :data:`NEAR_BEST` of the best
   error any method reached on that seed. A case where no method succeeds is labelled so: its
   numbers rank nothing.
4. **Pictures.** :func:`plot_runs` draws every seed's error against its time, one panel per
   case, so the spread is visible at a glance.
"""

import collections
import dataclasses
import math
import time
from typing import Callable, Optional

import numpy as np

import tensorly_das as td
from benchmarks.measure import measure
from tensorly_das.estimators.ridge import search_strength

#: synthetic fits recover when their NRMSE against the noiseless truth is below this
RECOVERED = 0.1
#: real-data fits succeed when their error is at most this factor above the seed's best
NEAR_BEST = 1.05
#: width of the method column of the printed tables (the longest method name fits)
METHOD_WIDTH = 40
#: seeds of a comparison unless ``--seeds`` says otherwise
SEEDS = 3
#: the fraction of the training entries every method is selected on
VALIDATION_FRACTION = 0.1


@dataclasses.dataclass(frozen=True)
class Method:
    """A method under comparison.

    ``fit(train, rank, seed, l2=0.0, validation=None, **refit)`` returns ``(predict, refit)``:
    ``predict(indices)`` gives the fitted values, and ``refit`` (a dict) holds what the fit chose
    on ``validation`` that the final fit must repeat (e.g. ``{"n_steps": 800}``).
    ``reference(train, rank)``, for methods with a ridge, gives the data's reference strength in
    the units of ``fit``'s ``l2``; None for methods without a ridge (or that choose it
    themselves, as ours do). ``uses_validation`` says whether the fit itself needs validation
    entries (to stop early), so that a single candidate still goes through selection.
    ``options`` lists keyword sets of the method's own (e.g. an iteration limit) that the
    selection tries at every rank and ridge.
    """

    name: str
    fit: Callable
    reference: Optional[Callable] = None
    uses_validation: bool = False
    options: tuple = ({},)


@dataclasses.dataclass
class Run:
    """The final fit of one method on one seed of one case."""

    case: str
    method: str
    seed: int
    error: float
    seconds: float
    peak_mb: float
    setting: str
    extra: dict = dataclasses.field(default_factory=dict)
    #: wall time of the selection before the final fit (every candidate's fit on the fit part)
    selection_seconds: float = 0.0


def validation_split(train, seed):
    """``(fit part, validation part)``: the same 10% for every method on seed ``seed``."""
    return train.split(VALIDATION_FRACTION, random_state=seed + 100)


def _rmse(predict, obs):
    error = float(np.sqrt(np.mean((np.asarray(predict(obs.indices)) - obs.values) ** 2)))
    return error if math.isfinite(error) else math.inf


def ridge_path(score, reference, patience=2):
    """Score no ridge, then ``reference`` times each of ``RELATIVE_GRID`` (weakest first), until
    ``patience`` strengths in a row score worse than the best: the search our ``l2_reg="auto"``
    makes (:func:`tensorly_das.estimators.ridge.search_strength`, reused here).
    ``score(l2) -> (error, payload)``. Returns ``(l2, error, payload)`` of the best."""
    def fit_with(l2):
        error, payload = score(l2)
        return error, (error, payload)

    l2, (error, payload), _ = search_strength(fit_with, reference, patience)
    return l2, error, payload


def select_and_refit(method, ranks, train, seed):
    """Choose rank (and ridge, and iteration count) on the seed's validation entries, refit on
    all of ``train``. Returns ``(predict, setting, seconds, peak_mb)`` of the final fit and the
    selection's wall time."""
    ranks = list(ranks)
    started = time.perf_counter()
    if len(ranks) == 1 and method.reference is None and not method.uses_validation and len(method.options) == 1:
        choice = (ranks[0], 0.0, dict(method.options[0]))
    else:
        sub, val = validation_split(train, seed)
        candidates = []
        for rank, option in ((r, o) for r in ranks for o in method.options):
            def score(l2, rank=rank, option=option):
                predict, refit = method.fit(sub, rank, seed, l2=l2, validation=val, **option)
                return _rmse(predict, val), {**option, **refit}

            if method.reference is None:
                error, refit = score(0.0)
                candidates.append((error, rank, 0.0, refit))
            else:
                l2, error, refit = ridge_path(score, method.reference(sub, rank))
                candidates.append((error, rank, l2, refit))
        _, rank, l2, refit = min(candidates, key=lambda c: c[0])
        choice = (rank, l2, refit)
    selection_seconds = time.perf_counter() - started
    rank, l2, refit = choice
    (predict, _), seconds, peak_mb = measure(method.fit, train, rank, seed, l2=l2, **refit)
    setting = str(rank) + (f", l2 {l2:.2g}" if l2 else "") + "".join(f", {k} {v}" for k, v in refit.items())
    return predict, setting, seconds, peak_mb, selection_seconds


def run_methods(case, entries, train, seed, score, extra=None):
    """Select, refit and score every ``(method, ranks)`` of ``entries`` on one seed of a case.

    ``score(predict) -> error`` on the case's held-out entries; ``extra(predict) -> dict`` adds
    columns (e.g. PSNR). Each final fit is printed as it finishes; returns the :class:`Run` s.
    """
    runs = []
    for method, ranks in entries:
        predict, setting, seconds, peak_mb, selection_seconds = select_and_refit(method, ranks, train, seed)
        run = Run(case, method.name, seed, score(predict), seconds, peak_mb, setting,
                  extra(predict) if extra else {}, selection_seconds)
        print_run(run)
        runs.append(run)
    return runs


# -- summaries ---------------------------------------------------------------------------------------


def successes(runs, kind):
    """Per run, whether it succeeded: ``kind`` is ``"recovered"`` (synthetic: error below
    :data:`RECOVERED`) or ``"near best"`` (real data: within :data:`NEAR_BEST` of the lowest
    error any method reached on the same case and seed)."""
    if kind == "recovered":
        return [r.error < RECOVERED for r in runs]
    if kind != "near best":
        raise ValueError(f"unknown success kind {kind!r}")
    best = collections.defaultdict(lambda: math.inf)
    for r in runs:
        best[r.case, r.seed] = min(best[r.case, r.seed], r.error)
    return [r.error <= NEAR_BEST * best[r.case, r.seed] for r in runs]


def success_rule(kind):
    if kind == "recovered":
        return f"succeeds = NRMSE < {RECOVERED} against the noiseless truth"
    return f"succeeds = error within {NEAR_BEST - 1:.0%} of the best any method reached on that seed"


def print_summary(runs, kind, error_name="NRMSE", title=None):
    """The per-case table: method, successes k/n, median error, [min, max], median time, and
    the settings chosen; a case where no method succeeds is labelled so."""
    ok = successes(runs, kind)
    groups = collections.OrderedDict()
    for run, good in zip(runs, ok):
        groups.setdefault(run.case, collections.OrderedDict()).setdefault(run.method, []).append((run, good))
    print(f"\n{title or 'summary'}: median over seeds, [min, max], {success_rule(kind)}")
    print(f"{'case':<26}{'method':<{METHOD_WIDTH}}{'ok':>6}{'median ' + error_name:>15}  {'range':<19}{'median s':>9}"
          f"  chosen (per seed)")
    for case, methods in groups.items():
        for name, pairs in methods.items():
            errors = np.array([r.error for r, _ in pairs])
            seconds = np.array([r.seconds for r, _ in pairs])
            k = sum(g for _, g in pairs)
            settings = "; ".join(r.setting for r, _ in pairs)
            print(f"{case:<26}{name:<{METHOD_WIDTH}}{k:>3}/{len(pairs):<2}{np.median(errors):>15.4f}  "
                  f"[{errors.min():.4f}, {errors.max():.4f}]".ljust(19 + 2 + 26 + METHOD_WIDTH + 6 + 15)
                  + f"{np.median(seconds):>9.2f}  {settings}")
        if not any(g for pairs in methods.values() for _, g in pairs):
            print(f"{case:<26}-> no method succeeds on any seed: this case ranks nothing")


def print_run(run):
    """One line per final fit, as it finishes (the raw data of the summary)."""
    extra = "".join(f"  {k} {v}" for k, v in run.extra.items())
    print(f"{run.case:<26}{run.method:<{METHOD_WIDTH}}{run.seed:>5}{run.error:>10.4f}{run.seconds:>9.2f}{run.peak_mb:>9.1f}"
          f"  {run.setting}{extra}", flush=True)


def print_run_header(error_name="NRMSE"):
    print(f"{'case':<26}{'method':<{METHOD_WIDTH}}{'seed':>5}{error_name:>10}{'fit s':>9}{'peak MB':>9}  chosen setting")


def plot_runs(runs, path, kind, error_name="held-out NRMSE", ncols=4):
    """Every seed's error against its fit time (log axes), one panel per case, one colour per
    method; succeeding runs filled, failing ones hollow. Written to ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = successes(runs, kind)
    cases = list(dict.fromkeys(r.case for r in runs))
    methods = list(dict.fromkeys(r.method for r in runs))
    colours = plt.get_cmap("tab10" if len(methods) <= 10 else "tab20")
    ncols = min(ncols, len(cases))
    nrows = -(-len(cases) // ncols)
    width = max(3.4 * ncols, 7.5)
    legend_cols = 3 if width >= 10 else 2
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, 2.8 * nrows + 0.25 * -(-len(methods) // legend_cols) + 0.8),
                             squeeze=False, layout="constrained")
    floor = 1e-4
    for ax, case in zip(axes.ravel(), cases):
        for m, name in enumerate(methods):
            pts = [(r.seconds, max(r.error, floor), g) for r, g in zip(runs, ok) if r.case == case and r.method == name]
            if not pts:
                continue
            t, e, g = map(np.array, zip(*pts))
            c = colours(m % colours.N)
            ax.scatter(t[g], e[g], color=c, s=22, label=name)
            ax.scatter(t[~g], e[~g], facecolors="none", edgecolors=c, s=22)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(case, fontsize=9)
        ax.grid(True, alpha=0.3, which="both")
        ax.tick_params(labelsize=7)
    for ax in axes.ravel()[len(cases):]:
        ax.remove()
    for ax in axes[:, 0]:
        ax.set_ylabel(error_name, fontsize=8)
    for ax in axes[-1, :]:
        if ax.figure is fig and ax in fig.axes:
            ax.set_xlabel("fit seconds", fontsize=8)
    handles = [plt.Line2D([], [], marker="o", linestyle="", color=colours(m % colours.N), label=name)
               for m, name in enumerate(methods)]
    fig.legend(handles=handles, loc="outside lower center", ncols=min(legend_cols, len(methods)), fontsize=8,
               title=f"filled: {success_rule(kind)}; hollow: not\nerrors below {floor:g} drawn at {floor:g}",
               title_fontsize=8)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def add_arguments(parser, plot_default=None):
    """The protocol's command-line options: ``--seeds`` and ``--plot``."""
    parser.add_argument("--seeds", type=int, default=SEEDS, help="problem and start seeds 0..N-1")
    parser.add_argument("--plot", default=plot_default, help="write the seed-spread figure here (PNG)")


def nrmse_on(indices, truth):
    """``score`` for :func:`run_methods`: NRMSE against ``truth`` at ``indices``."""
    return lambda predict: float(td.nrmse(truth, np.asarray(predict(indices))))
