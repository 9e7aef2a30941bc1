"""A Flask app served for real over HTTP on a free loopback port, in a daemon thread.

For tests that need something outside the process to call the app (localstripe's signed
webhooks). The app must have its own database: a live server thread must not share the
connection of the ``app`` fixture's rolled-back outer transaction.

    with live_server(app) as base_url:
        ...  # e.g. register f"{base_url}/billing/webhooks/stripe" somewhere

``LiveServer`` also records every request it served (method, path, headers, raw body, status
and response body), so that a test can replay exactly what a client sent.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from io import BytesIO
from typing import Any

from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Served:
    """One request the server answered."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int
    response: bytes


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # no access log on stderr; errors are still logged


class LiveServer:
    """``make_server(HOST, 0, app, threaded=True)`` run by ``serve_forever`` in a thread.

    ``stop()`` stops accepting, waits for the requests in flight (up to ``stop_timeout``)
    and closes the socket. Response bodies are buffered (no streaming), which is what the
    recording needs and all a test needs.
    """

    def __init__(self, app: Flask, *, host: str = HOST, stop_timeout: float = 10.0) -> None:
        self.app = app
        self.host = host
        self.stop_timeout = stop_timeout
        self.served: list[Served] = []
        self._lock = threading.Condition()
        self._in_flight = 0
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the live server is not running")
        return f"http://{self.host}:{self._server.server_port}"

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> LiveServer:
        if self._server is not None:
            raise RuntimeError("the live server is already running")
        # Port 0: the kernel picks a free port when the socket is bound, so no race.
        self._server = make_server(
            self.host, 0, self._wsgi, threaded=True, request_handler=_QuietHandler
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"live-server-{self._server.server_port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread, self._server, self._thread = self._server, self._thread, None, None
        if server is None:
            return
        server.shutdown()  # serve_forever returns; no new connections are accepted
        if thread is not None:
            thread.join(self.stop_timeout)
        with self._lock:  # handler threads are daemons: wait for them here
            self._lock.wait_for(lambda: self._in_flight == 0, self.stop_timeout)
        server.server_close()

    def requests_to(self, path: str) -> list[Served]:
        with self._lock:
            return [r for r in self.served if r.path == path]

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = BytesIO(body)
        status: list[int] = []
        content = b""

        def recording_start_response(status_line: str, headers: Any, *args: Any) -> Any:
            status.append(int(status_line.split(" ", 1)[0]))
            return start_response(status_line, headers, *args)

        with self._lock:
            self._in_flight += 1
        try:
            result = self.app(environ, recording_start_response)
            try:
                content = b"".join(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()  # as a WSGI server must (file wrappers, streamed bodies)
            return [content]
        finally:
            headers = {
                key[5:].replace("_", "-").title(): value
                for key, value in environ.items()
                if key.startswith("HTTP_")
            }
            if environ.get("CONTENT_TYPE"):
                headers["Content-Type"] = environ["CONTENT_TYPE"]
            with self._lock:
                self.served.append(
                    Served(
                        environ["REQUEST_METHOD"],
                        environ.get("PATH_INFO", ""),
                        headers,
                        body,
                        status[0] if status else 500,
                        content,
                    )
                )
                self._in_flight -= 1
                self._lock.notify_all()


@contextmanager
def live_server(app: Flask) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 and a free port; yields the base URL."""
    with LiveServer(app) as server:
        yield server.url
