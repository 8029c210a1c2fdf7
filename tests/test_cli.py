import io
import subprocess
import sys

import numpy as np
import pytest

from tensorly_das.cli import main, run_demo

from .conftest import low_rank_problem


def test_demo_table_labels_train_and_heldout():
    out = io.StringIO()
    rows = run_demo(methods=("plain", "das"), max_iter=300, out=out)
    text = out.getvalue()
    assert "train R^2" in text and "held-out R^2" in text
    assert [r["method"] for r in rows] == ["plain", "das"]
    assert all(0 < r["heldout_r2"][0] < 1 for r in rows)


def test_fit_dense_npy_roundtrip(tmp_path, capsys):
    obs, X = low_rank_problem(fraction=0.6)
    dense = obs.to_dense()
    src = tmp_path / "x.npy"
    np.save(src, dense)
    dst = tmp_path / "out.npz"
    assert main(["fit", str(src), "--rank", "3", "--max-iter", "200", "--lr", "0.05", "-o", str(dst)]) == 0
    text = capsys.readouterr().out
    assert "training entries" in text and "held-out validation" in text
    with np.load(dst) as res:
        assert res["completed"].shape == X.shape
        assert res["factor_0"].shape == (X.shape[0], 3)
        # imputer convention: observed values kept, missing entries filled by the model
        observed = tuple(res["indices"].T)
        np.testing.assert_array_equal(res["completed"][observed], dense[observed])
        import tensorly as tl

        model = tl.cp_to_tensor((res["weights"], [res[f"factor_{n}"] for n in range(3)]))
        missing = np.isnan(dense)
        np.testing.assert_allclose(res["completed"][missing], model[missing], rtol=1e-10)
        np.testing.assert_allclose(model[observed], res["predictions"], rtol=1e-10)
    # refuses to overwrite without --force, then overwrites with it
    assert main(["fit", str(src), "--rank", "3", "--max-iter", "5", "-o", str(dst)]) == 2
    assert "--force" in capsys.readouterr().err
    assert main(["fit", str(src), "--rank", "3", "--max-iter", "5", "-o", str(dst), "--force"]) == 0


def test_fit_npz_coordinates(tmp_path):
    obs, _ = low_rank_problem(fraction=0.6)
    src = tmp_path / "obs.npz"
    np.savez(src, indices=obs.indices, values=obs.values, shape=np.array(obs.shape))
    dst = tmp_path / "out.npz"
    assert main(["fit", str(src), "--rank", "2", "--max-iter", "20", "--method", "sam", "-o", str(dst)]) == 0
    with np.load(dst) as res:
        assert "completed" not in res.files
        assert res["predictions"].shape == (obs.nnz,)


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "not found"),
        (b"not a numpy file", "cannot read"),
        (b"PK\x03\x04truncated", "cannot read"),
    ],
)
def test_fit_refuses_bad_files_with_one_line(tmp_path, capsys, content, message):
    src = tmp_path / "bad.npz"
    if content is not None:
        src.write_bytes(content)
    code = main(["fit", str(src), "-o", str(tmp_path / "o.npz")])
    err = capsys.readouterr().err
    assert code != 0 and message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o.npz").exists()


def test_fit_refuses_wrong_npz_content(tmp_path, capsys):
    src = tmp_path / "w.npz"
    np.savez(src, values=np.ones(3))
    assert main(["fit", str(src), "-o", str(tmp_path / "o.npz")]) == 2
    assert "lacks" in capsys.readouterr().err
    np.savez(src, indices=np.array([[0, 0], [5, 5]]), values=np.ones(2), shape=np.array([2, 2]))
    assert main(["fit", str(src), "-o", str(tmp_path / "o.npz")]) == 2
    assert "out of range" in capsys.readouterr().err


def test_module_entry_point_runs():
    result = subprocess.run([sys.executable, "-m", "tensorly_das", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and "tensorly_das" in result.stdout


@pytest.mark.parametrize("model, rank", [("tucker", "3,2,2"), ("tt", "2"), ("tr", "2")])
def test_fit_other_models(tmp_path, model, rank):
    obs, _ = low_rank_problem(fraction=0.6)
    src = tmp_path / "obs.npz"
    np.savez(src, indices=obs.indices, values=obs.values, shape=np.array(obs.shape))
    dst = tmp_path / "out.npz"
    assert main(["fit", str(src), "--model", model, "--rank", rank, "--max-iter", "20", "-o", str(dst)]) == 0
    with np.load(dst) as res:
        assert str(res["model"]) == model
        assert "core_0" in res.files and res["predictions"].shape == (obs.nnz,)


def test_fit_refuses_bad_rank_text(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["fit", str(tmp_path / "x.npy"), "--rank", "a,b", "-o", str(tmp_path / "o.npz")])
    assert "rank must be" in capsys.readouterr().err


@pytest.mark.parametrize(
    "arrays, message",
    [
        ({"dense": np.array([1.0, np.nan, 2.0])}, "order >= 2"),
        ({"dense": np.array(3.0)}, "non-empty"),
        ({"dense": np.zeros((0, 4))}, "non-empty"),
        ({"dense": np.full((3, 4), np.nan)}, "no observed"),
        ({"indices": np.arange(4), "values": np.ones(4)}, "2-D"),
        ({"indices": np.zeros((2, 2), int) + [[0], [1]], "values": np.ones((2, 1))}, "1-D"),
        ({"indices": np.array([[0, 0], [1, 1]]), "values": np.ones(2), "shape": np.array([[2, 2]])}, "1-D integer"),
        ({"indices": np.array([[0, 0], [1, 1]]), "values": np.ones(2), "shape": np.array([2.5, 2.0])}, "integer"),
        ({"indices": np.array([[0, 0], [1, 1]]), "values": np.ones(3)}, "values have 3"),
    ],
)
def test_fit_refuses_wrong_shaped_input_in_one_line(tmp_path, capsys, arrays, message):
    if "dense" in arrays:
        src = tmp_path / "x.npy"
        np.save(src, arrays["dense"])
    else:
        src = tmp_path / "x.npz"
        np.savez(src, **arrays)
    code = main(["fit", str(src), "--max-iter", "3", "-o", str(tmp_path / "o.npz")])
    err = capsys.readouterr().err
    assert code != 0 and message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o.npz").exists()


def test_interrupted_write_leaves_no_file(tmp_path, monkeypatch):
    obs, _ = low_rank_problem(fraction=0.6)
    src = tmp_path / "obs.npz"
    np.savez(src, indices=obs.indices, values=obs.values, shape=np.array(obs.shape))
    dst = tmp_path / "out.npz"
    dst.write_bytes(b"previous result")

    def interrupted(handle, **arrays):
        handle.write(b"PK\x03\x04 half an archive")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", interrupted)
    with pytest.raises(KeyboardInterrupt):
        main(["fit", str(src), "--rank", "2", "--max-iter", "3", "-o", str(dst), "--force"])
    assert dst.read_bytes() == b"previous result"  # the old output is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["obs.npz", "out.npz"]  # no temporary left


def test_help_shows_the_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["fit", "--help"])
    text = capsys.readouterr().out
    for flag, default in (("--lr", "0.05"), ("--method", "plain"), ("--max-iter", "5000"), ("--das-alpha", "1.0")):
        assert flag in text
        assert f"(default: {default})" in text


def test_output_follows_the_umask_and_single_process_says_no_ranks(tmp_path, capsys):
    import os
    import stat

    obs, _ = low_rank_problem(fraction=0.6)
    src = tmp_path / "x.npy"
    np.save(src, obs.to_dense())
    old = os.umask(0o027)
    try:
        assert main(["fit", str(src), "--rank", "2", "--max-iter", "5", "-o", str(tmp_path / "o.npz")]) == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "o.npz").st_mode) == 0o640
    assert "ranks" not in capsys.readouterr().out


def test_old_flags_warn_and_act(tmp_path, capsys):
    obs, _ = low_rank_problem(fraction=0.6)
    src = tmp_path / "x.npy"
    np.save(src, obs.to_dense())
    common = ["fit", str(src), "--rank", "2", "--max-iter", "20", "--method", "sam", "--force"]
    assert main([*common, "--rho", "0.3", "-o", str(tmp_path / "old.npz")]) == 0
    assert "--rho is deprecated" in capsys.readouterr().err
    assert main([*common, "--sam-rho", "0.3", "-o", str(tmp_path / "new.npz")]) == 0
    with np.load(tmp_path / "old.npz") as a, np.load(tmp_path / "new.npz") as b:
        np.testing.assert_array_equal(a["core_0"], b["core_0"])


def test_divergence_is_one_line(tmp_path, capsys):
    obs, _ = low_rank_problem(fraction=0.6)
    src = tmp_path / "x.npy"
    np.save(src, obs.to_dense())
    code = main(["fit", str(src), "--rank", "2", "--solver", "sgd", "--lr", "1e9", "--max-iter", "50",
                 "-o", str(tmp_path / "o.npz")])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "iteration" in err and not (tmp_path / "o.npz").exists()


def test_demo_refuses_zero_seeds(capsys):
    with pytest.raises(SystemExit):
        main(["demo", "--seeds", "0"])
    assert "positive integer" in capsys.readouterr().err


def _input(tmp_path):
    obs, _ = low_rank_problem(fraction=0.6)
    src = tmp_path / "x.npz"
    np.savez(src, indices=obs.indices, values=obs.values, shape=np.array(obs.shape))
    return src


def _one_line_error(capsys, *words):
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    for word in words:
        assert word in err, err


def test_output_path_is_checked_before_any_work(tmp_path, capsys, monkeypatch):
    import tensorly_das.cli as cli

    src = _input(tmp_path)
    monkeypatch.setattr(cli, "read_observations", lambda *a: pytest.fail("read before the output check"))
    assert main(["fit", str(src), "-o", str(tmp_path / "missing" / "o.npz")]) == 2
    _one_line_error(capsys, "output directory does not exist")
    assert main(["fit", str(src), "-o", str(tmp_path), "--force"]) == 2
    _one_line_error(capsys, "output is a directory")
    (tmp_path / "dir.npz").mkdir()
    assert main(["fit", str(src), "-o", str(tmp_path / "dir.npz"), "--force"]) == 2
    _one_line_error(capsys, "output is a directory")


def test_a_symlink_at_the_output_is_never_followed_without_force(tmp_path, capsys):
    import os

    src = _input(tmp_path)
    link, target = tmp_path / "o.npz", tmp_path / "elsewhere.npz"
    os.symlink(target, link)  # dangling
    assert main(["fit", str(src), "--rank", "2", "--max-iter", "3", "-o", str(link)]) == 2
    _one_line_error(capsys, "symbolic link", "--force")
    assert link.is_symlink() and not target.exists()
    assert main(["fit", str(src), "--rank", "2", "--max-iter", "3", "-o", str(link), "--force"]) == 0
    assert not link.is_symlink() and link.is_file() and not target.exists()  # the link was replaced


def test_an_os_error_while_writing_is_one_line_and_leaves_no_temporary(tmp_path, capsys, monkeypatch):
    src = _input(tmp_path)

    def disk_full(handle, **arrays):
        handle.write(b"PK\x03\x04 part")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", disk_full)
    assert main(["fit", str(src), "--rank", "2", "--max-iter", "3", "-o", str(tmp_path / "o.npz")]) == 2
    _one_line_error(capsys, "cannot write", "No space left on device")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.npz"]


def test_a_rerun_removes_temporaries_of_killed_runs(tmp_path):
    from tensorly_das.cli import TEMP_SUFFIX

    src = _input(tmp_path)
    stale = tmp_path / f".o.npz.{2**22 + 7}{TEMP_SUFFIX}"  # above Linux's largest pid: not running
    stale.write_bytes(b"half a file from a kill -9")
    alive = tmp_path / f".o.npz.1{TEMP_SUFFIX}"  # pid 1 runs: another writer's file is kept
    alive.write_bytes(b"in progress")
    assert main(["fit", str(src), "--rank", "2", "--max-iter", "3", "-o", str(tmp_path / "o.npz")]) == 0
    assert not stale.exists() and alive.exists() and (tmp_path / "o.npz").is_file()


def test_sigterm_during_the_write_removes_the_temporary(tmp_path):
    import os
    import signal
    import time

    src = _input(tmp_path)
    script = (
        "import sys, time, numpy as np\n"
        "def slow(handle, **arrays):\n"
        "    handle.write(b'PK partial'); handle.flush(); print('writing', flush=True); time.sleep(60)\n"
        "np.savez = slow\n"
        "from tensorly_das.cli import main\n"
        f"sys.exit(main(['fit', {str(src)!r}, '--rank', '2', '--max-iter', '3', '-o', {str(tmp_path / 'o.npz')!r}]))\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        while (line := proc.stdout.readline()) and line.strip() != "writing":
            pass  # the fit's report comes first
        assert line.strip() == "writing"
        assert any(p.name.endswith(".tensorly-das-tmp") for p in tmp_path.iterdir())
        os.kill(proc.pid, signal.SIGTERM)
        code = proc.wait(timeout=30)
    finally:
        proc.kill()
        proc.stdout.close()
    assert code == 128 + signal.SIGTERM
    time.sleep(0.1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.npz"]


def test_a_tiny_file_naming_a_huge_shape_is_refused_before_the_fit(tmp_path, capsys):
    src = tmp_path / "huge.npz"  # 3 entries of a (1e7)^3 tensor: the cores alone take 1.2 GB
    np.savez(src, indices=np.array([[0, 0, 0], [1, 2, 3], [9_999_999, 5, 7]]), values=np.ones(3),
             shape=np.array([10**7] * 3))
    code = main(["fit", str(src), "--rank", "5", "--max-memory", "500MB", "-o", str(tmp_path / "o.npz")])
    assert code == 1
    _one_line_error(capsys, "needs about", "more than max_memory (500 MB)", "(10000000, 10000000, 10000000)")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["huge.npz"]


def test_l2_reg_auto_from_the_command_line(tmp_path, capsys):
    src = _input(tmp_path)
    assert main(["fit", str(src), "--rank", "2", "--max-iter", "30", "--l2-reg", "auto",
                 "-o", str(tmp_path / "o.npz")]) == 0
    with pytest.raises(SystemExit):
        main(["fit", str(src), "--l2-reg", "-1", "-o", str(tmp_path / "p.npz")])
    assert "non-negative number or 'auto'" in capsys.readouterr().err


def test_final_sweeps_from_the_command_line_say_what_the_validation_figure_is(tmp_path, capsys):
    obs, _ = low_rank_problem(fraction=0.6)
    src = tmp_path / "x.npy"
    np.save(src, obs.to_dense())
    assert main(["fit", str(src), "--rank", "3", "--max-iter", "50", "--final-sweeps", "2",
                 "-o", str(tmp_path / "out.npz")]) == 0
    assert "before the 2 final sweeps on all entries" in capsys.readouterr().out
    assert main(["fit", str(src), "--rank", "3", "--solver", "adam", "--final-sweeps", "2",
                 "-o", str(tmp_path / "out2.npz")]) != 0
    assert "needs solver='als'" in capsys.readouterr().err
    for bad in ("-1", "two", "1.5"):
        with pytest.raises(SystemExit):
            main(["fit", str(src), "--final-sweeps", bad, "-o", str(tmp_path / "out3.npz")])
        assert "non-negative int or 'auto'" in capsys.readouterr().err
    assert not (tmp_path / "out3.npz").exists()
