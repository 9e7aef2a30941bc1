"""Pay for results through the pages: both sides agree the baseline, the vendor reports
with an evidence file, the buyer sees the report beside the baseline and the charge and
disputes it, the operator decides and later corrects an invoiced result."""

from __future__ import annotations

import io
import re
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from billing.models import ContractStatus, Invoice, InvoiceKind, Notification
from billing.outcomes import invoicing, verification
from billing.outcomes.models import OutcomeReport, ReportStatus
from tests.billing.factories import COMMISSION_BP, buyer_actor, offered_plan, start_contract
from tests.billing.test_outcomes import agreed, png_bytes, reported
from tests.catalog.factories import OUTCOME, operator_actor, vendor_actor
from tests.factories import csrf_token, login


def text(response) -> str:
    return response.get_data(as_text=True)


def switch_to(client: FlaskClient, actor) -> None:
    client.post("/logout")
    login(client, actor.user)


def test_both_sides_negotiate_the_baseline_on_the_contract_page(
    client: FlaskClient, session: Session
) -> None:
    vendor = vendor_actor(session)
    buyer = buyer_actor(session)
    plan = offered_plan(session, OUTCOME, vendor)
    contract = start_contract(
        session, plan=plan, buyer=buyer, baseline=Decimal(42_000), baseline_note="2025 年电费单"
    )
    page = f"/billing/contracts/{contract.id}"

    login(client, vendor.user)
    html = text(client.get(page))
    assert "42,000" in html and "data-accept-baseline" in html
    token = csrf_token(client, page)
    bad = client.post(f"{page}/baseline", data={"csrf_token": token, "value": "很多"})
    assert bad.status_code == 422 and "1250.5" in text(bad)  # says what a number looks like
    countered = client.post(
        f"{page}/baseline", data={"csrf_token": token, "value": "41,000", "note": "12 个月平均"}
    )
    assert countered.status_code == 302
    assert session.scalar(
        sa.select(Notification).where(
            Notification.organization_id == buyer.organization.id,
            Notification.kind == "baseline_proposed",
        )
    )
    assert "data-accept-baseline" not in text(client.get(page))  # not one's own proposal

    switch_to(client, buyer)
    html = text(client.get(page))
    assert "41,000" in html and "data-accept-baseline" in html
    client.post(f"{page}/baseline/accept", data={"csrf_token": csrf_token(client, page)})
    session.expire_all()
    assert contract.status is ContractStatus.ACTIVE and contract.baseline == Decimal(41_000)
    html = text(client.get(page))
    assert "data-baseline-agreed" in html and "Propose" not in html


def test_vendor_reports_with_a_file_buyer_disputes_operator_adjusts(
    app: Flask, client: FlaskClient, session: Session, tmp_path: Path
) -> None:
    app.config["UPLOAD_FOLDER"] = str(tmp_path)
    contract, buyer, vendor = agreed(session)  # baseline 42,000 kWh since 2026-01-15
    page = f"/billing/contracts/{contract.id}"
    login(client, vendor.user)
    html = text(client.get(page))
    period = re.search(r'<option value="([^"]+)"', html).group(1)
    token = csrf_token(client, page)

    refused = client.post(
        f"{page}/outcome-reports",
        data={
            "csrf_token": token,
            "period": period,
            "measured": "40000",
            "evidence": (io.BytesIO(b"MZ\x90\x00 an executable"), "meter.pdf"),
        },
        content_type="multipart/form-data",
    )
    assert refused.status_code == 422
    assert re.search(r'data-field="evidence">[^<]*XLSX', text(refused))
    assert session.scalar(sa.select(sa.func.count()).select_from(OutcomeReport)) == 0
    assert not (tmp_path / "evidence").exists() or not any((tmp_path / "evidence").iterdir())

    sent = client.post(
        f"{page}/outcome-reports",
        data={
            "csrf_token": token,
            "period": period,
            "measured": "40000",
            "note": "电表读数见附件",
            "evidence": (io.BytesIO(png_bytes()), "电表.png"),
        },
        content_type="multipart/form-data",
    )
    assert sent.status_code == 302
    report = session.scalars(sa.select(OutcomeReport)).one()
    assert report.evidence_filename == "电表.png"

    switch_to(client, buyer)
    html = text(client.get(page))
    row = html[html.index(f'data-report="{report.id}"') :]
    # beside the baseline, the measured value and what confirming it would cost:
    # 2,000 kWh saved x ¥0.30 + ¥500 base fee
    assert "42,000" in row and "40,000" in row and "¥1,100.00" in row
    assert "data-confirm-result" in html and "<svg" in html
    token = csrf_token(client, page)
    empty = client.post(
        f"/billing/outcome-reports/{report.id}/dispute", data={"csrf_token": token, "reason": ""}
    )
    assert empty.status_code == 302 and report.status is ReportStatus.SUBMITTED
    client.post(
        f"/billing/outcome-reports/{report.id}/dispute",
        data={"csrf_token": token, "reason": "包含了停产检修周"},
    )
    session.expire_all()
    assert report.status is ReportStatus.DISPUTED

    stranger = buyer_actor(session)
    switch_to(client, stranger)
    assert client.get(page).status_code == 404
    assert (
        client.post(
            f"/billing/outcome-reports/{report.id}/confirm",
            data={"csrf_token": csrf_token(client, "/billing/contracts")},
        ).status_code
        == 404
    )

    operator = operator_actor(session)
    switch_to(client, operator)
    queue = text(client.get("/billing/console/outcomes"))
    assert "包含了停产检修周" in queue and f'data-report="{report.id}"' in queue
    token = csrf_token(client, "/billing/console/outcomes")
    client.post(
        f"/billing/console/outcome-reports/{report.id}/resolve",
        data={"csrf_token": token, "decision": "adjust", "note": ""},
    )
    session.expire_all()
    assert report.status is ReportStatus.DISPUTED  # a decision needs a note and a value
    client.post(
        f"/billing/console/outcome-reports/{report.id}/resolve",
        data={
            "csrf_token": token,
            "decision": "adjust",
            "adjusted": "41000",
            "note": "扣除检修周后按 41,000 计",
        },
    )
    session.expire_all()
    assert report.status is ReportStatus.CONFIRMED and report.billable_measured == 41_000

    for party in (buyer, vendor):
        switch_to(client, party)
        html = text(client.get(page))
        assert "扣除检修周后按 41,000 计" in html and "data-resolution" in html


def test_operator_corrects_an_invoiced_result_with_a_credit_note(
    client: FlaskClient, session: Session
) -> None:
    contract, buyer, vendor = agreed(session)
    result = reported(session, contract, vendor, 40_000)
    verification.confirm(session, result, actor=buyer, now=result.submitted_at)
    (invoice,) = invoicing.invoice_confirmed(
        session, now=result.submitted_at, commission_bp=COMMISSION_BP
    )
    operator = operator_actor(session)
    login(client, operator.user)
    queue = "/billing/console/outcomes?view=invoiced"
    assert invoice.number in text(client.get(queue))
    client.post(
        f"/billing/console/outcome-reports/{result.id}/correct",
        data={"csrf_token": csrf_token(client, queue), "corrected": "41000", "note": "读数录错"},
    )
    note = session.scalar(sa.select(Invoice).where(Invoice.kind == InvoiceKind.CREDIT_NOTE))
    assert note is not None and note.total_fen == -30_000

    switch_to(client, buyer)
    html = text(client.get(f"/billing/contracts/{contract.id}"))
    assert note.number in html and "data-correction" in html
    document = text(client.get(f"/billing/invoices/{note.id}"))
    assert "读数录错" in document or "-¥300.00" in document or "¥-300.00" in document


def test_vendor_uploads_evidence_through_the_api(
    app: Flask, client: FlaskClient, session: Session, tmp_path: Path
) -> None:
    from tests.factories import create_token

    app.config["UPLOAD_FOLDER"] = str(tmp_path)
    contract, _buyer, vendor = agreed(session)
    result = reported(session, contract, vendor, 40_000)
    path = f"/api/v1/outcome-reports/{result.id}/evidence"
    auth = {"Authorization": f"Bearer {create_token(session, vendor.user, vendor.organization)}"}

    wrong = client.post(path, headers=auth, data={"file": (io.BytesIO(b"MZ\x90\x00"), "x.pdf")})
    assert wrong.status_code == 422
    assert "XLSX" in wrong.get_json()["error"]["message"]  # which types are accepted
    assert not (tmp_path / "evidence").exists() or not any((tmp_path / "evidence").iterdir())
    missing = client.post(path, headers=auth, data={})
    assert missing.status_code == 422 and "file" in missing.get_json()["error"]["fields"]

    sent = client.post(path, headers=auth, data={"file": (io.BytesIO(png_bytes()), "电表.png")})
    assert sent.status_code == 200
    assert sent.get_json()["evidence_file"] == f"/billing/outcome-reports/{result.id}/evidence"
    again = client.post(path, headers=auth, data={"file": (io.BytesIO(png_bytes()), "b.png")})
    assert again.status_code == 409

    other = vendor_actor(session)
    other_auth = {
        "Authorization": f"Bearer {create_token(session, other.user, other.organization)}"
    }
    assert client.post(path, headers=other_auth, data={}).status_code in (404, 422)
    assert (
        client.post(
            path, headers=other_auth, data={"file": (io.BytesIO(png_bytes()), "c.png")}
        ).status_code
        == 404
    )


def test_the_invoices_api_shows_baseline_measured_and_improvement(
    client: FlaskClient, session: Session
) -> None:
    from tests.factories import create_token

    contract, buyer, vendor = agreed(session)
    result = reported(session, contract, vendor, 40_000)
    verification.confirm(session, result, actor=buyer, now=result.submitted_at)
    (invoice,) = invoicing.invoice_confirmed(
        session, now=result.submitted_at, commission_bp=COMMISSION_BP
    )
    auth = {"Authorization": f"Bearer {create_token(session, buyer.user, buyer.organization)}"}
    body = client.get(f"/api/v1/invoices/{invoice.id}", headers=auth).get_json()
    (line,) = [line for line in body["lines"] if line["kind"] == "outcome"]
    assert line["details"]["baseline"] == "42000"
    assert line["details"]["measured"] == "40000"
    assert line["details"]["improvement"] == "2000"
    assert line["amount_fen"] == 60_000 and line["quantity"] == "2000"
