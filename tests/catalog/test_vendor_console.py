"""The vendor console: writing a listing and its plans through the pages, screenshots,
the live Markdown preview, and who may do what."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy.orm import Session

from catalog import services
from catalog.models import (
    BillingModel,
    Plan,
    RevisionStatus,
    Screenshot,
    Solution,
    SolutionRevision,
    SolutionStatus,
)
from marketplace.jsonapi import Actor
from marketplace.models import OrgKind, Role
from tests.catalog.factories import (
    OUTCOME,
    USAGE,
    create_solution,
    operator_actor,
    publish_solution,
    vendor_actor,
)
from tests.factories import add_member, create_org, create_user, login


@pytest.fixture(autouse=True)
def uploads(config: dict[str, object], tmp_path: Path) -> Path:
    """Screenshots go to a temporary folder, never to the real instance folder."""
    folder = tmp_path / "uploads"
    config["UPLOAD_FOLDER"] = str(folder)
    return folder


def signed_in(app: Flask, actor: Actor) -> FlaskClient:
    client = app.test_client()
    login(client, actor.user)
    return client


def listing_form(**overrides: Any) -> dict[str, Any]:
    """The listing form as a browser posts it."""
    data: dict[str, Any] = {
        "name": "AI视觉质检",
        "summary": "用工业相机和深度学习自动检出金属表面划痕、凹坑。",
        "description": "## 适用场景\n\n- 冲压件、机加工件表面质检",
        "name_en": "AI visual inspection",
        "summary_en": "Finds scratches and dents on metal parts.",
        "industries": ["C33", "C34"],
        "scenarios": ["pm.quality"],
        "delivery": "saas",
        "deploy_days": "5",
        "voucher_kinds": ["cloud"],
        "case_studies-0-customer_industry": "C33",
        "case_studies-0-customer": "某五金件企业",
        "case_studies-0-problem": "人工目检漏检率高",
        "case_studies-0-result": "漏检率从 3.2% 降到 0.4%",
        "case_studies-1-customer_industry": "",
        "case_studies-1-customer": "",
        "case_studies-1-problem": "",
        "case_studies-1-result": "",
    }
    data.update(overrides)
    return data


SUBSCRIPTION_FORM = {
    "name": "标准版",
    "name_en": "Standard",
    "billing_model": "subscription",
    "price": "999",
    "interval": "month",
    "trial_days": "14",
    "features": "不限账号\n7×24 小时支持",
    "vat_rate": "6",
}
USAGE_FORM = {
    "name": "按量计费",
    "name_en": "Pay as you go",
    "billing_model": "usage",
    "meter": "inspected_images",
    "unit": "张",
    "unit_en": "image",
    "tier_mode": "graduated",
    "tiers-0-up_to": "10,000",
    "tiers-0-unit_yuan": "0.02",
    "tiers-1-up_to": "",
    "tiers-1-unit_yuan": "0.015",
    "tiers-2-up_to": "",
    "tiers-2-unit_yuan": "",
    "free_units": "1,000",
    "base_fee": "",
    "vat_rate": "6",
    # a subscription price left in the hidden section is ignored
    "price": "not a price",
}
OUTCOME_FORM = {
    "name": "节能效果付费",
    "billing_model": "outcome",
    "kpi_name": "月用电量",
    "kpi_unit": "kWh",
    "direction": "decrease",
    "outcome_pricing": "price",
    "price_per_unit_yuan": "0.3",
    "cap": "50,000",
    "base_fee": "500",
    "verification_days": "7",
    "vat_rate": "6",
}


def field_errors(page: str) -> dict[str, str]:
    """Error messages shown next to inputs, by input name."""
    return dict(
        re.findall(r'<div class="invalid-feedback d-block" data-field="([^"]+)">([^<]*)<', page)
    )


def state(session: Session, solution_id: int | None = None) -> Any:
    """Everything a refused request must leave as it was."""
    session.expire_all()
    solutions = session.execute(sa.select(Solution.id, Solution.status)).all()
    revisions = session.execute(
        sa.select(
            SolutionRevision.id,
            SolutionRevision.status,
            SolutionRevision.name,
            SolutionRevision.scenarios,
        ).order_by(SolutionRevision.id)
    ).all()
    plans = session.execute(
        sa.select(Plan.id, Plan.revision_id, Plan.name, Plan.price_fen, Plan.tiers).order_by(
            Plan.id
        )
    ).all()
    shots = session.execute(sa.select(Screenshot.id, Screenshot.revision_id)).all()
    return (solutions, revisions, plans, shots)


def png(size: tuple[int, int] = (64, 48)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (30, 120, 200)).save(buffer, "PNG")
    return buffer.getvalue()


def fetch(client: FlaskClient, url: str) -> tuple[int, Any]:
    """GET a file and close the response (an open file would warn)."""
    with client.get(url) as response:
        response.get_data()
        return response.status_code, response.headers


def upload(client: FlaskClient, solution_id: int, data: bytes, filename: str = "shot.png") -> Any:
    response = client.post(
        f"/vendor/solutions/{solution_id}/screenshots",
        data={"screenshot": (io.BytesIO(data), filename, "image/png"), "caption": "质检看板"},
        content_type="multipart/form-data",
    )
    response.get_data()
    # The test client spools a large body to a temporary file and, without following
    # redirects, leaves it open (an unclosed file warns, and warnings are errors).
    response.request.input_stream.close()
    return response


# --- the whole path through the pages ---------------------------------------------------


def test_vendor_lists_three_plan_kinds_and_the_operator_publishes(
    app: Flask, session: Session
) -> None:
    vendor = vendor_actor(session)
    operator = operator_actor(session)
    client = signed_in(app, vendor)

    assert client.get("/vendor/solutions/new").status_code == 200
    response = client.post("/vendor/solutions/new", data=listing_form(slug="ai-inspection"))
    assert response.status_code == 302, field_errors(response.get_data(as_text=True))
    solution = session.scalar(sa.select(Solution).where(Solution.slug == "ai-inspection"))
    assert solution is not None and solution.status is SolutionStatus.DRAFT
    assert solution.current.case_studies == [
        {
            "customer_industry": "C33",
            "customer": "某五金件企业",
            "problem": "人工目检漏检率高",
            "result": "漏检率从 3.2% 降到 0.4%",
        }
    ]

    for form in (SUBSCRIPTION_FORM, USAGE_FORM, OUTCOME_FORM):
        response = client.post(f"/vendor/solutions/{solution.id}/plans", data=form)
        assert response.status_code == 302, field_errors(response.get_data(as_text=True))
    assert client.get(f"/vendor/solutions/{solution.id}/plans").status_code == 200

    assert client.post(f"/vendor/solutions/{solution.id}/submit").status_code == 302
    session.expire_all()
    assert solution.status is SolutionStatus.SUBMITTED

    operator_client = signed_in(app, operator)
    queue = operator_client.get("/console/listings/").get_data(as_text=True)
    assert "AI视觉质检" in queue
    assert operator_client.get(f"/console/listings/{solution.id}").status_code == 200
    assert operator_client.post(f"/console/listings/{solution.id}/approve").status_code == 302
    session.expire_all()
    assert solution.status is SolutionStatus.PUBLISHED

    detail = client.get("/api/v1/solutions/ai-inspection").get_json()
    subscription, usage, outcome = detail["plans"]
    assert [p["billing_model"] for p in detail["plans"]] == ["subscription", "usage", "outcome"]
    assert subscription["price_fen"] == 99_900 and subscription["trial_days"] == 14
    assert subscription["features"] == ["不限账号", "7×24 小时支持"]
    assert usage["tiers"] == [
        {"up_to": 10_000, "unit_fen": "2"},
        {"up_to": None, "unit_fen": "1.5"},
    ]
    assert usage["free_units"] == 1_000 and usage["tier_mode"] == "graduated"
    assert outcome["price_per_unit_fen"] == "30" and outcome["cap_fen"] == 5_000_000
    assert outcome["base_fee_fen"] == 50_000 and outcome["direction"] == "decrease"


def test_plans_are_shown_in_plain_language(app: Flask, session: Session) -> None:
    vendor = vendor_actor(session)
    vendor.user.locale = "en"
    session.flush()
    solution = create_solution(
        session,
        vendor,
        plans=[
            {
                "name": "标准版",
                "billing_model": "subscription",
                "price_fen": 99_900,
                "interval": "month",
                "trial_days": 14,
            },
            USAGE,
            OUTCOME,
        ],
    )
    page = (
        signed_in(app, vendor)
        .get(f"/console/listings/{solution.id}/preview")
        .get_data(as_text=True)
    )
    for sentence in (
        "¥999 per month, including a 14-day free trial",
        "The first 1,000 units (image) each month are free.",
        "1–10,000 units: ¥0.02 per image",
        "Above 10,000 units: ¥0.015 per image",
        "For every 1 kWh saved against the baseline: ¥0.30.",
        "Capped at ¥50,000 per period.",
        "Plus a base fee of ¥500 per month.",
    ):
        assert sentence in page, sentence


def test_editing_a_published_listing_keeps_it_online_until_approved(
    app: Flask, session: Session
) -> None:
    vendor, operator = vendor_actor(session), operator_actor(session)
    solution = publish_solution(session, vendor, operator, name="边缘质检盒", slug="edge-box")
    client = signed_in(app, vendor)

    edit_page = client.get(f"/vendor/solutions/{solution.id}/edit").get_data(as_text=True)
    assert "边缘质检盒" in edit_page
    response = client.post(
        f"/vendor/solutions/{solution.id}/edit", data=listing_form(name="边缘质检盒 二代")
    )
    assert response.status_code == 302
    assert client.get("/api/v1/solutions/edge-box").get_json()["name"] == "边缘质检盒"
    overview = client.get(f"/vendor/solutions/{solution.id}").get_data(as_text=True)
    assert 'data-banner="edit-of-published"' in overview

    assert client.post(f"/vendor/solutions/{solution.id}/submit").status_code == 302
    assert client.get("/api/v1/solutions/edge-box").get_json()["name"] == "边缘质检盒"
    assert (
        signed_in(app, operator).post(f"/console/listings/{solution.id}/approve").status_code == 302
    )
    assert client.get("/api/v1/solutions/edge-box").get_json()["name"] == "边缘质检盒 二代"
    session.expire_all()
    assert [r.status for r in solution.revisions] == [
        RevisionStatus.SUPERSEDED,
        RevisionStatus.APPROVED,
    ]


def test_plans_can_be_edited_reordered_and_deleted(app: Flask, session: Session) -> None:
    vendor = vendor_actor(session)
    solution = create_solution(session, vendor, plans=[USAGE, OUTCOME])
    client = signed_in(app, vendor)

    page = client.get(f"/vendor/solutions/{solution.id}/plans/0").get_data(as_text=True)
    assert 'value="inspected_images"' in page and 'value="10000"' in page
    client.post(f"/vendor/solutions/{solution.id}/plans/1/move", data={"direction": "up"})
    session.expire_all()
    assert [p.billing_model for p in solution.current.plans] == [
        BillingModel.OUTCOME,
        BillingModel.USAGE,
    ]

    edited = {**SUBSCRIPTION_FORM, "price": "¥1,299.50", "interval": "year"}
    assert client.post(f"/vendor/solutions/{solution.id}/plans/0", data=edited).status_code == 302
    session.expire_all()
    first = solution.current.plans[0]
    assert (first.billing_model, first.price_fen, first.interval.value) == (
        BillingModel.SUBSCRIPTION,
        129_950,
        "year",
    )

    client.post(f"/vendor/solutions/{solution.id}/plans/1/delete")
    session.expire_all()
    assert [p.name for p in solution.current.plans] == ["标准版"]
    assert client.get(f"/vendor/solutions/{solution.id}/plans/5").status_code == 404


def test_withdraw_and_delist_own_listing(app: Flask, session: Session) -> None:
    vendor, operator = vendor_actor(session), operator_actor(session)
    draft = create_solution(session, vendor)
    services.submit(session, draft, actor=vendor)
    published = publish_solution(session, vendor, operator, slug="to-delist")
    client = signed_in(app, vendor)

    assert client.post(f"/vendor/solutions/{draft.id}/withdraw").status_code == 302
    session.expire_all()
    assert draft.status is SolutionStatus.DRAFT

    page = client.post(f"/vendor/solutions/{published.id}/delist", data={"reason": " "})
    assert "reason" in field_errors(page.get_data(as_text=True))
    session.expire_all()
    assert published.status is SolutionStatus.PUBLISHED
    client.post(f"/vendor/solutions/{published.id}/delist", data={"reason": "产品停止维护"})
    session.expire_all()
    assert published.status is SolutionStatus.DELISTED
    assert client.get("/api/v1/solutions/to-delist").status_code == 404


# --- bad input: a field error, and the database as it was -------------------------------


def test_tiers_that_do_not_increase_are_refused_next_to_the_tier(
    app: Flask, session: Session
) -> None:
    vendor = vendor_actor(session)
    solution = publish_solution(session, vendor)
    before = state(session)
    bad = {
        **USAGE_FORM,
        "tiers-1-up_to": "5000",
        "tiers-1-unit_yuan": "0.015",
        "tiers-2-up_to": "",
        "tiers-2-unit_yuan": "0.01",
    }
    response = signed_in(app, vendor).post(f"/vendor/solutions/{solution.id}/plans", data=bad)
    assert response.status_code == 200
    assert "tiers-1-up_to" in field_errors(response.get_data(as_text=True))
    assert state(session) == before  # not even a new revision of the published listing


def test_money_with_three_decimals_is_refused_next_to_the_price(
    app: Flask, session: Session
) -> None:
    vendor = vendor_actor(session)
    vendor.user.locale = "en"
    session.flush()
    solution = publish_solution(session, vendor)
    before = state(session)
    response = signed_in(app, vendor).post(
        f"/vendor/solutions/{solution.id}/plans",
        data={**SUBSCRIPTION_FORM, "name": "年度版", "price": "12.345"},
    )
    errors = field_errors(response.get_data(as_text=True))
    assert errors["price"] == "Amounts have at most two decimal places (fen)."
    assert state(session) == before


def test_four_scenarios_are_refused(app: Flask, session: Session) -> None:
    vendor = vendor_actor(session)
    solution = publish_solution(session, vendor)
    client = signed_in(app, vendor)
    before = state(session)
    four = ["pm.quality", "pm.scheduling", "pm.execution", "rd.design"]
    for url in ("/vendor/solutions/new", f"/vendor/solutions/{solution.id}/edit"):
        response = client.post(url, data=listing_form(scenarios=four))
        assert response.status_code == 200
        assert "scenarios" in field_errors(response.get_data(as_text=True))
        assert state(session) == before


def test_case_study_errors_point_at_their_row(app: Flask, session: Session) -> None:
    vendor = vendor_actor(session)
    form = listing_form(
        **{"case_studies-1-customer_industry": "C13", "case_studies-1-problem": "能耗高"}
    )
    page = signed_in(app, vendor).post("/vendor/solutions/new", data=form).get_data(as_text=True)
    assert "case_studies-1-result" in field_errors(page)
    assert state(session)[0] == []


def test_a_version_in_review_cannot_be_changed(app: Flask, session: Session) -> None:
    vendor = vendor_actor(session)
    solution = create_solution(session, vendor)
    services.submit(session, solution, actor=vendor)
    before = state(session)
    client = signed_in(app, vendor)
    page = client.post(f"/vendor/solutions/{solution.id}/edit", data=listing_form(name="改名"))
    assert page.status_code == 200 and 'class="alert alert-danger"' in page.get_data(as_text=True)
    client.post(f"/vendor/solutions/{solution.id}/plans", data=SUBSCRIPTION_FORM)
    assert state(session) == before


# --- screenshots ------------------------------------------------------------------------


def test_a_real_png_is_stored_and_served_to_those_who_may_see_it(
    app: Flask, session: Session, uploads: Path
) -> None:
    vendor, operator = vendor_actor(session), operator_actor(session)
    solution = create_solution(session, vendor)
    client = signed_in(app, vendor)
    assert upload(client, solution.id, png()).status_code == 302
    shot = session.scalar(sa.select(Screenshot))
    assert (shot.content_type, shot.width, shot.height, shot.caption) == (
        "image/png",
        64,
        48,
        "质检看板",
    )
    assert re.fullmatch(r"[0-9a-f]{32}\.png", shot.stored_name)
    assert (uploads / "screenshots" / shot.stored_name).read_bytes() == png()

    url = f"/media/screenshots/{shot.stored_name}"
    status, headers = fetch(client, url)
    assert status == 200 and headers["Content-Type"] == "image/png"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert fetch(app.test_client(), url)[0] == 404  # a draft: not for the public
    assert fetch(signed_in(app, operator), url)[0] == 200
    assert fetch(signed_in(app, vendor_actor(session)), url)[0] == 404

    services.submit(session, solution, actor=vendor)
    services.approve(session, solution, actor=operator)
    assert fetch(app.test_client(), url)[0] == 200
    assert fetch(app.test_client(), "/media/screenshots/secret_key")[0] == 404


def test_text_pretending_to_be_a_png_is_refused(app: Flask, session: Session) -> None:
    vendor = vendor_actor(session)
    solution = create_solution(session, vendor)
    response = upload(signed_in(app, vendor), solution.id, b"just some text, not an image\n")
    assert "screenshot" in field_errors(response.get_data(as_text=True))
    assert session.scalar(sa.select(sa.func.count()).select_from(Screenshot)) == 0


def test_too_large_images_are_refused(app: Flask, session: Session) -> None:
    vendor = vendor_actor(session)
    solution = create_solution(session, vendor)
    client = signed_in(app, vendor)
    noise = Image.frombytes("RGB", (1000, 800), os.urandom(1000 * 800 * 3))
    buffer = io.BytesIO()
    noise.save(buffer, "PNG")
    assert len(buffer.getvalue()) > 2 * 1024 * 1024
    for data in (buffer.getvalue(), png((4001, 10))):
        response = upload(client, solution.id, data)
        assert "screenshot" in field_errors(response.get_data(as_text=True))
    assert session.scalar(sa.select(sa.func.count()).select_from(Screenshot)) == 0


def test_a_seventh_screenshot_is_refused_and_one_can_be_removed(
    app: Flask, session: Session, uploads: Path
) -> None:
    vendor = vendor_actor(session)
    solution = create_solution(session, vendor)
    client = signed_in(app, vendor)
    for _ in range(6):
        assert upload(client, solution.id, png()).status_code == 302
    response = upload(client, solution.id, png())
    assert "screenshot" in field_errors(response.get_data(as_text=True))
    shots = session.scalars(sa.select(Screenshot).order_by(Screenshot.id)).all()
    assert len(shots) == 6

    first_id, first_file = shots[0].id, uploads / "screenshots" / shots[0].stored_name
    assert first_file.exists()
    client.post(f"/vendor/solutions/{solution.id}/screenshots/{first_id}/delete")
    session.expire_all()
    assert session.scalar(sa.select(sa.func.count()).select_from(Screenshot)) == 5
    assert not first_file.exists()  # deleted once the removal was committed


def test_removing_a_screenshot_from_an_edit_keeps_the_published_one(
    app: Flask, session: Session, uploads: Path
) -> None:
    vendor, operator = vendor_actor(session), operator_actor(session)
    solution = create_solution(session, vendor)
    client = signed_in(app, vendor)
    upload(client, solution.id, png())
    services.submit(session, solution, actor=vendor)
    services.approve(session, solution, actor=operator)
    shot = session.scalar(sa.select(Screenshot))

    client.post(f"/vendor/solutions/{solution.id}/screenshots/{shot.id}/delete")
    session.expire_all()
    assert solution.working_revision is not None and solution.working_revision.screenshots == []
    assert solution.published.screenshots[0].stored_name == shot.stored_name
    assert (uploads / "screenshots" / shot.stored_name).exists()
    assert fetch(app.test_client(), f"/media/screenshots/{shot.stored_name}")[0] == 200


# --- the live Markdown preview ----------------------------------------------------------


def test_markdown_preview_is_sanitized_by_the_server(app: Flask, session: Session) -> None:
    vendor = vendor_actor(session)
    client = signed_in(app, vendor)
    text = "## 亮点\n\n<script>alert(1)</script>\n\n[点我](javascript:alert(1)) **准**"
    html = client.post("/vendor/preview", data={"text": text}).get_json()["html"]
    assert "<h2>亮点</h2>" in html and "<strong>准</strong>" in html
    assert "<script" not in html and "javascript:" not in html
    assert client.post("/vendor/preview", data={"text": "x" * 20_001}).status_code == 422

    buyer = create_user(session)
    create_org(session, owner=buyer)
    sme = app.test_client()
    login(sme, buyer)
    assert sme.post("/vendor/preview", data={"text": "x"}).status_code == 403


# --- who may do what ----------------------------------------------------------------------


def test_another_vendor_finds_nothing(app: Flask, session: Session) -> None:
    owner = vendor_actor(session)
    solution = create_solution(session, owner)
    intruder = signed_in(app, vendor_actor(session))
    before = state(session)
    base = f"/vendor/solutions/{solution.id}"
    for path in (base, f"{base}/edit", f"{base}/plans", f"/console/listings/{solution.id}/preview"):
        assert intruder.get(path).status_code == 404, path
    for path in (
        f"{base}/submit",
        f"{base}/edit",
        f"{base}/plans",
        f"{base}/plans/0/delete",
        f"{base}/delist",
    ):
        assert intruder.post(path, data=listing_form()).status_code == 404, path
    assert upload(intruder, solution.id, png()).status_code == 404
    assert solution.slug not in intruder.get("/vendor/solutions").get_data(as_text=True)
    assert state(session) == before


def test_an_auditor_reads_but_does_not_write(app: Flask, session: Session) -> None:
    vendor = vendor_actor(session)
    solution = create_solution(session, vendor)
    auditor = add_member(session, vendor.organization, Role.AUDITOR)
    client = app.test_client()
    login(client, auditor)
    assert client.get("/vendor/solutions").status_code == 200
    assert client.get(f"/vendor/solutions/{solution.id}/plans").status_code == 200
    assert client.get("/vendor/solutions/new").status_code == 403
    assert client.post(f"/vendor/solutions/{solution.id}/submit").status_code == 403
    assert (
        client.post(f"/vendor/solutions/{solution.id}/plans", data=SUBSCRIPTION_FORM).status_code
        == 403
    )


def test_buyers_and_anonymous_visitors_have_no_console(app: Flask, session: Session) -> None:
    buyer = create_user(session)
    create_org(session, OrgKind.SME, owner=buyer)
    client = app.test_client()
    assert client.get("/vendor/solutions").status_code == 302  # to the sign-in page
    login(client, buyer)
    assert client.get("/vendor/solutions").status_code == 403


def test_console_pages_render(app: Flask, session: Session) -> None:
    vendor, operator = vendor_actor(session), operator_actor(session)
    solution = publish_solution(session, vendor, operator)
    create_solution(session, vendor)
    client = signed_in(app, vendor)
    listing = client.get("/vendor/solutions").get_data(as_text=True)
    assert solution.published.name in listing and "/vendor/solutions/new" in listing
    for path in (
        f"/vendor/solutions/{solution.id}",
        f"/vendor/solutions/{solution.id}/edit",
        f"/vendor/solutions/{solution.id}/plans",
        f"/vendor/solutions/{solution.id}/plans/0",
    ):
        page = client.get(path)
        assert page.status_code == 200, path
        assert 'style="' not in page.get_data(as_text=True)
