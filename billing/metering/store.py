"""Storing accepted usage events: the ids into usage_event_keys (unique per vendor
forever), the events whose id was new into usage_events, in one statement on PostgreSQL.
Which ids were new is the answer: an id a concurrent call stored first is not."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from billing.models import UsageEvent, UsageEventKey
from marketplace.db import insert_or_skip

# PostgreSQL takes the whole batch as a handful of arrays: one short statement to parse,
# one round trip. The ids go into usage_event_keys first (unique per vendor forever: ON
# CONFLICT settles races with concurrent calls), and only the events whose id was new go
# into usage_events (partitioned by month, see billing/metering/partitions.py).
_PG_INSERT = sa.text(
    """
    WITH e AS (
        SELECT * FROM unnest(CAST(:event_ids AS varchar[]), CAST(:contract_ids AS integer[]),
                             CAST(:meters AS varchar[]), CAST(:quantities AS numeric[]),
                             CAST(:occurred AS timestamptz[]), CAST(:hashes AS varchar[]))
             AS e(event_id, contract_id, meter, quantity, occurred_at, payload_hash)
    ), k AS (
        INSERT INTO usage_event_keys (vendor_id, event_id, payload_hash)
        SELECT :vendor_id, e.event_id, e.payload_hash FROM e
        ON CONFLICT (vendor_id, event_id) DO NOTHING
        RETURNING event_id
    )
    INSERT INTO usage_events
        (vendor_id, event_id, contract_id, meter, quantity, occurred_at, received_at, payload_hash)
    SELECT :vendor_id, e.event_id, e.contract_id, e.meter, e.quantity, e.occurred_at,
           :received_at, e.payload_hash
    FROM e JOIN k ON k.event_id = e.event_id
    RETURNING event_id
    """
)


def store(session: Session, vendor_id: int, rows: list[dict[str, Any]], now: datetime) -> set[str]:
    """Insert the rows; the event ids actually inserted (not those a concurrent call took)."""
    # The same order in every call: two overlapping batches then wait for each other
    # instead of deadlocking on PostgreSQL.
    rows.sort(key=lambda row: row["event_id"])
    if session.get_bind().dialect.name == "postgresql":
        params = {
            "vendor_id": vendor_id,
            "received_at": now,
            "event_ids": [r["event_id"] for r in rows],
            "contract_ids": [r["contract_id"] for r in rows],
            "meters": [r["meter"] for r in rows],
            "quantities": [r["quantity"] for r in rows],
            "occurred": [r["occurred_at"] for r in rows],
            "hashes": [r["payload_hash"] for r in rows],
        }
        return set(session.scalars(_PG_INSERT, params))
    keys = UsageEventKey.__table__
    new = set(
        session.scalars(
            insert_or_skip(session, keys)
            .on_conflict_do_nothing(index_elements=["vendor_id", "event_id"])
            .returning(keys.c.event_id),
            [
                {
                    "vendor_id": vendor_id,
                    "event_id": r["event_id"],
                    "payload_hash": r["payload_hash"],
                }
                for r in rows
            ],
        )
    )
    if new:
        # On the table, not the mapped class: the ORM's bulk path would double the cost.
        session.execute(sa.insert(UsageEvent.__table__), [r for r in rows if r["event_id"] in new])
    return new
