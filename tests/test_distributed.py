"""Data-parallel fits on torch.distributed: 2 gloo processes on localhost give the 1-process cores."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.distributed as dist  # noqa: E402

import tensorly_das as td  # noqa: E402

from . import distributed_worker as worker  # noqa: E402

pytestmark = pytest.mark.skipif(not dist.is_available(), reason="torch.distributed not available")


@pytest.fixture(scope="module")
def two_rank_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join([root] + sys.path))
    # module mode from the repository root: running the file directly would put tests/ first
    # on sys.path, where the tests/torch package would shadow the real torch
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "tests.distributed_worker", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600, cwd=root)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (out / "stderr.txt").write_text(proc.stderr)
    return out


@pytest.mark.parametrize("name, rank, method", worker.CONFIGS)
def test_two_processes_match_one_process(two_rank_run, name, rank, method):
    single = getattr(td, name)(rank=rank, method=method, early_stopping=False, **worker.COMMON).fit(worker.problem())
    per_rank = []
    for r in range(2):
        with np.load(two_rank_run / f"{name}-{method}-rank{r}.npz") as data:
            per_rank.append([data[k] for k in sorted(data.files, key=lambda k: int(k.split("_")[1]))])
    for a, b, ref in zip(per_rank[0], per_rank[1], single.cores_):
        np.testing.assert_array_equal(a, b)  # every rank holds the same cores
        np.testing.assert_allclose(a, ref.numpy(), rtol=1e-8, atol=1e-10)


def test_early_stopping_agrees_across_ranks(two_rank_run):
    results = [json.loads((two_rank_run / f"results-rank{r}.json").read_text()) for r in range(2)]
    assert results[0]["early_stopping"] == results[1]["early_stopping"]
    assert results[0]["early_stopping"]["n_iter"] < 300


def test_progress_bar_on_rank_zero_only(two_rank_run):
    stderr = (two_rank_run / "stderr.txt").read_text()
    assert stderr.count("fit: 100%") == 1


def test_disagreement_and_empty_shard_raise_on_every_rank(two_rank_run):
    for r in range(2):
        results = json.loads((two_rank_run / f"results-rank{r}.json").read_text())
        assert "ranks disagree on ['rank']" in results["disagree"]
        assert "rank 1" in results["empty"] and "no observed entries" in results["empty"]


def test_distributed_needs_a_process_group_and_torch_backend():
    obs = worker.problem()
    with pytest.raises(ValueError, match="backend='pytorch'"):
        td.CPCompletion(distributed=True, max_iter=2).fit(obs)
    with pytest.raises(RuntimeError, match="process group"):
        td.CPCompletion(distributed=True, backend="pytorch", max_iter=2).fit(obs)


def test_cli_under_torchrun_with_per_rank_shard_files(tmp_path):
    obs = worker.problem()
    for r in range(2):
        shard = obs.subset(np.arange(r, obs.nnz, 2))
        np.savez(tmp_path / f"shard{r}.npz", indices=shard.indices, values=shard.values, shape=np.array(obs.shape))
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join([root] + sys.path))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "tensorly_das", "fit", str(tmp_path / "shard{rank}.npz"), "--model", "tucker",
           "--rank", "3,2,3", "--max-iter", "40", "--distributed", "-o", str(tmp_path / "out.npz")]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stdout.count("wrote") == 1 and "all ranks" in proc.stdout
    with np.load(tmp_path / "out.npz") as res:
        assert res["core_0"].shape == (3, 2, 3)
        assert tuple(res["shape"]) == obs.shape
