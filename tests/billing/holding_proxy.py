"""A loopback HTTP proxy in front of localstripe that forwards every request at once but
holds the successful answer to chosen calls (by default: confirming a PaymentIntent) until
the test releases it: Stripe has charged the card, the app has not heard of it yet. What a slow
network, or a worker killed while the answer is on its way, looks like to the app.

    with HoldingProxy(stripe_server.api_base) as proxy:
        app.config["STRIPE_API_BASE"] = proxy.url
        ...                      # pay in a thread
        proxy.wait_until_held()  # localstripe has answered; the app is still waiting
        proxy.release()
"""

from __future__ import annotations

import http.client
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

CONFIRM = re.compile(r"^/v1/payment_intents/[^/]+/confirm$")
CREATE = re.compile(r"^/v1/payment_intents$")

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


class HoldingProxy:
    def __init__(self, upstream: str, hold: re.Pattern[str] = CONFIRM, method: str = "POST"):
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.hold = hold
        self.hold_method = method
        self.held = threading.Event()  # an answer is being held
        self.released = threading.Event()
        self.held_paths: list[str] = []
        self.forwarded: list[tuple[str, str, int]] = []  # (method, path, upstream status)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> HoldingProxy:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the stripe SDK's requests uses

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                upstream = http.client.HTTPConnection(*proxy.upstream, timeout=30)
                try:
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    answer = upstream.getresponse()
                    payload = answer.read()
                    status, answer_headers = answer.status, answer.getheaders()
                finally:
                    upstream.close()
                path = self.path.split("?")[0]
                proxy.forwarded.append((self.command, path, status))
                # Only answers that did something are held: localstripe refuses confirm's
                # parameters (400) before the app confirms again without them.
                if self.command == proxy.hold_method and proxy.hold.match(path) and status < 400:
                    proxy.held_paths.append(path)
                    proxy.held.set()
                    proxy.released.wait()
                try:
                    self.send_response(status)
                    for key, value in answer_headers:
                        if key.lower() not in _HOP_BY_HOP:
                            self.send_header(key, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    self.close_connection = True  # the client is gone (timed out, killed)

            do_GET = do_POST = do_DELETE = _forward

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(10)

    def wait_until_held(self, timeout: float = 60.0) -> str:
        """The path whose answer is held once one is; fails the test if none comes."""
        assert self.held.wait(timeout), f"no call to hold within {timeout} s: {self.forwarded}"
        return self.held_paths[0]

    def release(self) -> None:
        """Send the held answers (and every later one) on."""
        self.released.set()
