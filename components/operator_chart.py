"""Where the scone-operator chart comes from: a tgz URL or path, a Helm repository, or an OCI registry.

Scontain's chart repository is private for most users and mirrors keep the chart in their own
registry, so the chart may need credentials. They are the Pulumi secrets
``operatorChart.username`` / ``operatorChart.password`` (a token goes into ``password``), never
part of this model: the model only says where the chart is, and refuses combinations the Helm
release would silently ignore or that would put a credential in plain text (user info in a URL).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any
from urllib.parse import urlsplit

from pydantic import Field, model_validator

from components.labels import DnsLabel
from components.strict_model import StrictModel

#: Secret config keys of the chart's credentials (``pulumi config set --secret <key> <value>``).
USERNAME_KEY = "operatorChart.username"
PASSWORD_KEY = "operatorChart.password"  # noqa: S105 (a config key name, not a password)
CREDENTIAL_KEYS: dict[str, str] = {
    USERNAME_KEY: "user name for the operator chart's repository (HTTP basic auth); with operatorChart.password",
    PASSWORD_KEY: "password or access token for the operator chart's repository; with operatorChart.username",
}

OCI_SCHEME = "oci://"
CHART_NAME_RE = re.compile(r"[a-z0-9]([-a-z0-9_.]*[a-z0-9])?")


def _is_http_url(value: str) -> bool:
    return value.startswith(("http://", "https://"))


def _has_user_info(value: str) -> bool:
    return "@" in urlsplit(value).netloc


class OperatorChartSettings(StrictModel):
    """Where the scone-operator chart comes from (upstream serves a plain tgz per version)."""

    location: str = Field(
        default="https://raw.githubusercontent.com/scontain/operator/main/scone-operator-{version}.tgz",
        description="URL or local path of the chart tgz ({version} is replaced by serviceVersion), an OCI"
        " reference oci://<registry>/<path>/scone-operator (version serviceVersion), or, with `repository`,"
        " the chart's name in that repository.",
    )
    repository: str | None = Field(
        default=None,
        description="URL of a Helm chart repository (serving index.yaml) that holds the chart named by"
        " `location` at version serviceVersion. Credentials: the secrets operatorChart.username and"
        " operatorChart.password.",
    )
    releaseName: DnsLabel = Field(  # noqa: N815
        default="scone-operator", description="Helm release name."
    )
    timeoutSeconds: int = Field(  # noqa: N815
        default=600,
        description="How long Helm waits for the operator to become ready, and then how long the program waits"
        " for cert-manager to inject its CA into the operator's webhook configurations (no SCONE resource is"
        " written before: the webhooks refuse every call until then).",
    )

    @model_validator(mode="after")
    def _location_shape(self) -> OperatorChartSettings:
        for key, value in (("location", self.location), ("repository", self.repository or "")):
            if _has_user_info(value):
                raise ValueError(
                    f"{key} '{urlsplit(value).hostname}...' carries user info: a credential in a URL is stored"
                    " in plain text; remove it and set the secrets operatorChart.username and"
                    " operatorChart.password with `pulumi config set --secret`"
                )
        if self.repository is None:
            if self.location.startswith(OCI_SCHEME) and "{version}" in self.location:
                raise ValueError(
                    f"location '{self.location}': an OCI reference names the chart without a version"
                    " (oci://<registry>/<path>/scone-operator); the version is serviceVersion"
                )
            return self
        if not _is_http_url(self.repository):
            raise ValueError(
                f"repository '{self.repository}' must be an http:// or https:// URL of a Helm chart repository;"
                " for an OCI registry leave repository empty and set location to oci://<registry>/<path>/<chart>"
            )
        if not CHART_NAME_RE.fullmatch(self.location):
            raise ValueError(
                f"location '{self.location}' must be the chart's name in the repository (e.g. scone-operator)"
                " when repository is set"
            )
        return self

    # --- derived facts ----------------------------------------------------------------------

    def resolved_location(self, version: str) -> str:
        """The Release's ``chart``: the tgz location for ``version``, the OCI reference or the chart name."""
        return self.location.replace("{version}", version)

    @property
    def is_oci(self) -> bool:
        """True when the chart is an OCI artifact (``oci://...``)."""
        return self.repository is None and self.location.startswith(OCI_SCHEME)

    @property
    def is_remote(self) -> bool:
        """True when Helm downloads the chart over HTTP(S) (a repository or a tgz URL)."""
        return self.repository is not None or _is_http_url(self.location)

    def pinned_version(self, version: str) -> str | None:
        """The Release's ``version``: needed for a repository or an OCI reference, None for a tgz."""
        return version if self.repository is not None or self.is_oci else None

    def credential_problems(self, configured_keys: Collection[str]) -> list[str]:
        """What is wrong with the credential secrets that are set (``configured_keys``) for this location."""
        given = [key for key in CREDENTIAL_KEYS if key in configured_keys]
        if not given:
            return []
        if len(given) == 1:
            missing = PASSWORD_KEY if given == [USERNAME_KEY] else USERNAME_KEY
            return [
                f"scone:{given[0]} is set without scone:{missing}: the chart repository takes both (a token goes"
                f" into operatorChart.password); set it with `pulumi config set --secret {missing} <value>`"
            ]
        if self.is_oci:
            return [
                f"scone:{USERNAME_KEY} / scone:{PASSWORD_KEY} are set, but the Helm release does not pass them to"
                f" an OCI registry ({self.location}): remove them and log in on the machine that runs pulumi with"
                " `helm registry login <registry>` (the kubernetes provider reads Helm's registry config)"
            ]
        if not self.is_remote:
            return [
                f"scone:{USERNAME_KEY} / scone:{PASSWORD_KEY} are set but unused: operatorChart.location"
                f" '{self.location}' is a local path; they are read only for operatorChart.repository or an"
                " http(s) location; remove them"
            ]
        return []


def split_nested_credentials(values: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """``values`` without credentials written inside the ``operatorChart`` map, and a problem for each.

    ``pulumi config set --path --secret operatorChart.password`` nests the secret in the map the
    model validates; the model would report an unknown key, and a later message could echo it. So
    such keys are taken out before validation and reported by name only.
    """
    chart = values.get("operatorChart")
    if not isinstance(chart, Mapping):
        return dict(values), []
    nested = [field for field in ("username", "password") if field in chart]
    if not nested:
        return dict(values), []
    cleaned = {**values, "operatorChart": {k: v for k, v in chart.items() if k not in nested}}
    problems = [
        f"scone:operatorChart.{field} is written inside the operatorChart map (`config set --path`); a credential"
        f" is a top-level secret key: `pulumi config rm --path operatorChart.{field}`, then"
        f" `pulumi config set --secret operatorChart.{field} <value>` (without --path)"
        for field in nested
    ]
    return cleaned, problems
