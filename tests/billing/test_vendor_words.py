"""The vendor's side of a contract speaks of the buyer, not to the buyer ("your plan")."""

from __future__ import annotations

from datetime import timedelta

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from marketplace.db import utcnow
from tests.billing.factories import buyer_actor, offered_plan, start_contract, usage_terms
from tests.catalog.factories import vendor_actor
from tests.factories import login


def test_the_vendor_reads_the_usage_chart_as_the_buyers_charge(
    client: FlaskClient, session: Session
) -> None:
    vendor = vendor_actor(session)
    plan = offered_plan(session, usage_terms(), vendor=vendor)
    contract = start_contract(
        session, buyer=buyer_actor(session), plan=plan, now=utcnow() - timedelta(days=2)
    )
    client.post("/language", data={"lang": "en"})
    login(client, vendor.user)
    client.post("/language", data={"lang": "en"})
    html = client.get(f"/billing/contracts/{contract.id}").get_data(as_text=True)
    assert "the buyer’s charge so far" in html
    assert "your plan" not in html
