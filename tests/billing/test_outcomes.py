"""Pay for results: agreed baselines, reports, the verification window, disputes, invoices."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from billing import invoices, ledger, run
from billing.models import ContractStatus, Invoice, InvoiceKind, InvoiceStatus
from billing.outcomes import baselines, corrections, invoicing, reporting, verification
from billing.outcomes.models import ReportStatus
from billing.payments import bank_transfers, refunds
from billing.periods import period_bounds, period_index
from marketplace.errors import Conflict, DomainError, NotAllowed
from tests.billing.factories import COMMISSION_BP, T0, buyer_actor, offered_plan, start_contract
from tests.catalog.factories import OUTCOME, operator_actor, vendor_actor
from tests.factories import create_token

MONTH = timedelta(days=31)


def agreed(session: Session, **terms):
    """An outcome contract whose baseline (42,000 kWh a month) both sides agreed at T0."""
    vendor = vendor_actor(session)
    buyer = buyer_actor(session)
    plan = offered_plan(session, {**OUTCOME, **terms}, vendor)
    contract = start_contract(
        session, plan=plan, buyer=buyer, baseline=Decimal(42_000), baseline_note="2025 年电费单平均"
    )
    assert contract.status is ContractStatus.PENDING and contract.baseline is None
    baselines.accept_baseline(session, contract, actor=vendor, now=T0)
    return contract, buyer, vendor


def reported(session: Session, contract, vendor, measured: int, start=T0, now=None):
    """A report for the contract's billing period that contains ``start``."""
    start, end = period_bounds(contract.anchor_at, period_index(contract.anchor_at, start))
    return reporting.report(
        session,
        contract,
        actor=vendor,
        period_start=start,
        period_end=end,
        measured=Decimal(measured),
        now=now or end + timedelta(hours=1),
    )


def test_baseline_binds_only_when_the_other_side_accepts(session: Session) -> None:
    vendor = vendor_actor(session)
    buyer = buyer_actor(session)
    plan = offered_plan(session, OUTCOME, vendor)
    contract = start_contract(session, plan=plan, buyer=buyer, baseline=Decimal(42_000))
    with pytest.raises(Conflict):  # the proposer cannot accept its own figure
        baselines.accept_baseline(session, contract, actor=buyer, now=T0)
    baselines.propose_baseline(
        session, contract, actor=vendor, value=Decimal(41_000), note="按 12 个月平均"
    )
    baselines.accept_baseline(session, contract, actor=buyer, now=T0)
    assert contract.baseline == Decimal(41_000) and contract.status is ContractStatus.ACTIVE
    with pytest.raises(Conflict):  # never changes silently afterwards
        baselines.propose_baseline(session, contract, actor=vendor, value=Decimal(50_000), note="")


def test_only_the_vendor_reports_and_only_the_buyer_confirms(session: Session) -> None:
    contract, buyer, vendor = agreed(session)
    with pytest.raises(NotAllowed):
        reported(session, contract, buyer, 40_000)
    result = reported(session, contract, vendor, 40_000)
    with pytest.raises(NotAllowed):
        verification.confirm(session, result, actor=vendor, now=T0 + MONTH + timedelta(days=1))
    stranger = buyer_actor(session)
    with pytest.raises(NotAllowed):
        verification.dispute(session, result, actor=stranger, reason="x", now=T0 + MONTH)


def test_window_confirm_inside_auto_after_and_dispute_stops_it(
    app: Flask, session: Session
) -> None:
    contract, buyer, vendor = agreed(session)
    first = reported(session, contract, vendor, 40_000)  # window: 7 days
    verification.confirm(session, first, actor=buyer, now=first.submitted_at + timedelta(days=6))
    assert first.status is ReportStatus.CONFIRMED and first.confirmed_how == "buyer"

    second = reported(session, contract, vendor, 39_000, start=T0 + MONTH)
    third = reported(session, contract, vendor, 38_000, start=T0 + 2 * MONTH)
    verification.dispute(session, third, actor=buyer, reason="电表读数有误", now=third.submitted_at)
    late = second.confirm_by + timedelta(seconds=1)
    with pytest.raises(Conflict):  # too late to dispute
        verification.dispute(session, second, actor=buyer, reason="x", now=late)
    assert verification.auto_confirm(session, now=late + timedelta(days=40)) == 1
    assert second.status is ReportStatus.CONFIRMED and second.confirmed_how == "silence"
    assert third.status is ReportStatus.DISPUTED  # a dispute stops the silence


def test_confirmed_results_are_invoiced_with_the_formula(session: Session) -> None:
    # 30 fen per kWh saved, cap ¥50,000, base fee ¥500 (tests/catalog/factories.OUTCOME)
    contract, buyer, vendor = agreed(session)
    result = reported(session, contract, vendor, 40_000)
    verification.confirm(session, result, actor=buyer, now=result.submitted_at)
    (invoice,) = invoicing.invoice_confirmed(
        session, now=result.submitted_at, commission_bp=COMMISSION_BP
    )
    outcome_line = next(line for line in invoice.lines if line.kind == "outcome")
    assert outcome_line.amount_fen == 2_000 * 30
    assert (
        outcome_line.details["baseline"] == "42000"
        and outcome_line.details["improvement"] == "2000"
    )
    assert invoice.total_fen == 60_000 + 50_000
    assert (
        invoicing.invoice_confirmed(session, now=result.submitted_at, commission_bp=COMMISSION_BP)
        == []
    )
    with pytest.raises(Conflict):  # that period is invoiced
        reported(session, contract, vendor, 30_000)


def test_no_charge_for_no_improvement_and_the_cap(session: Session) -> None:
    contract, _buyer, _vendor = agreed(session, cap_fen=100_000)
    assert invoicing.charge_fen(contract, Decimal(43_000)) == 0  # worse than the baseline
    assert invoicing.charge_fen(contract, Decimal(42_000)) == 0
    assert invoicing.charge_fen(contract, Decimal(30_000)) == 100_000  # 12,000 x 30 capped


def test_operator_resolves_a_dispute_by_adjusting(session: Session) -> None:
    contract, buyer, vendor = agreed(session)
    result = reported(session, contract, vendor, 30_000)
    verification.dispute(
        session, result, actor=buyer, reason="包含了停产周", now=result.submitted_at
    )
    operator = operator_actor(session)
    with pytest.raises(DomainError):
        verification.resolve(session, result, actor=operator, decision="adjust", note="", now=T0)
    verification.resolve(
        session,
        result,
        actor=operator,
        decision="adjust",
        note="扣除停产周后按 39,000 计",
        adjusted=Decimal(39_000),
        now=result.submitted_at,
    )
    assert result.status is ReportStatus.CONFIRMED and result.billable_measured == Decimal(39_000)
    assert invoicing.charge_fen(contract, result.billable_measured) == 3_000 * 30


def test_billing_run_auto_confirms_and_invoices(app: Flask, session: Session) -> None:
    contract, _buyer, vendor = agreed(session)
    result = reported(session, contract, vendor, 41_000)
    session.commit()
    report = run.run(
        app.extensions["marketplace.db"].sessions,
        as_of=result.confirm_by + timedelta(minutes=1),
        commission_bp=COMMISSION_BP,
    )
    assert report.outcomes_confirmed == 1
    session.expire_all()
    assert result.status is ReportStatus.CONFIRMED and result.invoice_id is not None
    assert session.get(Invoice, result.invoice_id).reason == "outcome"


def test_api_flow(client: FlaskClient, session: Session) -> None:
    vendor = vendor_actor(session)
    buyer = buyer_actor(session)
    plan = offered_plan(session, OUTCOME, vendor)
    buyer_auth = {
        "Authorization": f"Bearer {create_token(session, buyer.user, buyer.organization)}"
    }
    vendor_auth = {
        "Authorization": f"Bearer {create_token(session, vendor.user, vendor.organization)}"
    }
    contract = client.post(
        "/api/v1/contracts",
        json={
            "plan_id": plan.id,
            "baseline": "42000",
            "baseline_note": "电费单",
            "accept_agreement_version": 1,
        },
        headers=buyer_auth,
    ).get_json()
    assert contract["status"] == "pending" and contract["baseline"] is None
    assert (
        client.post(
            f"/api/v1/contracts/{contract['id']}/confirm-baseline", headers=buyer_auth
        ).status_code
        == 403
    )
    confirmed = client.post(
        f"/api/v1/contracts/{contract['id']}/confirm-baseline", headers=vendor_auth
    )
    assert confirmed.status_code == 200 and confirmed.get_json()["baseline"] == "42000"
    start = confirmed.get_json()["current_period_start"]
    too_early = client.post(
        "/api/v1/outcome-reports",
        json={
            "contract_id": contract["id"],
            "period_start": start,
            "period_end": "2099-01-01T00:00:00+00:00",
            "measured": "40000",
        },
        headers=vendor_auth,
    )
    assert too_early.status_code == 422 and "period_end" in too_early.get_json()["error"]["fields"]
    assert (
        client.post("/api/v1/outcome-reports/999999/confirm", headers=buyer_auth).status_code == 404
    )


def test_contract_page_of_a_pending_outcome_contract(client: FlaskClient, session: Session) -> None:
    from tests.factories import login

    vendor = vendor_actor(session)
    buyer = buyer_actor(session)
    plan = offered_plan(session, OUTCOME, vendor)
    contract = start_contract(session, plan=plan, buyer=buyer, baseline=Decimal(42_000))
    path = f"/billing/contracts/{contract.id}"
    login(client, buyer.user)
    page = client.get(path)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "None" not in text
    # Nothing runs and nothing is invoiced until the baseline is agreed.
    assert "买卖双方确认基线后合同生效，此前不产生任何费用。" in text
    assert "尚未确认" in text  # the baseline figure: not agreed yet
    assert "data-baseline-agreed" not in text
    # The buyer's figure waits for the vendor, in the plan's KPI unit.
    assert "data-open-proposal" in text and "由您提出" in text
    assert re.search(r"42,000 <span[^>]*>kWh</span>", text)
    assert "等待对方确认或提出新的基线。" in text
    assert "data-accept-baseline" not in text  # the proposer cannot accept its own figure
    assert "提出不同的基线" in text  # but may counter it
    # No results section and no report form before the contract starts.
    assert 'id="outcomes"' not in text and 'id="report"' not in text
    assert "上报结果" not in text

    client.post("/logout")
    login(client, vendor.user)
    text = client.get(path).get_data(as_text=True)
    assert "由买方提出" in text and "data-accept-baseline" in text
    assert "确认此基线并启动合同" in text
    assert 'id="outcomes"' not in text and 'id="report"' not in text


def png_bytes() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (20, 10), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (b"%PDF-1.7\n...", "application/pdf"),
        ("日期,用电量kWh\n2026-01,40000\n".encode(), "text/csv"),
    ],
)
def test_evidence_is_recognised_by_content(data: bytes, content_type: str) -> None:
    from billing.outcomes import evidence

    assert evidence.sniff(data)[0] == content_type
    assert evidence.sniff(png_bytes())[0] == "image/png"


def test_wrong_or_too_large_evidence_is_refused_and_nothing_stored(
    session: Session, tmp_path
) -> None:
    import io

    from billing.outcomes import evidence

    contract, _buyer, vendor = agreed(session)
    result = reported(session, contract, vendor, 40_000)
    for data in (b"MZ\x90\x00 not a document", b"<script>alert(1)</script>"):
        with pytest.raises(DomainError) as refused:
            evidence.attach(
                result, actor=vendor, data=data, filename="x.pdf", upload_folder=tmp_path
            )
        assert refused.value.field == "evidence"
    with pytest.raises(DomainError):
        evidence.read_upload(io.BytesIO(b"%PDF-" + b"0" * evidence.MAX_BYTES))
    assert not (tmp_path / "evidence").exists() or not any((tmp_path / "evidence").iterdir())
    assert result.evidence_file is None


def test_evidence_is_served_to_the_parties_only(
    app: Flask, client: FlaskClient, session: Session, tmp_path
) -> None:
    from billing.outcomes import evidence
    from tests.factories import login

    app.config["UPLOAD_FOLDER"] = str(tmp_path)
    contract, buyer, vendor = agreed(session)
    result = reported(session, contract, vendor, 40_000)
    evidence.attach(
        result, actor=vendor, data=png_bytes(), filename="电表.png", upload_folder=tmp_path
    )
    session.flush()
    path = f"/billing/outcome-reports/{result.id}/evidence"
    login(client, buyer.user)
    with client.get(path) as response:  # a streamed file: close it
        assert response.status_code == 200 and response.data == png_bytes()
        assert response.headers["Content-Type"] == "image/png"
    client.post("/logout")
    stranger = buyer_actor(session)
    login(client, stranger.user)
    assert client.get(path).status_code == 404


# --- corrections after invoicing: credit notes ----------------------------------------------


def invoiced(session: Session, measured: int, **terms):
    contract, buyer, vendor = agreed(session, **terms)
    result = reported(session, contract, vendor, measured)
    verification.confirm(session, result, actor=buyer, now=result.submitted_at)
    (invoice,) = invoicing.invoice_confirmed(
        session, now=result.submitted_at, commission_bp=COMMISSION_BP
    )
    return contract, buyer, vendor, result, invoice


def receivable(session: Session, buyer_id: int) -> int:
    return ledger.balance(session, ledger.BUYER_RECEIVABLE, buyer_id)


def test_a_credit_note_reverses_exactly_the_wrong_part_of_a_paid_invoice(
    session: Session,
) -> None:
    # Reported 40,000 kWh (2,000 saved: ¥600 + ¥500 base fee); really 41,000 (1,000 saved).
    contract, buyer, _vendor, result, invoice = invoiced(session, 40_000)
    operator = operator_actor(session)
    bank_transfers.record_bank_transfer(
        session, invoice, amount_fen=invoice.total_fen, reference="B-1", actor=operator, now=T0
    )
    commission_before = ledger.balance(session, ledger.PLATFORM_COMMISSION)
    lines_before = [(line.kind, line.amount_fen) for line in invoice.lines]

    note = corrections.correct(
        session, result, actor=operator, corrected=Decimal(41_000), note="电表读数录错", now=T0
    )

    assert note.kind is InvoiceKind.CREDIT_NOTE and note.corrects_invoice_id == invoice.id
    assert note.total_fen == -30_000  # exactly the 1,000 kWh x 30 fen over-charged
    (line,) = note.lines
    assert line.details["measured_was"] == "40000" and line.details["measured"] == "41000"
    assert line.quantity == Decimal(-1_000)
    # The paid invoice is untouched; the difference goes to the buyer's credit balance with
    # the vendor (billing/credits.py), to pay the next invoices.
    from billing import credits

    assert invoice.status is InvoiceStatus.PAID and invoice.total_fen == 110_000
    assert [(line.kind, line.amount_fen) for line in invoice.lines] == lines_before
    assert note.credit_granted_fen == 30_000
    assert invoices.amount_due(invoice) == 0
    assert receivable(session, buyer.organization.id) == 0
    assert credits.balance(session, buyer.organization.id, contract.vendor_id) == 30_000
    # The commission is what an invoice of ¥800 would have earned, to the fen.
    commission_after = ledger.balance(session, ledger.PLATFORM_COMMISSION)
    assert -(commission_after) == ledger.split_commission(80_000, COMMISSION_BP)[1]
    assert commission_after - commission_before == ledger.split_commission(30_000, COMMISSION_BP)[1]
    assert ledger.unbalanced_transactions(session) == []
    assert result.billable_measured == Decimal(41_000)
    with pytest.raises(Conflict):  # once per result
        corrections.correct(
            session, result, actor=operator, corrected=Decimal(41_500), note="again", now=T0
        )
    # The buyer's credit can be paid back; the vendor's share is not touched twice.
    vendor_payable = ledger.balance(session, ledger.VENDOR_PAYABLE, contract.vendor_id)
    refunds.refund(
        session,
        None,
        invoice.payments[0],
        amount_fen=30_000,
        reason="退还多收",
        actor=operator,
        now=T0,
    )
    assert receivable(session, buyer.organization.id) == 0
    assert credits.balance(session, buyer.organization.id, contract.vendor_id) == 0
    assert ledger.balance(session, ledger.CUSTOMER_CREDIT, buyer.organization.id) == 0
    assert ledger.balance(session, ledger.VENDOR_PAYABLE, contract.vendor_id) == vendor_payable
    assert ledger.unbalanced_transactions(session) == []


def test_a_credit_note_on_an_open_invoice_lowers_what_is_due(session: Session) -> None:
    _contract, buyer, _vendor, result, invoice = invoiced(session, 40_000, base_fee_fen=0)
    operator = operator_actor(session)
    corrections.correct(
        session, result, actor=operator, corrected=Decimal(41_000), note="读数有误", now=T0
    )
    assert invoice.status is InvoiceStatus.OPEN and invoices.amount_due(invoice) == 30_000
    assert receivable(session, buyer.organization.id) == 30_000


def test_a_result_with_no_improvement_after_all_settles_the_open_invoice(
    session: Session,
) -> None:
    _contract, buyer, _vendor, result, invoice = invoiced(session, 40_000, base_fee_fen=0)
    note = corrections.correct(
        session,
        result,
        actor=operator_actor(session),
        corrected=Decimal(43_000),  # worse than the baseline: nothing was earned
        note="节能设备未投运",
        now=T0,
    )
    assert note.total_fen == -invoice.total_fen
    assert invoice.status is InvoiceStatus.PAID and invoices.amount_due(invoice) == 0
    assert receivable(session, buyer.organization.id) == 0
    assert ledger.balance(session, ledger.PLATFORM_COMMISSION) == 0


def test_an_under_reported_result_gets_a_supplementary_invoice(session: Session) -> None:
    _contract, _buyer, _vendor, result, invoice = invoiced(session, 40_000)
    extra = corrections.correct(
        session,
        result,
        actor=operator_actor(session),
        corrected=Decimal(39_000),
        note="少报了一条产线的节电",
        now=T0,
    )
    assert extra.kind is InvoiceKind.INVOICE and extra.reason == "correction"
    assert extra.total_fen == 30_000 and extra.status is InvoiceStatus.OPEN
    assert invoice.total_fen == 110_000


def test_only_the_operator_corrects_and_only_invoiced_results(session: Session) -> None:
    contract, buyer, vendor, result, _invoice = invoiced(session, 40_000)
    for actor in (buyer, vendor):
        with pytest.raises(NotAllowed):
            corrections.correct(
                session, result, actor=actor, corrected=Decimal(1), note="x", now=T0
            )
    operator = operator_actor(session)
    with pytest.raises(DomainError):  # no note for the parties
        corrections.correct(
            session, result, actor=operator, corrected=Decimal(41_000), note=" ", now=T0
        )
    with pytest.raises(DomainError):  # the same charge: nothing to correct
        corrections.correct(
            session, result, actor=operator, corrected=Decimal(40_000), note="x", now=T0
        )
    pending = reported(session, contract, vendor, 39_000, start=T0 + MONTH)
    with pytest.raises(Conflict):
        corrections.correct(
            session, pending, actor=operator, corrected=Decimal(1), note="x", now=T0
        )
