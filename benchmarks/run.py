"""Run the benchmarks, print their tables, and optionally save them for the docs.

Run:  python -m benchmarks.run --quick             (a few minutes: a small case of each suite)
      python -m benchmarks.run [NAME ...]           (full runs; all of them take a few hours)
      python -m benchmarks.run --save [NAME ...]    (also write docs/results/NAME.txt, stamped
                                                     with the command, commit, date and CPUs)
      python -m benchmarks.run --list

Every benchmark runs in its own process (``python -m benchmarks.<script> ...`` from the
repository root), so one's memory or threads never affect the next. After ``--save``,
``python -m benchmarks.sync_readme`` copies the saved tables into the README.
"""

import argparse
import datetime
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "results"

#: name: (command after ``python``, extra arguments of the quick variant or None to skip it)
BENCHMARKS = {
    "demo": (["-m", "tensorly_das", "demo"], []),
    "bench_updates": (["-m", "benchmarks.bench_updates"], ["--nnz", "200000", "--repeats", "3"]),
    "bench_allocator": (["-m", "benchmarks.bench_allocator"], ["--passes", "10"]),
    "synthetic": (["-m", "benchmarks.synthetic", "--plot", "docs/results/synthetic.png"], ["--quick", "--seeds", "2"]),
    "recovery": (["-m", "benchmarks.recovery", "--peers"], ["--seeds", "2", "--missing", "0.9", "--noise", "0.1"]),
    "das_dynamics": (["-m", "benchmarks.das_dynamics", "--plot", "docs/results/das_dynamics.png"],
                     ["--steps", "50", "--seeds", "1"]),
    "recovery_cp_tucker": (["-m", "benchmarks.recovery", "--peers", "--models", "cp", "tucker"], None),
    "recovery_tt": (["-m", "benchmarks.recovery", "--models", "tt"], None),
    "recovery_tr": (["-m", "benchmarks.recovery", "--models", "tr", "--starts", "spectral"], None),
    "spectral_refine": (["-m", "benchmarks.spectral_refine"], ["--seeds", "1", "--sweeps", "0", "5",
                                                                "--oversample", "0", "1"]),
    "default_method": (["-m", "benchmarks.default_method"], ["--seeds", "1"]),
    "covid_defaults": (["-m", "benchmarks.paper_covid_tucker", "--part", "defaults"], None),
    "rank_selection": (["-m", "benchmarks.rank_selection", "--seeds", "10"], ["--seeds", "1", "--models", "cp"]),
    "real_data": (["-m", "benchmarks.real_data", "--cases", "covid", "il2", "kinetic", "pines",
                   "--plot", "docs/results/real_data.png"], ["--cases", "covid", "--seeds", "2"]),
    "real_data_pines_full": (["-m", "benchmarks.real_data", "--cases", "pines_full", "--seeds", "2",
                              "--plot", "docs/results/real_data_pines_full.png"], None),
    "real_data_pines_full_ours": (["-m", "benchmarks.real_data", "--cases", "pines_full", "--seeds", "2",
                                   "--no-peers"], None),
    "real_data_images": (["-m", "benchmarks.real_data", "--cases", "astronaut80", "astronaut95", "chelsea80",
                          "coffee80", "--plot", "docs/results/real_data_images.png"],
                         ["--cases", "astronaut80", "--seeds", "2"]),
    "cp_synthetic": (["-m", "benchmarks.cp_synthetic", "--plot", "docs/results/cp_synthetic.png"],
                     ["--seeds", "2", "--size", "50"]),
    "tt_synthetic": (["-m", "benchmarks.tt_synthetic", "--plot", "docs/results/tt_synthetic.png"], ["--seeds", "2"]),
    "ridge_path_cost": (["-m", "benchmarks.ridge_path_cost"], ["--cases", "covid", "--seeds", "1"]),
    "ridge_path_cost_quarter": (["-m", "benchmarks.ridge_path_cost", "--variant", "quarter", "--cases",
                                 "covid", "il2", "pines"], ["--cases", "covid", "--seeds", "1"]),
    "ridge_path_cost_norms_only": (["-m", "benchmarks.ridge_path_cost", "--variant", "norms-only", "--cases",
                                    "covid", "il2", "pines"], ["--cases", "covid", "--seeds", "1"]),
    "final_sweeps_real": (["-m", "benchmarks.final_sweeps", "--cases", "covid", "il2", "pines"],
                          ["--cases", "covid", "--seeds", "1"]),
    "final_sweeps_synthetic": (["-m", "benchmarks.final_sweeps", "--cases", "cp_synthetic", "tt_synthetic",
                                "cp_90", "tucker_90", "--seeds", "10"], ["--cases", "cp_90", "--seeds", "1"]),
    "scale_cp": (["-m", "benchmarks.scale_cp"], ["--nnz", "1000000"]),
    "index_width": (["-m", "benchmarks.index_width"], ["--nnz", "200000", "--repeats", "3"]),
    "wide_core": (["-m", "benchmarks.wide_core"], ["--cases", "il2", "--rounds", "1"]),
    "scale_cp_sweep": (["-m", "benchmarks.scale_cp", "--sweep"], None),
    "sparse_rows": (["-m", "benchmarks.sparse_rows"], ["--sizes", "1000", "100000"]),
    "covid_cp_strength": (["-m", "benchmarks.covid_cp_strength"], None),
    "cp_swamps": (["-m", "benchmarks.cp_swamps"], None),
    "paper_covid_tucker": (["-m", "benchmarks.paper_covid_tucker"], None),
    "nn_digits": (["-m", "benchmarks.nn_digits"], ["--seeds", "1", "--experiment", "noise"]),
    "bench_torch_optim": (["-m", "benchmarks.bench_torch_optim"], ["--repeats", "5", "--sides", "8", "32"]),
    "distributed_scaling": (["-m", "benchmarks.distributed_scaling"], None),
    "pass_cost": (["-m", "benchmarks.pass_cost", "--load"], ["--passes", "20", "--cases", "il2"]),
}


def stamp(command):
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip() or "unknown"
    dirty = subprocess.run(["git", "diff", "--quiet", "HEAD", "--", "tensorly_das", "benchmarks"],
                           cwd=ROOT).returncode != 0
    return (f"# produced by: python {' '.join(command)}\n"
            f"# code at commit {commit}{' plus uncommitted changes' if dirty else ''}, "
            f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d}, {os.cpu_count()} CPUs\n")


def run(name, quick, save):
    command, quick_args = BENCHMARKS[name]
    if quick:
        if quick_args is None:
            print(f"== {name}: no quick variant, skipped", flush=True)
            return 0
        command = command + quick_args
    print(f"== {name}: python {' '.join(command)}", flush=True)
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    lines = []
    with subprocess.Popen([sys.executable, *command], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                          text=True) as proc:
        for line in proc.stdout:  # shown as it comes; stderr passes through
            if not line.startswith("WARNING:root:"):
                print(line, end="", flush=True)
                lines.append(line)
    output = "".join(lines)
    if proc.returncode != 0:
        print(f"== {name} FAILED (exit {proc.returncode})", flush=True)
    elif save:
        RESULTS.mkdir(parents=True, exist_ok=True)
        tmp = RESULTS / f"{name}.txt.tmp"
        tmp.write_text(stamp(command) + output)
        tmp.replace(RESULTS / f"{name}.txt")
    return proc.returncode


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="the small variant of each benchmark")
    parser.add_argument("--save", action="store_true", help="write docs/results/NAME.txt")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = parser.parse_args(argv)
    if args.list:
        for name, (command, quick_args) in BENCHMARKS.items():
            print(f"{name:<22} python {' '.join(command)}"
                  + ("" if quick_args is None else f"   (quick: {' '.join(quick_args) or 'same'})"))
        return 0
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; see --list")
    if args.quick and args.save:
        parser.error("--save keeps the full runs only; drop --quick")
    failed = [n for n in (args.names or BENCHMARKS) if run(n, args.quick, args.save) != 0]
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
