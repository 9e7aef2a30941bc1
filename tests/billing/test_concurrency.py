"""Concurrency on PostgreSQL: two billing runs at once, and two overlapping usage calls.

Each test has a database of its own (``<db>_live_<pid>``) with real commits: the rolled-back
outer transaction of the ``app`` fixture would hide every race.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
import traceback
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from billing import ledger, run
from billing.metering import events as metering
from billing.models import Contract, Invoice, UsageEvent
from marketplace import create_app
from tests.billing.factories import (
    COMMISSION_BP,
    T0,
    buyer_actor,
    event,
    start_contract,
    subscription_terms,
    usage_terms,
)
from tests.catalog.factories import publish_solution, vendor_actor
from tests.conftest import POSTGRES_URL

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not POSTGRES_URL, reason="needs PostgreSQL (set DATABASE_URL)"),
]

BUYERS = 25  # each with a usage and a subscription contract: 50 contracts
AS_OF = T0 + timedelta(days=65)  # two periods of each contract have ended


def app_config(database_url: str, index_dir: Path) -> dict[str, Any]:
    return {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret",
        "RATELIMIT_STORAGE_URI": "memory://",
        "SEARCH_INDEX_DIR": str(index_dir),
    }


@pytest.fixture
def own_app(live_database_url: str, tmp_path: Path) -> Iterator[Flask]:
    app = create_app(app_config(live_database_url, tmp_path / "index"))
    app.extensions["catalog.search"].create()
    yield app
    app.extensions["marketplace.db"].engine.dispose()


# --- two billing runs at once --------------------------------------------------------------


def billing_run_process(
    config: dict[str, Any], as_of: Any, started: Any, results: Any, name: str
) -> None:
    """One ``marketplace billing run`` in its own process, app and engine; both processes
    start the run at the same moment (once both apps are built)."""
    try:
        app = create_app(config)
        started.wait(60)
        report = run.run(
            app.extensions["marketplace.db"].sessions, as_of=as_of, commission_bp=COMMISSION_BP
        )
        app.extensions["marketplace.db"].engine.dispose()
        results.put((name, report.periods_closed, report.invoices, None))
    except BaseException:  # report it to the test instead of dying silently
        results.put((name, 0, [], traceback.format_exc()))


def test_two_billing_runs_at_once_invoice_each_period_once(
    own_app: Flask, live_database_url: str, tmp_path: Path
) -> None:
    with own_app.extensions["marketplace.db"].sessions() as session:
        vendor = vendor_actor(session)
        solution = publish_solution(
            session,
            vendor,
            plans=[usage_terms(free_units=0), subscription_terms(trial_days=0)],
        )
        usage_plan, subscription_plan = solution.published.plans
        for i in range(BUYERS):
            buyer = buyer_actor(session)
            usage = start_contract(session, plan=usage_plan, buyer=buyer)
            start_contract(session, plan=subscription_plan, buyer=buyer)
            result = metering.ingest(
                session,
                vendor_id=vendor.organization.id,
                events=[event(usage, f"b{i}", 100 + i, at=T0 + timedelta(days=1))],
                now=T0 + timedelta(days=1),
            )
            assert result.accepted == 1
        session.commit()
        initial = set(session.scalars(sa.select(Invoice.number)))
    assert len(initial) == BUYERS  # each subscription's first period, invoiced at the start

    context = multiprocessing.get_context("spawn")
    started = context.Barrier(2)
    results = context.Queue()
    config = app_config(live_database_url, tmp_path / "index")
    workers = [
        context.Process(
            target=billing_run_process, args=(config, AS_OF, started, results, name), daemon=True
        )
        for name in ("a", "b")
    ]
    for worker in workers:
        worker.start()
    reports = {}
    for _ in workers:
        name, closed, numbers, error = results.get(timeout=120)
        assert error is None, f"run {name} failed:\n{error}"
        reports[name] = (closed, numbers)
    for worker in workers:
        worker.join(30)
        assert worker.exitcode == 0

    (closed_a, numbers_a), (closed_b, numbers_b) = reports["a"], reports["b"]
    contracts = 2 * BUYERS
    assert closed_a + closed_b == 2 * contracts  # every period closed once, by one run
    assert not set(numbers_a) & set(numbers_b)
    assert len(numbers_a) + len(numbers_b) == 2 * contracts

    with own_app.extensions["marketplace.db"].sessions() as session:
        rows = session.execute(
            sa.select(Invoice.contract_id, Invoice.period_start, Invoice.reason, Invoice.number)
        ).all()
        assert len(rows) == len(initial) + 2 * contracts
        keys = [(r.contract_id, r.period_start, r.reason) for r in rows]
        assert len(set(keys)) == len(keys)  # no duplicate per contract, period and reason
        serials = sorted(int(r.number.rsplit("-", 1)[1]) for r in rows)
        assert serials == list(range(1, len(rows) + 1))  # unique and gapless
        assert {r.number for r in rows} - initial == set(numbers_a + numbers_b)
        ends = session.scalars(sa.select(Contract.current_period_end)).all()
        assert len(ends) == contracts and all(end > AS_OF for end in ends)
        assert ledger.unbalanced_transactions(session) == []

    again = run.run(
        own_app.extensions["marketplace.db"].sessions, as_of=AS_OF, commission_bp=COMMISSION_BP
    )
    assert (again.periods_closed, again.invoices) == (0, [])


# --- two overlapping usage calls at once ---------------------------------------------------


def waiting_on_a_lock(session: Session, database: str) -> bool:
    """Whether a connection to ``database`` waits for a lock (a new transaction each time:
    pg_stat_activity is a snapshot per transaction)."""
    waiting = session.scalar(
        sa.select(sa.func.count())
        .select_from(sa.text("pg_stat_activity"))
        .where(sa.text("datname = :db AND wait_event_type = 'Lock'"))
        .params(db=database)
    )
    session.rollback()
    return bool(waiting)


def test_overlapping_usage_calls_store_each_event_once(
    own_app: Flask, live_database_url: str
) -> None:
    sessions = own_app.extensions["marketplace.db"].sessions
    with sessions() as session:
        contract = start_contract(session, usage_terms())
        events = {
            i: event(contract, i, 1, at=T0 + timedelta(days=1))
            for i in (f"evt-{n:04d}" for n in range(1000))
        }
        session.commit()
        vendor_id = contract.vendor_id
    ids = sorted(events)
    batch_a, batch_b = ids[:600], ids[400:]  # evt-0400 .. evt-0599 are in both

    def ingest(session: Session, batch: list[str]) -> metering.IngestResult:
        return metering.ingest(
            session,
            vendor_id=vendor_id,
            events=[events[i] for i in batch],
            now=T0 + timedelta(days=2),
        )

    # Call A has stored its events but not committed when call B checks for duplicates; B
    # then meets A's rows in its insert and must wait for A, then report them duplicates.
    results: dict[str, metering.IngestResult] = {}
    errors: list[BaseException] = []

    def call_b() -> None:
        try:
            with sessions() as session:
                results["b"] = ingest(session, batch_b)
                session.commit()
        except BaseException as exc:
            errors.append(exc)

    with sessions() as session_a, sessions() as watcher:
        results["a"] = ingest(session_a, batch_a)
        b = threading.Thread(target=call_b)
        b.start()
        deadline = time.monotonic() + 10
        database = sa.make_url(live_database_url).database
        while not waiting_on_a_lock(watcher, database) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert waiting_on_a_lock(watcher, database), "call B never waited for call A"
        session_a.commit()
        b.join(30)
    assert not errors, errors

    a, b_result = results["a"], results["b"]
    assert a.rejected == [] and b_result.rejected == []
    accepted_a = set(batch_a) - set(a.duplicates)
    accepted_b = set(batch_b) - set(b_result.duplicates)
    assert (a.accepted, b_result.accepted) == (len(accepted_a), len(accepted_b)) == (600, 400)
    assert not accepted_a & accepted_b and accepted_a | accepted_b == set(ids)
    assert sorted(b_result.duplicates) == ids[400:600]  # the overlap, reported not refused
    with sessions() as session:
        stored = session.scalars(
            sa.select(UsageEvent.event_id).where(UsageEvent.vendor_id == vendor_id)
        ).all()
        assert sorted(stored) == ids
