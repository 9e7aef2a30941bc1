"""Starting a plan means accepting the solution's service agreement (issue 15): the listing
carries it (the platform's standard one when the vendor wrote none), its version changes
when the vendor changes the text, the buyer ticks "I have read and accept ... (version N)"
(or sends accept_agreement_version through the API), and the contract records the version,
the text's revision, when and who. Then the buyer lands on the next-step page."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from billing.models import Contract
from catalog import services
from catalog.agreements import PLATFORM_AGREEMENT_EN, PLATFORM_AGREEMENT_ZH
from catalog.models import Solution
from catalog.validation import parse_solution
from marketplace.dates import CHINA
from marketplace.errors import DomainError
from marketplace.jsonapi import Actor
from tests.billing.factories import (
    buyer_actor,
    offered_plan,
    start_contract,
    subscription_terms,
    usage_terms,
)
from tests.catalog.factories import operator_actor, payload, publish_solution, vendor_actor
from tests.factories import create_token, login

VENDOR_TEXT = "服务协议（测试）\n\n第一条 服务商提供 AI 质检服务。"


def page(response: Any) -> str:
    return response.get_data(as_text=True)


def auth(session: Session, actor: Actor) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_token(session, actor.user, actor.organization)}"}


def china_day(moment: datetime) -> str:
    day = moment.astimezone(CHINA)
    return f"{day.year}年{day.month}月{day.day}日"


def contracts_of(session: Session, buyer: Actor) -> list[Contract]:
    return list(
        session.scalars(sa.select(Contract).where(Contract.buyer_id == buyer.organization.id))
    )


def edit_agreement(
    session: Session, solution: Solution, vendor: Actor, text: str, **content: Any
) -> None:
    data = payload(plans=[], **content)
    data["agreement"] = text
    services.update_content(session, solution, actor=vendor, content=parse_solution(data))


def republish(session: Session, solution: Solution, vendor: Actor) -> None:
    services.submit(session, solution, actor=vendor)
    services.approve(session, solution, actor=operator_actor(session))


# --- the listing's agreement and its version ----------------------------------------------


def test_the_version_changes_only_when_the_vendor_changes_the_text(session: Session) -> None:
    vendor = vendor_actor(session)
    solution = publish_solution(session, vendor)
    assert solution.published.agreement == "" and solution.published.agreement_version == 1

    edit_agreement(session, solution, vendor, VENDOR_TEXT)
    draft = solution.working_revision
    assert draft.agreement_version == 2
    edit_agreement(session, solution, vendor, VENDOR_TEXT + "\n第二条 数据归买方。")
    assert draft.agreement_version == 2  # one draft, one new version however often saved
    edit_agreement(session, solution, vendor, "")
    assert draft.agreement_version == 1  # back to the published text: the published version
    edit_agreement(session, solution, vendor, VENDOR_TEXT)
    republish(session, solution, vendor)
    assert solution.published.agreement == VENDOR_TEXT
    assert solution.published.agreement_version == 2

    # Editing something else keeps the version buyers accepted.
    services.update_content(
        session,
        solution,
        actor=vendor,
        content=parse_solution({**payload(plans=[]), "agreement": VENDOR_TEXT, "deploy_days": 9}),
    )
    assert solution.working_revision.agreement_version == 2


def test_an_agreement_longer_than_the_limit_is_refused(session: Session) -> None:
    data = {**payload(), "agreement": "条" * 20_001}
    try:
        parse_solution(data)
    except DomainError as error:
        assert error.field == "agreement"
    else:
        raise AssertionError("a 20,001-character agreement was accepted")


def test_the_platform_standard_agreement_is_shown_in_the_readers_language(
    client: FlaskClient, session: Session
) -> None:
    solution = publish_solution(session)
    zh = page(client.get(f"/billing/solutions/{solution.slug}/agreement"))
    assert PLATFORM_AGREEMENT_ZH.splitlines()[0] in zh
    assert 'data-agreement-version="1"' in zh
    client.post("/language", data={"lang": "en"})
    en = page(client.get(f"/billing/solutions/{solution.slug}/agreement"))
    assert PLATFORM_AGREEMENT_EN.splitlines()[0] in en
    assert "平台标准服务协议" not in en
    assert client.get("/billing/solutions/no-such-listing/agreement").status_code == 404


def test_the_vendors_own_text_is_shown_as_written(client: FlaskClient, session: Session) -> None:
    solution = publish_solution(session, agreement="第一条 <b>不是</b>标签")
    html = page(client.get(f"/billing/solutions/{solution.slug}/agreement"))
    assert "第一条 &lt;b&gt;不是&lt;/b&gt;标签" in html
    assert PLATFORM_AGREEMENT_ZH.splitlines()[0] not in html


# --- starting a plan on the web ---------------------------------------------------------------


def test_a_plan_does_not_start_without_accepting_the_agreement(
    client: FlaskClient, session: Session
) -> None:
    plan = offered_plan(session, subscription_terms(trial_days=14))
    buyer = buyer_actor(session)
    login(client, buyer.user)
    form = page(client.get(f"/billing/plans/{plan.id}/start"))
    assert "(version 1)" in form or "第 1 版" in form
    assert f'href="/billing/solutions/{plan.solution.slug}/agreement"' in form

    refused = client.post(f"/billing/plans/{plan.id}/start", data={"agreement_version": "1"})
    assert refused.status_code == 422
    html = page(refused)
    assert 'name="accept_agreement"' in html and "is-invalid" in html
    assert contracts_of(session, buyer) == []

    # The one-click buttons on the solution page carry the same tick box.
    solution_page = page(client.get(f"/solutions/{plan.solution.slug}"))
    assert 'name="accept_agreement"' in solution_page
    assert 'name="agreement_version" value="1"' in solution_page


def test_accepting_records_the_version_when_and_who(client: FlaskClient, session: Session) -> None:
    vendor = vendor_actor(session)
    solution = publish_solution(
        session, vendor, agreement=VENDOR_TEXT, plans=[subscription_terms(trial_days=14)]
    )
    plan = solution.published.plans[0]
    buyer = buyer_actor(session)
    login(client, buyer.user)
    response = client.post(
        f"/billing/plans/{plan.id}/start",
        data={"accept_agreement": "y", "agreement_version": "1"},
    )
    assert response.status_code == 302
    (contract,) = contracts_of(session, buyer)
    assert response.headers["Location"].endswith(f"/billing/contracts/{contract.id}/next-steps")
    assert contract.agreement_version == 1
    assert contract.agreement_revision_id == solution.published_revision_id
    assert contract.agreement_accepted_by_id == buyer.user.id
    assert contract.agreement_accepted_at is not None

    # Both sides see the version on the contract page, and the text accepted stays readable
    # after the vendor changes the agreement.
    edit_agreement(session, solution, vendor, "新版协议")
    republish(session, solution, vendor)
    assert solution.published.agreement_version == 2
    for actor in (buyer, vendor):
        login(client, actor.user)
        html = page(client.get(f"/billing/contracts/{contract.id}"))
        assert "data-contract-agreement" in html
        assert re.search(r"(version 1|第 1 版)", html), actor
        accepted = page(client.get(f"/billing/contracts/{contract.id}/agreement"))
        assert "第一条 服务商提供 AI 质检服务。" in accepted and "新版协议" not in accepted
        assert 'data-agreement-version="1"' in accepted
    stranger = buyer_actor(session)
    login(client, stranger.user)
    assert client.get(f"/billing/contracts/{contract.id}/agreement").status_code == 404


def test_a_stale_version_is_refused_and_the_current_one_shown(
    client: FlaskClient, session: Session
) -> None:
    vendor = vendor_actor(session)
    solution = publish_solution(session, vendor, plans=[usage_terms()])
    edit_agreement(session, solution, vendor, VENDOR_TEXT)
    republish(session, solution, vendor)
    plan = solution.published.plans[0]
    buyer = buyer_actor(session)
    login(client, buyer.user)
    refused = client.post(
        f"/billing/plans/{plan.id}/start",
        data={"accept_agreement": "y", "agreement_version": "1"},
    )
    assert refused.status_code == 422
    html = page(refused)
    assert re.search(r'<input[^>]*name="agreement_version"[^>]*value="2"', html)
    assert re.search(r'name="accept_agreement" value="y" id="accept_agreement"\s*aria', html)
    assert contracts_of(session, buyer) == []


# --- starting a plan through the API ----------------------------------------------------------


def test_the_api_needs_the_version_accepted_and_refuses_a_stale_one(
    client: FlaskClient, session: Session
) -> None:
    vendor = vendor_actor(session)
    solution = publish_solution(session, vendor, plans=[usage_terms()])
    detail = client.get(f"/api/v1/solutions/{solution.slug}").get_json()
    assert detail["agreement_version"] == 1 and detail["agreement"] == ""
    plan_id = detail["plans"][0]["id"]
    buyer = buyer_actor(session)
    headers = auth(session, buyer)

    missing = client.post("/api/v1/contracts", json={"plan_id": plan_id}, headers=headers)
    assert missing.status_code == 422
    error = missing.get_json()["error"]
    assert "accept_agreement_version" in error["fields"]
    assert "1" in error["message"]

    edit_agreement(session, solution, vendor, VENDOR_TEXT)
    republish(session, solution, vendor)
    new_plan = solution.published.plans[0].id
    stale = client.post(
        "/api/v1/contracts",
        json={"plan_id": new_plan, "accept_agreement_version": 1},
        headers=headers,
    )
    assert stale.status_code == 409
    assert "accept_agreement_version" in stale.get_json()["error"]["fields"]
    assert "2" in stale.get_json()["error"]["message"]
    wrong_type = client.post(
        "/api/v1/contracts",
        json={"plan_id": new_plan, "accept_agreement_version": "2"},
        headers=headers,
    )
    assert wrong_type.status_code == 422
    assert contracts_of(session, buyer) == []

    started = client.post(
        "/api/v1/contracts",
        json={"plan_id": new_plan, "accept_agreement_version": 2},
        headers=headers,
    )
    assert started.status_code == 201, started.get_json()
    body = started.get_json()
    assert body["agreement_version"] == 2 and body["agreement_accepted_at"]


# --- the next step ---------------------------------------------------------------------------


def test_the_next_step_page_says_who_deploys_when_how_to_reach_them_and_when_to_pay(
    client: FlaskClient, session: Session
) -> None:
    vendor = vendor_actor(session, name="杭州智检科技有限公司")
    solution = publish_solution(
        session,
        vendor,
        deploy_days=5,
        deploy_steps=["远程开通账号", "上门安装工业相机"],
        support={"hours": "工作日 9:00-18:00", "phone": "0571-8888 6666"},
        sla={"response_hours": 4},
        plans=[subscription_terms(trial_days=14)],
    )
    buyer = buyer_actor(session)
    contract = start_contract(session, plan=solution.published.plans[0], buyer=buyer)
    login(client, buyer.user)
    html = page(client.get(f"/billing/contracts/{contract.id}/next-steps"))
    assert "杭州智检科技有限公司" in html
    assert "远程开通账号" in html and "上门安装工业相机" in html
    assert "工作日 9:00-18:00" in html and 'href="tel:0571-88886666"' in html
    assert china_day(contract.created_at + timedelta(days=5)) in html
    assert china_day(contract.trial_end) in html
    assert "data-fulfillment" not in html and "/fulfillment" not in html
    assert "data-main-action" in html  # "open the contract" when there is no handoff
    # Reachable later from the contract page.
    contract_page = page(client.get(f"/billing/contracts/{contract.id}"))
    assert f'href="/billing/contracts/{contract.id}/next-steps"' in contract_page

    # The vendor does not see the buyer's next-step page.
    login(client, vendor.user)
    assert client.get(f"/billing/contracts/{contract.id}/next-steps").status_code == 403


def test_the_next_step_page_hands_off_to_the_vendors_sign_up(
    client: FlaskClient, session: Session
) -> None:
    solution = publish_solution(session, plans=[usage_terms()])
    solution.fulfillment_url = "https://vendor.example.com/signup"
    buyer = buyer_actor(session)
    contract = start_contract(session, plan=solution.published.plans[0], buyer=buyer)
    session.flush()
    login(client, buyer.user)
    html = page(client.get(f"/billing/contracts/{contract.id}/next-steps"))
    handoff = re.search(
        rf'<form method="post" action="/billing/contracts/{contract.id}/fulfillment">.*?</form>',
        html,
        re.S,
    )
    assert handoff and "data-main-action" in handoff.group(0)
    # The first invoice of pay after use comes at the end of the first period.
    assert china_day(contract.current_period_end) in html
    response = client.post(f"/billing/contracts/{contract.id}/fulfillment")
    assert response.status_code == 303
    assert response.headers["Location"].startswith(
        "https://vendor.example.com/signup?marketplace_token=ful_"
    )


# --- the vendor writes it in the listing form ---------------------------------------------------


def test_the_vendor_edits_the_agreement_in_the_listing_form(
    client: FlaskClient, session: Session
) -> None:
    from tests.catalog.test_vendor_console import listing_form

    vendor, operator = vendor_actor(session), operator_actor(session)
    solution = publish_solution(session, vendor, operator)
    login(client, vendor.user)
    form = page(client.get(f"/vendor/solutions/{solution.id}/edit"))
    assert 'name="agreement"' in form and 'data-agreement-version="1"' in form

    too_long = client.post(
        f"/vendor/solutions/{solution.id}/edit", data=listing_form(agreement="条" * 20_001)
    )
    assert 'data-field="agreement"' in page(too_long)  # the console answers 200 with errors
    session.expire_all()
    assert solution.working_revision is None or solution.working_revision.agreement == ""

    saved = client.post(
        f"/vendor/solutions/{solution.id}/edit", data=listing_form(agreement=VENDOR_TEXT)
    )
    assert saved.status_code == 302
    again = page(client.get(f"/vendor/solutions/{solution.id}/edit"))
    assert 'data-agreement-version="2"' in again and "第一条 服务商提供 AI 质检服务。" in again
    # Buyers still read version 1 until the edit is approved.
    public = page(client.get(f"/billing/solutions/{solution.slug}/agreement"))
    assert 'data-agreement-version="1"' in public

    assert client.post(f"/vendor/solutions/{solution.id}/submit").status_code == 302
    login(client, operator.user)
    review = page(client.get(f"/console/listings/{solution.id}"))
    assert "第一条 服务商提供 AI 质检服务。" in review
    assert client.post(f"/console/listings/{solution.id}/approve").status_code == 302
    public = page(client.get(f"/billing/solutions/{solution.slug}/agreement"))
    assert 'data-agreement-version="2"' in public and "第一条 服务商提供 AI 质检服务。" in public
