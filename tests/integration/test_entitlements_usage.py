"""Entitlements (issue 14) answer what a customer may use now: the plan, the status and the
period, and for a pay-after-use plan the usage so far against the spend cap; a canceled
contract is no longer entitled."""

from __future__ import annotations

from datetime import timedelta

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from billing import contracts
from billing.metering import events as metering
from marketplace.db import utcnow
from tests.billing.factories import buyer_actor, event, offered_plan, start_contract, usage_terms
from tests.catalog.factories import vendor_actor
from tests.factories import create_token


def test_usage_so_far_against_the_spend_cap_and_entitlement_ending(
    client: FlaskClient, session: Session
) -> None:
    vendor, buyer = vendor_actor(session), buyer_actor(session)
    plan = offered_plan(session, usage_terms(), vendor)  # 1,000 free, then 2 fen an image
    started = utcnow() - timedelta(hours=1)
    contract = start_contract(session, plan=plan, buyer=buyer, now=started, spend_cap_fen=5_000)
    recorded = metering.ingest(
        session,
        vendor_id=vendor.organization.id,
        events=[event(contract, "e1", 3_000, at=started), event(contract, "e2", 2_000, at=started)],
        now=utcnow(),
    )
    assert recorded.accepted == 2
    token = create_token(session, vendor.user, vendor.organization)
    session.commit()

    def entitlement() -> dict:
        response = client.get(
            "/api/v1/entitlements",
            query_string={"contract_id": contract.id},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 200, response.get_json()
        (item,) = response.get_json()["items"]
        return item

    item = entitlement()
    assert item["entitled"] is True and item["contract"]["status"] == "active"
    assert item["plan"]["id"] == plan.id and item["plan"]["billing_model"] == "usage"
    assert item["contract"]["current_period_start"] == contract.current_period_start.isoformat()
    assert item["contract"]["current_period_end"] == contract.current_period_end.isoformat()
    assert item["usage"] == {
        "meter": plan.meter,
        "quantity": "5000",
        "estimated_charge_fen": 5_000,  # (5,000 - 1,000) x 2 fen, billed up to the cap
        "spend_cap_fen": 5_000,
        "over_spend_cap": True,
    }

    contracts.cancel(session, contract, actor=buyer, at_period_end=False, now=utcnow())
    session.commit()
    ended = entitlement()
    assert ended["entitled"] is False and ended["contract"]["status"] == "canceled"
