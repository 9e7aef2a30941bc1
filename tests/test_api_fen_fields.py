"""Money in the API's requests is whole fen: every ``*_fen`` input is the one ``Fen`` field
(marketplace/jsonapi.py), which refuses fractions, strings, booleans and non-finite numbers
with 422 naming the field instead of truncating them, and the OpenAPI document says
integer with its range."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import marshmallow as ma
import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from billing.models import Contract
from marketplace.jsonapi import Actor, Fen
from marketplace.money import MAX_FEN
from tests.billing.factories import buyer_actor, offered_plan
from tests.catalog.factories import USAGE, publish_solution
from tests.factories import create_token
from tests.vouchers.factories import create_program, officer_of, sme_actor
from vouchers.models import Application, ApplicationStatus, Program

# Raw JSON texts: Python's json module would write NaN and Infinity, but 1999.0 only as a
# float, which is the point.
FRACTIONS = ["1999.99", "1.5", "1999.0", "1e3", '"1999.99"', '"1999"', "true", "NaN", "Infinity"]


def auth(session: Session, actor: Actor) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_token(session, actor.user, actor.organization)}"}


def post_raw(client: FlaskClient, path: str, body: str, headers: dict[str, str]) -> Any:
    return client.post(path, data=body, content_type="application/json", headers=headers)


def refused(response: Any, field: str) -> str:
    assert response.status_code == 422, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert error["code"] == "validation_failed" and field in error["fields"], error
    return " ".join(error["fields"][field])


# --- the field ------------------------------------------------------------------------------


class Body(ma.Schema):
    amount_fen = Fen(required=True)


class Query(ma.Schema):
    amount_fen = Fen(minimum=0, maximum=10**12, in_query=True)


@pytest.fixture
def request_context(app: Flask) -> Iterator[None]:
    with app.test_request_context():
        yield


@pytest.mark.usefixtures("request_context")
@pytest.mark.parametrize(
    "value",
    [1999.99, 1.5, 1999.0, "1999", "1999.99", True, False, float("nan"), float("inf"), None],
)
def test_only_a_json_integer_is_an_amount(value: Any) -> None:
    with pytest.raises(ma.ValidationError) as error:
        Body().load({"amount_fen": value})
    assert "amount_fen" in error.value.messages


@pytest.mark.usefixtures("request_context")
@pytest.mark.parametrize("value", [0, -1, MAX_FEN + 1, 10**400])
def test_amounts_outside_the_range_are_refused(value: int) -> None:
    with pytest.raises(ma.ValidationError) as error:
        Body().load({"amount_fen": value})
    assert "1,000,000,000,000,000" in error.value.messages["amount_fen"][0]


@pytest.mark.usefixtures("request_context")
def test_whole_amounts_pass_unchanged() -> None:
    assert Body().load({"amount_fen": 1999}) == {"amount_fen": 1999}
    assert Body().load({"amount_fen": MAX_FEN}) == {"amount_fen": MAX_FEN}


@pytest.mark.usefixtures("request_context")
def test_a_query_string_amount_is_plain_digits() -> None:
    assert Query().load({"amount_fen": "199999"}) == {"amount_fen": 199999}
    for text in ("1999.99", "1e3", " 1999", "1_999", "１９９９", "-1", "+5", ""):
        with pytest.raises(ma.ValidationError):
            Query().load({"amount_fen": text})


def argument_schemas(app: Flask) -> Iterator[tuple[str, str, ma.Schema]]:
    """(path, location, schema) of every request argument schema the API declares."""
    for rule in app.url_map.iter_rules():
        apidoc = getattr(app.view_functions[rule.endpoint], "_apidoc", {})
        for parameter in apidoc.get("arguments", {}).get("parameters", []):
            schema = parameter["schema"]
            yield rule.rule, parameter["in"], schema() if isinstance(schema, type) else schema


def fen_fields(schema: ma.Schema, prefix: str = "") -> Iterator[tuple[str, ma.fields.Field]]:
    for name, field in schema.fields.items():
        inner = field.inner if isinstance(field, ma.fields.List) else field
        if isinstance(inner, ma.fields.Nested):
            yield from fen_fields(inner.schema, f"{prefix}{name}.")
        elif name.endswith("_fen"):
            yield f"{prefix}{name}", inner


def test_every_fen_input_of_the_api_is_the_fen_field(app: Flask) -> None:
    seen = set()
    for path, location, schema in argument_schemas(app):
        for name, field in fen_fields(schema):
            assert isinstance(field, Fen), f"{path} {name} is not a Fen field"
            # Query strings and multipart forms carry text: plain digits there.
            assert field.in_query == (location in ("query", "form")), f"{path} {name}"
            seen.add(name)
    # The amounts the issue named, among the others.
    assert {"spend_cap_fen", "approved_fen", "requested_fen", "max_monthly_fen"} <= seen


def test_the_openapi_document_says_integer_with_a_range(client: FlaskClient) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    contract_in = next(
        s
        for name, s in schemas.items()
        if name.startswith("Contract")
        and "spend_cap_fen" in s.get("properties", {})
        and "plan_id" in s["properties"]
    )
    cap = contract_in["properties"]["spend_cap_fen"]
    assert cap["type"] in ("integer", ["integer", "null"]) and cap["minimum"] == 1
    assert cap["maximum"] == 10**12
    search = spec["paths"]["/api/v1/solutions"]["get"]["parameters"]
    (max_monthly,) = [p for p in search if p["name"] == "max_monthly_fen"]
    assert max_monthly["schema"]["type"] == "integer" and max_monthly["schema"]["maximum"] == 10**12


# --- the endpoints --------------------------------------------------------------------------


@pytest.mark.parametrize("amount", FRACTIONS)
def test_a_fractional_spend_cap_is_refused_when_a_contract_starts(
    client: FlaskClient, session: Session, amount: str
) -> None:
    plan = offered_plan(session, USAGE)
    buyer = buyer_actor(session)
    response = post_raw(
        client,
        "/api/v1/contracts",
        f'{{"plan_id": {plan.id}, "spend_cap_fen": {amount}}}',
        auth(session, buyer),
    )
    refused(response, "spend_cap_fen")
    assert session.scalar(sa.select(sa.func.count()).select_from(Contract)) == 0
    started = post_raw(
        client,
        "/api/v1/contracts",
        json.dumps({"plan_id": plan.id, "spend_cap_fen": 199_999, "accept_agreement_version": 1}),
        auth(session, buyer),
    )
    assert started.status_code == 201 and started.get_json()["spend_cap_fen"] == 199_999


def open_program(session: Session) -> Program:
    from datetime import timedelta

    from marketplace.db import utcnow

    now = utcnow()
    return create_program(
        session, opens_at=now - timedelta(days=1), closes_at=now + timedelta(days=60)
    )


@pytest.mark.parametrize("amount", FRACTIONS)
def test_a_fractional_request_or_approval_is_refused(
    client: FlaskClient, session: Session, amount: str
) -> None:
    program = open_program(session)
    officer = officer_of(session, program)
    buyer = sme_actor(session)
    applications = f"/api/v1/voucher-programs/{program.id}/applications"
    refused(
        post_raw(client, applications, f'{{"requested_fen": {amount}}}', auth(session, buyer)),
        "requested_fen",
    )
    assert session.scalar(sa.select(sa.func.count()).select_from(Application)) == 0

    applied = post_raw(client, applications, '{"requested_fen": 200000}', auth(session, buyer))
    assert applied.status_code == 201, applied.get_json()
    application_id = applied.get_json()["id"]
    approve = f"/api/v1/voucher-applications/{application_id}/approve"
    message = refused(
        post_raw(client, approve, f'{{"approved_fen": {amount}}}', auth(session, officer)),
        "approved_fen",
    )
    assert "199999" in message  # says what a whole amount looks like
    application = session.get(Application, application_id)
    session.refresh(application)
    assert application.status is ApplicationStatus.SUBMITTED and application.approved_fen is None


def test_a_fractional_budget_is_refused_when_a_program_is_created(
    client: FlaskClient, session: Session
) -> None:
    from datetime import timedelta

    from marketplace.db import utcnow
    from tests.vouchers.factories import officer_actor

    now = utcnow()
    body = {
        "name": "浦东新区算力券",
        "kind": "compute",
        "region_prefix": "310115",
        "budget_fen": 100_000_000,
        "ratio_bp": 3000,
        "annual_cap_fen": 5_000_000,
        "invoice_cap_fen": 1_000_000,
        "size_classes": ["small", "micro"],
        "opens_at": (now - timedelta(hours=1)).isoformat(),
        "closes_at": (now + timedelta(days=90)).isoformat(),
        "validity_days": 180,
    }
    officer = officer_actor(session)
    for field in ("budget_fen", "annual_cap_fen", "invoice_cap_fen"):
        text = json.dumps(body).replace(f'"{field}": {body[field]}', f'"{field}": {body[field]}.5')
        refused(post_raw(client, "/api/v1/voucher-programs", text, auth(session, officer)), field)
    assert session.scalar(sa.select(sa.func.count()).select_from(Program)) == 0


@pytest.mark.parametrize("amount", ["1999.99", "1e3", "199999.0", "1_999", "true"])
def test_a_fractional_plan_price_filter_is_refused_by_the_solutions_list(
    client: FlaskClient, session: Session, amount: str
) -> None:
    publish_solution(session)
    session.commit()
    response = client.get("/api/v1/solutions", query_string={"max_monthly_fen": amount})
    refused(response, "max_monthly_fen")
    listed = client.get("/api/v1/solutions", query_string={"max_monthly_fen": "199999"})
    assert listed.status_code == 200


@pytest.mark.parametrize(
    ("language", "words"), [("zh-CN", "整数"), ("en", "whole fen"), (None, "整数")]
)
def test_the_refusal_is_in_the_callers_language(
    client: FlaskClient, session: Session, language: str | None, words: str
) -> None:
    plan = offered_plan(session, USAGE)
    headers = auth(session, buyer_actor(session))
    if language:
        headers["Accept-Language"] = language
    response = post_raw(
        client, "/api/v1/contracts", f'{{"plan_id": {plan.id}, "spend_cap_fen": 1999.99}}', headers
    )
    assert words in refused(response, "spend_cap_fen")
