"""The README's "For vendors" section is what a vendor copies: its signature recipe is run
here as written against a real delivery, it lists every event type, and every API path
its curl examples call exists."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from marketplace import outbox, webhooks
from marketplace.db import utcnow
from marketplace.webhook_models import EVENT_TYPES
from tests.catalog.factories import vendor_actor
from tests.factories import create_token
from tests.webhook_receiver import Receiver

README = Path(__file__).resolve().parents[2] / "README.md"


def for_vendors() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("## For vendors")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def readme_recipe() -> Any:
    """The README's Python block, executed as a vendor would paste it."""
    section = for_vendors()
    (block,) = re.findall(r"```python\n(.*?)```", section, re.S)
    namespace: dict[str, Any] = {}
    exec(compile(block, "README.md", "exec"), namespace)  # our own README, run as written
    return namespace["verify_marketplace_signature"]


@pytest.fixture
def config(config: dict[str, object]) -> dict[str, object]:
    return {**config, "OUTBOUND_URLS_ALLOW_PRIVATE": True, "OUTBOUND_URLS_ALLOW_HTTP": True}


def test_the_readme_recipe_verifies_a_real_delivery_and_refuses_tampering(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    verify = readme_recipe()
    vendor = vendor_actor(session)
    token = create_token(session, vendor.user, vendor.organization)
    session.commit()
    with Receiver() as receiver:
        created = client.post(
            "/api/v1/webhook-endpoints",
            json={"url": receiver.url, "event_types": ["invoice.paid"]},
            headers={"Authorization": f"Bearer {token}"},
        )
        secret = created.get_json()["secret"]
        webhooks.emit(
            session, vendor.organization.id, "invoice.paid", {"id": 9}, key="9", now=utcnow()
        )
        session.commit()
        outbox.drain(app)
    (request,) = receiver.requests
    header = request.headers["Marketplace-Signature"]
    assert verify(request.body, header, secret)
    assert not verify(request.body + b" ", header, secret)  # the body changed
    assert not verify(request.body, header, "whsec_someone_else")
    assert not verify(request.body, header, secret, now=time.time() + 301)  # a replay


def test_the_readme_lists_every_event_type_and_only_real_api_paths(app: Flask) -> None:
    section = for_vendors()
    listed = set(
        re.findall(r"`((?:contract|invoice|outcome_report|listing|inquiry)\.[a-z_]+)`", section)
    )
    assert listed == set(EVENT_TYPES)

    routes = [
        re.sub(r"<(?:[^:>]+:)?[^>]+>", "{}", rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/")
    ]
    called = set(re.findall(r"\$API(/[A-Za-z0-9_\-/{}]*)", section))
    assert called
    for path in called:
        concrete = re.sub(r"/\d+(?=/|$)", "/{}", path)
        assert f"/api/v1{concrete}" in routes, path
