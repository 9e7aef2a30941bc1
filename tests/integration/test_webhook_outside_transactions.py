"""A webhook delivery never happens inside a transaction and never blocks a request (issue
14, "Underneath"): while the worker waits for the vendor's answer, the app serves a request
that writes, and no connection of the database sits in an open transaction. On a real
database with real commits (tests/integration/conftest.py)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask

from marketplace import outbox, webhooks
from marketplace.db import utcnow
from marketplace.webhook_models import DeliveryStatus, WebhookDelivery
from tests.catalog.factories import payload, vendor_actor
from tests.factories import create_token
from tests.webhook_receiver import Received, Receiver


def test_nothing_is_held_open_while_the_vendor_answers(committed_app: Flask) -> None:
    app = committed_app
    state = app.extensions["marketplace.db"]
    with app.app_context(), state.sessions() as session:
        vendor = vendor_actor(session)
        token = create_token(session, vendor.user, vendor.organization)
        vendor_id = vendor.organization.id
        session.commit()
    bearer = {"Authorization": f"Bearer {token}"}
    client = app.test_client()
    answered_meanwhile: list[int] = []

    def meanwhile(_received: Received) -> None:
        # The worker is waiting for this answer. A request that writes gets through (on
        # SQLite it would wait for a write lock the worker held, then fail)...
        created = client.post("/api/v1/listings", json=payload(), headers=bearer)
        answered_meanwhile.append(created.status_code)
        # ...and no other connection is inside a transaction.
        if state.engine.dialect.name == "postgresql":
            with state.engine.connect() as connection:
                open_elsewhere = connection.scalar(
                    sa.text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                        " AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()"
                    )
                )
            assert open_elsewhere == 0

    with Receiver(while_answering=meanwhile) as receiver:
        added = client.post(
            "/api/v1/webhook-endpoints",
            json={"url": receiver.url, "event_types": ["invoice.paid"]},
            headers=bearer,
        )
        assert added.status_code == 201
        with app.app_context(), state.sessions() as session:
            webhooks.emit(session, vendor_id, "invoice.paid", {"id": 1}, key="1", now=utcnow())
            session.commit()
        assert receiver.requests == []  # recorded, not sent, by the change's transaction
        report = outbox.drain(app)

    assert receiver.errors == []
    assert report.done == 1 and answered_meanwhile == [201]
    with app.app_context(), state.sessions() as session:
        (delivery,) = session.scalars(sa.select(WebhookDelivery))
        assert delivery.status is DeliveryStatus.SUCCEEDED
