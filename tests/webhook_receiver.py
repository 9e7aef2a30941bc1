"""A vendor's webhook receiver for tests: a real HTTP server in a thread on a loopback port
that records every request and answers with scripted status codes."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """``answers``: the status of each request in turn; the last one repeats.
    ``while_answering``: called with each request before it is answered (the sender is
    waiting meanwhile); what it raises is kept in ``errors``."""

    answers: list[int] = field(default_factory=lambda: [200])
    answer_body: bytes = b'{"received": true}'
    requests: list[Received] = field(default_factory=list)
    while_answering: Callable[[Received], None] | None = None
    errors: list[BaseException] = field(default_factory=list)

    def __enter__(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                received = Received(self.path, dict(self.headers), body)
                receiver.requests.append(received)
                if receiver.while_answering is not None:
                    try:
                        receiver.while_answering(received)
                    except BaseException as exc:  # reported to the test
                        receiver.errors.append(exc)
                index = min(len(receiver.requests), len(receiver.answers)) - 1
                self.send_response(receiver.answers[index])
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(receiver.answer_body)))
                self.end_headers()
                self.wfile.write(receiver.answer_body)

            def log_message(self, *_args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/hooks/marketplace"

    def __exit__(self, *_exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
