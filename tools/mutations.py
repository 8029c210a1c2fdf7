"""Apply each mutation the review found surviving, run the test suite, report killed/survived.

Run:  python tools/mutations.py [pytest args]     (from the repository root)

Each mutation is applied to a scratch copy of the package (the working tree is never edited);
a mutation is *killed* when the suite fails with it.
"""

import pathlib
import shutil
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[1]

#: name: (file, original text, mutated text)
MUTATIONS = {
    "ASAM scales by |G| instead of G^2": (
        "tensorly_das/updates/rules.py",
        "scaled = [g * (c * c) for g, c in zip(grads, cores)]",
        "scaled = [g * abs(c) for g, c in zip(grads, cores)]",
    ),
    "DAS takes the base step before the rescale": (
        "tensorly_das/updates/rules.py",
        "            for k, core in enumerate(cores):\n                core *= factors[k]\n        self.base.step(cores, grads)",
        "            self.base.step(cores, grads)\n            for k, core in enumerate(cores):\n                core *= factors[k]\n            return loss, grads\n        self.base.step(cores, grads)",
    ),
    "validation RMSE computed as MSE": (
        "tensorly_das/fit/objective.py",
        "return (sse / len(batch)) ** 0.5",
        "return sse / len(batch)",
    ),
    "mini-batch pass loss not weighted by batch size": (
        "tensorly_das/fit/batches.py",
        "loss = loss + batch_loss * (len(batch) / len(self.train))",
        "loss = loss + batch_loss / len(batches)",
    ),
}


def run(name, path, original, mutated, pytest_args):
    with tempfile.TemporaryDirectory() as tmp:
        copy = pathlib.Path(tmp) / "repo"
        shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(".git", ".venv", "docs", "*.egg-info"))
        target = copy / path
        text = target.read_text()
        if text.count(original) != 1:
            raise SystemExit(f"{name}: the original text is not found once in {path}")
        target.write_text(text.replace(original, mutated))
        cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *pytest_args]
        proc = subprocess.run(cmd, cwd=copy, capture_output=True, text=True,
                              env={**__import__("os").environ, "PYTHONPATH": str(copy)})
        last = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-200:]
        return proc.returncode != 0, last


def main():
    results = [(name, *run(name, *spec, sys.argv[1:])) for name, spec in MUTATIONS.items()]
    width = max(len(n) for n in MUTATIONS)
    for name, killed, last in results:
        print(f"{name:<{width}}  {'killed' if killed else 'SURVIVED'}  ({last})")
    sys.exit(0 if all(k for _, k, _ in results) else 1)


if __name__ == "__main__":
    main()
