"""A fault-injecting HTTP reverse proxy in front of the S3 server, run as its own process.

Why a separate process: "the store dies mid-upload" must be a real process death (SIGKILL) with
the client's connections torn down by the kernel, and faults must be controllable from the test.
Control endpoint (not forwarded): POST /__faults__ with a JSON list of rules replaces the rules;
GET /__faults__ returns the event log. A rule matches on method, path substring and query
substring, fires `times` times (default 1) and does one of:
  status  - answer `status` with an S3 XML error `code` instead of forwarding (500/503 SlowDown…)
  delay   - forward, then wait `seconds` before answering (slow store)
  drop    - read half the request body, then close the connection without an answer
  corrupt - flip one byte of the request body before forwarding (bytes damaged in transit)
  hold    - read half the request body, log a "held" event, then hang until killed
  opaque  - forward, but answer with a non-MD5 ETag and no checksum headers (like SSE-KMS)
  cut     - forward, then send the answer's headers and only half its body, and close (a
            download cut short mid-body)
  garble  - forward, then flip one byte in the middle of the answer's body (bytes damaged on the
            way down)
  echo    - forward, but answer with header `header` set to `value` (a store echoing a wrong
            checksum)
  noecho  - forward, but answer without any x-amz-checksum-* header (a store that keeps and
            echoes no checksums, ETags unchanged)
  observe - forward unchanged (the event records the request's checksum headers)
Every event of a forwarded request lists the names of its checksum headers (`sent`:
Content-MD5 and x-amz-checksum-*), so a test can tell how each part was protected.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

RULES: list[dict[str, Any]] = []
EVENTS: list[dict[str, Any]] = []
LOCK = threading.Lock()
HANG = threading.Event()


def _match(method: str, path: str, query: str) -> dict[str, Any] | None:
    with LOCK:
        for rule in RULES:
            if rule.get("times", 1) <= 0:
                continue
            if rule.get("method") and rule["method"] != method:
                continue
            if rule.get("path") and rule["path"] not in path:
                continue
            if rule.get("query") and rule["query"] not in query:
                continue
            rule["times"] = rule.get("times", 1) - 1
            return dict(rule)
    return None


def _event(**fields: Any) -> None:
    with LOCK:
        EVENTS.append(fields)


class Proxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    upstream: tuple[str, int] = ("127.0.0.1", 0)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        return

    def _control(self, method: str) -> None:
        if method == "POST":
            length = int(self.headers.get("Content-Length") or 0)
            rules = json.loads(self.rfile.read(length) or b"[]")
            with LOCK:
                RULES[:] = rules
                EVENTS.clear()
            body = b"{}"
        else:
            with LOCK:
                body = json.dumps(EVENTS).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _handle(self) -> None:
        method = self.command
        parts = urlsplit(self.path)
        if parts.path == "/__faults__":
            self._control(method)
            return
        length = int(self.headers.get("Content-Length") or 0)
        rule: dict[str, Any] = _match(method, parts.path, parts.query) or {"action": "forward"}
        action = rule["action"]
        if action in ("drop", "hold"):
            self.rfile.read(length // 2)
            _event(action=action, method=method, path=parts.path, query=parts.query)
            if action == "hold":
                HANG.wait()
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        body = self.rfile.read(length) if length else b""
        if action == "status":
            _event(action=action, method=method, path=parts.path, status=rule["status"])
            code = rule.get("code", "InternalError")
            payload = (
                f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
                f"<Message>injected fault</Message></Error>"
            ).encode()
            self.send_response(int(rule["status"]))
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        sent = sorted(
            k.lower()
            for k in self.headers
            if k.lower() == "content-md5" or k.lower().startswith("x-amz-checksum-")
        )
        if action == "corrupt" and body:
            middle = len(body) // 2
            body = body[:middle] + bytes([body[middle] ^ 0xFF]) + body[middle + 1 :]
            _event(action=action, method=method, path=parts.path, query=parts.query, sent=sent)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection",)}
        upstream = http.client.HTTPConnection(*self.upstream, timeout=120)
        try:
            upstream.request(method, self.path, body=body, headers=headers)
            response = upstream.getresponse()
            data = response.read()
        finally:
            upstream.close()
        if action in ("opaque", "cut", "echo", "noecho", "observe"):
            _event(action=action, method=method, path=parts.path, query=parts.query, sent=sent)
        if action == "garble" and data:
            middle = len(data) // 2
            data = data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1 :]
            _event(action=action, method=method, path=parts.path)
        if action == "delay":
            _event(action=action, method=method, path=parts.path, seconds=rule["seconds"])
            time.sleep(float(rule["seconds"]))
        self._answer(response, data, rule, method)

    def _answer(
        self, response: http.client.HTTPResponse, data: bytes, rule: dict[str, Any], method: str
    ) -> None:
        """Send the upstream answer on, rewritten for the `opaque`, `echo` and `noecho` actions."""
        action = rule["action"]
        try:
            self.send_response(response.status, response.reason)
            for name, value in response.getheaders():
                lowered = name.lower()
                if lowered in ("connection", "transfer-encoding", "content-length"):
                    continue
                if action == "opaque" and (lowered == "etag" or "checksum" in lowered):
                    if lowered == "etag":
                        self.send_header(name, '"opaque-etag-without-md5"')
                    continue
                if action == "noecho" and lowered.startswith("x-amz-checksum-"):
                    continue
                if action == "echo" and lowered == str(rule["header"]).lower():
                    continue
                self.send_header(name, value)
            if action == "echo":
                self.send_header(str(rule["header"]), str(rule["value"]))
            # A HEAD answer carries the object's length, not that of its (empty) body.
            head_length = response.getheader("Content-Length") if method == "HEAD" else None
            self.send_header("Content-Length", head_length or str(len(data)))
            self.end_headers()
            if action == "cut":
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)
            elif method != "HEAD":
                self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle  # noqa: N815


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="host:port of the S3 server")
    args = parser.parse_args()
    host, port = args.upstream.rsplit(":", 1)
    Proxy.upstream = (host, int(port))
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Proxy)
    server.daemon_threads = True
    print(f"listening {args.port}", flush=True)
    try:
        server.serve_forever()
    finally:
        sys.stdout.flush()


if __name__ == "__main__":
    main()
