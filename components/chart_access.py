"""Ask the operator chart's repository, before Helm does, whether the stack's credentials open it.

Why: when Helm's download is refused, the kubernetes provider reports a bare "401 Unauthorized"
(or "failed to download") against the Release, which says nothing about which setting is wrong.
This check makes the same request the provider makes first (``index.yaml`` of the repository,
or the chart URL) with the same credentials, while the program is evaluated (preview too), and
refuses with a message that names the ``scone:operatorChart.*`` keys. It never puts a credential
into a message: only the repository URL (which validation keeps free of user info), the HTTP
status and the key names. It runs for a chart repository, a chart URL with credentials and an
OCI reference, so a stack on a tgz URL without credentials or a local chart never touches the network here.

An OCI reference is probed without credentials (the release sends none to a registry: Helm's
registry client logs in with what ``helm registry login`` stored on the machine that runs pulumi):
the manifest of the chart's version must exist. A registry that wants a login (401/403) is left to
Helm, which holds that login; a missing chart or version, or a registry that cannot be reached,
fails here naming ``scone:operatorChart.location`` and ``scone:serviceVersion``.
"""

from __future__ import annotations

import base64
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

import yaml

from components.operator_chart import OCI_SCHEME, PASSWORD_KEY, USERNAME_KEY, OperatorChartSettings

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
    if chart.is_oci:
        _check_oci_manifest(chart.location, version)
        return
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


#: What an OCI registry may answer for a chart's manifest (Helm's charts are OCI image manifests).
OCI_MANIFEST_TYPES = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json"


def oci_manifest_urls(location: str, version: str) -> list[str]:
    """The manifest URLs of chart ``location`` (``oci://<registry>/<path>``) at ``version``, HTTPS first.

    The tag is the version with ``+`` as ``_`` (a tag cannot hold ``+``; ``helm push`` tags so).
    HTTP second: Helm's registry client falls back to it when the registry does not speak TLS.
    """
    registry, _, repository = location.removeprefix(OCI_SCHEME).partition("/")
    path = f"/v2/{repository}/manifests/{version.replace('+', '_')}"
    return [f"https://{registry}{path}", f"http://{registry}{path}"]


def _check_oci_manifest(location: str, version: str) -> None:
    https_url, http_url = oci_manifest_urls(location, version)
    where = f"the operator chart {location} at version {version}"
    keys = "check scone:operatorChart.location (oci://<registry>/<path>/<chart>) and scone:serviceVersion"
    for url in (https_url, http_url):
        request = urllib.request.Request(url, method="HEAD", headers={"Accept": OCI_MANIFEST_TYPES})  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT):  # noqa: S310 (https or http only)
                return
        except urllib.error.HTTPError as error:
            if error.code in (401, 403):
                return  # the registry wants a login: Helm uses the one `helm registry login` stored
            if error.code == 404:
                raise ChartAccessError(f"{where} is not in the registry (HTTP 404 for {url}); {keys}") from None
            raise ChartAccessError(f"the registry answered HTTP {error.code} for {url} ({where}); {keys}") from None
        except urllib.error.URLError as error:
            reason = error.reason
            if url == https_url and isinstance(reason, ssl.SSLError) and not isinstance(
                reason, ssl.SSLCertVerificationError
            ):
                continue  # not TLS: try plain HTTP, as Helm does
            raise ChartAccessError(f"the registry of {where} cannot be reached at {url} ({reason}); {keys}") from None
        except OSError as error:
            raise ChartAccessError(f"the registry of {where} cannot be reached at {url} ({error}); {keys}") from None
