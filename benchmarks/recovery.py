"""Recovery at the true rank over many seeds: spectral start (the default) against random starts.

Run:  python -m benchmarks.recovery [--seeds 10] [--models cp tucker tt tr]
                                    [--missing 0.5 0.9] [--noise 0.0 0.1] [--peers]
                                    [--starts spectral random]

The problems are those of ``benchmarks.synthetic`` (truth drawn from each model; CP and Tucker
40^3, TT and TR 10^5), one per seed. A fit *recovers* when its NRMSE against the noiseless truth
on hidden entries is below ``--threshold`` (0.1: recovered fits score 0.00-0.04 here, failed ones
well above it). Reported per case and start: successes k/n, the median and the range of NRMSE,
the median fit time, and for the spectral start the median share of the fit spent computing it.
With ``--peers``, the peers of ``benchmarks.synthetic`` that fit the model run on the same seeds;
``--starts spectral`` leaves out the random starts (the defaults alone, on slow models).
"""

import argparse
import time

import numpy as np

import tensorly_das as td
from benchmarks import peers
from benchmarks.synthetic import PROBLEMS, make_problem
from tensorly_das.starts import spectral_cores

ESTIMATORS = {"cp": td.CPCompletion, "tucker": td.TuckerCompletion, "tt": td.TTCompletion,
              "tr": td.TRCompletion}


def ours(model, init):
    """Our estimator with its defaults, the start aside."""
    def fit(obs, seed):
        est = ESTIMATORS[model](PROBLEMS[model][1], init=init, random_state=seed).fit(obs)
        return est.predict, est.fit_time_
    return fit


def spectral_seconds(model, obs, seed):
    spec = ESTIMATORS[model](PROBLEMS[model][1])._model_class(obs.shape, PROBLEMS[model][1])
    t0 = time.perf_counter()
    spectral_cores(spec, obs.indices, obs.values, np.random.default_rng(seed))
    return time.perf_counter() - t0


def peer_rows(model):
    """The peers at their documented settings (no selection: every method gets the true rank)."""
    rows = {}
    if model == "cp":
        rows[peers.masked_parafac.name] = peers.masked_parafac
    if model == "tucker":
        rows[peers.masked_tucker.name] = peers.masked_tucker
    return rows


def summary(errors, threshold):
    errors = np.asarray(errors)
    ok = int((errors < threshold).sum())
    return f"{ok:>3}/{len(errors):<3}{np.median(errors):>9.4f}  [{errors.min():.4f}, {errors.max():.4f}]"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--models", nargs="+", default=list(PROBLEMS), choices=list(PROBLEMS))
    parser.add_argument("--missing", nargs="+", type=float, default=[0.5, 0.9])
    parser.add_argument("--noise", nargs="+", type=float, default=[0.0, 0.1])
    parser.add_argument("--threshold", type=float, default=0.1)
    parser.add_argument("--peers", action="store_true")
    parser.add_argument("--starts", nargs="+", default=["spectral", "random"], choices=["spectral", "random"])
    args = parser.parse_args(argv)
    print(f"recovery at the true rank, {args.seeds} seeds per case (problem and fit seeds 0..{args.seeds - 1}); "
          f"recovered = NRMSE < {args.threshold} on hidden entries against the noiseless truth")
    print(f"{'model':<7}{'missing':>8}{'noise':>6}  {'start / method':<26}{'recovered':>9}{'median':>9}  "
          f"{'range':<18}{'fit s':>7}{'start share':>12}")
    for model in args.models:
        for missing in args.missing:
            for noise in args.noise:
                problems = [make_problem(model, missing, noise, seed) for seed in range(args.seeds)]
                rows = {f"ours, {start} start": ours(model, start) for start in args.starts}
                if args.peers:
                    rows.update({name: _peer(fit, model) for name, fit in peer_rows(model).items()})
                for name, fit in rows.items():
                    errors, seconds, shares = [], [], []
                    for seed, (obs, held_idx, held_truth) in enumerate(problems):
                        predict, fit_s = fit(obs, seed)
                        errors.append(td.nrmse(held_truth, predict(held_idx)))
                        seconds.append(fit_s)
                        if name == "ours, spectral start":
                            shares.append(spectral_seconds(model, obs, seed) / fit_s)
                    share = f"{np.median(shares):>11.1%}" if shares else f"{'':>11}"
                    print(f"{model:<7}{missing:>8.0%}{noise:>6.0%}  {name:<26}{summary(errors, args.threshold)}"
                          f"{np.median(seconds):>7.2f} {share}", flush=True)


def _peer(method, model):
    def run(obs, seed):
        t0 = time.perf_counter()
        predict, _ = method.fit(obs, PROBLEMS[model][1], seed)
        return predict, time.perf_counter() - t0
    return run


if __name__ == "__main__":
    main()
