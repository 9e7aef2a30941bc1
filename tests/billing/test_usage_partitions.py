"""Usage events by month: an event id stays unique per vendor across the monthly partitions
of usage_events (PostgreSQL), and the worker's job creates the months ahead once, however
often it runs, moving early rows out of the default partition."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from billing.jobs import usage_partitions_job
from billing.metering import events as metering
from billing.metering import partitions
from billing.models import UsageEvent
from tests.billing.factories import T0, event, start_contract, usage_terms
from tests.conftest import POSTGRES_URL

JANUARY, FEBRUARY = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)


def partition_of(session: Session, event_id: str) -> str:
    return session.scalar(
        sa.text("SELECT tableoid::regclass::text FROM usage_events WHERE event_id = :id"),
        {"id": event_id},
    )


def test_an_event_id_is_unique_per_vendor_across_months(session: Session) -> None:
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:
        for month in (JANUARY, FEBRUARY):
            partitions.create_month(session.connection(), month)
    contract = start_contract(session, usage_terms())  # its period: Jan 15 to Feb 15
    january, february = T0 + timedelta(days=5), T0 + timedelta(days=25)
    now = T0 + timedelta(days=28)

    def ingest(*events: dict) -> metering.IngestResult:
        return metering.ingest(session, vendor_id=contract.vendor_id, events=events, now=now)

    assert ingest(event(contract, "e-1", 3, at=january)).accepted == 1
    # The same id in another month (another partition): another payload is a conflict ...
    later = ingest(event(contract, "e-1", 3, at=february), event(contract, "e-2", 1, at=february))
    assert later.accepted == 1
    assert later.rejected == [{"id": "e-1", "reason": "conflict"}]
    # ... and the same payload again a duplicate, stored once.
    again = ingest(event(contract, "e-1", 3, at=january))
    assert again.accepted == 0 and again.duplicates == ["e-1"]
    stored = session.execute(sa.select(UsageEvent.event_id, UsageEvent.quantity)).all()
    assert sorted((i, int(q)) for i, q in stored) == [("e-1", 3), ("e-2", 1)]
    if postgres:
        assert partition_of(session, "e-1") == "usage_events_y2026m01"
        assert partition_of(session, "e-2") == "usage_events_y2026m02"


@pytest.mark.skipif(not POSTGRES_URL, reason="usage_events is partitioned on PostgreSQL only")
def test_months_ahead_are_created_once_and_take_their_early_rows(session: Session) -> None:
    connection = session.connection()
    contract = start_contract(session, usage_terms())
    may_2031 = datetime(2031, 5, 1, tzinfo=UTC)  # no partition yet
    session.execute(
        sa.insert(UsageEvent.__table__).values(
            vendor_id=contract.vendor_id,
            event_id="early",
            contract_id=contract.id,
            meter=contract.plan.meter,
            quantity=1,
            occurred_at=may_2031 + timedelta(days=3),
            received_at=T0,
            payload_hash="0" * 64,
        )
    )
    assert partition_of(session, "early") == partitions.DEFAULT

    created = partitions.ensure_ahead(connection, may_2031 + timedelta(days=10))
    assert created == [
        "usage_events_y2031m05",
        "usage_events_y2031m06",
        "usage_events_y2031m07",
        "usage_events_y2031m08",
    ]
    assert partition_of(session, "early") == "usage_events_y2031m05"
    assert partitions.ensure_ahead(connection, may_2031) == []  # again: nothing to do
    assert set(created) <= partitions.existing(connection)


def test_the_worker_job_creates_nothing_the_second_time(app: Flask) -> None:
    with app.app_context():
        first = usage_partitions_job(app, T0)
        second = usage_partitions_job(app, T0)
    assert first.endswith("created") or "partition(s) created:" in first
    assert second == "0 partition(s) created"
