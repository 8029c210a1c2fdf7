"""Command line: ``tensorly-das demo`` and ``tensorly-das fit``."""

import argparse
import contextlib
import os
import sys
import signal
import threading
import time

import numpy as np

from . import __version__
from .backend import to_numpy
from .budget import MemoryBudgetError, check_file_memory
from .estimators import CPCompletion, TRCompletion, TTCompletion, TuckerCompletion
from .options import BACKENDS, METHODS, SOLVERS, parse_bytes
from .metrics import r2_score, uncentered_r2_score
from .norms import norm_deviation
from .observed import ObservedTensor

ESTIMATORS = {"cp": CPCompletion, "tucker": TuckerCompletion, "tt": TTCompletion, "tr": TRCompletion}
_DEFAULTS = CPCompletion()


class CLIError(Exception):
    """A problem with the command's input, reported as one line."""


# ---------------------------------------------------------------- demo
def run_demo(methods=("plain", "sam", "das"), rank=3, seeds=(0, 1, 2), max_iter=5000, backend="numpy",
             observed_fraction=0.3, out=None):
    """Complete the COVID-19 serology tensor with each method and print one table.

    Returns the rows of the table as dictionaries.
    """
    out = sys.stdout if out is None else out
    from .datasets import covid19_completion

    rows = []
    for method in methods:
        scores = []
        for seed in seeds:
            observed, held_out = covid19_completion(observed_fraction, random_state=seed)
            est = CPCompletion(rank=rank, method=method, max_iter=max_iter, backend=backend,
                               random_state=seed).fit(observed)
            scores.append((
                uncentered_r2_score(observed.values, est.predict(observed)),
                r2_score(held_out.values, est.predict(held_out)),
                float(norm_deviation(est.cores_)),
                est.time_per_iter_,
                est.n_iter_,
            ))
        s = np.array(scores)
        rows.append({"method": method, "solver": est.solver_, "train_r2": s[:, 0], "heldout_r2": s[:, 1],
                     "Q": s[:, 2], "sec_per_iter": s[:, 3], "iters": s[:, 4]})
    print(f"COVID-19 serology {observed_fraction:.0%} observed / {1 - observed_fraction:.0%} held out, "
          f"CP rank {rank}, defaults (solver, l2_reg and patience 'auto'), early stopping, "
          f"seeds {list(seeds)} ({backend})", file=out)
    print("train R^2 = 1 - ||Xhat - X||^2/||X||^2 on the observed entries (the paper's measure); "
          "held-out R^2 = 1 - SSE/SST on the held-out entries", file=out)
    header = (f"{'method':<8}{'solver':>7}{'train R^2':>18}{'held-out R^2':>18}{'Q':>12}{'s/iter':>10}"
              f"{'iters':>8}")
    print(header, file=out)
    print("-" * len(header), file=out)

    def cell(values, digits=4):
        if len(values) == 1:
            return f"{values[0]:.{digits}f}"
        return f"{values.mean():.{digits}f}+/-{values.std():.{digits}f}"

    for row in rows:
        print(f"{row['method']:<8}{row['solver']:>7}{cell(row['train_r2']):>18}{cell(row['heldout_r2']):>18}"
              f"{row['Q'].mean():>12.3g}{row['sec_per_iter'].mean():>10.2e}{row['iters'].mean():>8.0f}",
              file=out)
    return rows


# ---------------------------------------------------------------- fit
def read_observations(path, max_memory=None):
    """Read a .npy dense array (NaN = missing) or an .npz with indices, values, shape.

    The arrays' sizes are read from their headers first: a file that would expand past
    ``max_memory`` (default: the available memory) is refused before it is decompressed.
    """
    if not os.path.exists(path):
        raise CLIError(f"input file not found: {path}")
    if os.path.isdir(path):
        raise CLIError(f"input is a directory, not a file: {path}")
    if not path.endswith((".npz", ".npy")):
        raise CLIError(f"{path}: unknown input format; give a .npy (dense, NaN = missing) or .npz file")
    try:
        check_file_memory(path, max_memory)
        if path.endswith(".npz"):
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
        else:
            arrays = {"dense": np.load(path, allow_pickle=False)}
    except MemoryBudgetError as err:
        raise CLIError(str(err)) from None
    except Exception as err:  # noqa: BLE001
        # untrusted bytes: numpy, zipfile, zlib and numpy's header parser raise many types
        # (ValueError, BadZipFile, zlib.error, TokenError, ...); all mean "cannot read" here
        raise CLIError(f"{path}: cannot read the file ({type(err).__name__}: {err})") from None
    try:
        if "dense" in arrays:
            return ObservedTensor.from_dense(arrays["dense"]), True
        missing = [k for k in ("indices", "values") if k not in arrays]
        if missing:
            raise CLIError(f"{path}: the .npz file lacks the array(s) {missing}; it needs "
                           "'indices' (n, N), 'values' (n,) and optionally 'shape' (N,)")
        shape = _shape_array(path, arrays["shape"]) if "shape" in arrays else None
        return ObservedTensor(arrays["indices"], arrays["values"], shape=shape), False
    except (ValueError, TypeError) as err:
        raise CLIError(f"{path}: {err}") from None


def _shape_array(path, shape):
    if shape.ndim != 1 or shape.dtype.kind not in "iu":
        raise CLIError(f"{path}: 'shape' must be a 1-D integer array, got dtype {shape.dtype} and "
                       f"shape {shape.shape}")
    return tuple(int(s) for s in shape)


#: temporary outputs are named ``.{output name}.{pid}{TEMP_SUFFIX}`` next to the output
TEMP_SUFFIX = ".tensorly-das-tmp"


def check_output_path(path, force=False):
    """Refuse, before any work, an output that could not or should not be written.

    Parameters
    ----------
    path : str
        The ``-o`` path (an ``.npz`` file).
    force : bool
        Replace an existing file or symbolic link (never a directory; a link is replaced
        by the file, its target is not written).
    """
    if os.path.isdir(path):
        raise CLIError(f"output is a directory: {path}")
    if not path.endswith(".npz"):
        raise CLIError(f"output must be an .npz file, got {path}")
    if os.path.islink(path) and not force:
        raise CLIError(f"output is a symbolic link (to {os.readlink(path)}): {path}; pass --force to "
                       "replace the link itself (its target is never written)")
    if os.path.lexists(path) and not force:
        raise CLIError(f"output exists: {path} (pass --force to overwrite)")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise CLIError(f"output directory does not exist: {directory}")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise CLIError(f"cannot write to the output directory (no permission or read-only): {directory}")


def remove_stale_temporaries(path):
    """Delete temporary outputs for ``path`` left by processes that no longer run (kill -9)."""
    directory = os.path.dirname(os.path.abspath(path))
    prefix = f".{os.path.basename(path)}."
    for name in os.listdir(directory):
        if not (name.startswith(prefix) and name.endswith(TEMP_SUFFIX)):
            continue
        pid = name[len(prefix):-len(TEMP_SUFFIX)]
        if pid.isdigit() and not _process_alive(int(pid)):
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(directory, name))


def _process_alive(pid):
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except (ProcessLookupError, OverflowError):  # no such process (or no such pid at all)
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


def write_npz_atomic(path, force=False, **arrays):
    """Write ``arrays`` to ``path`` through a temporary file and a rename.

    The temporary file is removed on any exception, on SIGTERM (see :func:`main`), and by
    the next run for the same output after a ``kill -9``.
    """
    check_output_path(path, force)
    remove_stale_temporaries(path)
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}{TEMP_SUFFIX}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_EXCL, 0o666)  # umask applies
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **arrays)
        os.replace(tmp, path)
    except OSError as err:
        _remove(tmp)
        raise CLIError(f"cannot write {path}: {err.strerror or err}") from None
    except BaseException:
        _remove(tmp)
        raise


def _remove(path):
    with contextlib.suppress(OSError):
        os.unlink(path)


def _start_distributed(args):
    """Join the torchrun process group; returns (rank, world size, collectives)."""
    from .distributed import AllReduce, join_torchrun

    try:
        rank, world, args.device = join_torchrun(args.device, timeout=args.dist_timeout)
    except RuntimeError as err:
        raise CLIError(f"--distributed: {err}") from None
    args.backend = "pytorch"
    return rank, world, AllReduce(args.device)


def _check_launch(args):
    """One clear line for a torchrun launch without ``--distributed``."""
    world = os.environ.get("WORLD_SIZE", "1")
    if not args.distributed and world.isdigit() and int(world) > 1:
        raise CLIError(f"this process is one of WORLD_SIZE={world} started by torchrun, but --distributed "
                       "was not given: every process would fit all the data and race to write the output; "
                       "add --distributed (or run a single process without torchrun)")


def _read_shard(args, rank, world):
    """This rank's observations: its own file (``{rank}`` in the path) or every world-th row."""
    from .distributed import shard_rows

    if "{rank}" in args.input:
        try:
            path = args.input.format(rank=rank)
        except (KeyError, IndexError, ValueError):
            raise CLIError(f"the input pattern {args.input!r} may hold {{rank}} and no other braces") from None
        return read_observations(path, args.max_memory)[0], False
    obs, dense = read_observations(args.input, args.max_memory)
    rows = shard_rows(obs.nnz, rank, world)
    if rows.size == 0:
        raise CLIError(f"{args.input} holds {obs.nnz} observed entries, fewer than the {world} processes")
    return obs.subset(rows), dense


def _stage(group, what, action):
    """Run ``action`` on every rank; any rank's error stops all ranks with the same line."""
    error, result = None, None
    try:
        result = action()
    except (CLIError, ValueError, TypeError, MemoryError, OSError) as err:
        if group is None:
            raise
        error = str(err)
    if group is not None:
        try:
            group.check_errors(error, what)
        except ValueError as err:
            raise CLIError(str(err)) from None
    return result


def _gather_whole(group, obs, shape):
    """Rank 0: every rank's entries as one ObservedTensor (other ranks: None)."""
    if group is None:
        return obs
    parts = group.gather_to_root((obs.indices, obs.values))
    if parts is None:
        return None
    try:
        return ObservedTensor(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
                              shape=shape)
    except ValueError as err:
        raise CLIError(f"the ranks' shards do not form one data set: {err}") from None


def run_fit(args, out=None):
    """The ``fit`` command: read, fit, report train and validation figures, write."""
    out = sys.stdout if out is None else out
    _check_launch(args)
    rank, world, group = _start_distributed(args) if args.distributed else (0, 1, None)
    _stage(group, "cannot write the output", lambda: check_output_path(args.output, args.force) if rank == 0 else None)
    obs, dense_input = _stage(group, "unusable data shard(s)",
                              lambda: _read_shard(args, rank, world) if args.distributed
                              else read_observations(args.input, args.max_memory))
    args.dense_input = dense_input
    shape = obs.shape
    if group is not None:  # one shape for all shards: the largest index seen by any rank
        shape = tuple(int(s) for s in group.extreme_each(list(shape), minimum=False))
    whole = _stage(group, "shards", lambda: _gather_whole(group, obs, shape))
    for old, new in (("alpha", "das_alpha"), ("rho", "sam_rho")):
        if getattr(args, f"old_{old}") is not None:
            print(f"tensorly-das: warning: --{old} is deprecated since 0.2 and goes in 0.3; use "
                  f"--{new.replace('_', '-')}", file=sys.stderr)
            setattr(args, new, getattr(args, f"old_{old}"))
    est = ESTIMATORS[args.model](
        rank=args.rank, method=args.method, solver=args.solver, lr=args.lr, das_alpha=args.das_alpha,
        sam_rho=args.sam_rho, max_iter=args.max_iter, backend=args.backend, device=args.device,
        l2_reg=args.l2_reg, n_init=args.n_init, final_sweeps=args.final_sweeps, distributed=args.distributed,
        max_memory=args.max_memory, shape=shape if args.distributed else None,
        random_state=args.seed, verbose=args.verbose,
    )
    try:
        est.fit(obs.indices, obs.values) if args.distributed else est.fit(obs)
    except (ValueError, TypeError) as err:
        raise CLIError(str(err)) from None
    arrays = _report(args, est, whole, world, out) if rank == 0 else None
    _stage(group, "cannot write the output",
           lambda: write_npz_atomic(args.output, force=args.force, **arrays) if rank == 0 else None)
    if rank == 0:
        print(f"wrote {args.output}", file=out)
    return est


def _report(args, est, whole, world, out):
    """Print the fit's figures over every observed entry; the arrays to write."""
    fitted = est.predict(whole)
    where = f" (all {world} ranks)" if args.distributed else ""
    print(f"{args.model.upper()} rank {est.model_.rank}, method {args.method}: {whole!r}{where}", file=out)
    print(f"  training entries{where} (incl. validation part): RMSE "
          f"{np.sqrt(np.mean((fitted - whole.values) ** 2)):.4g}, R^2 {r2_score(whole.values, fitted):.4f}",
          file=out)
    ranks = ", all ranks" if args.distributed else ""
    sweeps = est.final_sweeps_
    after = f", before the {sweeps} final sweeps on all entries" if sweeps else ""
    print(f"  held-out validation entries ({est.validation_fraction:.0%}{ranks}{after}): RMSE "
          f"{est.best_val_rmse_:.4g}", file=out)
    print(f"  {est.n_iter_} iterations, {est.time_per_iter_:.2e} s/iter, Q = "
          f"{float(norm_deviation(est.cores_)):.3g}", file=out)
    arrays = {f"core_{k}": to_numpy(c) for k, c in enumerate(est.cores_)}
    if args.model == "cp":
        arrays.update({f"factor_{n}": to_numpy(f) for n, f in enumerate(est.cores_)})
        arrays["weights"] = np.ones(est.model_.rank)
    arrays.update(model=np.asarray(args.model), indices=whole.indices, predictions=fitted,
                  shape=np.asarray(whole.shape))
    if args.dense_input:
        arrays["completed"] = est.transform(whole)  # observed values kept, missing ones filled
    return arrays


# ---------------------------------------------------------------- entry point
def _rank(text):
    try:
        parts = [int(p) for p in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"rank must be an int or comma-separated ints, got {text!r}") from None
    return parts[0] if len(parts) == 1 else tuple(parts)


def _number_or_auto(convert, valid, expected):
    """An argparse type: ``"auto"``, or ``convert(text)`` where ``valid`` holds."""
    def parse(text):
        if text == "auto":
            return text
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not valid(value):
            raise argparse.ArgumentTypeError(f"expected {expected} or 'auto', got {text!r}")
        return value

    return parse


_count_or_auto = _number_or_auto(int, lambda v: v >= 0, "a non-negative int")
_l2_strength = _number_or_auto(float, lambda v: 0 <= v < float("inf"), "a non-negative number")


def _memory(text):
    try:
        parse_bytes(text)
    except (ValueError, TypeError) as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def _positive(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def build_parser():
    parser = argparse.ArgumentParser(
        prog="tensorly-das",
        description="Sparse tensor completion with plain Adam/SGD, SAM or DAS.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"tensorly_das {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    formatter = argparse.ArgumentDefaultsHelpFormatter
    demo = sub.add_parser("demo", help="complete the COVID-19 serology tensor (ships with tensorly)",
                          formatter_class=formatter)
    demo.add_argument("--rank", type=int, default=3, help="CP rank")
    demo.add_argument("--seeds", type=_positive, default=3, help="number of random splits")
    demo.add_argument("--max-iter", type=int, default=5000, help="passes per fit at most")
    demo.add_argument("--backend", default="numpy", choices=BACKENDS, help="array library")

    fit = sub.add_parser("fit", help="complete a tensor read from .npy (NaN = missing) or .npz",
                         description="Writes an .npz with the cores (core_0, core_1, ...; for CP also "
                         "factor_n and weights), the observed indices, the model's predictions there, "
                         "the shape, and for dense input the completed tensor (observed values kept, "
                         "missing ones filled by the model).", formatter_class=formatter)
    fit.add_argument("input", help=".npy dense array with NaN for missing, or .npz with indices, values, shape")
    fit.add_argument("-o", "--output", required=True, help="output .npz (factors, predictions)")
    fit.add_argument("--model", default="cp", choices=sorted(ESTIMATORS), help="decomposition")
    fit.add_argument("--rank", type=_rank, default=_DEFAULTS.rank,
                     help="an int, or comma-separated ints for Tucker/TT/TR (e.g. 8,6,8)")
    fit.add_argument("--l2-reg", type=_l2_strength, default=_DEFAULTS.l2_reg,
                     help="ridge strength, or 'auto' (chosen on the validation entries; several fits)")
    fit.add_argument("--max-memory", type=_memory, default=None,
                     help="memory budget, e.g. 4GB (default: the available memory); files and fits "
                          "estimated above it are refused before any heavy work")
    fit.add_argument("--n-init", type=int, default=_DEFAULTS.n_init, help="random starts")
    fit.add_argument("--final-sweeps", type=_count_or_auto, default=_DEFAULTS.final_sweeps,
                     help="block least-squares sweeps on all entries, validation included, after early "
                          "stopping; 'auto' (default): 2 with block least squares and early stopping unless the fit was "
                          "overfitting as it stopped")
    fit.add_argument("--method", default=_DEFAULTS.method, choices=METHODS, help="update rule")
    fit.add_argument("--solver", default=_DEFAULTS.solver, choices=SOLVERS + ("auto",),
                     help="base step: block least squares ('als'), Adam or SGD; 'auto' (default): 'als' for "
                          "the plain method on full batches, else Adam")
    fit.add_argument("--lr", type=float, default=_DEFAULTS.lr, help="learning rate (Adam, SGD)")
    fit.add_argument("--das-alpha", type=float, default=_DEFAULTS.das_alpha, help="DAS strength")
    fit.add_argument("--sam-rho", type=float, default=_DEFAULTS.sam_rho, help="SAM radius")
    fit.add_argument("--alpha", dest="old_alpha", type=float, help=argparse.SUPPRESS)  # deprecated
    fit.add_argument("--rho", dest="old_rho", type=float, help=argparse.SUPPRESS)  # deprecated
    fit.add_argument("--max-iter", type=int, default=_DEFAULTS.max_iter, help="passes at most")
    fit.add_argument("--backend", default=_DEFAULTS.backend, choices=BACKENDS, help="array library")
    fit.add_argument("--device", default=_DEFAULTS.device, help="torch device, e.g. cuda:0")
    fit.add_argument("--seed", type=int, default=0, help="random_state of the fit")
    fit.add_argument("--force", action="store_true", help="overwrite an existing output")
    fit.add_argument("--distributed", action="store_true",
                     help="data-parallel fit under torchrun: each rank reads INPUT with {rank} replaced "
                     "by its rank, or every world-th observation of one INPUT; rank 0 writes OUT")
    fit.add_argument("--verbose", action="store_true", help="show a progress bar")
    fit.add_argument("--dist-timeout", type=_positive_float, default=300.0,
                     help="with --distributed: seconds a process waits for the others in a collective "
                          "before it stops with an error (a hung or lost process)")
    return parser


def main(argv=None):
    """Run the command line.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    status : int
        0 on success, 2 for a bad input, 1 for a failed fit.
    """
    args = build_parser().parse_args(argv)
    # this process mostly fits: reusing freed memory is safe here (see tensorly_das.allocator)
    os.environ.setdefault("TENSORLY_DAS_REUSE_MEMORY", "1")
    with _sigterm_as_exit():
        return _run(args)


@contextlib.contextmanager
def _sigterm_as_exit():
    """SIGTERM raises SystemExit (status 143), so cleanups (temporary files) run."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(signum, frame):
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run(args):
    try:
        if args.command == "demo":
            t0 = time.perf_counter()
            run_demo(rank=args.rank, seeds=tuple(range(args.seeds)), max_iter=args.max_iter,
                     backend=args.backend)
            print(f"total {time.perf_counter() - t0:.1f} s")
        else:
            clean = False
            try:
                run_fit(args)
                clean = True
            finally:
                if getattr(args, "distributed", False):
                    from .distributed import leave

                    leave(clean)
    except CLIError as err:
        print(f"tensorly-das: error: {err}", file=sys.stderr)
        return 2
    except (ValueError, TypeError, RuntimeError, MemoryError, ImportError, ArithmeticError, OSError) as err:
        # ArithmeticError: a fit that diverged (DivergenceError) says why in one line too
        print(f"tensorly-das: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
