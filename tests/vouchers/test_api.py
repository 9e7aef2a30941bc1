"""Voucher endpoints of the JSON API, through HTTP with bearer tokens: programs,
applications, vouchers, redemptions (JSON and files), stats, anomalies and settlements,
and the error shape when someone may not."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import openpyxl
import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from marketplace.db import utcnow
from marketplace.jsonapi import Actor
from tests.factories import create_token
from tests.vouchers.factories import (
    contract_between,
    create_program,
    grant,
    invoice_for,
    lines_of,
    officer_actor,
    officer_of,
    sme_actor,
    vendor_actor,
)
from vouchers import anomalies, redemptions
from vouchers.models import Program, Voucher


def auth(session: Session, actor: Actor) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_token(session, actor.user, actor.organization)}"}


def error_of(response: Any) -> dict[str, Any]:
    body = response.get_json()
    assert set(body) == {"error"} and {"code", "message", "fields"} <= set(body["error"])
    return body["error"]


def open_program(session: Session, officer: Actor | None = None, **overrides: Any) -> Program:
    now = utcnow()
    return create_program(
        session,
        officer,
        **{"opens_at": now - timedelta(days=1), "closes_at": now + timedelta(days=60), **overrides},
    )


def program_body(**overrides: Any) -> dict[str, Any]:
    now = utcnow()
    body: dict[str, Any] = {
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
    body.update(overrides)
    return body


def paid_program(session: Session) -> tuple[Program, Actor, Actor, Actor, Voucher]:
    program = open_program(session, region_prefix="31")
    officer = officer_of(session, program)
    buyer, vendor = sme_actor(session), vendor_actor(session)
    voucher = grant(session, program, buyer, 100_000, officer=officer, now=utcnow())
    contract = contract_between(session, buyer, vendor)
    for amount in (20_000, 40_000):
        invoice = invoice_for(session, contract, amount)
        redemptions.redeem(
            session,
            invoice_id=invoice.id,
            buyer_id=invoice.buyer_id,
            lines=lines_of(invoice),
            codes=[voucher.code],
            now=utcnow(),
            contract_id=invoice.contract_id,
        )
    return program, officer, buyer, vendor, voucher


def test_officer_creates_a_program_and_everyone_lists_open_ones(
    client: FlaskClient, session: Session
) -> None:
    officer = officer_actor(session)
    headers = auth(session, officer)
    draft = client.post("/api/v1/voucher-programs", json=program_body(), headers=headers)
    assert draft.status_code == 201, draft.get_json()
    assert draft.get_json()["status"] == "draft"
    published = client.post(
        "/api/v1/voucher-programs", json=program_body(name="已发布", publish=True), headers=headers
    )
    body = published.get_json()
    assert published.status_code == 201 and body["status"] == "published"
    assert body["available_fen"] == 100_000_000 and body["ratio_bp"] == 3000

    listed = client.get("/api/v1/voucher-programs").get_json()  # no token needed
    assert [p["name"] for p in listed] == ["已发布"]
    assert client.get("/api/v1/voucher-programs?kind=cloud").get_json() == []


def test_program_terms_are_validated_in_the_error_shape(
    client: FlaskClient, session: Session
) -> None:
    headers = auth(session, officer_actor(session))
    response = client.post(
        "/api/v1/voucher-programs", json=program_body(ratio_bp=20_000), headers=headers
    )
    assert response.status_code == 422 and "ratio_bp" in error_of(response)["fields"]
    response = client.post(
        "/api/v1/voucher-programs", json=program_body(region_prefix="999999"), headers=headers
    )
    assert response.status_code == 422 and "region_prefix" in error_of(response)["fields"]
    response = client.post(
        "/api/v1/voucher-programs", json=program_body(), headers=auth(session, sme_actor(session))
    )
    assert response.status_code == 403 and error_of(response)["code"] == "forbidden"
    assert client.post("/api/v1/voucher-programs", json=program_body()).status_code == 401
    assert session.scalar(sa.select(sa.func.count()).select_from(Program)) == 0


def test_enterprise_applies_and_the_officer_approves_then_the_wallet_lists_it(
    client: FlaskClient, session: Session
) -> None:
    program = open_program(session)
    officer = officer_of(session, program)
    buyer = sme_actor(session)
    response = client.post(
        f"/api/v1/voucher-programs/{program.id}/applications",
        json={"requested_fen": 200_000},
        headers=auth(session, buyer),
    )
    assert response.status_code == 201, response.get_json()
    application = response.get_json()
    assert application["status"] == "submitted" and application["eligibility"]["ok"] is True
    assert application["voucher"] is None

    approved = client.post(
        f"/api/v1/voucher-applications/{application['id']}/approve",
        json={"approved_fen": 150_000},
        headers=auth(session, officer),
    )
    assert approved.status_code == 200, approved.get_json()
    body = approved.get_json()
    assert body["status"] == "approved" and body["approved_fen"] == 150_000
    code = body["voucher"]["code"]
    assert body["voucher"]["balance_fen"] == 150_000

    vouchers = client.get("/api/v1/vouchers", headers=auth(session, buyer)).get_json()
    assert [(v["code"], v["balance_fen"], v["usable"]) for v in vouchers] == [(code, 150_000, True)]
    assert (
        client.get("/api/v1/vouchers", headers=auth(session, sme_actor(session))).get_json() == []
    )
    again = client.post(
        f"/api/v1/voucher-applications/{application['id']}/approve",
        json={},
        headers=auth(session, officer),
    )
    assert again.status_code == 409 and error_of(again)["code"] == "conflict"


def test_an_ineligible_enterprise_gets_every_reason(client: FlaskClient, session: Session) -> None:
    program = open_program(session, region_prefix="310115", industries=["C13"])
    elsewhere = sme_actor(session, region_code="310104", industry_code="C33")
    response = client.post(
        f"/api/v1/voucher-programs/{program.id}/applications",
        json={"requested_fen": 10_000},
        headers=auth(session, elsewhere),
    )
    error = error_of(response)
    assert response.status_code == 422 and error["code"] == "not_eligible"
    assert {"region", "industry"} <= set(error["fields"])
    assert "310115" in error["fields"]["region"][0]


def test_officer_rejects_and_other_governments_do_not_find_the_application(
    client: FlaskClient, session: Session
) -> None:
    program = open_program(session)
    officer = officer_of(session, program)
    application = client.post(
        f"/api/v1/voucher-programs/{program.id}/applications",
        json={"requested_fen": 10_000},
        headers=auth(session, sme_actor(session)),
    ).get_json()
    path = f"/api/v1/voucher-applications/{application['id']}"
    stranger = auth(session, officer_actor(session))
    response = client.post(f"{path}/reject", json={"reason": "x"}, headers=stranger)
    assert response.status_code == 404 and error_of(response)["code"] == "not_found"
    missing = client.post(f"{path}/reject", json={}, headers=auth(session, officer))
    assert missing.status_code == 422 and "reason" in error_of(missing)["fields"]
    rejected = client.post(
        f"{path}/reject", json={"reason": "材料不全"}, headers=auth(session, officer)
    ).get_json()
    assert rejected["status"] == "rejected" and rejected["decision_reason"] == "材料不全"


def test_redemptions_as_json_csv_and_xlsx_for_the_owning_officer_only(
    client: FlaskClient, session: Session
) -> None:
    program, officer, buyer, vendor, voucher = paid_program(session)
    headers = auth(session, officer)
    path = f"/api/v1/voucher-programs/{program.id}/redemptions"
    rows = client.get(path, headers=headers).get_json()
    assert sorted(r["amount_fen"] for r in rows) == [10_000, 20_000]
    assert {r["voucher_code"] for r in rows} == {voucher.code}

    as_csv = client.get(f"{path}?format=csv", headers=headers)
    assert as_csv.status_code == 200 and as_csv.headers["Content-Type"].startswith("text/csv")
    assert "filename*=UTF-8''" in as_csv.headers["Content-Disposition"]
    table = list(csv.reader(io.StringIO(as_csv.data.decode("utf-8-sig"))))
    assert table[0][:3] == ["核销编号", "核销时间", "券码"] and len(table) == 3
    assert buyer.organization.name in table[1] and vendor.organization.name in table[1]

    as_xlsx = client.get(f"{path}?format=xlsx", headers=headers)
    sheet = openpyxl.load_workbook(io.BytesIO(as_xlsx.data)).active
    assert sheet["A1"].value == "核销编号"

    assert client.get(f"{path}?format=pdf", headers=headers).status_code == 422
    stranger = client.get(path, headers=auth(session, officer_actor(session)))
    assert stranger.status_code == 404 and error_of(stranger)["code"] == "not_found"
    as_buyer = client.get(path, headers=auth(session, buyer))
    assert as_buyer.status_code == 403 and error_of(as_buyer)["code"] == "forbidden"


def test_stats_and_anomalies(client: FlaskClient, session: Session) -> None:
    program, officer, _buyer, vendor, _voucher = paid_program(session)
    headers = auth(session, officer)
    figures = client.get(f"/api/v1/voucher-programs/{program.id}/stats", headers=headers)
    assert figures.status_code == 200, figures.get_json()
    body = figures.get_json()
    assert body["redeemed_fen"] == 30_000 and body["reserved_fen"] == 70_000
    assert body["enterprises_served"] == 1 and body["leverage"] == "2.00"
    assert body["top_vendors"][0]["vendor_id"] == vendor.organization.id
    assert body["by_month"][-1]["redeemed_total_fen"] == 30_000

    anomalies.scan(session, program, now=utcnow())
    cases = client.get(
        f"/api/v1/voucher-programs/{program.id}/anomalies?status=open", headers=headers
    ).get_json()
    assert "vendor_concentration" in {c["rule"] for c in cases}
    stranger = auth(session, officer_actor(session))
    assert (
        client.get(f"/api/v1/voucher-programs/{program.id}/stats", headers=stranger).status_code
        == 404
    )


def test_settlement_flow(client: FlaskClient, session: Session) -> None:
    program, officer, _buyer, vendor, _voucher = paid_program(session)
    headers = auth(session, officer)
    now = utcnow()
    body = {
        "vendor_id": vendor.organization.id,
        "period_start": (now - timedelta(days=7)).isoformat(),
        "period_end": (now + timedelta(minutes=1)).isoformat(),
    }
    created = client.post(
        f"/api/v1/voucher-programs/{program.id}/settlements", json=body, headers=headers
    )
    assert created.status_code == 201, created.get_json()
    batch = created.get_json()
    assert batch["status"] == "draft" and batch["total_fen"] == 30_000
    again = client.post(
        f"/api/v1/voucher-programs/{program.id}/settlements", json=body, headers=headers
    )
    assert again.status_code == 409 and error_of(again)["code"] == "conflict"

    early = client.post(
        f"/api/v1/settlements/{batch['id']}/mark-paid",
        json={"bank_reference": "BOC1"},
        headers=headers,
    )
    assert early.status_code == 409
    stranger = client.post(
        f"/api/v1/settlements/{batch['id']}/approve", headers=auth(session, officer_actor(session))
    )
    assert stranger.status_code == 404
    approved = client.post(f"/api/v1/settlements/{batch['id']}/approve", headers=headers)
    assert approved.get_json()["status"] == "approved"
    paid = client.post(
        f"/api/v1/settlements/{batch['id']}/mark-paid",
        json={"bank_reference": "BOC20261121"},
        headers=headers,
    ).get_json()
    assert paid["status"] == "paid" and paid["bank_reference"] == "BOC20261121"
    assert paid["paid_at"] is not None


def test_the_openapi_document_names_the_voucher_endpoints(client: FlaskClient) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    for path in (
        "/api/v1/voucher-programs",
        "/api/v1/voucher-programs/{program_id}/applications",
        "/api/v1/voucher-applications/{application_id}/approve",
        "/api/v1/voucher-applications/{application_id}/reject",
        "/api/v1/vouchers",
        "/api/v1/voucher-programs/{program_id}/redemptions",
        "/api/v1/voucher-programs/{program_id}/stats",
        "/api/v1/voucher-programs/{program_id}/anomalies",
        "/api/v1/voucher-programs/{program_id}/settlements",
        "/api/v1/settlements/{settlement_id}/approve",
        "/api/v1/settlements/{settlement_id}/mark-paid",
    ):
        assert path in spec["paths"], path
    redemptions_doc = spec["paths"]["/api/v1/voucher-programs/{program_id}/redemptions"]["get"]
    assert "text/csv" in redemptions_doc["responses"]["200"]["content"]
