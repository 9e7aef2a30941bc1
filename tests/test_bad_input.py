"""Bad input through the pages: every state-changing form needs its CSRF token, oversized
bodies are refused, random form posts never crash and always say which field is wrong,
and script or markup typed into free text comes out inert on every page that shows it."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from billing.models import Invoice
from billing.outcomes import baselines, reporting, verification
from catalog.models import Solution
from marketplace.db import utcnow
from tests.billing.factories import T0, start_contract
from tests.catalog.factories import OUTCOME, SUBSCRIPTION, create_solution, publish_solution
from tests.factories import login
from tests.vouchers.factories import (
    contract_between,
    create_program,
    invoice_for,
    officer_actor,
    sme_actor,
    vendor_actor,
)
from vouchers import applications

EXAMPLES = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)
# Text a user might type, including markup, quotes, control characters and emoji.
TEXT = st.one_of(
    st.text(max_size=300),
    st.sampled_from(
        ["", " ", "0", "-1", "1e309", "NaN", "<b>", "'; DROP TABLE users; --", "🏭" * 50]
    ),
)


def _rejection_names_a_field(html: str) -> bool:
    """A refused form says what is wrong: an error next to a field, or above the form."""
    return 'class="invalid-feedback' in html or "alert alert-danger" in html


def _post_fuzzed(client: FlaskClient, path: str, data: dict[str, Any]) -> None:
    response = client.post(path, data=data)
    html = response.get_data(as_text=True)
    assert response.status_code < 500, (path, data, response.status_code)
    if response.status_code in (400, 422):
        assert _rejection_names_a_field(html), (path, data)


# --- CSRF on every state-changing form, oversized bodies -----------------------------------------


@pytest.fixture
def csrf_config(config: dict[str, object]) -> dict[str, object]:
    config["WTF_CSRF_ENABLED"] = True
    return config


def test_every_state_changing_page_route_needs_the_csrf_token(
    csrf_config: dict[str, object], app: Flask, client: FlaskClient
) -> None:
    posts = [
        rule
        for rule in app.url_map.iter_rules()
        if "POST" in (rule.methods or set())
        and not rule.rule.startswith("/api/")  # bearer tokens, never cookies
        and rule.endpoint != "stripe_webhooks.stripe_webhook"  # signed by Stripe
        # A visitor's language switch only changes its own session (signed-in people's
        # is checked: tests/catalog/test_page_cache.py).
        and rule.endpoint != "site.set_language"
    ]
    assert len(posts) > 60
    for rule in posts:
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", "1", rule.rule)
        response = client.post(path, data={"anything": "x"})
        assert response.status_code == 400, (rule.rule, response.status_code)


def test_an_oversized_body_is_refused(client: FlaskClient) -> None:
    response = client.post("/login", data={"email": "a" * (17 * 1024 * 1024)})
    assert response.status_code == 413


def test_a_nul_character_is_refused_with_a_message_not_stored(
    client: FlaskClient, session: Session
) -> None:
    page = client.post("/register", data={"name": "王\x00五"})
    assert page.status_code == 422 and "u0000" in page.get_data(as_text=True)
    api = client.get("/api/v1/solutions?q=%00")
    assert api.status_code == 422 and "u0000" in api.get_json()["error"]["message"]
    body = client.post(
        "/api/v1/contracts",
        data='{"plan_id": 1, "baseline_note": "a\\u0000b"}',
        content_type="application/json",
    )
    assert body.status_code == 422 and body.get_json()["error"]["code"]


# --- random form posts -----------------------------------------------------------------------


def test_random_registrations_never_crash_and_name_the_field(client: FlaskClient) -> None:
    @given(
        data=st.fixed_dictionaries(
            {
                "name": TEXT,
                "email": st.one_of(TEXT, st.emails()),
                "password": TEXT,
                "confirm": TEXT,
                "kind": st.sampled_from(["sme", "vendor", "government", "platform", "x"]),
                "org_name": TEXT,
                "uscc": st.one_of(TEXT, st.from_regex(r"\A91[0-9A-Z]{16}\Z")),
                "region_code": st.one_of(TEXT, st.sampled_from(["310115", "999999"])),
                "legal_representative": TEXT,
                "address": TEXT,
                "contact_phone": TEXT,
                "contact_email": TEXT,
                "industry_code": st.one_of(TEXT, st.sampled_from(["C34", "Z99"])),
                "employees": st.one_of(TEXT, st.integers().map(str)),
                "annual_revenue": st.one_of(TEXT, st.decimals(allow_nan=True).map(str)),
            }
        )
    )
    @EXAMPLES
    def post(data: dict[str, Any]) -> None:
        _post_fuzzed(client, "/register", data)

    post()


def test_random_listings_and_plans_never_crash_and_name_the_field(
    client: FlaskClient, session: Session
) -> None:
    vendor = vendor_actor(session)
    draft = create_solution(session, vendor)
    session.commit()
    login(client, vendor.user)

    @given(
        data=st.fixed_dictionaries(
            {
                "name": TEXT,
                "slug": TEXT,
                "summary": TEXT,
                "description": TEXT,
                "industries": st.lists(st.sampled_from(["C34", "C17", "ZZ", ""]), max_size=3),
                "scenarios": st.lists(st.sampled_from(["pm.quality", "nope"]), max_size=4),
                "delivery": st.sampled_from(["saas", "edge", "teleport", ""]),
                "deploy_days": TEXT,
                "voucher_kinds": st.lists(st.sampled_from(["cloud", "compute", "gold"])),
            }
        )
    )
    @EXAMPLES
    def listing(data: dict[str, Any]) -> None:
        _post_fuzzed(client, "/vendor/solutions/new", data)
        _post_fuzzed(client, f"/vendor/solutions/{draft.id}/edit", data)

    @given(
        data=st.fixed_dictionaries(
            {
                "name": TEXT,
                "billing_model": st.sampled_from(["subscription", "usage", "outcome", "free"]),
                "price": TEXT,
                "interval": st.sampled_from(["month", "year", "week"]),
                "trial_days": TEXT,
                "meter": TEXT,
                "unit": TEXT,
                "tier_mode": st.sampled_from(["graduated", "volume", ""]),
                "tiers-0-up_to": TEXT,
                "tiers-0-unit_yuan": TEXT,
                "free_units": TEXT,
                "kpi_name": TEXT,
                "kpi_unit": TEXT,
                "direction": st.sampled_from(["increase", "decrease", "sideways"]),
                "outcome_pricing": st.sampled_from(["price", "share", ""]),
                "price_per_unit_yuan": TEXT,
                "share_percent": TEXT,
                "value_per_unit_yuan": TEXT,
                "cap": TEXT,
                "verification_days": TEXT,
                "base_fee": TEXT,
                "vat_rate": TEXT,
            }
        )
    )
    @EXAMPLES
    def plan(data: dict[str, Any]) -> None:
        _post_fuzzed(client, f"/vendor/solutions/{draft.id}/plans", data)

    listing()
    plan()


def test_random_programs_and_payments_never_crash_and_name_the_field(
    client: FlaskClient, session: Session
) -> None:
    officer = officer_actor(session)
    session.commit()
    login(client, officer.user)

    @given(
        data=st.fixed_dictionaries(
            {
                "name": TEXT,
                "kind": st.sampled_from(["cloud", "compute", "cash"]),
                "region_prefix": TEXT,
                "budget": TEXT,
                "ratio": TEXT,
                "annual_cap": TEXT,
                "invoice_cap": TEXT,
                "size_classes": st.lists(st.sampled_from(["micro", "small", "huge"])),
                "industries": st.lists(st.sampled_from(["C34", "C", "Q99"]), max_size=2),
                "opens_on": st.one_of(TEXT, st.dates().map(str)),
                "closes_on": st.one_of(TEXT, st.dates().map(str)),
                "validity_days": TEXT,
            }
        )
    )
    @EXAMPLES
    def program(data: dict[str, Any]) -> None:
        _post_fuzzed(client, "/vouchers/programs/new", data)

    program()

    # Payments: the buyer's voucher choice and the operator's bank transfer record.
    from tests.catalog.factories import operator_actor

    buyer = sme_actor(session)
    contract = contract_between(session, buyer, vendor_actor(session))
    invoice = invoice_for(session, contract, 10_000)
    operator = operator_actor(session)
    session.commit()
    client.post("/logout")
    login(client, buyer.user)

    @given(codes=st.lists(TEXT, max_size=3))
    @EXAMPLES
    def vouchers(codes: list[str]) -> None:
        response = client.post(
            f"/billing/invoices/{invoice.id}/pay/vouchers", data={"vouchers": codes}
        )
        assert response.status_code < 500

    vouchers()
    client.post("/logout")
    login(client, operator.user)

    @given(data=st.fixed_dictionaries({"amount": TEXT, "reference": TEXT}))
    @EXAMPLES
    def transfer(data: dict[str, Any]) -> None:
        response = client.post(f"/billing/console/invoices/{invoice.id}/transfers", data=data)
        assert response.status_code < 500, data

    transfer()
    assert session.scalar(sa.select(Invoice.voucher_fen).where(Invoice.id == invoice.id)) == 0


# --- script and markup stay inert --------------------------------------------------------------

SCRIPT = "<script>alert(1)</script><img src=x onerror=alert(2)>"
DANGER = re.compile(r"<script>alert|<img src=x onerror", re.IGNORECASE)


def test_script_in_every_free_text_field_comes_out_inert(
    app: Flask, client: FlaskClient, session: Session, tmp_path: Any
) -> None:
    app.config["UPLOAD_FOLDER"] = str(tmp_path)
    now = utcnow()
    buyer = sme_actor(session, name=f"恶意企业{SCRIPT}", address=f"地址{SCRIPT}")
    vendor = vendor_actor(session, name=f"服务商{SCRIPT}")
    vendor.organization.about = f"简介{SCRIPT}"
    solution = publish_solution(
        session,
        vendor,
        name=f"方案{SCRIPT}"[:60],
        summary=f"摘要{SCRIPT}",
        description=f"# 标题\n\n{SCRIPT}\n\n[link](javascript:alert(3))",
        case_studies=[
            {
                "customer_industry": "C34",
                "customer": f"客户{SCRIPT}",
                "problem": f"问题{SCRIPT}",
                "result": f"效果{SCRIPT}",
            }
        ],
        plans=[{**SUBSCRIPTION, "name": f"套餐{SCRIPT}"[:60], "features": [SCRIPT]}, OUTCOME],
    )
    outcome_plan = solution.published.plans[1]
    contract = start_contract(
        session, plan=outcome_plan, buyer=buyer, baseline=Decimal(100), baseline_note=SCRIPT
    )
    baselines.accept_baseline(session, contract, actor=vendor, now=T0)
    report = reporting.report(
        session,
        contract,
        actor=vendor,
        period_start=T0,
        period_end=T0 + timedelta(days=31),
        measured=Decimal(90),
        now=now,
        note=SCRIPT,
        evidence_url="https://example.cn/?q=" + SCRIPT,
    )
    verification.dispute(session, report, actor=buyer, reason=SCRIPT, now=now)
    officer = officer_actor(session)
    program = create_program(
        session,
        officer,
        name=f"项目{SCRIPT}"[:200],
        description=SCRIPT,
        opens_at=now - timedelta(days=1),
        closes_at=now + timedelta(days=30),
    )
    applications.apply(session, program, actor=buyer, requested_fen=1_000, now=now, note=SCRIPT)
    invoice_for(session, contract_between(session, buyer, vendor), 5_000)
    session.commit()

    shown = []

    def inert(path: str) -> None:
        response = client.get(path)
        assert response.status_code == 200, path
        html = response.get_data(as_text=True)
        assert not DANGER.search(html), path
        assert 'href="javascript:' not in html, path
        if "&lt;script&gt;alert(1)" in html:
            shown.append(path)  # shown as text, escaped

    for path in (
        "/",
        f"/search?q={SCRIPT}",
        f"/solutions/{solution.slug}",
        "/vouchers/",
        f"/vouchers/p/{program.id}",
        f"/compare?s={solution.slug}",
    ):
        inert(path)
    login(client, buyer.user)
    for path in (
        "/dashboard",
        "/billing/contracts",
        f"/billing/contracts/{contract.id}",
        "/billing/invoices",
        "/vouchers/wallet",
        "/organization",
    ):
        inert(path)
    client.post("/logout")
    login(client, vendor.user)
    for path in (
        "/vendor/solutions",
        f"/vendor/solutions/{solution.id}",
        f"/billing/contracts/{contract.id}",
        "/billing/contracts",
    ):
        inert(path)
    client.post("/logout")
    login(client, officer.user)
    for path in (f"/vouchers/programs/{program.id}", "/vouchers/programs"):
        inert(path)
    # The text was on the pages (escaped), not simply left out.
    for path in (
        f"/solutions/{solution.slug}",
        f"/billing/contracts/{contract.id}",
        f"/vouchers/programs/{program.id}",
    ):
        assert path in shown, path
    assert session.scalar(sa.select(Solution.id).where(Solution.id == solution.id))
