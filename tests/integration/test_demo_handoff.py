"""The demo shows the sign-up handoff: the demo vendor's listings name the demo receiver's
sign-up page, and a demo buyer who starts a plan and presses 前往服务商开通 lands there
with the one-time token, which the vendor's token then exchanges."""

from __future__ import annotations

import threading
from http.server import HTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from billing import contracts
from billing.models import Contract
from catalog.models import Plan, Solution
from devtools.demo import webhooks as webhook_demo
from devtools.demo.platform import DEMO_PASSWORD, load_demo
from marketplace.models import Organization, User
from tests.factories import create_token, login


@pytest.fixture
def config(config: dict[str, object], tmp_path: Path) -> dict[str, object]:
    return {**config, "UPLOAD_FOLDER": str(tmp_path / "uploads")}


def test_a_demo_buyer_is_handed_to_the_demo_vendors_signup_page(
    app: Flask, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = HTTPServer(("127.0.0.1", 0), webhook_demo._Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        signup = f"http://127.0.0.1:{server.server_address[1]}/signup"
        monkeypatch.setattr(webhook_demo, "SIGNUP_URL", signup)
        with app.app_context():
            load_demo(app)
        vendor = session.scalar(sa.select(User).where(User.email == "vendor@demo.local"))
        (vendor_org,) = [
            o for o in session.scalars(sa.select(Organization)) if vendor.membership_in(o.id)
        ]
        listings = list(
            session.scalars(sa.select(Solution).where(Solution.vendor_id == vendor_org.id))
        )
        assert listings and {s.fulfillment_url for s in listings if s.is_public} == {signup}

        buyer = session.scalar(sa.select(User).where(User.email == "buyer@demo.local"))
        plan = next(
            plan
            for solution in listings
            if solution.is_public
            for plan in solution.published.plans
            if plan.billing_model.value == "subscription"
        )
        assert isinstance(plan, Plan)
        browser = app.test_client()
        login(browser, buyer, DEMO_PASSWORD)
        started = browser.post(
            f"/billing/plans/{plan.id}/start",
            data={
                "accept_agreement": "y",
                "agreement_version": str(contracts.agreement_in_force(plan)),
            },
        )
        assert started.status_code == 302, started.get_data(as_text=True)[:2000]
        assert "前往服务商开通" in browser.get(started.headers["Location"]).get_data(as_text=True)
        contract = session.scalars(
            sa.select(Contract).where(Contract.plan_id == plan.id).order_by(Contract.id.desc())
        ).first()
        pressed = browser.post(f"/billing/contracts/{contract.id}/fulfillment")
        assert pressed.status_code == 303
        landing = requests.get(pressed.headers["Location"], timeout=10)
        token = parse_qs(urlsplit(pressed.headers["Location"]).query)["marketplace_token"][0]
        assert landing.status_code == 200 and token in landing.text
        assert "演示服务商开通页" in landing.text and "/api/v1/fulfillment/resolve" in landing.text

        bearer = create_token(session, vendor, vendor_org)
        session.commit()
        resolved = app.test_client().post(
            "/api/v1/fulfillment/resolve",
            json={"token": token},
            headers={"Authorization": f"Bearer {bearer}"},
        )
        assert resolved.status_code == 200
        assert resolved.get_json()["buyer"]["name"] == contract.buyer.name
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
