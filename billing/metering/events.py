"""Usage events from vendors (POST /api/v1/usage-events, DESIGN.md section 6).

Rules: an event id is unique per vendor forever (the same id and payload again is a
duplicate, reported and not an error; the same id with another payload is a conflict);
the contract must be the vendor's, usage-billed, with that meter; the event must fall in a
period not yet invoiced (before the contract ended) and at most five minutes in the future.
Quantities are bounded (catalog/limits.py): at most ``MAX_EVENT_QUANTITY`` an event and
``MAX_PERIOD_QUANTITY`` a contract's period, so every period the run closes can be priced.
A batch is checked with a few set-based queries and stored with one insert, so a thousand
events cost little more than one; the batch's contracts are locked while it is checked, so
two calls cannot both fill a period's last room, and a billing run closing the period waits
for it (or skips it).
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session, selectinload

from billing import notify
from billing.charges import usage_estimate_fen
from billing.contracts import interval_of
from billing.metering import store as usage_store
from billing.models import Contract, ContractStatus, UsageEvent, UsageEventKey
from billing.periods import period_bounds, period_index
from catalog.limits import EARLIEST_EVENT_YEAR, MAX_EVENT_QUANTITY, MAX_PERIOD_QUANTITY
from catalog.models import BillingModel

MAX_BATCH = 1000
FUTURE_TOLERANCE = timedelta(minutes=5)


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: list[str] = field(default_factory=list)
    rejected: list[dict[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class _Event:
    event_id: str
    contract_id: int
    meter: str
    quantity: Decimal
    occurred_at: datetime

    @functools.cached_property
    def payload_hash(self) -> str:
        canonical = json.dumps(
            {
                "contract_id": self.contract_id,
                "meter": self.meter,
                "quantity": format(self.quantity.normalize(), "f"),
                "occurred_at": self.occurred_at.astimezone(UTC).isoformat(),
            },
            sort_keys=True,
        )
        return hashlib.sha256(canonical.encode()).hexdigest()


def _parse(raw: Any) -> tuple[_Event | None, str | None, str]:
    """(event, None, id) or (None, reason, id) for one raw event."""
    if not isinstance(raw, Mapping):
        return None, "invalid: an event is an object", ""
    event_id = raw.get("id")
    if not isinstance(event_id, str) or not 1 <= len(event_id) <= 100:
        return None, "invalid_id: a string of 1 to 100 characters", str(event_id)[:100]
    contract_id = raw.get("contract_id")
    if isinstance(contract_id, bool) or not isinstance(contract_id, int):
        return None, "invalid_contract_id: an integer", event_id
    meter = raw.get("meter")
    if not isinstance(meter, str) or not meter:
        return None, "invalid_meter: a meter name", event_id
    try:
        quantity = Decimal(str(raw.get("quantity")))
    except (InvalidOperation, ValueError):
        return None, "invalid_quantity: a number", event_id
    if not quantity.is_finite() or quantity < 0:
        return None, "invalid_quantity: a number from 0", event_id
    if quantity > MAX_EVENT_QUANTITY:
        return None, f"quantity_too_large: at most {MAX_EVENT_QUANTITY:,} an event", event_id
    if quantity.as_tuple().exponent < -6:  # type: ignore[operator]
        return None, "invalid_quantity: at most six decimal places", event_id
    text = raw.get("occurred_at")
    try:
        occurred_at = datetime.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        occurred_at = None
    if occurred_at is None or occurred_at.tzinfo is None:
        return None, "invalid_occurred_at: ISO 8601 with a UTC offset", event_id
    try:
        occurred_at = occurred_at.astimezone(UTC)
    except OverflowError:  # "0001-01-01T00:00:00+01:00" is before the first UTC moment
        occurred_at = None
    if occurred_at is None or occurred_at.year < EARLIEST_EVENT_YEAR:
        return None, f"invalid_occurred_at: not before {EARLIEST_EVENT_YEAR}", event_id
    return _Event(event_id, contract_id, meter, quantity, occurred_at), None, event_id


def _check(event: _Event, contract: Contract | None, vendor_id: int, now: datetime) -> str | None:
    if contract is None or contract.vendor_id != vendor_id:
        return "unknown_contract"  # never say whether another vendor's contract exists
    if contract.plan.billing_model is not BillingModel.USAGE:
        return "not_usage_billed"
    if event.meter != contract.plan.meter:
        return f"unknown_meter: this contract meters {contract.plan.meter}"
    if event.occurred_at > now + FUTURE_TOLERANCE:
        return "in_future: more than 5 minutes ahead of the server clock"
    if event.occurred_at < contract.current_period_start:
        return "period_closed: that period has been invoiced"
    if contract.status is ContractStatus.ENDED:
        # Its last period has been invoiced: nothing before the end can be added any more.
        ended = contract.ended_at or contract.canceled_at
        return (
            "contract_ended"
            if ended is None or event.occurred_at >= ended
            else "period_closed: that period has been invoiced"
        )
    if contract.status is ContractStatus.CANCELED:
        ended = contract.canceled_at or contract.current_period_end
        if event.occurred_at >= ended:
            return "contract_ended"
    if contract.cancel_at_period_end and event.occurred_at >= contract.current_period_end:
        return "contract_ended"
    if contract.status is ContractStatus.PENDING:
        return "contract_not_started"
    return None


def ingest(
    session: Session, *, vendor_id: int, events: Sequence[Any], now: datetime
) -> IngestResult:
    if len(events) > MAX_BATCH:
        raise ValueError(f"at most {MAX_BATCH} events a call")
    result = IngestResult()
    parsed: list[_Event] = []
    seen: dict[str, str] = {}  # id -> payload hash, within this batch
    for raw in events:
        event, reason, event_id = _parse(raw)
        if event is None:
            result.rejected.append({"id": event_id, "reason": reason or "invalid"})
            continue
        if event.event_id in seen:
            if seen[event.event_id] == event.payload_hash:
                result.duplicates.append(event.event_id)
            else:
                result.rejected.append({"id": event.event_id, "reason": "conflict"})
            continue
        seen[event.event_id] = event.payload_hash
        parsed.append(event)

    stored = (
        dict(
            session.execute(
                sa.select(UsageEventKey.event_id, UsageEventKey.payload_hash).where(
                    UsageEventKey.vendor_id == vendor_id,
                    in_ids(session, UsageEventKey.event_id, [e.event_id for e in parsed]),
                )
            ).all()
        )
        if parsed
        else {}
    )
    contracts = (
        {
            c.id: c
            for c in session.scalars(
                _locked(
                    session,
                    sa.select(Contract)
                    .where(Contract.id.in_({e.contract_id for e in parsed}))
                    .order_by(Contract.id),  # one order everywhere: no deadlock
                ).options(selectinload(Contract.plan))
            )
        }
        if parsed
        else {}
    )

    rows: list[dict[str, Any]] = []
    # What each (contract, period) may still take before reaching MAX_PERIOD_QUANTITY.
    rooms: dict[tuple[int, datetime, datetime], Decimal] = {}
    current_totals = period_quantities(session, list(contracts.values()))
    for event in parsed:
        if event.event_id in stored:
            if stored[event.event_id] == event.payload_hash:
                result.duplicates.append(event.event_id)
            else:
                result.rejected.append({"id": event.event_id, "reason": "conflict"})
            continue
        reason = _check(event, contracts.get(event.contract_id), vendor_id, now)
        if reason:
            result.rejected.append({"id": event.event_id, "reason": reason})
            continue
        period = _period_of(contracts[event.contract_id], event.occurred_at)
        key = (event.contract_id, *period)
        room = rooms.get(key)
        if room is None:
            contract = contracts[event.contract_id]
            recorded = (
                current_totals.get(contract.id, Decimal(0))
                if period[0] == contract.current_period_start
                else period_quantity(session, contract, *period)
            )
            room = MAX_PERIOD_QUANTITY - recorded
        if event.quantity > room:
            reason = f"period_quantity_too_large: at most {MAX_PERIOD_QUANTITY:,} a period"
            result.rejected.append({"id": event.event_id, "reason": reason})
            continue
        rooms[key] = room - event.quantity
        rows.append(
            {
                "vendor_id": vendor_id,
                "event_id": event.event_id,
                "contract_id": event.contract_id,
                "meter": event.meter,
                "quantity": event.quantity,
                "occurred_at": event.occurred_at,
                "received_at": now,
                "payload_hash": event.payload_hash,
            }
        )
    if rows:
        inserted = usage_store.store(session, vendor_id, rows, now)
        result.accepted = len(inserted)
        raced = [row for row in rows if row["event_id"] not in inserted]
        if raced:  # a concurrent call stored the same ids between our check and insert
            hashes = dict(
                session.execute(
                    sa.select(UsageEventKey.event_id, UsageEventKey.payload_hash).where(
                        UsageEventKey.vendor_id == vendor_id,
                        in_ids(session, UsageEventKey.event_id, [r["event_id"] for r in raced]),
                    )
                ).all()
            )
            for row in raced:
                if hashes.get(row["event_id"]) == row["payload_hash"]:
                    result.duplicates.append(row["event_id"])
                else:
                    result.rejected.append({"id": row["event_id"], "reason": "conflict"})
        capped = {row["contract_id"] for row in rows if contracts[row["contract_id"]].spend_cap_fen}
        for contract_id in capped:
            warn_spend_cap(session, contracts[contract_id])
    return result


def _locked(session: Session, query: sa.Select[Contract]) -> sa.Select[Contract]:
    if session.get_bind().dialect.name == "postgresql":
        return query.with_for_update(of=Contract)
    return query  # SQLite: the first write takes the database lock


def in_ids(session: Session, column: Any, values: Sequence[Any]) -> sa.ColumnElement[bool]:
    """``column IN values``; on PostgreSQL ``column = ANY(array)``, one parameter: a
    thousand placeholders make a statement the driver parses anew each time (too long for
    its cache), which cost the billing run and ingestion more than the queries themselves."""
    if session.get_bind().dialect.name == "postgresql":
        array = sa.bindparam(None, list(values), type_=postgresql.ARRAY(column.type))
        condition: sa.ColumnElement[bool] = column == sa.any_(array)
    else:
        condition = column.in_(values)
    return condition


def period_quantities(session: Session, contracts: list[Contract]) -> dict[int, Decimal]:
    """Each contract's recorded quantity in its current period, in one query (what
    ingestion checks against the period maximum and what the billing run invoices)."""
    if not contracts:
        return {}
    ids = [c.id for c in contracts]
    rows = session.execute(
        sa.select(UsageEvent.contract_id, sa.func.sum(UsageEvent.quantity))
        .join(Contract, Contract.id == UsageEvent.contract_id)
        .where(
            # The range keeps both tables on their indexes whatever the planner believes of
            # their sizes (the run's batches are ranges of ids).
            UsageEvent.contract_id.between(min(ids), max(ids)),
            Contract.id.between(min(ids), max(ids)),
            in_ids(session, UsageEvent.contract_id, ids),
            # Constant bounds too: PostgreSQL then reads only the months' partitions.
            UsageEvent.occurred_at >= min(c.current_period_start for c in contracts),
            UsageEvent.occurred_at < max(c.current_period_end for c in contracts),
            UsageEvent.occurred_at >= Contract.current_period_start,
            UsageEvent.occurred_at < Contract.current_period_end,
        )
        .group_by(UsageEvent.contract_id)
    )
    return {contract_id: Decimal(total) for contract_id, total in rows}


def _period_of(contract: Contract, moment: datetime) -> tuple[datetime, datetime]:
    """The billing period ``moment`` falls in (the current one, or a later one when the
    run has not closed the current period yet)."""
    if moment < contract.current_period_end:
        return contract.current_period_start, contract.current_period_end
    interval = interval_of(contract.plan)
    return period_bounds(
        contract.anchor_at, period_index(contract.anchor_at, moment, interval), interval
    )


def period_quantity(
    session: Session, contract: Contract, start: datetime, end: datetime
) -> Decimal:
    total = session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(UsageEvent.quantity), 0)).where(
            UsageEvent.contract_id == contract.id,
            UsageEvent.occurred_at >= start,
            UsageEvent.occurred_at < end,
        )
    )
    return Decimal(total or 0)


def current_usage(session: Session, contract: Contract) -> tuple[Decimal, int]:
    """Quantity and estimated charge (base fee and cap included) of the current period."""
    start, end = contract.current_period_start, contract.current_period_end
    quantity = period_quantity(session, contract, start, end)
    charge = usage_estimate_fen(
        contract.plan, quantity, start, end, spend_cap_fen=contract.spend_cap_fen
    )
    return quantity, charge


def warn_spend_cap(session: Session, contract: Contract) -> None:
    """Tell buyer and vendor once per period when usage reaches 80% and 100% of the cap."""
    cap = contract.spend_cap_fen
    if not cap:
        return
    start, end = contract.current_period_start, contract.current_period_end
    quantity = period_quantity(session, contract, start, end)
    uncapped = usage_estimate_fen(contract.plan, quantity, start, end)
    period_key = start.strftime("%Y%m%d")
    if uncapped * 100 >= cap * 80:
        notify.spend_cap(session, contract, 80, period_key)
    if uncapped >= cap:
        notify.spend_cap(session, contract, 100, period_key)
