"""A real fake Stripe: ``localstripe`` (PyPI, GPL-3.0) run as a separate process, for the
tests and for ``marketplace demo`` when no real Stripe key is configured.

localstripe is only ever *run* (``python -m localstripe``), never imported: no code of
this project links to it. It is a stateful Stripe API server, serves a fake Stripe.js at
``/js.stripe.com/v3/``, and sends signed webhooks to URLs registered through its
``/_config/webhooks/<name>`` route.

    with LocalStripe() as server:
        client = stripe.StripeClient("sk_test_12345", base_addresses={"api": server.api_base})
        register_webhook(server.api_base, "http://127.0.0.1:5000/stripe/webhook", "whsec_x")

Facts worth knowing (localstripe 1.15.10):

- Its only options are ``--port N`` and ``--from-scratch``. It binds ``[::]:N``
  (dual-stack, every interface; no host option), so it needs IPv6 support in the kernel.
- Without ``--from-scratch`` it reloads ``/tmp/localstripe.pickle``, which every instance
  rewrites after each object it creates (a fixed path): always pass ``--from-scratch``.
- It is ready in about half a second and exits 0 within ~0.1 s on SIGTERM.
- At import it triggers aiohttp's "Bare functions are deprecated" DeprecationWarning (in
  its own process, harmless; the child gets PYTHONWARNINGS=ignore::DeprecationWarning).
- It logs every request (aiohttp access log) to stderr; the log goes to a file here, never
  to a pipe that nobody reads (which would block the server once the pipe is full).
- Webhooks are sent one second after the event, once, with no retry.
"""

from __future__ import annotations

import http.client
import importlib.util
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from urllib.parse import quote, urlsplit

HOST = "127.0.0.1"
SECRET_KEY = "sk_test_12345"  # localstripe accepts any key that starts with sk_ (len > 5)
PUBLISHABLE_KEY = "pk_test_12345"  # for the fake Stripe.js; localstripe accepts any pk_
PICKLE_PATH = Path("/tmp/localstripe.pickle")  # hard-coded in localstripe's resources.py


class LocalStripeError(RuntimeError):
    """localstripe did not start, or its config API refused a request."""


def free_port(host: str = HOST) -> int:
    """A TCP port free on ``host`` right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def http_request(
    api_base: str,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 5.0,
) -> tuple[int, bytes]:
    """One plain HTTP request to localstripe (no proxy, whatever the environment says)."""
    parts = urlsplit(api_base)
    if parts.hostname is None:
        raise ValueError(f"no host in {api_base!r}")
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def register_webhook(
    api_base: str,
    url: str,
    secret: str,
    *,
    name: str = "default",
    events: Iterable[str] | None = None,
) -> None:
    """Make localstripe POST every event (or only ``events``) to ``url``, signed with ``secret``.

    This is ``POST /_config/webhooks/<name>`` with ``url``, ``secret`` and optionally
    ``events`` (a list of event types). localstripe keeps one endpoint per name (registering a
    name again replaces it) and has no route to remove one: register the name again with
    ``events=[]`` to silence it. ``DELETE /_config/data`` does not remove webhooks.
    The body is sent as JSON, which localstripe reads before trying form fields.
    """
    if not url.startswith("http"):
        raise ValueError("localstripe only accepts http(s) webhook URLs")
    payload: dict[str, object] = {"url": url, "secret": secret}
    if events is not None:
        payload["events"] = list(events)
    status, body = http_request(
        api_base,
        "POST",
        f"/_config/webhooks/{quote(name, safe='')}",
        json.dumps(payload).encode(),
        {"Content-Type": "application/json"},
    )
    if status != 200:
        raise LocalStripeError(f"registering webhook {name!r} failed: {status} {body!r}")


def flush_data(api_base: str) -> None:
    """Forget every Stripe object (``DELETE /_config/data``); registered webhooks remain."""
    status, body = http_request(api_base, "DELETE", "/_config/data")
    if status != 200:
        raise LocalStripeError(f"flushing localstripe failed: {status} {body!r}")


def _installed(python: str) -> bool:
    """Whether ``python`` can run ``-m localstripe`` (looked up, never imported here)."""
    if Path(python).resolve() == Path(sys.executable).resolve():
        return importlib.util.find_spec("localstripe") is not None
    probe = "import importlib.util, sys; sys.exit(importlib.util.find_spec('localstripe') is None)"
    return subprocess.run([python, "-c", probe], check=False).returncode == 0


class LocalStripe:
    """localstripe in a subprocess on a free loopback port; a context manager.

    ``api_base`` is what the SDK gets as its API base address, ``js_url`` the fake Stripe.js.
    """

    def __init__(
        self,
        *,
        command: Sequence[str] | None = None,
        startup_timeout: float = 20.0,
        stop_timeout: float = 5.0,
        attempts: int = 3,
    ) -> None:
        self.command = list(command or [sys.executable, "-m", "localstripe"])
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self.attempts = attempts
        self.host = HOST
        self.port: int | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.startup_seconds: float | None = None
        self._log_dir: tempfile.TemporaryDirectory[str] | None = None
        self.log_path: Path | None = None

    # -- addresses ---------------------------------------------------------------------
    @property
    def api_base(self) -> str:
        if self.port is None:
            raise LocalStripeError("localstripe is not running")
        return f"http://{self.host}:{self.port}"

    @property
    def js_url(self) -> str:
        """The fake Stripe.js; the trailing slash is required (without it: 404)."""
        return f"{self.api_base}/js.stripe.com/v3/"

    # -- life cycle --------------------------------------------------------------------
    def __enter__(self) -> LocalStripe:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> LocalStripe:
        if self.process is not None:
            raise LocalStripeError("localstripe is already running")
        if self.command[1:] == ["-m", "localstripe"] and not _installed(self.command[0]):
            raise LocalStripeError(
                f"localstripe is not installed for {self.command[0]}: "
                "pip install 'localstripe==1.15.10' (the project's test extra)"
            )
        if PICKLE_PATH.exists() and not os.access(PICKLE_PATH, os.W_OK):
            # localstripe rewrites this file after every object it creates and would answer
            # every POST with a 500 if it cannot.
            raise LocalStripeError(f"{PICKLE_PATH} exists and is not writable by this user")
        self._log_dir = tempfile.TemporaryDirectory(prefix="localstripe-")
        self.log_path = Path(self._log_dir.name) / "localstripe.log"
        last_error = "no attempt made"
        for _ in range(self.attempts):
            # The port is free on 127.0.0.1 now; localstripe binds [::]:port, which can
            # still collide with another process in between: then it exits and we retry.
            port = free_port(self.host)
            try:
                self._spawn(port)
                return self
            except LocalStripeError as error:
                last_error = str(error)
                self._reap()
            except BaseException:  # e.g. Ctrl-C while waiting: leave no server behind
                self.stop()
                raise
        self._cleanup_logs()
        raise LocalStripeError(last_error)

    def _spawn(self, port: int) -> None:
        assert self.log_path is not None
        # localstripe registers plain (non-async) handlers, for which aiohttp emits
        # "DeprecationWarning: Bare functions are deprecated, use async ones" at import: with
        # PYTHONWARNINGS=error inherited from the environment it would not even start.
        env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONWARNINGS="ignore::DeprecationWarning")
        started = time.monotonic()
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [*self.command, "--port", str(port), "--from-scratch"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        self.port = port
        deadline = started + self.startup_timeout
        while True:
            if self.process.poll() is not None:
                raise LocalStripeError(
                    f"localstripe exited with {self.process.returncode} on port {port}:\n"
                    + self.log_text()[-2000:]
                )
            try:
                status, _ = http_request(self.api_base, "GET", "/js.stripe.com/v3/", timeout=1.0)
            except OSError:
                status = 0
            if status == 200:
                self.startup_seconds = time.monotonic() - started
                return
            if time.monotonic() > deadline:
                raise LocalStripeError(
                    f"localstripe did not answer on port {port} within "
                    f"{self.startup_timeout} s:\n" + self.log_text()[-2000:]
                )
            time.sleep(0.05)

    def _reap(self) -> None:
        process, self.process, self.port = self.process, None, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()  # aiohttp's run_app exits cleanly (code 0) on SIGTERM
            try:
                process.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(self.stop_timeout)

    def _cleanup_logs(self) -> None:
        if self._log_dir is not None:
            self._log_dir.cleanup()
        self._log_dir = None
        self.log_path = None

    def stop(self) -> None:
        """Terminate the server (kill it if it does not exit in time) and remove its log."""
        self._reap()
        self._cleanup_logs()

    # -- helpers -----------------------------------------------------------------------
    def log_text(self) -> str:
        """What localstripe printed so far: one access-log line per request, webhook results."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")

    def register_webhook(
        self, url: str, secret: str, *, name: str = "default", events: Iterable[str] | None = None
    ) -> None:
        register_webhook(self.api_base, url, secret, name=name, events=events)

    def flush(self) -> None:
        flush_data(self.api_base)
