"""Every operator and officer console action has an API (issue 14): each endpoint does what
its console button does, asserted on the effect (the ledger, the invoice, the case)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from billing import ledger
from billing.ledger_models import LedgerEntry, LedgerTransaction
from billing.models import InvoiceKind
from billing.outcomes.models import OutcomeReport
from billing.payments import bank_transfers
from catalog.models import Solution
from marketplace.db import utcnow
from marketplace.jsonapi import Actor
from marketplace.models import Verification
from tests.billing.factories import T0
from tests.billing.test_outcomes import invoiced
from tests.catalog.factories import create_solution, operator_actor, vendor_actor
from tests.factories import create_token
from tests.vouchers.factories import contract_between, invoice_for, sme_actor
from tests.vouchers.test_api import paid_program
from vouchers.models import Anomaly, AnomalyStatus


def auth(session: Session, actor: Actor) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_token(session, actor.user, actor.organization)}"}


def _open_invoice(session: Session, amount_fen: int = 50_000) -> Any:
    return invoice_for(
        session, contract_between(session, sme_actor(session), vendor_actor(session)), amount_fen
    )


def _entries(session: Session, kind: str, invoice_id: int) -> dict[str, int]:
    rows = session.execute(
        sa.select(LedgerEntry.account, LedgerEntry.amount_fen)
        .join(LedgerTransaction)
        .where(LedgerTransaction.kind == kind, LedgerTransaction.invoice_id == invoice_id)
    )
    return {account: amount for account, amount in rows}


def test_operator_verifies_and_rejects_a_vendor(client: FlaskClient, session: Session) -> None:
    operator = operator_actor(session)
    vendor = vendor_actor(session, verified=False)
    draft = create_solution(session, vendor)
    headers = auth(session, operator)
    session.commit()
    url = f"/api/v1/organizations/{vendor.organization.id}/verification"
    refused = client.post(url, json={"decision": "reject"}, headers=headers)
    assert refused.status_code == 422 and set(refused.get_json()["error"]["fields"]) == {"note"}
    done = client.post(url, json={"decision": "verify"}, headers=headers)
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["verification"] == "verified"
    session.refresh(vendor.organization)
    assert vendor.organization.verification is Verification.VERIFIED
    # Verified, the vendor's listing can now be approved.
    assert session.get(Solution, draft.id) is not None
    sme = client.post(
        f"/api/v1/organizations/{operator.organization.id}/verification",
        json={"decision": "verify"},
        headers=headers,
    )
    assert sme.status_code == 422  # only vendors are verified


def test_recording_a_bank_transfer_pays_the_invoice_through_bank_clearing(
    client: FlaskClient, session: Session
) -> None:
    invoice = _open_invoice(session)
    headers = auth(session, operator_actor(session))
    session.commit()
    url = f"/api/v1/invoices/{invoice.id}/bank-transfers"
    body = {"amount_fen": invoice.total_fen, "reference": "ICBC-20260301-1"}
    response = client.post(url, json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["status"] == "paid" and response.get_json()["amount_due_fen"] == 0
    assert ledger.balance(session, ledger.BANK_CLEARING) >= invoice.total_fen
    assert client.post(url, json=body, headers=headers).status_code == 409  # paid already
    fraction = client.post(url, json={"amount_fen": 1.5, "reference": "x"}, headers=headers)
    assert fraction.status_code == 422
    assert set(fraction.get_json()["error"]["fields"]) == {"amount_fen"}


def test_refund_books_the_reversal_in_the_ledger(client: FlaskClient, session: Session) -> None:
    operator = operator_actor(session)
    invoice = _open_invoice(session, 100_000)
    payment = bank_transfers.record_bank_transfer(
        session, invoice, amount_fen=100_000, reference="B-9", actor=operator, now=utcnow()
    )
    headers = auth(session, operator)
    session.commit()
    response = client.post(
        f"/api/v1/payments/{payment.id}/refunds",
        json={"amount_fen": 40_000, "reason": "服务未交付"},
        headers=headers,
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["display_status"] == "partially_refunded"
    booked = _entries(session, "payment.refunded", invoice.id)
    assert booked[ledger.BANK_CLEARING] == -40_000
    assert sum(booked.values()) == 0
    too_much = client.post(
        f"/api/v1/payments/{payment.id}/refunds",
        json={"amount_fen": 60_001, "reason": "x"},
        headers=headers,
    )
    assert too_much.status_code == 422


def test_void_cancels_the_open_invoice_and_reverses_its_booking(
    client: FlaskClient, session: Session
) -> None:
    invoice = _open_invoice(session, 30_000)
    buyer_id = invoice.buyer_id
    headers = auth(session, operator_actor(session))
    session.commit()
    assert ledger.balance(session, ledger.BUYER_RECEIVABLE, buyer_id) == 30_000
    response = client.post(
        f"/api/v1/invoices/{invoice.id}/void", json={"note": "重复开具"}, headers=headers
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "void"
    assert ledger.balance(session, ledger.BUYER_RECEIVABLE, buyer_id) == 0
    again = client.post(
        f"/api/v1/invoices/{invoice.id}/void", json={"note": "再次"}, headers=headers
    )
    assert again.status_code == 409


def test_outcome_correction_issues_a_credit_note_and_reports_are_listed(
    client: FlaskClient, session: Session
) -> None:
    contract, _buyer, _vendor, result, invoice = invoiced(session, 40_000)
    headers = auth(session, operator_actor(session))
    session.commit()
    listed = client.get(
        "/api/v1/outcome-reports", query_string={"contract_id": contract.id}, headers=headers
    )
    assert listed.status_code == 200
    assert [(r["id"], r["invoice_id"]) for r in listed.get_json()] == [(result.id, invoice.id)]
    assert (
        client.get(
            "/api/v1/outcome-reports", query_string={"status": "disputed"}, headers=headers
        ).get_json()
        == []
    )
    response = client.post(
        f"/api/v1/outcome-reports/{result.id}/correct",
        json={"corrected": "41000", "note": "电表读数录错"},
        headers=headers,
    )
    assert response.status_code == 201, response.get_json()
    note = response.get_json()
    assert note["kind"] == InvoiceKind.CREDIT_NOTE.value and note["total_fen"] == -30_000
    twice = client.post(
        f"/api/v1/outcome-reports/{result.id}/correct",
        json={"corrected": "41000"},
        headers=headers,
    )
    assert twice.status_code in (409, 422)
    assert session.get(OutcomeReport, result.id) is not None
    assert result.period_end >= T0


def test_ledger_balances_and_trial_balance_agree_with_the_ledger(
    client: FlaskClient, session: Session
) -> None:
    invoice = _open_invoice(session, 25_000)
    headers = auth(session, operator_actor(session))
    session.commit()
    balances = client.get(
        "/api/v1/ledger/balances",
        query_string={"account": ledger.BUYER_RECEIVABLE, "organization_id": invoice.buyer_id},
        headers=headers,
    )
    assert balances.status_code == 200, balances.get_json()
    (row,) = balances.get_json()["items"]
    assert (
        row["balance_fen"]
        == 25_000
        == ledger.balance(session, ledger.BUYER_RECEIVABLE, invoice.buyer_id)
    )
    trial = client.get("/api/v1/ledger/trial-balance", headers=headers).get_json()
    assert trial["balanced"] is True and trial["debit_fen"] == trial["credit_fen"] > 0
    accounts = {r["account"]: r for r in trial["accounts"]}
    assert accounts[ledger.BUYER_RECEIVABLE]["debit_fen"] >= 25_000
    assert sum(r["balance_fen"] for r in trial["accounts"]) == 0


def test_officer_scans_reviews_anomalies_and_reads_the_program(
    client: FlaskClient, session: Session
) -> None:
    program, officer, _buyer, _vendor, _voucher = paid_program(session)
    headers = auth(session, officer)
    stranger = auth(session, paid_program(session)[1])
    session.commit()
    detail = client.get(f"/api/v1/voucher-programs/{program.id}", headers=headers)
    assert detail.status_code == 200 and detail.get_json()["name"] == program.name
    assert client.get(f"/api/v1/voucher-programs/{program.id}", headers=stranger).status_code == 404

    scan = client.post(f"/api/v1/voucher-programs/{program.id}/anomaly-scan", headers=headers)
    assert scan.status_code == 200, scan.get_json()
    found = scan.get_json()["found"]
    assert "vendor_concentration" in {c["rule"] for c in found}
    stored = session.scalars(sa.select(Anomaly).where(Anomaly.program_id == program.id)).all()
    assert {a.id for a in stored} == {c["id"] for c in found}
    again = client.post(f"/api/v1/voucher-programs/{program.id}/anomaly-scan", headers=headers)
    assert again.get_json()["found"] == []  # a case is recorded once

    case = found[0]["id"]
    url = f"/api/v1/anomalies/{case}/review"
    blank = client.post(url, json={"status": "confirmed", "note": " "}, headers=headers)
    assert blank.status_code == 422 and set(blank.get_json()["error"]["fields"]) == {"note"}
    assert (
        client.post(url, json={"status": "cleared", "note": "x"}, headers=stranger).status_code
        == 404
    )
    reviewed = client.post(url, json={"status": "confirmed", "note": "同一法人"}, headers=headers)
    assert reviewed.status_code == 200, reviewed.get_json()
    anomaly = session.get(Anomaly, case)
    session.refresh(anomaly)
    assert anomaly.status is AnomalyStatus.CONFIRMED
    assert (
        client.post(url, json={"status": "cleared", "note": "x"}, headers=headers).status_code
        == 409
    )
