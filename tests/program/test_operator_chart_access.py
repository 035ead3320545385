"""A private chart repository or OCI registry: the Release's own options, credentials as secrets,
and a refusal that names ``scone:operatorChart.*`` (and never the secret) when the repository says no.

The repository is a real HTTP server on loopback that requires basic auth (``e2e.harness.chart_server``)
serving the harness's stand-in chart; the program runs under the mock engine.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from components.operator_chart import PASSWORD_KEY, USERNAME_KEY
from e2e.harness.chart_server import ChartServer
from e2e.harness.charts import package_chart
from tools.mock_engine import (
    SECRET_MARK,
    SECRET_SIG,
    Evaluation,
    StackConfig,
    contains_plain,
    evaluate,
    load_stack_config,
    secret_sentinel,
)

RELEASE = "kubernetes:helm.sh/v3:Release"
USER = secret_sentinel(USERNAME_KEY)
PASSWORD = secret_sentinel(PASSWORD_KEY)


def dev_version() -> str:
    return load_stack_config("dev").values["scone:serviceVersion"]


@pytest.fixture
def repository(tmp_path: Path) -> Iterator[ChartServer]:
    """A basic-auth chart repository holding the chart at the dev stack's version (and one older)."""
    charts = [package_chart(version, tmp_path) for version in ("5.8.0-rc.19", dev_version())]
    with ChartServer(sorted(set(charts)), USER, PASSWORD) as server:
        yield server


def run(secrets: dict[str, str], **overrides: Any) -> Evaluation:
    """The dev stack with ``overrides`` and ``secrets`` set as Pulumi secrets (key -> value)."""
    config = load_stack_config("dev", overrides=overrides)
    values = {**config.values, **{f"scone:{key}": value for key, value in secrets.items()}}
    return evaluate(StackConfig("dev", values, config.secret_keys | {f"scone:{key}" for key in secrets}))


def in_repository(server: ChartServer) -> dict[str, Any]:
    return {"operatorChart": {"location": "scone-operator", "repository": server.url}}


def test_repository_credentials_reach_the_release_options_only_as_secrets(repository: ChartServer) -> None:
    evaluation = run({USERNAME_KEY: USER, PASSWORD_KEY: PASSWORD}, **in_repository(repository))
    assert evaluation.error is None, evaluation.error
    release = evaluation.one(RELEASE, "scone-operator")
    assert release.inputs["chart"] == "scone-operator"
    assert release.inputs["version"] == dev_version()
    options = release.inputs["repositoryOpts"]
    # The SDK keeps an object holding a secret secret as a whole: the state encrypts all of it.
    assert options[SECRET_SIG] == SECRET_MARK
    assert options["value"]["repo"] == repository.url
    assert not contains_plain(options, USER)
    assert not contains_plain(options, PASSWORD)
    assert not contains_plain([r.inputs for r in evaluation.registrations], PASSWORD)
    assert repository.statuses("/index.yaml") == [200]


@pytest.mark.parametrize(
    ("secrets", "says"),
    [
        ({USERNAME_KEY: USER, PASSWORD_KEY: "wrong-" + PASSWORD}, "refused scone:operatorChart.username"),
        ({}, "scone:operatorChart.username / scone:operatorChart.password are not set"),
    ],
    ids=["wrong-password", "no-credentials"],
)
def test_a_refusing_repository_fails_naming_the_keys_and_never_the_secret(
    repository: ChartServer, secrets: dict[str, str], says: str
) -> None:
    evaluation = run(secrets, **in_repository(repository))
    assert evaluation.error is not None
    assert says in evaluation.error
    assert "HTTP 401" in evaluation.error
    assert "pulumi config set --secret operatorChart.password" in evaluation.error
    assert PASSWORD not in evaluation.error
    assert not any(PASSWORD in message for message in evaluation.logs)
    assert evaluation.by_type(RELEASE) == []
    assert repository.statuses("/index.yaml") == [401]


def test_a_version_the_repository_does_not_hold_is_refused_with_what_it_holds(repository: ChartServer) -> None:
    evaluation = run(
        {USERNAME_KEY: USER, PASSWORD_KEY: PASSWORD},
        operatorChart={"location": "scone-operator-typo", "repository": repository.url},
    )
    assert evaluation.error is not None
    assert "has no chart 'scone-operator-typo' at version" in evaluation.error
    assert "scone:operatorChart.location" in evaluation.error


def test_an_unreachable_repository_is_refused_naming_the_setting(tmp_path: Path) -> None:
    with ChartServer([package_chart(dev_version(), tmp_path)], USER, PASSWORD) as server:
        url = server.url  # closed below: nothing listens there any more
    evaluation = run({USERNAME_KEY: USER, PASSWORD_KEY: PASSWORD}, operatorChart={"location": "scone-operator",
                                                                                  "repository": url})
    assert evaluation.error is not None
    assert "cannot be reached" in evaluation.error
    assert "scone:operatorChart.repository" in evaluation.error
    assert PASSWORD not in evaluation.error


def test_a_tgz_location_keeps_the_release_as_it_was() -> None:
    release = run({}).one(RELEASE, "scone-operator")
    assert "version" not in release.inputs
    assert "repositoryOpts" not in release.inputs


CREDS = {USERNAME_KEY: USER, PASSWORD_KEY: PASSWORD}
REFUSED: list[tuple[str, dict[str, str], dict[str, Any], str]] = [
    ("password alone", {PASSWORD_KEY: PASSWORD}, {}, "scone:operatorChart.password is set without"
     " scone:operatorChart.username"),
    ("username alone", {USERNAME_KEY: USER}, {}, "scone:operatorChart.username is set without"
     " scone:operatorChart.password"),
    ("credentials for a local chart", CREDS, {"location": "/charts/scone-operator-{version}.tgz"},
     "are set but unused: operatorChart.location '/charts/scone-operator-{version}.tgz' is a local path"),
    ("credentials for an OCI registry", CREDS, {"location": "oci://registry.example.com/scone-operator"},
     "`helm registry login <registry>`"),
    ("repository without scheme", {}, {"location": "scone-operator", "repository": "charts.example.com"},
     "scone:operatorChart.repository: 'charts.example.com' must be an http:// or https:// URL"),
    ("repository with a chart URL as location", {}, {"repository": "https://charts.example.com"},
     "scone:operatorChart.location: '"),
    ("user info in the repository URL", {}, {"location": "scone-operator",
                                             "repository": "https://bob:SENTINEL-INLINE@charts.example.com"},
     "carries user info: a credential in a URL is stored in plain text"),
    ("OCI reference with a version", {}, {"location": "oci://r.example.com/scone-operator:{version}"},
     "an OCI reference names the chart without a version"),
]


@pytest.mark.parametrize(("secrets", "chart", "says"), [case[1:] for case in REFUSED], ids=[c[0] for c in REFUSED])
def test_chart_settings_that_helm_would_ignore_or_leak_are_refused(
    secrets: dict[str, str], chart: dict[str, Any], says: str
) -> None:
    evaluation = run(secrets, operatorChart=chart) if chart else run(secrets)
    assert evaluation.error is not None
    assert says in evaluation.error
    assert PASSWORD not in evaluation.error
    assert "SENTINEL-INLINE" not in evaluation.error
    assert evaluation.registrations == []


def test_a_credential_nested_with_config_path_is_refused_by_name_without_its_value() -> None:
    evaluation = run({}, operatorChart={"location": "scone-operator", "repository": "https://charts.example.com",
                                        "password": PASSWORD})
    assert evaluation.error is not None
    assert "scone:operatorChart.password is written inside the operatorChart map" in evaluation.error
    assert PASSWORD not in evaluation.error


def test_a_chart_password_in_plain_text_is_refused() -> None:
    config = load_stack_config("dev", overrides={USERNAME_KEY: USER, PASSWORD_KEY: PASSWORD})
    evaluation = evaluate(config)
    assert evaluation.error is not None
    assert "scone:operatorChart.password is stored in plain text" in evaluation.error
    assert PASSWORD not in evaluation.error
