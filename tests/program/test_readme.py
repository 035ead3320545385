"""The README's generated parts and its promises stay true."""

from __future__ import annotations

from pathlib import Path

from tools.config_reference import README, readme_table, table

ROOT = Path(__file__).resolve().parents[2]


def test_readme_config_reference_matches_the_spec_model() -> None:
    assert readme_table(README.read_text()) == table()


def test_readme_opens_with_the_two_newcomer_commands() -> None:
    lines = README.read_text().splitlines()
    block = lines[lines.index("```sh") + 1 : lines.index("```sh") + 3]
    assert block[0].startswith("make demo")
    assert block[1].startswith("make test")


def test_ci_runs_exactly_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert "\nmake test\n" in ci
