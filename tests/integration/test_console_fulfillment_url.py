"""The vendor console sets a listing's fulfillment URL (the sign-up handoff target) with the
API's validator (marketplace/urls.py): same refusals, next to the input; applied without a
review, and the buyer's 前往服务商开通 goes there."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from flask import Flask
from sqlalchemy.orm import Session

from catalog.models import Solution
from marketplace.db import utcnow
from marketplace.errors import DomainError
from marketplace.models import Role
from marketplace.urls import UrlPolicy, check_outbound_url
from tests.billing.factories import buyer_actor, start_contract
from tests.catalog.factories import USAGE, publish_solution, vendor_actor
from tests.factories import add_member, login


def field_errors(page: str) -> dict[str, str]:
    return dict(
        re.findall(r'<div class="invalid-feedback d-block" data-field="([^"]+)">([^<]*)<', page)
    )


def api_message(app: Flask, url: str) -> str:
    """The validator's refusal, in the page's language (zh-CN)."""
    with app.test_request_context():
        try:
            check_outbound_url(url, field="fulfillment_url", policy=UrlPolicy())
        except DomainError as exc:
            return str(exc.message)
    raise AssertionError(f"{url} was accepted")


def test_console_sets_the_fulfillment_url_with_the_apis_validator(
    app: Flask, session: Session
) -> None:
    vendor, buyer = vendor_actor(session), buyer_actor(session)
    solution = publish_solution(session, vendor, plans=[USAGE])
    revisions = len(solution.revisions)
    session.commit()
    console = app.test_client()
    login(console, vendor.user)
    edit = f"/vendor/solutions/{solution.id}/edit"
    action = f"/vendor/solutions/{solution.id}/fulfillment-url"
    page = console.get(edit).get_data(as_text=True)
    assert f'action="{action}"' in page and 'name="fulfillment_url"' in page

    for bad in ("https://127.0.0.1/signup", "http://8.8.8.8/signup", "ftp://x.example/"):
        refused = console.post(action, data={"fulfillment_url": bad})
        assert refused.status_code == 200
        errors = field_errors(refused.get_data(as_text=True))
        assert errors == {"fulfillment_url": api_message(app, bad)}, bad
        assert f'value="{bad}"' in refused.get_data(as_text=True)  # kept for correcting
        session.expire_all()
        assert session.get(Solution, solution.id).fulfillment_url == ""

    saved = console.post(action, data={"fulfillment_url": " https://8.8.8.8/signup?src=m "})
    assert saved.status_code == 302 and saved.headers["Location"].endswith(f"{edit}#fulfillment")
    session.expire_all()
    stored = session.get(Solution, solution.id)
    assert stored.fulfillment_url == "https://8.8.8.8/signup?src=m"
    assert len(stored.revisions) == revisions  # no new version to review: it applies at once
    assert 'value="https://8.8.8.8/signup?src=m"' in console.get(edit).get_data(as_text=True)

    # The buyer's handoff goes to the URL the console saved.
    contract = start_contract(session, plan=stored.published.plans[0], buyer=buyer, now=utcnow())
    session.commit()
    shopper = app.test_client()
    login(shopper, buyer.user)
    handoff = shopper.post(f"/billing/contracts/{contract.id}/fulfillment")
    assert handoff.status_code == 303
    target = urlsplit(handoff.headers["Location"])
    assert (target.scheme, target.netloc, target.path) == ("https", "8.8.8.8", "/signup")

    # Emptied, the listing has no sign-up page any more.
    assert console.post(action, data={"fulfillment_url": ""}).status_code == 302
    session.expire_all()
    assert session.get(Solution, solution.id).fulfillment_url == ""


def test_a_member_who_only_reads_cannot_change_the_fulfillment_url(
    app: Flask, session: Session
) -> None:
    vendor = vendor_actor(session)
    solution = publish_solution(session, vendor, plans=[USAGE])
    reader = add_member(session, vendor.organization, Role.AUDITOR)
    session.commit()
    client = app.test_client()
    login(client, reader)
    page = client.get(f"/vendor/solutions/{solution.id}/edit").get_data(as_text=True)
    assert re.search(r'id="fulfillment".*?<fieldset disabled>', page, re.S)
    refused = client.post(
        f"/vendor/solutions/{solution.id}/fulfillment-url",
        data={"fulfillment_url": "https://8.8.8.8/signup"},
    )
    assert refused.status_code == 403
    session.expire_all()
    assert session.get(Solution, solution.id).fulfillment_url == ""
