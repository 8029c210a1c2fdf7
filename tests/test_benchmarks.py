"""The benchmark runner's registry and the shared measuring helpers (no benchmark is run)."""

import dataclasses
import pathlib

import numpy as np
import pytest

import tensorly_das as td
from benchmarks import peers, protocol
from benchmarks.run import BENCHMARKS, main

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_every_registered_benchmark_exists():
    for name, (command, _) in BENCHMARKS.items():
        module = command[command.index("-m") + 1]
        if module.startswith("benchmarks."):
            assert (ROOT / "benchmarks" / f"{module.split('.')[1]}.py").is_file(), name


def test_every_benchmark_script_compiles():
    for path in sorted((ROOT / "benchmarks").glob("*.py")):
        compile(path.read_text(), str(path), "exec")  # a SyntaxError names the file and line


def test_list_and_unknown_names(capsys):
    assert main(["--list"]) == 0
    assert "real_data" in capsys.readouterr().out
    try:
        main(["no_such_benchmark"])
    except SystemExit as exit_:
        assert exit_.code != 0
    assert "unknown benchmark" in capsys.readouterr().err


def test_measure_reports_time_and_the_memory_a_call_allocates():
    def allocate(n):
        a = np.ones(n)
        return float(a.sum())

    result, seconds, peak_mb = peers.measure(allocate, 25_000_000)  # 200 MB
    assert result == 25_000_000 and seconds > 0
    if np.isfinite(peak_mb):  # Linux /proc; NaN elsewhere
        assert 150 < peak_mb < 400
    _, _, small = peers.measure(allocate, 10)
    if np.isfinite(small):
        assert small < 50


# -- the comparison protocol ------------------------------------------------------------------------


def _small_obs(seed=0):
    rng = np.random.default_rng(seed)
    shape = (6, 5, 4)
    idx = np.stack(np.unravel_index(rng.permutation(120)[:80], shape), 1)
    return td.ObservedTensor(idx, rng.standard_normal(80), shape)


def test_ridge_path_stops_after_two_worse_and_keeps_the_best():
    tried = []
    errors = {0.0: 3.0, 0.01: 2.0, 0.03: 1.0, 0.1: 1.5, 0.3: 1.7, 1.0: 0.5}

    def score(l2):
        tried.append(l2)
        return errors[round(l2, 10)], f"fit at {l2}"

    l2, error, payload = protocol.ridge_path(score, reference=1.0)
    assert tried == [0.0, 0.01, 0.03, 0.1, 0.3]  # 1.0 (which would be better) is never tried
    assert (l2, error, payload) == (0.03, 1.0, "fit at 0.03")


def test_selection_uses_the_same_validation_entries_and_refits_what_it_chose():
    train = _small_obs()
    calls = []

    def make(name):
        def fit(obs, rank, seed, l2=0.0, validation=None, n_steps=None):
            calls.append((name, obs.nnz, rank, l2, None if validation is None else validation.indices.copy(),
                          n_steps))
            # rank 2 predicts the validation values exactly; the others are off by the rank
            offset = 0.0 if rank == 2 else float(rank)
            lookup = {tuple(i): v for i, v in zip(train.indices, train.values)}
            return (lambda idx: np.array([lookup.get(tuple(i), 0.0) for i in idx]) + offset), {"n_steps": 7}
        return protocol.Method(name, fit, uses_validation=True)

    results = {}
    for name in ("a", "b"):
        predict, setting, seconds, _, selection = protocol.select_and_refit(make(name), [1, 2, 3], train, seed=4)
        results[name] = setting
        assert seconds >= 0 and selection > 0  # three candidate fits ran before the final one
    assert results == {"a": "2, n_steps 7", "b": "2, n_steps 7"}
    val_a = [c[4] for c in calls if c[0] == "a" and c[4] is not None]
    val_b = [c[4] for c in calls if c[0] == "b" and c[4] is not None]
    assert len(val_a) == 3 and all(np.array_equal(v, val_b[0]) for v in val_a + val_b)
    final = [c for c in calls if c[4] is None]
    assert [(c[0], c[1], c[2], c[5]) for c in final] == [("a", train.nnz, 2, 7), ("b", train.nnz, 2, 7)]
    assert all(c[1] < train.nnz for c in calls if c[4] is not None)  # candidates fit on the 90% only


def test_a_single_candidate_is_fitted_once_without_selection():
    train = _small_obs()
    calls = []

    def fit(obs, rank, seed, l2=0.0, validation=None):
        calls.append(validation)
        return (lambda idx: np.zeros(len(idx))), {}

    selection = protocol.select_and_refit(protocol.Method("one", fit), [3], train, seed=0)[4]
    assert calls == [None] and selection < 1.0


def _runs():
    R = protocol.Run
    return [R("easy", "m1", 0, 0.01, 1.0, 1.0, "4"), R("easy", "m2", 0, 0.5, 2.0, 1.0, "4"),
            R("easy", "m1", 1, 0.02, 1.0, 1.0, "4"), R("easy", "m2", 1, 0.021, 2.0, 1.0, "4"),
            R("hard", "m1", 0, 1.3, 1.0, 1.0, "4"), R("hard", "m2", 0, 1.1, 2.0, 1.0, "4")]


def test_success_counts_and_the_no_winner_label(capsys):
    runs = _runs()
    assert protocol.successes(runs, "recovered") == [True, False, True, True, False, False]
    assert protocol.successes(runs, "near best") == [True, False, True, True, False, True]
    protocol.print_summary(runs, "recovered")
    out = capsys.readouterr().out
    assert "1/2" in out and "2/2" in out and "0/1" in out
    assert out.count("no method succeeds") == 1 and "hard" in out.split("no method succeeds")[0].splitlines()[-1]


def test_plot_runs_writes_a_figure(tmp_path):
    path = protocol.plot_runs(_runs(), tmp_path / "runs.png", "recovered")
    assert path.stat().st_size > 1000


def test_the_pytorch_loop_reports_the_step_count_it_stopped_at():
    pytest.importorskip("torch")
    train = _small_obs()
    sub, val = protocol.validation_split(train, 0)
    loop = peers.torch_adam("cp", check_every=5, patience=2, max_steps=200)
    predict, refit = loop.fit(sub, 2, 0, l2=0.01, validation=val)
    assert refit["n_steps"] % 5 == 0 and 5 <= refit["n_steps"] <= 200
    assert np.all(np.isfinite(predict(val.indices)))
    predict, refit = loop.fit(train, 2, 0, n_steps=13)
    assert refit == {"n_steps": 13}


def test_the_fixed_step_loop_ignores_validation_and_is_fitted_once():
    pytest.importorskip("torch")
    train = _small_obs()
    loop = peers.torch_adam("cp", fixed_steps=7)
    sub, val = protocol.validation_split(train, 0)
    _, refit = loop.fit(sub, 2, 0, validation=val)
    assert refit == {"n_steps": 7}
    calls = []
    counted = dataclasses.replace(loop, fit=lambda *a, **k: calls.append(k) or loop.fit(*a, **k))
    _, setting, _, _, _ = protocol.select_and_refit(counted, [2], train, 0)
    assert len(calls) == 1 and "validation" not in calls[0] and setting == "2, n_steps 7"


def test_ours_as_a_method_is_the_estimator():
    train = _small_obs()
    method = peers.ours("cp", max_iter=20)
    predict, refit = method.fit(train, 2, 0)
    expected = td.CPCompletion(rank=2, random_state=0, max_iter=20).fit(train).predict(train.indices)
    assert refit == {} and np.allclose(predict(train.indices), expected)
    assert method.name == "ours cp (max_iter=20)"


@pytest.mark.parametrize("model", ["cp", "tucker", "tt", "tr"])
def test_a_peer_never_starts_at_the_synthetic_truth(model):
    # the problems draw their truth from default_rng(seed); a peer's start must not share it
    from benchmarks.synthetic import PROBLEMS, make_problem

    obs, _, _ = make_problem(model, 0.5, 0.0, seed=3)
    shape, rank = PROBLEMS[model]
    spec = peers.MODELS[model]._model_class(shape, rank)
    truth = spec.init_cores(np.random.default_rng(3), 1.0)
    start = peers._gaussian_cores(model, obs, rank, peers.peer_rng(3))
    for t, s in zip(truth, start):
        corr = np.corrcoef(t.ravel(), s.ravel())[0, 1]
        assert abs(corr) < 0.5, corr
