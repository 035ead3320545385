"""Answers that are not what an S3 store says: a web page at S3_ENDPOINT, refused credentials.

Each must end the command with the store's exit code (6) and a message that names the likely
cause and what to check, never an internal error or a listing that looks empty but fine.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from backupper_harness import FaultProxy, Harness, ServerProcess, log_lines, new_harness

PAGE = b"<!DOCTYPE html><html><head><title>Welcome</title></head><body><p>Hi</p></body></html>"


class _WebPage(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        return

    def _page(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(PAGE)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _page  # noqa: N815


@pytest.fixture
def web_page() -> Iterator[str]:
    """A real HTTP server on loopback that answers every request with the same web page."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _WebPage)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _store_error(result_stderr: str) -> dict[str, object]:
    errors = [r for r in log_lines(result_stderr) if r["level"] == "error"]
    assert errors, result_stderr
    return errors[-1]


@pytest.mark.parametrize("command", [["run"], ["list"], ["list", "--json"], ["verify"]])
def test_an_endpoint_that_answers_with_a_web_page_is_named_as_not_s3(
    harness: Harness, web_page: str, command: list[str]
) -> None:
    harness.write_snapshot(os.urandom(6 * 1024 * 1024), b"ks")
    harness.write_secret(endpoint=web_page)

    result = harness.run(*command)

    assert result.returncode == 6, (result.stdout, result.stderr)
    error = _store_error(result.stderr)
    assert error["kind"] == "store"
    assert "not an S3 API" in str(error["msg"]) and "S3_ENDPOINT" in str(error["msg"])
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("method", "command"), [("HEAD", ["run"]), ("GET", ["list"]), ("GET", ["restore"])]
)
def test_refused_credentials_name_the_keys_and_the_policy_to_check(
    harness: Harness, proxy: FaultProxy, tmp_path: object, method: str, command: list[str]
) -> None:
    harness.write_snapshot(b"db", b"ks")
    harness.write_secret(endpoint=proxy.url)
    proxy.set_rules(
        [{"method": method, "action": "status", "status": 403, "code": "AccessDenied", "times": 99}]
    )
    if command == ["restore"]:
        command = ["restore", "--set", "latest", "--target", f"{tmp_path}/r"]

    result = harness.run(*command)

    assert result.returncode == 6, result.stderr
    message = str(_store_error(result.stderr)["msg"])
    assert "403" in message or "AccessDenied" in message
    assert "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" in message
    assert "policy" in message


@pytest.mark.parametrize("command", [["run"], ["list"]])
def test_a_real_store_refusing_the_secret_key_names_the_keys_to_check(
    tmp_path: Path, versitygw: ServerProcess, command: list[str]
) -> None:
    """versitygw checks signatures (moto does not): a wrong secret key gets a real 403."""
    harness = new_harness(tmp_path, versitygw)
    harness.write_snapshot(b"db", b"ks")
    (harness.creds_dir / "AWS_SECRET_ACCESS_KEY").write_text("not-the-secret-key-of-this-user")

    result = harness.run(*command)

    assert result.returncode == 6, result.stderr
    message = str(_store_error(result.stderr)["msg"])
    assert "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" in message and "policy" in message
    assert "not-the-secret-key-of-this-user" not in result.stderr
    assert harness.object_keys() == []
