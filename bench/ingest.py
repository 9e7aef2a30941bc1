"""Usage-event ingestion through the HTTP API under gunicorn, against a plain bulk insert.

    python bench/ingest.py [--db sqlite|postgresql|both] [--batches 40] [--clients 4]
                           [--history 200000]

Seeds a vendor with a usage plan, 50 buyers' contracts and 200,000 earlier events (with
fresh planner statistics, as on a running system) in a database of its own, serves
the app with gunicorn on loopback, and has 4 client processes POST batches of 500 events to
/api/v1/usage-events. Then stores the same number of rows straight into usage_events, in
batches of 500 with one commit each (as durable as the API's answer), two ways: SQLAlchemy
Core's bulk insert, and on PostgreSQL COPY (the real ceiling: no checks, no answer).
Prints events per second for each and the API's ratio to both.

``--history`` sets the earlier events; on PostgreSQL they are spread over the 24 months
before today and stored with one SQL statement (generate_series), so 20,000,000 take
minutes, not hours: compare the rates with a short and a long history.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import multiprocessing
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from bench.common import bench_app, bench_database, gunicorn

BATCH = 500
CONTRACTS = 50
HISTORY = 200_000  # events already stored before the run


def seed(app, history_events: int = HISTORY) -> tuple[str, list[int]]:
    from billing import contracts
    from billing.models import UsageEvent  # noqa: F401 - registers the table
    from marketplace import services
    from marketplace.db import db, utcnow
    from tests.billing.factories import buyer_actor
    from tests.catalog.factories import USAGE, operator_actor, publish_solution, vendor_actor

    services.PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"  # seeding only
    with app.app_context():
        session = db.session
        vendor = vendor_actor(session)
        solution = publish_solution(session, vendor, operator_actor(session), plans=[USAGE])
        plan = solution.published.plans[0]
        ids = [
            contracts.start(
                session,
                actor=buyer_actor(session),
                plan=plan,
                agreement_version=contracts.agreement_in_force(plan),
                now=utcnow(),
                commission_bp=1000,
            ).id
            for _ in range(CONTRACTS)
        ]
        _token, secret = services.create_token(
            session, user=vendor.user, organization=vendor.organization, name="bench"
        )
        session.commit()
        history(db.engine, vendor.organization.id, ids, history_events)
        return secret, ids


def history(engine, vendor_id: int, ids: list[int], count: int = HISTORY) -> None:
    """Events from earlier days, and fresh planner statistics: a running system, not an
    empty table that grows faster than autovacuum looks at it."""
    from billing.metering import partitions
    from billing.models import UsageEvent, UsageEventKey
    from billing.periods import add_months

    now = datetime.now(UTC)
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:  # the months of the history, as the migration does
            for months in range(-25, 1):
                month = partitions.month_start(add_months(now, months))
                partitions.create_month(connection, month)
        with engine.begin() as connection:
            connection.execute(
                sa.text(
                    """
                    WITH k AS (
                        INSERT INTO usage_event_keys (vendor_id, event_id, payload_hash)
                        SELECT :vendor_id, 'hist-' || g, repeat('0', 64)
                        FROM generate_series(0, :count - 1) AS g
                    )
                    INSERT INTO usage_events (vendor_id, event_id, contract_id, meter,
                        quantity, occurred_at, received_at, payload_hash)
                    SELECT :vendor_id, 'hist-' || g, (:ids)[1 + g % cardinality(:ids)],
                           'inspected_images', 1,
                           :now - (1 + g % 720) * interval '1 day',
                           :now - (1 + g % 720) * interval '1 day', repeat('0', 64)
                    FROM generate_series(0, :count - 1) AS g
                    """
                ).bindparams(sa.bindparam("ids", type_=postgresql.ARRAY(sa.Integer))),
                {"vendor_id": vendor_id, "ids": ids, "now": now, "count": count},
            )
        count = 0  # stored
    for start in range(0, count, 5000):
        rows = [
            {
                "vendor_id": vendor_id,
                "event_id": f"hist-{n}",
                "contract_id": ids[n % len(ids)],
                "meter": "inspected_images",
                "quantity": 1,
                "occurred_at": now,
                "received_at": now,
                "payload_hash": "0" * 64,
            }
            for n in range(start, min(start + 5000, count))
        ]
        with engine.begin() as connection:
            connection.execute(sa.insert(UsageEvent.__table__), rows)
            connection.execute(
                sa.insert(UsageEventKey.__table__),
                [{k: row[k] for k in ("vendor_id", "event_id", "payload_hash")} for row in rows],
            )
    with engine.connect() as connection:
        connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        connection.exec_driver_sql("ANALYZE")


def client(args: tuple[str, str, list[int], int, int]) -> tuple[int, int, list[float]]:
    base, token, contract_ids, client_no, batches = args
    parts = urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    now = datetime.now(UTC).isoformat()
    accepted = sent = 0
    latencies = []
    for batch in range(batches):
        events = [
            {
                "id": f"c{client_no}-b{batch}-e{i}",
                "contract_id": contract_ids[(batch * BATCH + i) % len(contract_ids)],
                "meter": "inspected_images",
                "quantity": 1 + i % 7,
                "occurred_at": now,
            }
            for i in range(BATCH)
        ]
        body = json.dumps({"events": events})
        started = time.perf_counter()
        connection.request("POST", "/api/v1/usage-events", body=body, headers=headers)
        response = connection.getresponse()
        payload = json.loads(response.read())
        latencies.append(time.perf_counter() - started)
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}: {payload}")
        accepted += payload["accepted"]
        sent += BATCH
    return sent, accepted, latencies


def api_rate(
    url: str, workdir: Path, token: str, ids: list[int], clients: int, batches: int
) -> tuple[float, int, list[float]]:
    port = 18000 + int(hashlib.sha1(url.encode()).hexdigest(), 16) % 1000
    with gunicorn(url, workdir, port=port, workers=4) as base:
        jobs = [(base, token, ids, n, batches) for n in range(clients)]
        with multiprocessing.get_context("spawn").Pool(clients) as pool:
            started = time.perf_counter()
            results = pool.map(client, jobs)
            elapsed = time.perf_counter() - started
    accepted = sum(r[1] for r in results)
    sent = sum(r[0] for r in results)
    if accepted != sent:
        raise RuntimeError(f"only {accepted} of {sent} events accepted")
    return accepted / elapsed, accepted, [lat for r in results for lat in r[2]]


def bulk_rate(app, ids: list[int], total: int) -> float:
    from billing.models import UsageEvent
    from marketplace.db import db

    now = datetime.now(UTC)
    with app.app_context():
        engine = db.engine
        vendor_id = None
        with engine.connect() as connection:
            vendor_id = connection.scalar(sa.select(UsageEvent.vendor_id).limit(1))
        started = time.perf_counter()
        for start in range(0, total, BATCH):
            rows = [
                {
                    "vendor_id": vendor_id,
                    "event_id": f"bulk-{start + i}",
                    "contract_id": ids[(start + i) % len(ids)],
                    "meter": "inspected_images",
                    "quantity": 1 + i % 7,
                    "occurred_at": now,
                    "received_at": now,
                    "payload_hash": hashlib.sha256(str(start + i).encode()).hexdigest(),
                }
                for i in range(BATCH)
            ]
            with engine.begin() as connection:
                connection.execute(sa.insert(UsageEvent), rows)
        return total / (time.perf_counter() - started)


def copy_rate(app, ids: list[int], total: int) -> float | None:
    """COPY into usage_events (PostgreSQL), batches of 500 with one commit each."""
    from marketplace.db import db

    now = datetime.now(UTC)
    with app.app_context():
        engine = db.engine
        if engine.dialect.name != "postgresql":
            return None
        connection = engine.raw_connection()
        try:
            raw = connection.driver_connection
            with raw.cursor() as cursor:
                vendor_id = cursor.execute("SELECT vendor_id FROM usage_events LIMIT 1").fetchone()
            raw.commit()
            started = time.perf_counter()
            for start in range(0, total, BATCH):
                with (
                    raw.cursor() as cursor,
                    cursor.copy(
                        "COPY usage_events (vendor_id, event_id, contract_id, meter, quantity,"
                        " occurred_at, received_at, payload_hash) FROM STDIN"
                    ) as copy,
                ):
                    for i in range(BATCH):
                        copy.write_row(
                            (
                                vendor_id[0],
                                f"copy-{start + i}",
                                ids[(start + i) % len(ids)],
                                "inspected_images",
                                1 + i % 7,
                                now,
                                now,
                                hashlib.sha256(str(start + i).encode()).hexdigest(),
                            )
                        )
                raw.commit()
            return total / (time.perf_counter() - started)
        finally:
            connection.close()


def run(kind: str, clients: int, batches: int, history_events: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        workdir = Path(tmp)
        url = bench_database(kind, workdir)
        app = bench_app(url, workdir)
        token, ids = seed(app, history_events)
        rate, accepted, latencies = api_rate(url, workdir, token, ids, clients, batches)
        ceiling = bulk_rate(app, ids, accepted)
        copied = copy_rate(app, ids, accepted)
        latencies.sort()
        p50 = latencies[len(latencies) // 2] * 1000
        p95 = latencies[int(len(latencies) * 0.95) - 1] * 1000
        copy_part = (
            f" | COPY: {copied:8.0f} rows/s | ratio to COPY {rate / copied:.2f}" if copied else ""
        )
        print(
            f"{kind:10s} history {history_events}: API: {rate:8.0f} events/s ({accepted} events, "
            f"{clients} clients, batches of {BATCH}; request p50 {p50:.0f} ms, p95 {p95:.0f} ms)"
            f" | bulk insert: {ceiling:8.0f} rows/s | ratio to bulk {rate / ceiling:.2f}"
            + copy_part
        )
        app.extensions["marketplace.db"].engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--batches", type=int, default=40, help="batches per client")
    parser.add_argument("--history", type=int, default=HISTORY, help="earlier events")
    args = parser.parse_args()
    kinds = ("sqlite", "postgresql") if args.db == "both" else (args.db,)
    for kind in kinds:
        run(kind, args.clients, args.batches, args.history)


if __name__ == "__main__":
    main()
