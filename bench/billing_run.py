"""Time to close one billing period for many usage and subscription contracts.

    python bench/billing_run.py [--sizes 10000,100000] [--db postgresql|sqlite]
                                [--workers 1] [--history 0]

For each size: a fresh database of its own, one vendor with a usage plan and a
subscription plan, half the contracts on each (spread over 100 buyers), three usage
events per usage contract, all with one period due, and fresh planner statistics (as on a
running system, where autovacuum analyzes); then ``billing.run.run`` closes them and the
script prints the time, the cost per contract and the invoices issued. Growth should be
linear: the per-contract cost stays flat from 10,000 to 1,000,000.

``--workers 2`` runs that many ``billing.run.run`` processes at once on the same database
(as on several hosts); ``--history N`` first stores N usage events of the usage contracts'
earlier months (with one SQL statement, not through the app), so the run can be compared
on a short and a long history.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa

from bench.common import bench_app, bench_database

CHUNK = 5_000


def seed(app, size: int):
    from billing.models import Contract, ContractStatus, UsageEvent
    from billing.periods import add_months
    from marketplace import services
    from marketplace.db import db, utcnow
    from tests.billing.factories import buyer_actor
    from tests.catalog.factories import (
        SUBSCRIPTION,
        USAGE,
        operator_actor,
        publish_solution,
        vendor_actor,
    )

    services.PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"  # seeding only
    now = utcnow()
    anchor = add_months(now, -1) - timedelta(days=1)
    with app.app_context():
        session = db.session
        vendor = vendor_actor(session)
        solution = publish_solution(
            session,
            vendor,
            operator_actor(session),
            plans=[USAGE, {**SUBSCRIPTION, "trial_days": 0}],
        )
        usage_plan, subscription_plan = solution.published.plans
        buyers = [buyer_actor(session).organization.id for _ in range(100)]
        user_id = vendor.user.id
        session.commit()
        engine = db.engine
        for start in range(0, size, CHUNK):
            rows = []
            for n in range(start, min(start + CHUNK, size)):
                plan = usage_plan if n % 2 == 0 else subscription_plan
                rows.append(
                    {
                        "buyer_id": buyers[n % len(buyers)],
                        "vendor_id": vendor.organization.id,
                        "solution_id": solution.id,
                        "plan_id": plan.id,
                        "status": ContractStatus.ACTIVE,
                        "anchor_at": anchor,
                        "current_period_start": anchor,
                        "current_period_end": add_months(anchor, 1),
                        "cancel_at_period_end": False,
                        "baseline_note": "",
                        "created_at": anchor,
                        "created_by_id": user_id,
                    }
                )
            with engine.begin() as connection:
                ids = (
                    connection.execute(sa.insert(Contract).returning(Contract.id), rows)
                    .scalars()
                    .all()
                )
                events = [
                    {
                        "vendor_id": vendor.organization.id,
                        "event_id": f"seed-{cid}-{k}",
                        "contract_id": cid,
                        "meter": usage_plan.meter,
                        "quantity": 1000 + k * 37,
                        "occurred_at": anchor + timedelta(days=k + 1),
                        "received_at": anchor,
                        "payload_hash": "0" * 64,
                    }
                    for cid, row in zip(ids, rows, strict=True)
                    if row["plan_id"] == usage_plan.id
                    for k in range(3)
                ]
                connection.execute(sa.insert(UsageEvent), events)
    return now


def history(app, events: int) -> None:
    """``events`` usage events spread over the 24 months before the seeded periods."""
    from billing.metering import partitions
    from billing.periods import add_months
    from marketplace.db import utcnow

    if not events:
        return
    engine = app.extensions["marketplace.db"].engine
    with engine.begin() as connection:  # the months of the history, as the migration does
        for months in range(-27, 1):
            partitions.create_month(
                connection, partitions.month_start(add_months(utcnow(), months))
            )
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                """
            WITH usage AS (
                SELECT array_agg(id ORDER BY id) AS ids, min(vendor_id) AS vendor_id,
                       min(anchor_at) AS anchor_at
                FROM contracts WHERE plan_id = (SELECT min(plan_id) FROM contracts)
            )
            INSERT INTO usage_events (vendor_id, event_id, contract_id, meter, quantity,
                                      occurred_at, received_at, payload_hash)
            SELECT u.vendor_id, 'hist-' || g, u.ids[1 + g % cardinality(u.ids)],
                   'inspected_images', 1,
                   u.anchor_at - (1 + g % 720) * interval '1 day',
                   u.anchor_at - (1 + g % 720) * interval '1 day', repeat('0', 64)
            FROM usage u, generate_series(0, :events - 1) AS g
            """
            ),
            {"events": events},
        )
    analyze(app)


def analyze(app) -> None:
    engine = app.extensions["marketplace.db"].engine
    with engine.connect() as connection:
        connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        connection.exec_driver_sql("ANALYZE")


def close(app, now) -> tuple[float, int]:
    from billing import run

    started = time.perf_counter()
    report = run.run(app.extensions["marketplace.db"].sessions, as_of=now, commission_bp=1000)
    return time.perf_counter() - started, len(report.invoices)


def _worker(args: tuple[str, str, object]) -> int:
    url, workdir, now = args
    app = bench_app(url, Path(workdir))
    return close(app, now)[1]


def close_with(app, url: str, workdir: Path, now, workers: int) -> tuple[float, int]:
    """``workers`` processes running the billing run at once; the time until all are done."""
    if workers == 1:
        return close(app, now)
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        started = time.perf_counter()
        invoices = pool.map(_worker, [(url, str(workdir), now)] * workers)
        return time.perf_counter() - started, sum(invoices)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--db", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--workers", type=int, default=1, help="run processes at once")
    parser.add_argument("--history", type=int, default=0, help="earlier usage events")
    args = parser.parse_args()
    for size in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory(prefix="bench-run-") as tmp:
            workdir = Path(tmp)
            url = bench_database(args.db, workdir)
            app = bench_app(url, workdir)
            seeded = time.perf_counter()
            now = seed(app, size)
            history(app, args.history)
            analyze(app)
            seed_seconds = time.perf_counter() - seeded
            seconds, invoices = close_with(app, url, workdir, now, args.workers)
            again, repeated = close(app, now)
            print(
                f"{args.db} {size:>7} contracts, {args.workers} worker(s), "
                f"{args.history} earlier events: closed in {seconds:7.1f} s "
                f"({seconds / size * 1000:.2f} ms per contract, {invoices} invoices); "
                f"second run {again:.1f} s, {repeated} invoices; seeding took {seed_seconds:.0f} s"
            )
            app.extensions["marketplace.db"].engine.dispose()


if __name__ == "__main__":
    main()
