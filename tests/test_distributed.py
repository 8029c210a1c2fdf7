"""Data-parallel fits on torch.distributed (gloo on localhost): 2 and 3 processes on uneven
shards give the 1-process answer; the CLI's outputs cover every entry; every failure stops all
processes quickly with one line."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.distributed as dist  # noqa: E402

import tensorly_das as td  # noqa: E402

from . import distributed_worker as worker  # noqa: E402

pytestmark = pytest.mark.skipif(not dist.is_available(), reason="torch.distributed not available")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _env():
    # module mode from the repository root: running a file directly would put tests/ first
    # on sys.path, where the tests/torch package would shadow the real torch
    return dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join([ROOT] + sys.path))


def _torchrun(nproc, *args, cwd=ROOT, timeout=600, extra=()):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc),
           *extra, *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=timeout, cwd=cwd)


@pytest.fixture(scope="module", params=[2, 3])
def run(request, tmp_path_factory):
    out = tmp_path_factory.mktemp(f"dist{request.param}")
    proc = _torchrun(request.param, "-m", "tests.distributed_worker", str(out))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (out / "stderr.txt").write_text(proc.stderr)
    return request.param, out


def _close(a, ref):
    """Equal up to the order of floating-point sums (1e-6 relative to the core's scale)."""
    np.testing.assert_allclose(a, ref, rtol=1e-6, atol=1e-6 * np.abs(ref).max())


@pytest.mark.parametrize("k", range(len(worker.CONFIGS)))
def test_uneven_shards_give_the_single_process_cores(run, k):
    world, out = run
    single = worker.fit(*worker.CONFIGS[k], worker.problem())
    sizes = [json.loads((out / f"results-rank{r}.json").read_text())["n_local"] for r in range(world)]
    assert len(set(sizes)) == world  # the shards are uneven
    for r in range(world):
        with np.load(out / f"config{k}-rank{r}.npz") as data:
            cores = [data[f"arr_{i}"] for i in range(len(data.files))]
        for a, ref in zip(cores, single.cores_):
            _close(a, ref.numpy())
        result = json.loads((out / f"results-rank{r}.json").read_text())[f"config{k}"]
        assert result["n_iter"] == single.n_iter_  # early stopping took the same decision
        assert result["best_val_rmse"] == pytest.approx(single.best_val_rmse_, rel=1e-6)


def test_progress_bar_on_rank_zero_only(run):
    _, out = run
    text = (out / "stderr.txt").read_text()
    # one bar: started once (tqdm may print its last state twice, at the last update and on close)
    assert text.count("fit:   0%") == 1 and text.count("fit: 100%") >= 1


def test_disagreement_and_empty_shard_raise_on_every_rank(run):
    world, out = run
    for r in range(world):
        results = json.loads((out / f"results-rank{r}.json").read_text())
        assert "ranks disagree on ['rank']" in results["disagree"]
        assert "rank 1" in results["empty"] and "no observed entries" in results["empty"]


def test_distributed_needs_a_process_group_and_torch_backend():
    obs = worker.problem()
    with pytest.raises(ValueError, match="backend='pytorch'"):
        td.CPCompletion(distributed=True, max_iter=2).fit(obs)
    with pytest.raises(RuntimeError, match="process group"):
        td.CPCompletion(distributed=True, backend="pytorch", max_iter=2).fit(obs)


# -- the command line --------------------------------------------------------------------------

FIT = ["--model", "tucker", "--rank", "3,2,3", "--max-iter", "40"]


def _input_file(path):
    obs = worker.problem()
    np.savez(path, indices=obs.indices, values=obs.values, shape=np.array(obs.shape))
    return obs


def _sorted_output(path):
    with np.load(path) as res:
        order = np.lexsort(res["indices"].T[::-1])
        return ([res[f"core_{k}"] for k in range(4)], res["indices"][order], res["predictions"][order])


def test_cli_fits_of_one_file_agree_for_1_2_and_3_processes_and_cover_every_entry(tmp_path):
    obs = _input_file(tmp_path / "in.npz")
    single = subprocess.run([sys.executable, "-m", "tensorly_das", "fit", "in.npz", *FIT, "-o", "out1.npz"],
                            capture_output=True, text=True, env=_env(), cwd=str(tmp_path), timeout=600)
    assert single.returncode == 0, single.stderr[-3000:]
    ref_cores, ref_idx, ref_pred = _sorted_output(tmp_path / "out1.npz")
    np.testing.assert_array_equal(ref_idx, obs.indices)  # obs is in the tensor's order
    for world in (2, 3):
        proc = _torchrun(world, "-m", "tensorly_das", "fit", "in.npz", *FIT, "--distributed",
                         "-o", f"out{world}.npz", cwd=str(tmp_path))
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        assert proc.stdout.count("wrote") == 1 and f"all {world} ranks" in proc.stdout
        cores, idx, pred = _sorted_output(tmp_path / f"out{world}.npz")
        np.testing.assert_array_equal(idx, ref_idx)  # every entry, not rank 0's shard
        for a, ref in zip(cores, ref_cores):
            _close(a, ref)
        _close(pred, ref_pred)


def test_cli_under_torchrun_with_per_rank_shard_files(tmp_path):
    obs = worker.problem()
    for r in range(2):
        part = worker.shard(obs, r, 2)
        np.savez(tmp_path / f"shard{r}.npz", indices=part.indices, values=part.values, shape=np.array(obs.shape))
    proc = _torchrun(2, "-m", "tensorly_das", "fit", "shard{rank}.npz", *FIT, "--distributed", "-o", "out.npz",
                     cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    with np.load(tmp_path / "out.npz") as res:
        assert res["core_0"].shape == (3, 2, 3) and tuple(res["shape"]) == obs.shape
        assert len(res["indices"]) == obs.nnz


def _fails_fast(proc, seconds, *words):
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0, text[-2000:]
    errors = [line for line in text.splitlines() if line.startswith("tensorly-das: error:")]
    # torchrun prints its own report (with a launcher traceback); no frame of ours appears
    ours = [line for line in text.splitlines() if line.strip().startswith("File ") and "tensorly_das" in line]
    assert errors and not ours, text[-3000:]
    for word in words:
        assert all(word in line for line in errors), errors
    assert seconds < 120


@pytest.mark.parametrize("case", ["missing shard", "nan shard", "fewer entries than ranks", "no --distributed",
                                  "bad pattern"])
def test_every_rank_stops_at_once_with_the_same_line(tmp_path, case):
    obs = worker.problem()
    args, words = ["shard{rank}.npz", *FIT, "--distributed"], ["rank 1"]
    np.savez(tmp_path / "shard0.npz", indices=obs.indices[::2], values=obs.values[::2], shape=np.array(obs.shape))
    if case == "nan shard":
        values = obs.values[1::2].copy()
        values[3] = np.nan
        np.savez(tmp_path / "shard1.npz", indices=obs.indices[1::2], values=values, shape=np.array(obs.shape))
        words.append("finite")
    elif case == "fewer entries than ranks":
        np.savez(tmp_path / "one.npz", indices=obs.indices[:1], values=obs.values[:1], shape=np.array(obs.shape))
        args[0] = "one.npz"
        words.append("fewer than the 2 processes")
    elif case == "no --distributed":
        args.remove("--distributed")
        args[0] = "shard0.npz"
        words = ["WORLD_SIZE=2", "--distributed"]
    elif case == "bad pattern":
        args[0] = "shard{rank}_{x}.npz"
        words = ["rank 0", "rank 1", "{rank}"]
    else:
        words.append("not found")
    t0 = time.perf_counter()
    proc = _torchrun(2, "-m", "tensorly_das", "fit", *args, "-o", "out.npz", cwd=str(tmp_path), timeout=300)
    _fails_fast(proc, time.perf_counter() - t0, *words)
    assert not any(p.name.startswith(("out.npz", ".out.npz")) for p in tmp_path.iterdir())


def _children(pid):
    kids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                kids.append(int(entry))
    return kids


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_killed_rank_stops_the_others_and_names_the_lost_rank(tmp_path):
    _input_file(tmp_path / "in.npz")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "tensorly_das", "fit", "in.npz", "--model", "cp", "--rank", "3", "--max-iter", "1000000",
           # early stopping ends a fit of this small file in seconds; 10^5 starts keep it busy
           "--n-init", "100000", "--distributed", "--verbose", "-o", "out.npz"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(),
                            cwd=str(tmp_path))
    try:
        deadline = time.time() + 120
        while time.time() < deadline:  # wait until both workers run the fit
            workers = _children(proc.pid)
            if len(workers) == 2 and (tmp_path / "in.npz").exists():
                time.sleep(8)
                break
            time.sleep(0.5)
        workers = sorted(_children(proc.pid))
        assert len(workers) == 2
        t0 = time.perf_counter()
        os.kill(workers[1], signal.SIGKILL)
        out, err = proc.communicate(timeout=180)
        seconds = time.perf_counter() - t0
    finally:
        proc.kill()
    assert proc.returncode != 0 and seconds < 90, (seconds, err[-3000:])
    assert "rank: 1" in err or "rank 1" in err, err[-3000:]  # torchrun's report names the lost rank
    assert not any(p.name.startswith(("out.npz", ".out.npz")) for p in tmp_path.iterdir())


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_nodes_on_localhost_give_the_single_process_answer(tmp_path):
    _input_file(tmp_path / "in.npz")
    single = subprocess.run([sys.executable, "-m", "tensorly_das", "fit", "in.npz", *FIT, "-o", "one.npz"],
                            capture_output=True, text=True, env=_env(), cwd=str(tmp_path), timeout=600)
    assert single.returncode == 0, single.stderr[-3000:]
    port = _free_port()
    nodes = [subprocess.Popen(
        [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--node_rank", str(k),
         "--nproc_per_node", "1", "--rdzv_backend", "c10d", "--rdzv_endpoint", f"127.0.0.1:{port}",
         "--rdzv_id", "two-nodes", "-m", "tensorly_das", "fit", "in.npz", *FIT, "--distributed", "-o", "two.npz"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(), cwd=str(tmp_path)) for k in range(2)]
    outputs = [p.communicate(timeout=600) for p in nodes]
    assert all(p.returncode == 0 for p in nodes), [o[1][-2000:] for o in outputs]
    cores, idx, pred = _sorted_output(tmp_path / "two.npz")
    ref_cores, ref_idx, ref_pred = _sorted_output(tmp_path / "one.npz")
    np.testing.assert_array_equal(idx, ref_idx)
    for a, ref in zip(cores, ref_cores):
        _close(a, ref)
    _close(pred, ref_pred)
