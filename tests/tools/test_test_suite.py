"""The CI runner splits the tiers, sums real pytest reports and fails when any run fails."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tools.test_suite import E2E_TESTS, Counts, planned_runs


def write_project(root: Path) -> None:
    (root / "tests").mkdir(parents=True)
    (root / E2E_TESTS).mkdir(parents=True)
    (root / "pyproject.toml").write_text('[tool.pytest.ini_options]\ntestpaths = ["tests", "e2e/tests"]\n')
    (root / E2E_TESTS / "test_b.py").write_text("def test_b():\n    pass\n")
    (root / E2E_TESTS / "test_a.py").write_text("def test_a():\n    pass\n")
    (root / E2E_TESTS / "helpers.py").write_text("")


def test_the_other_tiers_run_together_and_each_e2e_module_alone(tmp_path: Path) -> None:
    write_project(tmp_path)
    runs = planned_runs(tmp_path)
    assert [run.paths for run in runs] == [("tests",), ("e2e/tests/test_a.py",), ("e2e/tests/test_b.py",)]
    assert [run.paths for run in planned_runs(tmp_path, with_e2e=False)] == [("tests",)]


def test_counts_sum_passes_failures_errors_and_skips_of_real_pytest_reports(tmp_path: Path) -> None:
    (tmp_path / "test_mixed.py").write_text(
        "import pytest\n"
        "@pytest.fixture\n"
        "def broken():\n"
        "    raise RuntimeError('setup fails')\n"
        "def test_passes():\n    pass\n"
        "def test_also_passes():\n    pass\n"
        "def test_fails():\n    assert False\n"
        "def test_errors(broken):\n    pass\n"
        "@pytest.mark.skip(reason='not here')\n"
        "def test_skipped():\n    pass\n"
    )
    report = tmp_path / "report.xml"
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
         f"--junitxml={report}", str(tmp_path / "test_mixed.py")],
        cwd=tmp_path, capture_output=True, check=False,
    )
    counts = Counts()
    counts.add(report)
    counts.add(report)
    assert (counts.passed, counts.failed, counts.skipped) == (4, 4, 2)
