"""Bad stack config is refused before anything is registered, with a message that says what to do."""

from __future__ import annotations

from typing import Any

import pytest

from components.spec import SconeSpec
from components.support_matrix import supported_versions
from tests.program.conftest import Evaluate

HEADER = "invalid configuration in stacks/Pulumi.dev.yaml:\n  - "

INVALID: list[tuple[str, dict[str, Any], str]] = [
    (
        "unknown top-level key",
        {"serviceVersio": "5.8.0"},
        "scone:serviceVersio: unknown key; did you mean 'serviceVersion'?",
    ),
    (
        "unknown nested key",
        {"backup": {"intervall": 3600}},
        "scone:backup.intervall: unknown key; did you mean 'interval'?",
    ),
    ("misspelt secret key", {"dcapkey": "x"}, "scone:dcapkey: unknown key; did you mean 'dcapKey'?"),
    (
        "unsupported version",
        {"serviceVersion": "5.7.0"},
        f"scone:serviceVersion: '5.7.0' is not in the support matrix ({', '.join(supported_versions())}): pick a"
        " supported version (components/support_matrix.yaml lists them)",
    ),
    (
        "missing version",
        {"serviceVersion": None},
        "scone:serviceVersion: required; set it with `pulumi config set serviceVersion <value>`",
    ),
    (
        "negative interval",
        {"backup": {"interval": -5}},
        "scone:backup.interval: must be at least 60 seconds (got -5); the guide's default is 14400",
    ),
    (
        "retention 0",
        {"backup": {"retention": 0}},
        "scone:backup.retention: must be at least 1 day (got 0); the guide's default is 10",
    ),
    (
        "interval not a number",
        {"backup": {"interval": "often"}},
        "scone:backup.interval: must be a whole number, got 'often'",
    ),
    (
        "retention shorter than two intervals",
        {"backup": {"interval": 86400, "retention": 1}},
        "scone:backup.retention: is 1 day(s), less than two backup intervals (86400 s):"
        " raise retention or lower interval",
    ),
    (
        "restore drill schedule with four fields",
        {"backup": {"restoreDrill": {"schedule": "0 3 * *"}}},
        "scone:backup.restoreDrill.schedule: '0 3 * *' has 4 field(s); allowed: five fields 'minute hour"
        " day-of-month month day-of-week' (e.g. '0 3 * * 0' = Sundays 03:00) or one of @yearly, @annually,"
        " @monthly, @weekly, @daily, @midnight, @hourly; empty turns the drill off",
    ),
    (
        "restore drill schedule that never fires",
        {"backup": {"restoreDrill": {"schedule": "0 3 30 2 *"}}},
        "scone:backup.restoreDrill.schedule: the schedule never fires (no such day, e.g. 30 February);"
        " empty turns the drill off",
    ),
    (
        "bad label key",
        {"serviceNodeSelector": {"bad key!": "true"}},
        "scone:serviceNodeSelector: label key 'bad key!': name 'bad key!' must be at most 63 characters of letters,"
        " digits, '-', '_' or '.', starting and ending with a letter or digit",
    ),
    (
        "unquoted label value",
        {"serviceNodeSelector": {"osc.services/enabled": True}},
        "scone:serviceNodeSelector.osc.services/enabled: must be a string (quote it in YAML), got True",
    ),
    (
        "selector not a map",
        {"operatorNodeSelector": "node=a"},
        "scone:operatorNodeSelector: must be a map of key: value, got 'node=a'",
    ),
    (
        "management state case",
        {"managementState": "managed"},
        "scone:managementState: got 'managed'; allowed: 'Managed' or 'Unmanaged'",
    ),
    ("skipCas not boolean", {"skipCas": "yes"}, "scone:skipCas: must be true or false, got 'yes'"),
    (
        "CAS name too long for the plugin",
        {"cas": {"name": "a-very-long-cas-name"}},
        "scone:cas.name: 'a-very-long-cas-name' is longer than 15 characters: kubectl-provision accepts CAS names of"
        " at most 15 characters",
    ),
    (
        "namespace upper case",
        {"namespaces": {"services": "Osc-Scone"}},
        "scone:namespaces.services: 'Osc-Scone' must be lower-case letters, digits and '-', starting and ending with"
        " a letter or digit",
    ),
    (
        "endpoint without scheme",
        {"backup": {"s3": {"endpoint": "s3.example.com"}}},
        "scone:backup.s3.endpoint: 's3.example.com' must be an http:// or https:// URL, e.g. https://s3.example.com",
    ),
    (
        "kubernetes version outside the matrix",
        {"serviceVersion": "5.8.0", "kubernetesVersion": "1.30"},
        "scone:kubernetesVersion: 1.30 is outside what SCONE 5.8.0 supports (1.24-1.26)",
    ),
    (
        "s3Creds without namespace",
        {"backup": {"s3Creds": {"secret": "x"}}},
        "scone:backup.s3Creds.namespace: required; set it with `pulumi config set backup.s3Creds.namespace <value>`",
    ),
    (
        "cert-manager mode",
        {"certManager": {"mode": "auto"}},
        "scone:certManager.mode: got 'auto'; allowed: 'detect', 'install' or 'skip'",
    ),
    (
        "registry with scheme",
        {"images": {"repository": "https://registry.example.com/x"}},
        "scone:images.repository: 'https://registry.example.com/x' must be a registry path like"
        " registry.example.com/team, without scheme or trailing '/'",
    ),
    (
        "operator image name with a tag",
        {"images": {"operatorImageName": "k8soperators:5.8.0"}},
        "scone:images.operatorImageName: 'k8soperators:5.8.0' must be an image name like k8soperators (lowercase"
        " letters and digits, joined by . _ - /), without registry, tag or digest",
    ),
    (
        "plugin timeout zero",
        {"provisioning": {"pluginTimeoutSeconds": 0}},
        "scone:provisioning.pluginTimeoutSeconds: is 0: use 1..86400 seconds (default 1800)",
    ),
    (
        "snapshot interval not a duration",
        {"cas": {"snapshotInterval": "hourly"}},
        "scone:cas.snapshotInterval: 'hourly' must be a Go duration such as 1h0m0s, 30m or 24h",
    ),
    (
        "plain-text DCAP key",
        {"dcapKey": "0123456789abcdef"},
        "scone:dcapKey is stored in plain text; it is a credential (Intel PCS / DCAP API key, handed to"
        " kubectl-provision through DCAP_KEY). Remove it from stacks/Pulumi.dev.yaml and set it with"
        " `pulumi config set --secret dcapKey <value>`",
    ),
    (
        "S3-compatible store without keys",
        {"backup": {"s3": {"endpoint": "https://s3.example.com"}}},
        "scone:s3AccessKeyId is required with backup.s3.endpoint: set it with"
        " `pulumi config set --secret s3AccessKeyId <value>`",
    ),
]


@pytest.mark.parametrize(("overrides", "expected"), [case[1:] for case in INVALID], ids=[case[0] for case in INVALID])
def test_invalid_config_is_refused_with_a_message_naming_file_key_and_fix(
    evaluate_stack: Evaluate, overrides: dict[str, Any], expected: str
) -> None:
    evaluation = evaluate_stack("dev", **overrides)
    assert evaluation.error is not None
    assert evaluation.error.startswith(HEADER)
    assert expected in evaluation.error.split("\n  - ")[1:]
    assert evaluation.registrations == []


def test_there_are_at_least_fifteen_invalid_config_cases() -> None:
    assert len(INVALID) >= 15


def test_every_problem_is_reported_at_once(evaluate_stack: Evaluate) -> None:
    evaluation = evaluate_stack("dev", skipCas="yes", backup={"interval": "often"}, dcapKey="plain")
    assert evaluation.error is not None
    assert len(evaluation.error.split("\n  - ")) == 4


def test_defaults_are_the_guides() -> None:
    spec = SconeSpec.model_validate({"serviceVersion": "5.8.0"})
    assert spec.managementState == "Managed"
    assert spec.skipCas is False
    assert spec.backup.interval == 14400
    assert spec.backup.retention == 10
    assert spec.backup.s3Creds is None
    assert spec.serviceNodeSelector == {}
    assert spec.operatorNodeSelector == {}
    assert spec.namespaces.operator == "osc-sec-us-scone-operator"
    assert spec.namespaces.services == "osc-scone-system"
    assert spec.images.repository == "mtr.devops.telekom.de/osc/security/confidential-computing"
    assert spec.images.prefix == "osc-"


def test_the_guide_example_spec_is_accepted(evaluate_stack: Evaluate) -> None:
    evaluation = evaluate_stack(
        "dev",
        serviceNodeSelector={"osc.services/enabled": "true"},
        operatorNodeSelector={"osc.sgx/enabled": "true"},
        backup={"interval": 3600, "retention": 20, "s3Creds": {"secret": "my-bucket", "namespace": "team"}},
    )
    assert evaluation.error is None
