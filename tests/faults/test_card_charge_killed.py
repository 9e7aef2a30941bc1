"""A gunicorn worker killed with SIGKILL while Stripe's answer to a card charge is on its
way: the card was charged, the request never finished. Afterwards the charge is booked
exactly once, by its webhook or by the billing run's reconciliation, and paying again does
not charge again.

A real gunicorn (one worker) serves the app on a PostgreSQL database of its own; it talks
to localstripe through a loopback proxy (tests/billing/holding_proxy.py) that forwards the
confirmation at once and holds localstripe's answer. Once it is held, the worker is
killed; gunicorn's master starts a new one, which serves what follows.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from billing import ledger
from billing.attempt_models import AttemptStatus, PaymentAttempt
from billing.ledger_models import LedgerTransaction
from billing.models import Invoice, InvoiceStatus
from billing.payment_models import Payment, PaymentStatus
from marketplace import create_app, services
from marketplace.db import utcnow
from tests.billing.conftest import WEBHOOK_PATH, LiveApp
from tests.billing.holding_proxy import HoldingProxy
from tests.billing.test_payments_e2e import (
    PRICE,
    VISA,
    assert_balanced,
    count,
    save_card,
    subscribe,
)
from tests.conftest import POSTGRES_URL
from tests.faults.conftest import ROOT, cli_env
from tests.stripe_server import PUBLISHABLE_KEY, SECRET_KEY, LocalStripe, free_port

pytestmark = [
    pytest.mark.slow,
    pytest.mark.postgres,
    pytest.mark.skipif(not POSTGRES_URL, reason="needs PostgreSQL (DATABASE_URL)"),
]

WEBHOOK_SECRET = "whsec_killed_worker"


class Gunicorn:
    """``gunicorn wsgi:app`` with one worker (or ``workers``) on a free loopback port."""

    def __init__(self, env: dict[str, str], log: Path, *, workers: int = 1) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "--workers",
                    str(workers),
                    "--bind",
                    f"127.0.0.1:{self.port}",
                    "--log-level",
                    "warning",
                    "wsgi:app",
                ],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.wait_until_up()

    def wait_until_up(self) -> None:
        deadline = time.monotonic() + 60
        while True:
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                pass
            assert time.monotonic() < deadline, "gunicorn did not come up\n" + self.log.read_text()
            time.sleep(0.2)

    def worker_pids(self) -> list[int]:
        pid = self.process.pid
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def post(url: str, path: str, body: dict[str, Any], token: str) -> tuple[int, dict[str, Any]]:
    parts = urllib.request.urlparse(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    try:
        connection.request(
            "POST",
            path,
            body=json.dumps(body),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        )
        answer = connection.getresponse()
        return answer.status, json.loads(answer.read() or b"{}")
    finally:
        connection.close()


@pytest.fixture
def setup_app(
    live_database_url: str, stripe_server: LocalStripe, tmp_path: Path
) -> Iterator[LiveApp]:
    """The app on the test's database, talking to localstripe directly: for setting up and
    checking (nothing is served from this process)."""
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": live_database_url,
            "SECRET_KEY": "faults",
            "RATELIMIT_STORAGE_URI": "memory://",
            "SEARCH_INDEX_DIR": str(tmp_path / "index"),
            "STRIPE_SECRET_KEY": SECRET_KEY,
            "STRIPE_PUBLISHABLE_KEY": PUBLISHABLE_KEY,
            "STRIPE_API_BASE": stripe_server.api_base,
        }
    )
    app.extensions["catalog.search"].create()
    yield LiveApp(app, None, stripe_server, WEBHOOK_SECRET)  # type: ignore[arg-type]
    app.extensions["marketplace.db"].engine.dispose()


@contextmanager
def served(url: str, workdir: Path, stripe_base: str) -> Iterator[Gunicorn]:
    env = cli_env(
        url,
        workdir,
        MARKETPLACE_STRIPE_SECRET_KEY=SECRET_KEY,
        MARKETPLACE_STRIPE_PUBLISHABLE_KEY=PUBLISHABLE_KEY,
        MARKETPLACE_STRIPE_API_BASE=stripe_base,
        MARKETPLACE_STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
        # long enough that the worker is still waiting when it is killed, short enough
        # for the app to start (3 calls x 15 s < gunicorn's 60 s)
        MARKETPLACE_STRIPE_TIMEOUT_SECONDS="15",
    )
    server = Gunicorn(env, workdir / "gunicorn.log")
    try:
        yield server
    finally:
        server.stop()


def wait_until(check: Any, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what} within {timeout} s"
        time.sleep(0.2)


@pytest.mark.parametrize("booked_by", ["webhook", "reconciliation"])
def test_worker_killed_while_the_charge_answer_is_held(
    setup_app: LiveApp, live_database_url: str, tmp_path: Path, booked_by: str
):
    live = setup_app
    with live.sessions() as session:
        buyer, invoice = subscribe(session)
        card = save_card(live, session, buyer, VISA)
        _record, token = services.create_token(
            session, user=buyer.user, organization=buyer.organization, name="pay"
        )
        session.commit()
        invoice_id, customer_id = invoice.id, card.customer_id
        # the billing run's clock: no later period of the subscription has ended yet
        as_of = invoice.issued_at.isoformat()
    stripe_server = live.stripe_server
    webhook_name = f"killed-{uuid.uuid4().hex}"

    with (
        HoldingProxy(stripe_server.api_base) as proxy,
        served(live_database_url, tmp_path, proxy.url) as site,
    ):
        if booked_by == "webhook":
            stripe_server.register_webhook(
                site.url + WEBHOOK_PATH, WEBHOOK_SECRET, name=webhook_name
            )
        try:
            (worker,) = site.worker_pids()
            answers: list[Any] = []
            pay = threading.Thread(
                target=lambda: answers.append(_pay_or_error(site.url, invoice_id, token)),
                daemon=True,
            )
            pay.start()
            proxy.wait_until_held()  # localstripe charged the card; the worker waits
            os.kill(worker, signal.SIGKILL)
            pay.join(30)
            assert answers and isinstance(answers[0], Exception), answers  # no answer came
            proxy.release()

            with live.sessions() as session:  # what the dead request left
                (attempt,) = session.scalars(sa.select(PaymentAttempt))
                assert attempt.status in (AttemptStatus.CONFIRMING, AttemptStatus.SUCCEEDED)
                assert attempt.stripe_payment_intent_id is not None

            if booked_by == "webhook":
                wait_until(lambda: _status(live, invoice_id) is InvoiceStatus.PAID, "paid")
            else:
                site.wait_until_up()  # gunicorn's new worker
                status, body = post(
                    site.url, f"/api/v1/invoices/{invoice_id}/pay", {"method": "card"}, token
                )
                assert status == 409, body
                assert body["error"]["code"] == "payment_in_progress"
                _five_minutes_pass(live)
                out = _billing_run(live_database_url, tmp_path, stripe_server.api_base, as_of)
                assert "1 card attempt(s) reconciled" in out, out
        finally:
            if booked_by == "webhook":  # localstripe cannot delete a webhook: silence it
                stripe_server.register_webhook(
                    site.url + WEBHOOK_PATH, WEBHOOK_SECRET, name=webhook_name, events=[]
                )

        site.wait_until_up()
        status, body = post(
            site.url, f"/api/v1/invoices/{invoice_id}/pay", {"method": "card"}, token
        )
        assert status == 409, body  # paid: paying again charges nothing
        assert body["error"]["code"] == "conflict"

    client = live.stripe()
    intents = [
        i
        for i in client.v1.payment_intents.list({"limit": 100}).auto_paging_iter()
        if i.customer == customer_id
    ]
    assert [(i.status, i.amount) for i in intents] == [("succeeded", PRICE)]
    with live.sessions() as session:
        invoice = session.get_one(Invoice, invoice_id)
        assert invoice.status is InvoiceStatus.PAID
        assert [(p.status, p.amount_fen, p.stripe_payment_intent_id) for p in invoice.payments] == [
            (PaymentStatus.SUCCEEDED, PRICE, intents[0].id)
        ]
        (attempt,) = session.scalars(sa.select(PaymentAttempt))
        assert attempt.status is AttemptStatus.SUCCEEDED
        received = LedgerTransaction.kind == "payment.received"
        assert count(session, LedgerTransaction, received) == 1
        assert count(session, Payment) == 1
        assert ledger.balance(session, ledger.BUYER_RECEIVABLE, invoice.buyer_id) == 0
        assert ledger.balance(session, ledger.STRIPE_CLEARING) == PRICE
        assert_balanced(session)


def _pay_or_error(url: str, invoice_id: int, token: str) -> Any:
    try:
        return post(url, f"/api/v1/invoices/{invoice_id}/pay", {"method": "card"}, token)
    except (OSError, http.client.HTTPException) as exc:
        return exc


def _status(live: LiveApp, invoice_id: int) -> InvoiceStatus:
    with live.sessions() as session:
        return session.get_one(Invoice, invoice_id).status


def _five_minutes_pass(live: LiveApp) -> None:
    """The attempt has been in flight for longer than any request can live."""
    with live.sessions() as session:
        session.execute(
            sa.update(PaymentAttempt).values(updated_at=utcnow() - timedelta(minutes=10))
        )
        session.commit()


def _billing_run(url: str, workdir: Path, stripe_base: str, as_of: str) -> str:
    """``marketplace billing run`` in its own process, talking to localstripe directly."""
    process = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "billing", "run", "--as-of", as_of],
        cwd=ROOT,
        env=cli_env(
            url,
            workdir,
            MARKETPLACE_STRIPE_SECRET_KEY=SECRET_KEY,
            MARKETPLACE_STRIPE_API_BASE=stripe_base,
        ),
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert process.returncode == 0, process.stderr.decode()[-3000:]
    return process.stdout.decode()
