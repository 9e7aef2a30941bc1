"""Programs, applications, vouchers, redemptions, anomalies and settlements as the JSON
API shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from marketplace import dates
from marketplace.db import db
from vouchers import eligibility, evidence, programs
from vouchers.models import (
    Anomaly,
    Application,
    Program,
    Redemption,
    Settlement,
    Voucher,
)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


# --- schemas -------------------------------------------------------------------------------


def program_dict(program: Program) -> dict[str, Any]:
    return {
        "id": program.id,
        "owner_org_id": program.owner_org_id,
        "owner_name": program.owner.name,
        "name": program.name,
        "description": program.description,
        "kind": program.kind.value,
        "status": program.status.value,
        "region_prefix": program.region_prefix,
        "budget_fen": program.budget_fen,
        "available_fen": programs.figures(db.session, program).available_fen,
        "ratio_bp": program.ratio_bp,
        "annual_cap_fen": program.annual_cap_fen,
        "invoice_cap_fen": program.invoice_cap_fen,
        "size_classes": list(program.size_classes),
        "industries": list(program.industries),
        "vendor_whitelist": list(program.vendor_whitelist),
        "opens_at": program.opens_at.isoformat(),
        "closes_at": program.closes_at.isoformat(),
        "opens_on": dates.first_day(program.opens_at).isoformat(),
        "closes_on": dates.last_day(program.closes_at).isoformat(),
        "validity_days": program.validity_days,
        "published_at": _iso(program.published_at),
        "region_name": programs.region_name(program.region_prefix),
        "notice_days": program.notice_days,
        "required_documents": [
            {"name": spec.name, "accepts": spec.accepts.value}
            for spec in evidence.specs_of(db.session, program.id)
        ],
    }


def voucher_dict(voucher: Voucher, now: datetime) -> dict[str, Any]:
    return {
        "id": voucher.id,
        "code": voucher.code,
        "program_id": voucher.program_id,
        "program_name": voucher.program.name,
        "holder_org_id": voucher.holder_org_id,
        "kind": voucher.kind.value,
        "status": voucher.status.value,
        "face_fen": voucher.face_fen,
        "balance_fen": voucher.balance_fen,
        "redeemed_fen": voucher.redeemed_fen,
        "released_fen": voucher.released_fen,
        "issued_at": voucher.issued_at.isoformat(),
        "expires_at": voucher.expires_at.isoformat(),
        "usable": voucher.is_usable(now),
    }


def eligibility_dict(check: eligibility.Eligibility) -> dict[str, Any]:
    return {
        "ok": check.ok,
        "annual_cap_remaining_fen": check.annual_cap_remaining_fen,
        "reasons": [{"code": f.code, "message": str(f.message)} for f in check.failures],
    }


def application_dict(application: Application, now: datetime) -> dict[str, Any]:
    check = eligibility.check(
        db.session, application.program, application.applicant, now, window=False
    )
    voucher = db.session.scalar(sa.select(Voucher).where(Voucher.application_id == application.id))
    return {
        "id": application.id,
        "program_id": application.program_id,
        "applicant_org_id": application.applicant_org_id,
        "status": application.status.value,
        "requested_fen": application.requested_fen,
        "approved_fen": application.approved_fen,
        "decision_reason": application.decision_reason,
        "created_at": application.created_at.isoformat(),
        "decided_at": _iso(application.decided_at),
        "eligibility": eligibility_dict(check),
        "voucher": voucher_dict(voucher, now) if voucher else None,
    }


def redemption_dict(redemption: Redemption) -> dict[str, Any]:
    return {
        "id": redemption.id,
        "invoice_id": redemption.invoice_id,
        "contract_id": redemption.contract_id,
        "voucher_code": redemption.voucher.code,
        "buyer_id": redemption.buyer_id,
        "vendor_id": redemption.vendor_id,
        "amount_fen": redemption.amount_fen,
        "eligible_fen": redemption.eligible_fen,
        "status": redemption.status.value,
        "created_at": redemption.created_at.isoformat(),
        "reversed_at": _iso(redemption.reversed_at),
        "reversal_reason": redemption.reversal_reason,
        "settlement_id": redemption.settlement_id,
    }


def anomaly_dict(anomaly: Anomaly) -> dict[str, Any]:
    return {
        "id": anomaly.id,
        "program_id": anomaly.program_id,
        "rule": anomaly.rule.value,
        "rule_label": anomaly.rule.label,
        "subject_key": anomaly.subject_key,
        "redemption_id": anomaly.redemption_id,
        "buyer_id": anomaly.buyer_id,
        "vendor_id": anomaly.vendor_id,
        "amount_fen": anomaly.amount_fen,
        "details": anomaly.details,
        "status": anomaly.status.value,
        "detected_at": anomaly.detected_at.isoformat(),
        "review_note": anomaly.review_note,
        "reviewed_at": _iso(anomaly.reviewed_at),
    }


def settlement_dict(settlement: Settlement) -> dict[str, Any]:
    return {
        "id": settlement.id,
        "program_id": settlement.program_id,
        "vendor_id": settlement.vendor_id,
        "period_start": settlement.period_start.isoformat(),
        "period_end": settlement.period_end.isoformat(),
        "first_day": dates.first_day(settlement.period_start).isoformat(),
        "last_day": dates.last_day(settlement.period_end).isoformat(),
        "status": settlement.status.value,
        "redeemed_fen": settlement.redeemed_fen,
        "clawback_fen": settlement.clawback_fen,
        "total_fen": settlement.total_fen,
        "bank_reference": settlement.bank_reference,
        "created_at": settlement.created_at.isoformat(),
        "approved_at": _iso(settlement.approved_at),
        "paid_at": _iso(settlement.paid_at),
    }


# --- loading: another organization's object is not found -----------------------------------
