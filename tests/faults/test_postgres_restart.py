"""PostgreSQL restarted while vendors push usage: callers get an error in the API's shape
for every batch that was not accepted, nothing acknowledged is lost, and ingestion resumes
without restarting the app.

The machine's PostgreSQL is shared, so the test starts a private cluster of its own (initdb
into a temporary directory, on a free port) and restarts that one. As root, initdb refuses
to run: the cluster then runs as the ``postgres`` OS user through ``runuser``. Without
initdb (or, as root, without runuser and a postgres user) the test is skipped.
"""

from __future__ import annotations

import glob
import json
import os
import pwd
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from billing.models import UsageEvent
from marketplace import create_app, services
from marketplace.db import make_engine, utcnow
from tests.billing.factories import offered_plan, start_contract, usage_terms
from tests.catalog.factories import vendor_actor
from tests.faults.conftest import migrated
from tests.live_server import LiveServer
from tests.stripe_server import free_port

pytestmark = pytest.mark.slow


def _initdb() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if found:
        return Path(found[0])
    on_path = shutil.which("initdb")
    return Path(on_path) if on_path else None


class PrivatePostgres:
    """A throw-away PostgreSQL cluster on 127.0.0.1:<free port>, trust authentication."""

    def __init__(self) -> None:
        initdb = _initdb()
        if initdb is None:
            pytest.skip("initdb not found (install postgresql to run this test)")
        self.bin = initdb.parent
        self.prefix: list[str] = []
        self.root = Path(tempfile.mkdtemp(prefix="faults-pg-"))
        if os.geteuid() == 0:  # initdb refuses root: run the cluster as postgres
            runuser = shutil.which("runuser")
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                runuser = None
            if runuser is None:
                shutil.rmtree(self.root)
                pytest.skip("running as root without runuser and a postgres user")
            shutil.chown(self.root, "postgres")
            self.prefix = [runuser, "-u", "postgres", "--"]
        self.data = self.root / "data"
        self.port = free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        subprocess.run(
            [*self.prefix, *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )

    def _pg_ctl(self, *args: str) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.root / "log"),
            "-o",
            options,
            "-w",
            *args,
        )

    def init(self) -> None:
        self._run(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
        )
        self.start()

    def start(self) -> None:
        self._pg_ctl("start")

    def stop(self) -> None:
        self._pg_ctl("-m", "fast", "stop")

    def restart(self) -> None:
        self._pg_ctl("-m", "fast", "restart")

    def destroy(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self.stop()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    cluster = PrivatePostgres()
    try:
        cluster.init()
        yield cluster
    finally:
        cluster.destroy()


@dataclass
class Ingest:
    """Pushes batches of usage events, each with new ids, and records every answer."""

    url: str
    token: str
    contract_id: int
    meter: str
    batch: int = 20
    answers: list[tuple[list[str], int, dict]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    _sent: int = 0

    def post(self) -> tuple[list[str], int, dict]:
        at = (utcnow() - timedelta(minutes=1)).isoformat()
        ids = [f"ev-{self._sent + n}" for n in range(self.batch)]
        self._sent += self.batch
        events = [
            {
                "id": event_id,
                "contract_id": self.contract_id,
                "meter": self.meter,
                "quantity": 1,
                "occurred_at": at,
            }
            for event_id in ids
        ]
        request = urllib.request.Request(
            self.url + "/api/v1/usage-events",
            data=json.dumps({"events": events}).encode(),
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, body = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, body = error.code, error.read()
        try:
            payload = json.loads(body)
        except ValueError:
            payload = {"not_json": body.decode(errors="replace")[:500]}
        answer = (ids, status, payload)
        self.answers.append(answer)
        return answer

    def loop(self) -> None:
        while not self.stop.is_set():
            self.post()

    def ok(self) -> list[tuple[list[str], int, dict]]:
        return [a for a in self.answers if a[1] == 200]


def assert_error_shape(answer: tuple[list[str], int, dict]) -> None:
    _ids, status, payload = answer
    assert status == 503, answer
    assert payload["error"]["code"] == "unavailable", payload
    assert payload["error"]["message"]


def test_usage_ingestion_survives_a_postgres_restart(private_postgres: PrivatePostgres, tmp_path):
    url = migrated(private_postgres.url)
    app = create_app(
        {
            "DATABASE_URL": url,
            "SECRET_KEY": "faults",
            "PROPAGATE_EXCEPTIONS": False,  # answer as production does, not re-raise
            "RATELIMIT_STORAGE_URI": "memory://",
            "SEARCH_INDEX_DIR": str(tmp_path / "index"),
        }
    )
    app.extensions["catalog.search"].create()
    services.PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"
    with app.extensions["marketplace.db"].sessions() as session:
        vendor = vendor_actor(session)
        plan = offered_plan(session, usage_terms(free_units=0), vendor)
        contract = start_contract(session, plan=plan, now=utcnow() - timedelta(days=1))
        _record, token = services.create_token(
            session, user=vendor.user, organization=vendor.organization, name="ingest"
        )
        session.commit()
        contract_id, meter = contract.id, plan.meter

    with LiveServer(app) as server:
        ingest = Ingest(server.url, token, contract_id, meter)
        assert ingest.post()[1] == 200
        worker = threading.Thread(target=ingest.loop, daemon=True)
        worker.start()
        try:
            for _ in range(3):  # restarts while batches are in flight
                time.sleep(0.4)
                private_postgres.restart()
            time.sleep(0.4)
        finally:
            ingest.stop.set()
            worker.join(60)
        # A restart while idle leaves only dead connections in the app's pool: the next
        # request must not fail on one (pool_pre_ping replaces it).
        private_postgres.restart()
        after_restart = ingest.post()
        assert after_restart[1] == 200, after_restart
        # While it is down, every batch is refused in the API's error shape...
        private_postgres.stop()
        down = ingest.post()
        assert_error_shape(down)
        private_postgres.start()
        # ...and the first batch after it is back is accepted, by the same app and pool.
        back = ingest.post()
        assert back[1] == 200, back
        assert back[2]["accepted"] == ingest.batch

    for answer in ingest.answers:
        if answer[1] != 200:
            assert_error_shape(answer)
    acknowledged = {event_id for ids, _status, _body in ingest.ok() for event_id in ids}
    refused = {
        event_id for ids, status, _body in ingest.answers if status != 200 for event_id in ids
    }
    engine = make_engine(url)
    with engine.connect() as connection:
        stored = set(connection.scalars(sa.select(UsageEvent.event_id)))
    engine.dispose()
    app.extensions["marketplace.db"].engine.dispose()
    assert acknowledged <= stored, f"acknowledged but lost: {sorted(acknowledged - stored)[:10]}"
    assert down[0][0] not in stored
    # Enough traffic that the restarts hit it (not a vacuous pass).
    assert len(ingest.ok()) > 10
    print(
        f"{len(ingest.answers)} batches: {len(ingest.ok())} accepted, {len(refused) // ingest.batch} refused"
    )
