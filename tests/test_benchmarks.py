"""The benchmark runner's registry and the shared measuring helpers (no benchmark is run)."""

import pathlib

import numpy as np

from benchmarks import peers
from benchmarks.run import BENCHMARKS, main

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_every_registered_benchmark_exists():
    for name, (command, _) in BENCHMARKS.items():
        module = command[command.index("-m") + 1]
        if module.startswith("benchmarks."):
            assert (ROOT / "benchmarks" / f"{module.split('.')[1]}.py").is_file(), name


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
