"""Usage-event ingestion through the HTTP API under gunicorn, against a plain bulk insert.

    python bench/ingest.py [--db sqlite|postgresql|both] [--batches 40] [--clients 4]

Seeds a vendor with a usage plan, 50 buyers' contracts and 200,000 earlier events (with
fresh planner statistics, as on a running system) in a database of its own, serves
the app with gunicorn on loopback, and has 4 client processes POST batches of 500 events to
/api/v1/usage-events. Then inserts the same number of rows straight into usage_events with
SQLAlchemy Core in batches of 500 (one commit per batch, as the API does) as the ceiling.
Prints events per second for both and their ratio.
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

from bench.common import bench_app, bench_database, gunicorn

BATCH = 500
CONTRACTS = 50
HISTORY = 200_000  # events already stored before the run


def seed(app) -> tuple[str, list[int]]:
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
        history(db.engine, vendor.organization.id, ids)
        return secret, ids


def history(engine, vendor_id: int, ids: list[int], count: int = HISTORY) -> None:
    """Events from earlier days, and fresh planner statistics: a running system, not an
    empty table that grows faster than autovacuum looks at it."""
    from billing.models import UsageEvent

    now = datetime.now(UTC)
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
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "ANALYZE usage_events" if engine.dialect.name == "postgresql" else "ANALYZE"
        )


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


def run(kind: str, clients: int, batches: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        workdir = Path(tmp)
        url = bench_database(kind, workdir)
        app = bench_app(url, workdir)
        token, ids = seed(app)
        rate, accepted, latencies = api_rate(url, workdir, token, ids, clients, batches)
        ceiling = bulk_rate(app, ids, accepted)
        latencies.sort()
        p50 = latencies[len(latencies) // 2] * 1000
        p95 = latencies[int(len(latencies) * 0.95) - 1] * 1000
        print(
            f"{kind:10s} API: {rate:8.0f} events/s ({accepted} events, {clients} clients, batches of "
            f"{BATCH}; request p50 {p50:.0f} ms, p95 {p95:.0f} ms) | bulk insert: {ceiling:8.0f} rows/s "
            f"| ratio {rate / ceiling:.2f}"
        )
        app.extensions["marketplace.db"].engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--batches", type=int, default=40, help="batches per client")
    args = parser.parse_args()
    kinds = ("sqlite", "postgresql") if args.db == "both" else (args.db,)
    for kind in kinds:
        run(kind, args.clients, args.batches)


if __name__ == "__main__":
    main()
