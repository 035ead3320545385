"""Exit codes and error messages that scripts and people rely on, before any cluster call."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from scone_ops.cli import GROUPS, main, root
from scone_ops.errors import ExitCode

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_exit_code_table_matches_the_code() -> None:
    rows = re.findall(r"^\| (\d+) \| `(\w+)` \|", README.read_text(), flags=re.M)
    assert {int(code): name for code, name in rows} == {int(c): c.name for c in ExitCode}


def test_readme_documents_every_command() -> None:
    text = README.read_text()
    for name, command in root.commands.items():
        subcommands = getattr(command, "commands", {name: command})
        for sub in subcommands:
            usage = f"scone-ops {name} {sub}" if sub != name else f"scone-ops {name}"
            assert usage in text, usage
    assert len(GROUPS) == len(root.commands)


def test_unknown_option_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cas", "nodes", "--bogus"]) == ExitCode.USAGE
    assert "--bogus" in capsys.readouterr().err


def test_missing_stack_names_the_flags_and_exits_2(capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SCONE_OPS_STACK", raising=False)
    assert main(["cas", "nodes"]) == ExitCode.USAGE
    err = capsys.readouterr().err
    assert "--stack" in err and "--stack-file" in err


def test_unknown_stack_lists_the_stack_files(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cas", "nodes", "--stack", "nosuch"]) == ExitCode.CONFIG
    err = capsys.readouterr().err
    assert "Pulumi.nosuch.yaml does not exist" in err
    names = err.split("one of: ", 1)[1].split(", or --stack-file", 1)[0].split(", ")
    assert "local" in names and not any(n.endswith(".yaml") for n in names)


def test_invalid_stack_file_fails_with_the_program_own_message_as_json(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "Pulumi.bad.yaml"
    bad.write_text("config:\n  scone:serviceVersion: 5.8.0\n  scone:backup:\n    intervall: 5\n")
    assert main(["cas", "nodes", "--stack-file", str(bad), "--output", "json"]) == ExitCode.CONFIG
    out = json.loads(capsys.readouterr().out)
    assert out["exit_code"] == 3 and out["kind"] == "config"
    assert "did you mean 'interval'" in out["error"]


def test_unreachable_cluster_is_exit_4_with_the_next_step(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "kubeconfig"
    config.write_text(
        "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:9'}}]\n"
        "users: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n"
        "current-context: x\n")
    assert main(["cas", "nodes", "--stack", "local", "--kubeconfig", str(config)]) == ExitCode.CLUSTER
    err = capsys.readouterr().err
    assert "kubectl get cas cas -n osc-scone-system" in err and "next step" in err


def test_stack_without_cas_is_not_found(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cas", "move", "--stack", "edge", "--dry-run"]) == ExitCode.NOT_FOUND
    assert "skipCas: true" in capsys.readouterr().err
