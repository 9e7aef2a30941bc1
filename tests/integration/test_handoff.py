"""The sign-up handoff (issue 14): the buyer's button on the contract page sends them to the
vendor's fulfillment URL with a one-time token, which the vendor exchanges exactly once."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from billing import fulfillment
from billing.fulfillment_models import FulfillmentToken
from billing.models import Contract
from marketplace.db import utcnow
from marketplace.errors import DomainError
from marketplace.jsonapi import Actor
from marketplace.urls import UrlPolicy, check_outbound_url
from tests.billing.factories import buyer_actor, start_contract
from tests.catalog.factories import OUTCOME, USAGE, publish_solution, vendor_actor
from tests.factories import create_token, login

SIGNUP = "https://vendor.example/signup?src=market"


def _contract(
    session: Session, vendor: Actor, buyer: Actor, terms: dict[str, Any] = USAGE, **options: Any
) -> Contract:
    solution = publish_solution(session, vendor, plans=[terms])
    solution.fulfillment_url = SIGNUP
    session.flush()
    plan = solution.published.plans[0]
    return start_contract(session, plan=plan, buyer=buyer, now=utcnow(), **options)


def _handoff(client: FlaskClient, contract: Contract) -> str:
    """The buyer presses 前往服务商开通; returns the token the vendor's page receives."""
    page = client.get(f"/billing/contracts/{contract.id}").get_data(as_text=True)
    assert f"/contracts/{contract.id}/fulfillment" in page
    response = client.post(f"/billing/contracts/{contract.id}/fulfillment")
    assert response.status_code == 303, response.get_data(as_text=True)
    target = urlsplit(response.headers["Location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == "https://vendor.example/signup"
    query = parse_qs(target.query)
    assert query["src"] == ["market"]
    return query[fulfillment.TOKEN_PARAMETER][0]


def _resolve(client: FlaskClient, bearer: str, token: str) -> Any:
    return client.post(
        "/api/v1/fulfillment/resolve",
        json={"token": token},
        headers={"Authorization": f"Bearer {bearer}"},
    )


def test_token_resolves_once_to_buyer_contract_and_plan_then_409(
    client: FlaskClient, session: Session
) -> None:
    vendor, buyer = vendor_actor(session), buyer_actor(session)
    contract = _contract(session, vendor, buyer)
    bearer = create_token(session, vendor.user, vendor.organization)
    session.commit()
    login(client, buyer.user)
    token = _handoff(client, contract)
    stored = session.scalars(sa.select(FulfillmentToken.token_hash)).all()
    assert token not in stored and fulfillment.hash_token(token) in stored  # only the hash

    first = _resolve(client, bearer, token)
    assert first.status_code == 200, first.get_json()
    body = first.get_json()
    assert body["buyer"]["uscc"] == buyer.organization.uscc
    assert body["buyer"]["name"] == buyer.organization.name
    assert body["buyer"]["contact_email"] == buyer.organization.contact_email
    assert body["contract"]["id"] == contract.id
    assert body["plan"]["id"] == contract.plan_id
    assert body["plan"]["billing_model"] == "usage"

    again = _resolve(client, bearer, token)
    assert again.status_code == 409
    assert again.get_json()["error"]["fields"] == {"token": [again.get_json()["error"]["message"]]}


def test_expired_token_is_refused_with_410(client: FlaskClient, session: Session) -> None:
    vendor, buyer = vendor_actor(session), buyer_actor(session)
    contract = _contract(session, vendor, buyer)
    bearer = create_token(session, vendor.user, vendor.organization)
    issued = utcnow() - timedelta(minutes=16)
    url = fulfillment.issue(session, contract, actor=buyer, now=issued, minutes=15)
    token = parse_qs(urlsplit(url).query)[fulfillment.TOKEN_PARAMETER][0]
    session.commit()
    response = _resolve(client, bearer, token)
    assert response.status_code == 410
    assert response.get_json()["error"]["code"] == "gone"
    row = session.scalar(
        sa.select(FulfillmentToken).where(FulfillmentToken.contract_id == contract.id)
    )
    session.refresh(row)
    assert row.resolved_at is None


def test_another_vendor_cannot_resolve_the_token(client: FlaskClient, session: Session) -> None:
    vendor, buyer, other = vendor_actor(session), buyer_actor(session), vendor_actor(session)
    contract = _contract(session, vendor, buyer)
    url = fulfillment.issue(session, contract, actor=buyer, now=utcnow(), minutes=15)
    token = parse_qs(urlsplit(url).query)[fulfillment.TOKEN_PARAMETER][0]
    stranger = create_token(session, other.user, other.organization)
    owner = create_token(session, vendor.user, vendor.organization)
    session.commit()
    assert _resolve(client, stranger, token).status_code == 404
    assert _resolve(client, owner, "ful_" + "x" * 43).status_code == 404
    assert _resolve(client, owner, token).status_code == 200  # the stranger used nothing up


def test_entitlements_by_contract_and_by_uscc_only_for_own_customers(
    client: FlaskClient, session: Session
) -> None:
    vendor, buyer, other = vendor_actor(session), buyer_actor(session), vendor_actor(session)
    usage = _contract(session, vendor, buyer, spend_cap_fen=50_000)
    outcome = _contract(session, vendor, buyer, OUTCOME, baseline=Decimal(42_000))
    bearer = create_token(session, vendor.user, vendor.organization)
    stranger = create_token(session, other.user, other.organization)
    session.commit()

    def get(token: str, **query: Any) -> Any:
        return client.get(
            "/api/v1/entitlements",
            query_string=query,
            headers={"Authorization": f"Bearer {token}"},
        )

    one = get(bearer, contract_id=usage.id)
    assert one.status_code == 200, one.get_json()
    (item,) = one.get_json()["items"]
    assert item["entitled"] is True and item["contract"]["status"] == usage.status.value
    assert item["usage"]["spend_cap_fen"] == 50_000
    assert item["usage"]["estimated_charge_fen"] == 0 and item["usage"]["quantity"] == "0"
    assert item["baseline_status"] is None

    both = get(bearer, buyer_uscc=buyer.organization.uscc).get_json()["items"]
    assert [i["contract"]["id"] for i in both] == [usage.id, outcome.id]
    assert both[1]["baseline_status"] == "awaiting_agreement"
    assert both[1]["entitled"] is False  # pending until the baseline is agreed

    assert get(stranger, contract_id=usage.id).status_code == 404
    assert get(stranger, buyer_uscc=buyer.organization.uscc).status_code == 404
    assert get(bearer).status_code == 422


@pytest.mark.parametrize(
    ("url", "policy"),
    [
        ("http://vendor.example/signup", UrlPolicy()),
        ("https://127.0.0.1/signup", UrlPolicy()),
        ("https://10.1.2.3/signup", UrlPolicy()),
        ("https://[::1]/signup", UrlPolicy()),
        ("https://169.254.169.254/latest", UrlPolicy()),
        ("https://localhost/signup", UrlPolicy()),
        ("https://user:pw@8.8.8.8/", UrlPolicy()),
        ("ftp://8.8.8.8/", UrlPolicy(allow_http=True)),
        ("https://[::ffff:127.0.0.1]/", UrlPolicy()),
    ],
)
def test_outbound_url_refuses_http_and_private_hosts(url: str, policy: UrlPolicy) -> None:
    with pytest.raises(DomainError) as refused:
        check_outbound_url(url, field="fulfillment_url", policy=policy)
    assert refused.value.field == "fulfillment_url"


def test_outbound_url_allows_public_https_and_what_the_operator_allows() -> None:
    assert check_outbound_url(" https://8.8.8.8/x ", field="u", policy=UrlPolicy()) == (
        "https://8.8.8.8/x"
    )
    testing = UrlPolicy(allow_http=True, allow_private=True)
    assert check_outbound_url("http://127.0.0.1:5000/", field="u", policy=testing)
