"""Demo: fapiao (发票) on the demo buyer's paid invoices, so each side sees the flow.

The demo buyer (恒丰精密) keeps its 开票信息 and asked for two fapiao: one the vendor has
issued (a 数电发票 with its XML file, downloadable by the buyer), and one still waiting, a
request in the demo vendor's to-do list. When the demo vendor has no paid invoice of the
buyer yet, the buyer first subscribes to one of its plans and pays by bank transfer.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from billing import contracts, fapiao
from billing.fapiao_models import Fapiao, FapiaoType
from billing.models import Contract, Invoice, InvoiceKind, InvoiceStatus
from billing.payments import bank_transfers
from catalog.models import BillingModel, Solution
from marketplace.db import utcnow
from marketplace.jsonapi import Actor
from marketplace.models import Membership, Organization, Role, User
from marketplace.uploads import upload_folder

# A digital fapiao's number has 20 digits; the demo's start with the year.
DEMO_NUMBER = "26312000000012345678"


def _owner(session: Session, org: Organization) -> Actor | None:
    user = session.scalar(
        sa.select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.organization_id == org.id, Membership.role == Role.OWNER)
        .order_by(Membership.id)
        .limit(1)
    )
    return Actor(user, org, Role.OWNER) if user is not None else None


def _paid_invoices(session: Session, buyer_id: int) -> list[Invoice]:
    return list(
        session.scalars(
            sa.select(Invoice)
            .where(
                Invoice.buyer_id == buyer_id,
                Invoice.kind == InvoiceKind.INVOICE,
                Invoice.status == InvoiceStatus.PAID,
                Invoice.id.not_in(sa.select(Fapiao.invoice_id)),
            )
            .order_by(Invoice.id)
        )
    )


def _pay_a_month_of_the_demo_vendor(
    session: Session, buyer: Actor, operator: Actor, vendor_id: int, commission: int
) -> Invoice | None:
    """A subscription of the demo vendor, started 20 days ago and paid by transfer."""
    now = utcnow()
    candidates = [
        plan
        for solution in session.scalars(
            sa.select(Solution)
            .where(Solution.vendor_id == vendor_id, Solution.is_public)
            .order_by(Solution.id)
        )
        if solution.published is not None
        for plan in solution.published.plans
        if plan.billing_model is BillingModel.SUBSCRIPTION and plan.trial_days == 0
    ]
    # A monthly plan if there is one (a yearly one otherwise), and not one the buyer has.
    candidates.sort(key=lambda plan: contracts.interval_of(plan) != "month")
    plan = next((p for p in candidates if not _has(session, buyer, p.id)), None)
    if plan is None:
        return None
    contract = contracts.start(
        session,
        actor=buyer,
        plan=plan,
        agreement_version=contracts.agreement_in_force(plan),
        now=now - timedelta(days=20),
        commission_bp=commission,
    )
    invoice = session.scalar(sa.select(Invoice).where(Invoice.contract_id == contract.id))
    if invoice is None:
        return None
    bank_transfers.record_bank_transfer(
        session,
        invoice,
        amount_fen=invoice.total_fen,
        reference=f"DEMO-{invoice.number}",
        actor=operator,
        now=now - timedelta(days=18),
    )
    return invoice


def _has(session: Session, buyer: Actor, plan_id: int) -> bool:
    found = session.scalar(
        sa.select(Contract.id).where(
            Contract.buyer_id == buyer.organization.id, Contract.plan_id == plan_id
        )
    )
    return found is not None


def _fapiao_xml(invoice: Invoice, issued_on: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        "<EInvoice>"
        f"<Number>{DEMO_NUMBER}</Number><IssueDate>{issued_on}</IssueDate>"
        f"<Buyer>{invoice.buyer.name}</Buyer><Seller>{invoice.vendor.name}</Seller>"
        f"<TotalFen>{invoice.total_fen}</TotalFen><Note>演示数据</Note>"
        "</EInvoice>\n"
    ).encode()


def load(
    session: Session, *, orgs: dict[str, Organization], users: dict[str, User], **_: Any
) -> dict[str, Any]:
    buyer_org, vendor_org = orgs["sme"], orgs["vendor"]
    if session.scalar(sa.select(Fapiao.id).where(Fapiao.buyer_id == buyer_org.id).limit(1)):
        return {}
    now = utcnow()
    buyer = Actor(users["buyer@demo.local"], buyer_org, Role.OWNER)
    operator = Actor(users["operator@demo.local"], orgs["platform"], Role.OWNER)
    commission = current_app.config["PLATFORM_COMMISSION_BP"]
    fapiao.save_profile(
        session,
        buyer_org,
        actor=buyer,
        title=buyer_org.name,
        tax_id=buyer_org.uscc,
        address_phone=" ".join(p for p in (buyer_org.address, buyer_org.contact_phone) if p),
        bank_account="中国工商银行苏州工业园区支行 1102 0203 0900 0123 456",
        email="caiwu@hengfeng-precision.cn",  # fapiao go to finance, not the demo login
        now=now - timedelta(days=30),
    )
    paid = _paid_invoices(session, buyer_org.id)
    waiting = next((i for i in paid if i.vendor_id == vendor_org.id), None)
    if waiting is None:
        waiting = _pay_a_month_of_the_demo_vendor(
            session, buyer, operator, vendor_org.id, commission
        )
        paid = _paid_invoices(session, buyer_org.id)
    issued = next((i for i in paid if waiting is None or i.id != waiting.id), None)

    if issued is not None:
        vendor = _owner(session, issued.vendor)
        if vendor is not None:
            requested = fapiao.request(
                session, issued, actor=buyer, type_=FapiaoType.SPECIAL, now=now - timedelta(days=6)
            )
            issued_on = max(issued.issued_at or now, now - timedelta(days=4))
            fapiao.record_issued(
                session,
                requested,
                actor=vendor,
                number=DEMO_NUMBER,
                issued_on=issued_on.date(),
                amount_fen=issued.total_fen,
                data=_fapiao_xml(issued, issued_on.date().isoformat()),
                filename=f"{DEMO_NUMBER}.xml",
                upload_folder=upload_folder(),
                now=issued_on,
            )
    if waiting is not None:
        fapiao.request(
            session, waiting, actor=buyer, type_=FapiaoType.NORMAL, now=now - timedelta(days=1)
        )
    session.flush()
    return {}
