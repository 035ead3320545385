"""Ask the operator chart's repository, before Helm does, whether the stack's credentials open it.

Why: when Helm's download is refused, the kubernetes provider reports a bare "401 Unauthorized"
(or "failed to download") against the Release, which says nothing about which setting is wrong.
This check makes the same request the provider makes first (``index.yaml`` of the repository,
or the chart URL) with the same credentials, while the program is evaluated (preview too), and
refuses with a message that names the ``scone:operatorChart.*`` keys. It never puts a credential
into a message: only the repository URL (which validation keeps free of user info), the HTTP
status and the key names. It runs only for a chart repository or a chart URL with credentials,
so a stack on a public or local chart never touches the network here.
"""

from __future__ import annotations

import base64
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

import yaml

from components.operator_chart import PASSWORD_KEY, USERNAME_KEY, OperatorChartSettings

#: Seconds one request may take before the check gives up on an unresponsive server.
REQUEST_TIMEOUT = 60
SET_THEM = (
    f"set them with `pulumi config set --secret {USERNAME_KEY} <user>` and"
    f" `pulumi config set --secret {PASSWORD_KEY} <password or token>`"
)


class ChartAccessError(Exception):
    """The chart's repository refused the stack's credentials, or does not hold the chart."""


def check_chart_access(chart: OperatorChartSettings, version: str, config: Mapping[str, Any]) -> None:
    """Raise ``ChartAccessError`` unless the chart at ``version`` can be fetched with the configured credentials."""
    username, password = config.get(USERNAME_KEY), config.get(PASSWORD_KEY)
    has_credentials = isinstance(username, str) and isinstance(password, str)
    if chart.repository is None and not (chart.is_remote and has_credentials):
        return
    url = chart.repository.rstrip("/") + "/index.yaml" if chart.repository else chart.resolved_location(version)
    auth = (str(username), str(password)) if has_credentials else None
    body = _fetch(url, auth)
    if chart.repository is not None:
        _require_version(body, chart.location, version, url)


def _fetch(url: str, auth: tuple[str, str] | None) -> bytes:
    # Only http(s): validation allows no other scheme for a repository or a remote chart location.
    request = urllib.request.Request(url, method="GET")  # noqa: S310
    if auth is not None:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as response:  # noqa: S310
            return bytes(response.read())
    except urllib.error.HTTPError as error:
        raise ChartAccessError(_refusal(url, error.code, auth is not None)) from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise ChartAccessError(
            f"the operator chart at {url} cannot be reached ({reason}); check scone:operatorChart.repository /"
            " scone:operatorChart.location and the network to it"
        ) from None


def _refusal(url: str, status: int, sent_credentials: bool) -> str:
    if status in (401, 403) and sent_credentials:
        return (
            f"the operator chart repository {url} refused scone:{USERNAME_KEY} / scone:{PASSWORD_KEY} (HTTP"
            f" {status}): the credentials are wrong or lack read access to the chart; {SET_THEM}"
        )
    if status in (401, 403):
        return (
            f"the operator chart repository {url} requires credentials (HTTP {status}) and scone:{USERNAME_KEY} /"
            f" scone:{PASSWORD_KEY} are not set; {SET_THEM}"
        )
    if status == 404:
        return (
            f"the operator chart was not found at {url} (HTTP 404): check scone:operatorChart.repository /"
            " scone:operatorChart.location"
        )
    return f"the operator chart repository {url} answered HTTP {status}; check scone:operatorChart.repository"


def _require_version(index_yaml: bytes, name: str, version: str, url: str) -> None:
    """The repository's index must list chart ``name`` at ``version`` (Helm would fail to find it)."""
    try:
        index = yaml.safe_load(index_yaml)
    except yaml.YAMLError:
        index = None
    if not isinstance(index, dict) or not isinstance(index.get("entries"), dict):
        raise ChartAccessError(
            f"{url} is not a Helm repository index (no entries); check scone:operatorChart.repository"
        )
    versions = [str(entry.get("version")) for entry in index["entries"].get(name) or [] if isinstance(entry, dict)]
    if version not in versions:
        held = ", ".join(versions) if versions else "none"
        raise ChartAccessError(
            f"the chart repository {url} has no chart '{name}' at version {version} (it holds: {held});"
            " check scone:operatorChart.location (the chart name) and scone:serviceVersion"
        )
