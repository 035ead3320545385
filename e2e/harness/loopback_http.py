"""An HTTP server on 127.0.0.1 that runs in a thread while a ``with`` block lasts.

The private chart repository and the registry login front are both such servers; this holds
their common part: bind a free port, serve in a daemon thread from ``__enter__``, shut down and
join on ``__exit__``, and a lock for what the handlers record.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self


class LoopbackHttpServer:
    """Base of a server whose handler class comes from ``_handler`` (called once, in ``__init__``)."""

    def __init__(self, name: str, server_class: type[ThreadingHTTPServer] = ThreadingHTTPServer) -> None:
        self._lock = threading.Lock()
        self._httpd = server_class(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._httpd.serve_forever, name=name, daemon=True)

    @property
    def host(self) -> str:
        """``127.0.0.1:<port>``."""
        return f"127.0.0.1:{self._httpd.server_address[1]}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()
