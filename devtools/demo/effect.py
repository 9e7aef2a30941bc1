"""Demo: results a voucher program paid for, so the officer's 使用效能 tab shows outcomes
beside money. 外高桥 (a Pudong SME holding a compute voucher) buys 精测's pay-for-results
injection-part inspection; the agreed baseline is 280 hours of rework a month, two months
are confirmed (236 h, then 198 h), and the compute voucher pays its share of the results
invoice. Runs after the voucher demo; does nothing when its pieces are missing or it ran."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from billing import contracts, voucher_payments
from billing.models import Contract, InvoiceStatus
from billing.outcomes import baselines, invoicing, reporting, verification
from billing.periods import period_bounds
from catalog.models import BillingModel, Solution, VoucherKind
from marketplace.db import utcnow
from marketplace.jsonapi import Actor
from marketplace.models import Organization, Role, User
from vouchers.models import Program, Voucher, VoucherStatus

SOLUTION_SLUG = "jingshi-injection-part-inspection"
BASELINE = Decimal(280)
RESULTS = (Decimal(236), Decimal(198))


def _owner(session: Session, org: Organization) -> Actor | None:
    for membership in org.memberships:
        if membership.role is Role.OWNER:
            user = session.get(User, membership.user_id)
            if user is not None:
                return Actor(user, org, Role.OWNER)
    return None


def load(session: Session, **_: Any) -> dict[str, Any]:
    solution = session.scalar(sa.select(Solution).where(Solution.slug == SOLUTION_SLUG))
    if solution is None or solution.published is None:
        return {}
    plan = next(
        (p for p in solution.published.plans if p.billing_model is BillingModel.OUTCOME), None
    )
    program = session.scalar(
        sa.select(Program).where(Program.kind == VoucherKind.COMPUTE).order_by(Program.id)
    )
    if plan is None or program is None:
        return {}
    voucher = session.scalar(
        sa.select(Voucher)
        .where(
            Voucher.program_id == program.id,
            Voucher.status == VoucherStatus.ACTIVE,
            Voucher.balance_fen > 0,
        )
        .order_by(Voucher.id)
    )
    if voucher is None:
        return {}
    buyer_org = session.get(Organization, voucher.holder_org_id)
    buyer = _owner(session, buyer_org) if buyer_org else None
    vendor = _owner(session, solution.vendor)
    if buyer is None or vendor is None or buyer_org is None:
        return {}
    already = session.scalar(
        sa.select(Contract.id).where(Contract.plan_id == plan.id, Contract.buyer_id == buyer_org.id)
    )
    if already is not None:
        return {}
    commission = current_app.config["PLATFORM_COMMISSION_BP"]
    now = utcnow()
    anchor = now - timedelta(days=2 * 31 + 5)
    contract = contracts.start(
        session,
        actor=buyer,
        plan=plan,
        agreement_version=contracts.agreement_in_force(plan),
        now=anchor - timedelta(days=1),
        commission_bp=commission,
        baseline=BASELINE,
        baseline_note="2026 年上半年返工记录平均，外观不良返工工时",
    )
    baselines.accept_baseline(session, contract, actor=vendor, now=anchor)
    reports = []
    for index, measured in enumerate(RESULTS):
        start, end = period_bounds(anchor, index)
        submitted = min(end + timedelta(days=1), now - timedelta(days=3))
        report = reporting.report(
            session,
            contract,
            actor=vendor,
            period_start=start,
            period_end=end,
            measured=measured,
            now=submitted,
            note="返工工时取自 MES 工单汇总",
        )
        verification.confirm(session, report, actor=buyer, now=submitted + timedelta(hours=4))
        reports.append(report)
    billed = invoicing.invoice_confirmed(
        session,
        now=now - timedelta(days=2),
        commission_bp=commission,
        report_ids=[r.id for r in reports],
    )
    for invoice in billed:
        if invoice.status is InvoiceStatus.OPEN:
            voucher_payments.apply(
                session, invoice, codes=[voucher.code], actor=buyer, now=now - timedelta(days=1)
            )
            break
    session.flush()
    return {}
