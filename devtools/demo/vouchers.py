"""Vouchers in the demo: Pudong's (310115) cloud-voucher program and its compute-voucher
program, with applications in every state, vouchers partly spent on invoices, one
settlement paid to 云织科技, and a case for the anomaly review. It lives in billing because
spending a voucher means paying an invoice (billing builds on vouchers, not the reverse)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from billing import contracts, invoice_money, invoices, voucher_payments
from billing.models import Contract, Invoice
from billing.payments import bank_transfers
from catalog.models import BillingModel, Plan, Solution, VoucherKind
from devtools.demo.platform import DEMO_PASSWORD, make_uscc
from marketplace import services
from marketplace.db import utcnow
from marketplace.jsonapi import Actor
from marketplace.models import Organization, OrgKind, Role, User
from marketplace.sizeclass import YUAN, SizeClass
from vouchers import anomalies, applications, evidence, notice, programs, settlements
from vouchers.evidence import DocumentSpec, Upload
from vouchers.evidence_models import DocumentAccepts
from vouchers.models import Application, Program, Voucher

DAY = timedelta(days=1)

# What the Pudong programs ask every applicant for (and the demo applicants upload).
CLOUD_DOCUMENTS = [
    DocumentSpec("营业执照", DocumentAccepts.PDF_OR_IMAGE),
    DocumentSpec("上云服务采购合同", DocumentAccepts.PDF),
    DocumentSpec("承诺书（买卖双方无关联关系、无返利）", DocumentAccepts.PDF),
]
COMPUTE_DOCUMENTS = [
    DocumentSpec("营业执照", DocumentAccepts.PDF_OR_IMAGE),
    DocumentSpec("算力服务合同", DocumentAccepts.PDF),
]


def _demo_pdf(title: str) -> bytes:
    """A one-page PDF standing in for a scanned document."""
    text = title.encode("unicode_escape").decode("ascii")
    return (
        b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
        b"2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n"
        b"3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >> endobj\n"
        + f"% demo document: {text}\n".encode("ascii")
        + b"trailer << /Root 1 0 R >>\n%%EOF\n"
    )


def _documents(session: Session, program: Program) -> dict[int, Upload]:
    return {
        r.id: Upload(f"{r.name}.pdf", _demo_pdf(r.name))
        for r in evidence.required_documents(session, program.id)
    }


def demo_apply(
    session: Session,
    program: Program,
    sme: Actor,
    requested_fen: int,
    when: Any,
    vendor_id: int | None = None,
) -> Application:
    """An application with every document the program requires."""
    return applications.apply(
        session,
        program,
        actor=sme,
        requested_fen=requested_fen,
        now=when,
        documents=_documents(session, program),
        vendor_id=vendor_id,
    )


def demo_approve(
    session: Session,
    application: Application,
    officer: Actor,
    when: Any,
    amount_fen: int | None = None,
) -> Voucher:
    """Approve with every document ticked and the amount confirmed; a program with 公示
    issues the voucher when the notice ends, as the worker did then (``when`` is long
    enough ago for it to have ended)."""
    amount = amount_fen or application.requested_fen
    voucher = applications.approve(
        session,
        application,
        actor=officer,
        now=when,
        amount_fen=amount_fen,
        checked_documents=[d.id for d in evidence.documents_of(session, application.id)],
        confirm_fen=amount,
    )
    if voucher is None:
        listed = notice.notice_of(session, application.id)
        assert listed is not None
        voucher = notice.issue_after_notice(session, listed, now=listed.ends_at)
    assert isinstance(voucher, Voucher)
    return voucher


# Pudong manufacturers without a demo login: (serial, name, industry, employees, revenue yuan)
PUDONG_SMES = [
    (901, "上海浦江精工机械有限公司", "C34", 120, 60_000_000),
    (902, "上海金桥电子元件有限公司", "C39", 45, 18_000_000),
    (903, "上海张江生物试剂有限公司", "C27", 30, 9_000_000),
    (904, "上海外高桥注塑制品有限公司", "C29", 210, 150_000_000),
]


def _pudong_smes(session: Session) -> list[Actor]:
    actors = []
    for serial, name, industry, employees, revenue in PUDONG_SMES:
        uscc = make_uscc("310115", serial)
        org = session.scalar(sa.select(Organization).where(Organization.uscc == uscc))
        email = f"sme{serial}@demo.local"
        user = session.scalar(sa.select(User).where(User.email == email))
        if user is None:
            user = services.create_user(
                session, email=email, name=f"{name[2:6]} 负责人", password=DEMO_PASSWORD
            )
        if org is None:
            org = services.register_organization(
                session,
                services.OrganizationDetails(
                    kind=OrgKind.SME,
                    name=name,
                    uscc=uscc,
                    region_code="310115",
                    legal_representative=f"法人{serial}",
                    address=f"上海市浦东新区{name[2:4]}路 {serial} 号",
                    contact_phone=f"021-6{serial:07d}",
                    contact_email=email,
                    industry_code=industry,
                    employees=employees,
                    annual_revenue_fen=revenue * YUAN,
                ),
                owner=user,
            )
        actors.append(Actor(user, org, Role.OWNER))
    return actors


def _plan_accepting(
    session: Session, kind: VoucherKind, vendor_id: int | None, *, skip: int = 0
) -> Plan | None:
    """A subscription plan without a trial (so starting it issues an invoice) of a public
    solution that accepts the voucher kind, preferably of the given vendor."""
    candidates = []
    for solution in session.scalars(
        sa.select(Solution).where(Solution.is_public).order_by(Solution.id)
    ):
        revision = solution.published
        if revision is None or kind.value not in (revision.voucher_kinds or []):
            continue
        for plan in revision.plans:
            if (
                plan.billing_model is BillingModel.SUBSCRIPTION
                and plan.trial_days == 0
                and 100_000 <= (plan.price_fen or 0) <= 2_000_000
            ):
                candidates.append((solution.vendor_id != vendor_id, solution.id, plan))
                break
    candidates.sort(key=lambda c: c[:2])
    return candidates[skip][2] if len(candidates) > skip else None


def _invoice_of(session: Session, contract: Contract) -> Invoice:
    return session.scalars(
        sa.select(Invoice).where(Invoice.contract_id == contract.id).order_by(Invoice.id).limit(1)
    ).one()


def load(
    session: Session,
    *,
    orgs: dict[str, Organization],
    users: dict[str, User],
    **_: Any,
) -> dict[str, Any]:
    if session.scalar(sa.select(Program.id).limit(1)) is not None:
        return {}
    commission = current_app.config["PLATFORM_COMMISSION_BP"]
    now = utcnow()
    officer = Actor(users["officer@demo.local"], orgs["pudong"], Role.OWNER)
    operator = Actor(users["operator@demo.local"], orgs["platform"], Role.OWNER)
    buyer = Actor(users["buyer@demo.local"], orgs["sme"], Role.OWNER)
    sizes = [SizeClass.MEDIUM, SizeClass.SMALL, SizeClass.MICRO]
    cloud = programs.create_program(
        session,
        actor=officer,
        terms=programs.ProgramTerms(
            name="浦东新区 2026 年度中小企业上云券",
            kind=VoucherKind.CLOUD,
            region_prefix="310115",
            budget_fen=2_000_000 * YUAN,
            ratio_bp=5000,
            annual_cap_fen=20_000 * YUAN,
            invoice_cap_fen=5_000 * YUAN,
            size_classes=sizes,
            opens_at=now - 60 * DAY,
            closes_at=now + 40 * DAY,
            validity_days=180,
            notice_days=5,
            required_documents=CLOUD_DOCUMENTS,
            description="支持浦东新区中小制造企业订阅云化研发设计、生产管控、质量和能耗管理等 SaaS，"
            "按账单金额的 50% 抵扣，每家企业每年最高 2 万元。咨询电话 021-68541234。",
        ),
    )
    programs.publish_program(
        session, cloud, actor=officer, now=now - 60 * DAY, confirm_fen=cloud.budget_fen
    )
    compute = programs.create_program(
        session,
        actor=officer,
        terms=programs.ProgramTerms(
            name="浦东新区算力券（大模型与智能体应用）",
            kind=VoucherKind.COMPUTE,
            region_prefix="310115",
            budget_fen=1_000_000 * YUAN,
            ratio_bp=3000,
            annual_cap_fen=50_000 * YUAN,
            size_classes=sizes,
            opens_at=now - 45 * DAY,
            closes_at=now + 75 * DAY,
            validity_days=365,
            required_documents=COMPUTE_DOCUMENTS,
            description="支持中小企业租用算力、调用大模型和部署工业智能体，按账单金额的 30% 抵扣。",
        ),
    )
    programs.publish_program(
        session, compute, actor=officer, now=now - 45 * DAY, confirm_fen=compute.budget_fen
    )

    jingong, jinqiao, zhangjiang, waigaoqiao = _pudong_smes(session)
    applied = now - 40 * DAY

    def apply(program: Program, sme: Actor, requested: int, at: Any) -> Application:
        return demo_apply(session, program, sme, requested * YUAN, at, orgs["vendor"].id)

    def grant(program: Program, sme: Actor, requested: int, approved: int | None = None):
        application = apply(program, sme, requested, applied)
        return demo_approve(
            session, application, officer, applied + 2 * DAY, approved * YUAN if approved else None
        )

    # Every state of an application.
    grant(cloud, buyer, 10_000)  # the demo buyer's voucher, unspent: try it on the pay page
    spent = grant(cloud, jingong, 20_000, approved=15_000)  # approved for less
    compute_voucher = grant(compute, waigaoqiao, 30_000)
    applications.reject(
        session,
        apply(cloud, jinqiao, 20_000, applied),
        actor=officer,
        reason="申报材料中的上云服务合同与营业执照名称不一致，请更正后重新申请。",
        now=applied + 3 * DAY,
    )
    applications.withdraw(
        session, apply(cloud, zhangjiang, 8_000, applied), actor=zhangjiang, now=applied + DAY
    )
    apply(compute, buyer, 20_000, now - DAY)
    # 张江 applied again with the right documents; approved yesterday, it is now on 公示.
    again = apply(cloud, zhangjiang, 8_000, now - 3 * DAY)
    applications.approve(
        session,
        again,
        actor=officer,
        now=now - DAY,
        checked_documents=[d.id for d in evidence.documents_of(session, again.id)],
    )

    # Spending: 浦江精工 subscribes to a cloud solution of 云织 and pays half with its voucher.
    plan = _plan_accepting(session, VoucherKind.CLOUD, orgs["vendor"].id)
    if plan is not None:
        contract = contracts.start(
            session,
            actor=jingong,
            plan=plan,
            agreement_version=contracts.agreement_in_force(plan),
            now=now - 30 * DAY,
            commission_bp=commission,
        )
        invoice = _invoice_of(session, contract)
        voucher_payments.apply(
            session, invoice, codes=[spent.code], actor=jingong, now=now - 29 * DAY
        )
        if invoices.amount_due(invoice) > 0:
            bank_transfers.record_bank_transfer(
                session,
                invoice,
                amount_fen=invoices.amount_due(invoice),
                reference=f"DEMO-{invoice.number}",
                actor=operator,
                now=now - 27 * DAY,
            )
        batch = settlements.create_settlement(
            session,
            cloud,
            actor=officer,
            vendor_id=contract.vendor_id,
            period_start=now - 60 * DAY,
            period_end=now - 20 * DAY,
            now=now - 20 * DAY,
        )
        settlements.approve_settlement(session, batch, actor=officer, now=now - 19 * DAY)
        settlements.mark_paid(
            session, batch, actor=officer, bank_reference="浦东财政-2026-1107", now=now - 14 * DAY
        )

    # The demo buyer's own open invoice that its cloud voucher can pay (on the pay page).
    plan = _plan_accepting(session, VoucherKind.CLOUD, orgs["vendor"].id, skip=1)
    if plan is not None:
        contracts.start(
            session,
            actor=buyer,
            plan=plan,
            agreement_version=contracts.agreement_in_force(plan),
            now=now - 2 * DAY,
            commission_bp=commission,
        )

    # A compute voucher spent and the invoice voided the next day: a case for the review.
    plan = _plan_accepting(session, VoucherKind.COMPUTE, None)
    if plan is not None:
        contract = contracts.start(
            session,
            actor=waigaoqiao,
            plan=plan,
            agreement_version=contracts.agreement_in_force(plan),
            now=now - 12 * DAY,
            commission_bp=commission,
        )
        invoice = _invoice_of(session, contract)
        voucher_payments.apply(
            session, invoice, codes=[compute_voucher.code], actor=waigaoqiao, now=now - 11 * DAY
        )
        invoice_money.void(
            session, invoice, note="买方要求改开发票抬头", actor=operator, now=now - 10 * DAY
        )
    for program in (cloud, compute):
        anomalies.scan(session, program, now=now)
    session.flush()
    return {}
