"""A minimal Kubernetes REST client over the standard library.

Why not kubectl for everything: the simulated controllers poll several kinds every
fraction of a second; forking kubectl for each poll would eat the two cores the test
suite shares. Why not the `kubernetes` package: it is not a dependency of this
project and this is ~100 lines. Tests and humans still use the real kubectl.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

JsonObj = dict[str, Any]


class KubeApiError(RuntimeError):
    """A non-2xx answer from the API server."""

    def __init__(self, status: int, method: str, path: str, body: str) -> None:
        super().__init__(f"{method} {path} -> HTTP {status}: {body[:500]}")
        self.status = status
        self.body = body


@dataclass(frozen=True)
class KubeCredentials:
    """Where the server is and how to prove who we are (client cert + CA)."""

    server: str
    ca_cert: Path
    client_cert: Path
    client_key: Path


class KubeApi:
    """JSON over HTTPS with client-certificate auth, one method per verb."""

    def __init__(self, creds: KubeCredentials, timeout: float = 30.0) -> None:
        self._server = creds.server.rstrip("/")
        self._timeout = timeout
        ctx = ssl.create_default_context(cafile=str(creds.ca_cert))
        ctx.load_cert_chain(str(creds.client_cert), str(creds.client_key))
        self._ctx = ctx

    def request(self, method: str, path: str, body: JsonObj | None = None,
                content_type: str = "application/json",
                query: dict[str, str] | None = None) -> JsonObj:
        url = self._server + path
        if not url.startswith("https://"):
            raise ValueError(f"API server URL must be https://, got {url!r}")
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - https only, checked above
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(req, context=self._ctx, timeout=self._timeout) as resp:  # noqa: S310 - https only, checked above
                raw = resp.read()
        except urllib.error.HTTPError as err:
            raise KubeApiError(err.code, method, path, err.read().decode(errors="replace")) from None
        if not raw:
            return {}
        try:
            parsed = json.loads(raw)
        except ValueError:
            return {"raw": raw.decode(errors="replace")}
        return parsed if isinstance(parsed, dict) else {"value": parsed}

    def get(self, path: str, query: dict[str, str] | None = None) -> JsonObj:
        return self.request("GET", path, query=query)

    def get_or_none(self, path: str) -> JsonObj | None:
        try:
            return self.get(path)
        except KubeApiError as err:
            if err.status == 404:
                return None
            raise

    def items(self, path: str, query: dict[str, str] | None = None) -> list[JsonObj]:
        try:
            items = self.get(path, query).get("items") or []
        except KubeApiError as err:
            if err.status == 404:  # the CRD is not installed (yet, or any more)
                return []
            raise
        return list(items)

    def create(self, path: str, obj: JsonObj) -> JsonObj:
        return self.request("POST", path, obj)

    def merge_patch(self, path: str, patch: JsonObj) -> JsonObj:
        return self.request("PATCH", path, patch, content_type="application/merge-patch+json")

    def delete(self, path: str) -> None:
        try:
            self.request("DELETE", path)
        except KubeApiError as err:
            if err.status != 404:
                raise
