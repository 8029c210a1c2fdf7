import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _setup_commands():
    text = (ROOT / "README.md").read_text()
    section = text.split("## Set up", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.*?)\n```", section, flags=re.S)


def test_readme_has_exactly_two_setup_commands():
    commands = _setup_commands()
    assert len(commands) == 2
    install, tests = commands
    assert "torch==2.13.0" in install and "tensorly-das demo" in install
    assert "torch==2.13.0" in tests and "pytest" in tests


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert _setup_commands()[1] in ci


def test_torch_is_pinned_wherever_it_is_required():
    cfg = (ROOT / "setup.cfg").read_text()
    for line in cfg.splitlines():
        if re.match(r"\s+torch\b", line):  # an indented requirement, not the extra's key
            assert "==2.13.0" in line, line
