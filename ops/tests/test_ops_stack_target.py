"""Reading a stack file with the program's own spec loader, without Pulumi state or secrets."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from scone_ops.errors import ExitCode, OpsError
from scone_ops.stack_target import PROJECT_ROOT, load_target, stack_file_for

from components.config_source import stack_names

STACKS = stack_names(PROJECT_ROOT)


@pytest.mark.parametrize("stack", STACKS)
def test_every_committed_stack_loads_with_its_own_names(stack: str) -> None:
    config = yaml.safe_load(stack_file_for(stack).read_text())["config"]
    target = load_target(stack_file_for(stack))
    assert target.version == config["scone:serviceVersion"]
    assert target.namespace == (config.get("scone:namespaces") or {}).get("services", "osc-scone-system")
    assert target.cas_name == (config.get("scone:cas") or {}).get("name", "cas")
    assert target.has_cas is not bool(config.get("scone:skipCas", False))
    assert target.backup.interval_seconds == (config.get("scone:backup") or {}).get("interval", 14400)


def test_registration_label_and_pod_follow_the_guide_pattern(tmp_path: Path) -> None:
    stack = tmp_path / "Pulumi.x.yaml"
    stack.write_text("config:\n  scone:serviceVersion: 5.8.0\n  scone:cas:\n    name: mycas\n"
                     "  scone:namespaces:\n    services: sec\n"
                     "  scone:backup:\n    s3Creds: {secret: s, namespace: default}\n")
    target = load_target(stack)
    assert target.registration_label == "cas-registered-mycas.sec-5.8.0"
    assert target.pod_name == "mycas-0"


def test_secure_values_are_noted_but_never_decrypted(tmp_path: Path) -> None:
    stack = tmp_path / "Pulumi.s.yaml"
    stack.write_text("config:\n  scone:serviceVersion: 5.8.0\n  scone:dcapKey:\n    secure: v1:AAAA\n"
                     "  scone:backup:\n    s3Creds: {secret: s, namespace: default}\n")
    assert load_target(stack).version == "5.8.0"


def test_a_plain_text_credential_is_refused_as_the_program_refuses_it(tmp_path: Path) -> None:
    stack = tmp_path / "Pulumi.p.yaml"
    stack.write_text("config:\n  scone:serviceVersion: 5.8.0\n  scone:dcapKey: plain\n")
    with pytest.raises(OpsError) as caught:
        load_target(stack)
    assert caught.value.code == ExitCode.CONFIG
    assert "pulumi config set --secret dcapKey" in caught.value.message


def test_unsupported_version_is_refused_with_the_supported_list(tmp_path: Path) -> None:
    stack = tmp_path / "Pulumi.v.yaml"
    stack.write_text("config:\n  scone:serviceVersion: 1.0.0\n")
    with pytest.raises(OpsError) as caught:
        load_target(stack)
    assert "serviceVersion" in caught.value.message and "5.8.0" in caught.value.message
