"""An OCI reference as the chart's location: the Release pins the version, and the program asks the
registry (without credentials) whether the chart's version is there before Helm does.

The registry is a loopback HTTP server answering the OCI distribution API's manifest request the
way a registry does: 200 for a pushed tag, 404 for an unknown repository or tag, 401 for a
repository that wants a login. The e2e tier (``e2e/tests/test_oci_real_chart.py``) runs the same
against go-containerregistry's registry and installs Scontain's chart from it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.program.test_operator_chart_access import RELEASE, dev_version, run

PUBLIC = "mirror/scone-operator"
PRIVATE = "private/scone-operator"


class ManifestServer:
    """Answers ``HEAD /v2/<repository>/manifests/<tag>``; records (method, path, Authorization)."""

    def __init__(self, tags: dict[str, set[str]]) -> None:
        self.tags = tags
        self.requests: list[tuple[str, str, str | None]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_HEAD(self) -> None:
                server.requests.append((self.command, self.path, self.headers.get("Authorization")))
                repository, _, tag = self.path.removeprefix("/v2/").partition("/manifests/")
                if repository == PRIVATE:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="registry"')
                elif tag in server.tags.get(repository, set()):
                    self.send_response(200)
                    self.send_header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
                else:
                    self.send_response(404)
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)


@pytest.fixture
def registry() -> Iterator[ManifestServer]:
    server = ManifestServer({PUBLIC: {dev_version().replace("+", "_")}})
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


def test_an_oci_reference_pins_the_version_and_needs_no_repository_options(registry: ManifestServer) -> None:
    location = f"oci://{registry.host}/{PUBLIC}"
    evaluation = run({}, operatorChart={"location": location})
    assert evaluation.error is None, evaluation.error
    release = evaluation.one(RELEASE, "scone-operator")
    assert release.inputs["chart"] == location
    assert release.inputs["version"] == dev_version()
    assert "repositoryOpts" not in release.inputs
    # Asked over HTTPS first (refused: plain HTTP here), then HTTP, as Helm's registry client does.
    assert ("HEAD", f"/v2/{PUBLIC}/manifests/{dev_version()}", None) in registry.requests


@pytest.mark.parametrize("location", ["mirror/scone-operator-typo", "other/scone-operator"])
def test_an_oci_chart_the_registry_does_not_hold_fails_naming_the_location_and_version(
    registry: ManifestServer, location: str,
) -> None:
    evaluation = run({}, operatorChart={"location": f"oci://{registry.host}/{location}"})
    assert evaluation.error is not None
    assert f"oci://{registry.host}/{location} at version {dev_version()} is not in the registry" in evaluation.error
    assert "scone:operatorChart.location" in evaluation.error and "scone:serviceVersion" in evaluation.error


def test_an_oci_version_the_registry_does_not_hold_fails_naming_serviceversion(registry: ManifestServer) -> None:
    registry.tags[PUBLIC] = {"5.8.0-rc.19"}
    evaluation = run({}, operatorChart={"location": f"oci://{registry.host}/{PUBLIC}"})
    assert evaluation.error is not None
    assert f"/v2/{PUBLIC}/manifests/{dev_version()}" in evaluation.error
    assert "scone:serviceVersion" in evaluation.error


def test_a_registry_that_wants_a_login_is_left_to_helm_and_gets_no_credentials(registry: ManifestServer) -> None:
    evaluation = run({}, operatorChart={"location": f"oci://{registry.host}/{PRIVATE}"})
    assert evaluation.error is None, evaluation.error
    assert registry.requests and all(auth is None for _, _, auth in registry.requests)


def test_an_unreachable_oci_registry_fails_naming_the_location(registry: ManifestServer) -> None:
    registry.httpd.shutdown()
    registry.httpd.server_close()  # nothing listens on the port any more
    evaluation = run({}, operatorChart={"location": f"oci://{registry.host}/{PUBLIC}"})
    assert evaluation.error is not None
    assert "cannot be reached" in evaluation.error and "scone:operatorChart.location" in evaluation.error
