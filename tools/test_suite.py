"""Run every test tier the way CI does: in a random order, and each end-to-end module alone.

``python -m tools.test_suite [--seed N] [--no-e2e]`` (what ``make test`` runs after the lint)

Why this shape: every test must pass alone and in any order, with fixtures setting up what
it needs. So the tiers that need no cluster run together in one random order
(pytest-randomly shuffles modules and the tests inside them), and each end-to-end module
runs in a pytest process of its own, in the same random order: an e2e test that silently
relied on an earlier module (CRDs applied, a stack already up) fails here. The seed is
printed first and last; ``--seed N`` (or ``SEED=N make test``) repeats an order exactly.

The tiers are the ``testpaths`` of pyproject.toml: ``e2e/tests`` is split into its modules,
the others run together. The last line is the sum over every run, in the form CI reads:
``suite: N passed, N failed, N skipped``.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

ROOT = Path(__file__).resolve().parent.parent
E2E_TESTS = "e2e/tests"
RESULTS = ROOT / "build" / "test-results"


@dataclass
class Counts:
    """Outcomes summed over the runs' JUnit reports."""

    passed: int = 0
    failed: int = 0
    skipped: int = 0

    def add(self, report: Path) -> None:
        """Add the outcomes of one pytest JUnit report (failures and errors both count as failed)."""
        root = ElementTree.parse(report).getroot()  # noqa: S314 - pytest's own report of this run
        for suite in root.iter("testsuite"):
            tests, skipped = int(suite.get("tests", 0)), int(suite.get("skipped", 0))
            failed = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
            self.passed += tests - skipped - failed
            self.failed += failed
            self.skipped += skipped


@dataclass(frozen=True)
class Run:
    """One pytest process: a label for the summary and the paths it collects."""

    label: str
    paths: tuple[str, ...]


def testpaths(root: Path = ROOT) -> list[str]:
    """pytest's ``testpaths`` from pyproject.toml."""
    config = tomllib.loads((root / "pyproject.toml").read_text())
    paths: list[str] = config["tool"]["pytest"]["ini_options"]["testpaths"]
    return paths


def planned_runs(root: Path = ROOT, with_e2e: bool = True) -> list[Run]:
    """The non-e2e tiers together, then one run per e2e module (sorted by name)."""
    paths = testpaths(root)
    runs = [Run("unit, backupper, policy and other tiers", tuple(path for path in paths if path != E2E_TESTS))]
    if with_e2e and E2E_TESTS in paths:
        modules = sorted((root / E2E_TESTS).glob("test_*.py"))
        runs += [Run(f"e2e {module.stem} (alone)", (str(module.relative_to(root)),)) for module in modules]
    return runs


def run_one(run: Run, seed: int, index: int, extra: list[str]) -> tuple[int, Path]:
    """Run ``run`` in a fresh pytest process; its exit code and JUnit report path."""
    report = RESULTS / f"{index:02d}.xml"
    report.unlink(missing_ok=True)
    command = [
        sys.executable, "-m", "pytest", "-p", "randomly", "-p", "no:cacheprovider",
        f"--randomly-seed={seed}", f"--junitxml={report}", *extra, *run.paths,
    ]
    print(f"\n=== {run.label}: {' '.join(run.paths)} (seed {seed})", flush=True)
    return subprocess.run(command, cwd=ROOT, check=False).returncode, report


def main(argv: list[str] | None = None) -> int:
    """Run every planned run; 0 only when each of them passed."""
    parser = argparse.ArgumentParser(prog="python -m tools.test_suite", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=None, help="random-order seed (default: $SEED, else a new one)")
    parser.add_argument("--no-e2e", action="store_true", help="leave out the end-to-end modules")
    args, extra = parser.parse_known_args(argv)
    seed = args.seed if args.seed is not None else int(os.environ.get("SEED") or random.randrange(1, 2**31))  # noqa: S311 - a test order
    print(f"test order seed: {seed} (repeat this order with SEED={seed} make test)", flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    counts, broken = Counts(), []
    for index, run in enumerate(planned_runs(with_e2e=not args.no_e2e)):
        code, report = run_one(run, seed, index, extra)
        if report.is_file():
            counts.add(report)
        if code != 0:
            broken.append(f"{run.label} (pytest exit {code})")
    print(f"\ntest order seed: {seed}")
    for label in broken:
        print(f"FAILED RUN: {label}")
    print(f"suite: {counts.passed} passed, {counts.failed} failed, {counts.skipped} skipped")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
