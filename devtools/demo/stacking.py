"""Stacked, co-funded and held-back vouchers in the demo (after devtools/demo/vouchers.py):
上海市经信委's city cloud-voucher program stacks with Pudong's (combined at most 70% of an
invoice) and one invoice is paid by both; a program co-funded 市:区 = 1:1 has a paid
settlement split between the two; that program settles only after the buyer accepted
delivery, so one of its redemptions is held back. The city officer signs in as
city@demo.local."""

from __future__ import annotations

import inspect
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from billing import contracts, delivery, invoices, voucher_payments
from billing.payments import bank_transfers
from catalog.models import VoucherKind
from devtools.demo import vouchers as voucher_demo
from devtools.demo.platform import CITY_OFFICER, DEMO_PASSWORD, make_uscc
from devtools.demo.vouchers import _invoice_of, _plan_accepting, _pudong_smes
from marketplace import services
from marketplace.db import utcnow
from marketplace.jsonapi import Actor
from marketplace.models import Organization, OrgKind, Role, User
from marketplace.sizeclass import YUAN, SizeClass
from vouchers import cofunding, programs, settlement_conditions, settlements
from vouchers import stacking as stacking_rules
from vouchers.models import Program

DAY = timedelta(days=1)
CITY_PROGRAM = "上海市 2026 年中小企业数字化转型上云券"
COFUNDED_PROGRAM = "市区共担：浦东新区工业软件上云券"


def _call(function: Any, *args: Any, **kwargs: Any) -> Any:
    """Pass only the keywords the service takes (confirmations and agreements are newer)."""
    accepted = inspect.signature(function).parameters
    return function(*args, **{k: v for k, v in kwargs.items() if k in accepted})


def _city(session: Session) -> Actor:
    email, name, organization = CITY_OFFICER
    user = session.scalar(sa.select(User).where(User.email == email)) or services.create_user(
        session, email=email, name=name, password=DEMO_PASSWORD
    )
    uscc = make_uscc("310101", 880)
    org = session.scalar(sa.select(Organization).where(Organization.uscc == uscc))
    if org is None:
        org = services.register_organization(
            session,
            services.OrganizationDetails(
                kind=OrgKind.GOVERNMENT,
                name=organization,
                uscc=uscc,
                region_code="310101",  # 黄浦区, where the city government sits
                legal_representative="市经信委法人",
                address="上海市黄浦区人民大道 200 号",
                contact_phone="021-23110000",
                contact_email=email,
            ),
            owner=user,
        )
    return Actor(user, org, Role.OWNER)


def _program(session: Session, officer: Actor, now: Any, publish: bool = True, **terms: Any):
    program = programs.create_program(
        session,
        actor=officer,
        terms=programs.ProgramTerms(
            kind=VoucherKind.CLOUD,
            size_classes=[SizeClass.MEDIUM, SizeClass.SMALL, SizeClass.MICRO],
            opens_at=now - 50 * DAY,
            closes_at=now + 60 * DAY,
            validity_days=180,
            **terms,
        ),
    )
    if publish:
        _publish(session, program, officer, now - 50 * DAY)
    return program


def _publish(session: Session, program: Program, officer: Actor, when: Any) -> None:
    _call(
        programs.publish_program,
        session,
        program,
        actor=officer,
        now=when,
        confirm_fen=program.budget_fen,
    )


def _buy(session: Session, sme: Actor, plan: Any, when: Any) -> Any:
    commission = current_app.config["PLATFORM_COMMISSION_BP"]
    agreement = getattr(contracts, "agreement_in_force", None)
    contract = _call(
        contracts.start,
        session,
        actor=sme,
        plan=plan,
        now=when,
        commission_bp=commission,
        agreement_version=agreement(plan) if agreement else None,
    )
    return contract, _invoice_of(session, contract)


def _grant(session: Session, program: Program, sme: Actor, officer: Actor, fen: int, when: Any):
    # With the documents the program requires, and through its 公示 if it has one.
    application = voucher_demo.demo_apply(session, program, sme, fen, when)
    return voucher_demo.demo_approve(session, application, officer, when + DAY)


def _settle_rest(session: Session, invoice: Any, operator: Actor, when: Any) -> None:
    if invoices.amount_due(invoice) > 0:
        bank_transfers.record_bank_transfer(
            session,
            invoice,
            amount_fen=invoices.amount_due(invoice),
            reference=f"DEMO-{invoice.number}",
            actor=operator,
            now=when,
        )


def load(
    session: Session,
    *,
    orgs: dict[str, Organization],
    users: dict[str, User],
    **_: Any,
) -> dict[str, Any]:
    if session.scalar(sa.select(Program.id).where(Program.name == CITY_PROGRAM)) is not None:
        return {}
    pudong_cloud = session.scalar(
        sa.select(Program)
        .where(Program.owner_org_id == orgs["pudong"].id, Program.kind == VoucherKind.CLOUD)
        .order_by(Program.id)
    )
    if pudong_cloud is None:
        return {}
    now = utcnow()
    officer = Actor(users["officer@demo.local"], orgs["pudong"], Role.OWNER)
    operator = Actor(users["operator@demo.local"], orgs["platform"], Role.OWNER)
    city = _city(session)

    # The city's program stacks with Pudong's: together at most 70% of an invoice.
    city_program = _program(
        session,
        city,
        now,
        name=CITY_PROGRAM,
        region_prefix="31",
        budget_fen=5_000_000 * YUAN,
        ratio_bp=3000,
        annual_cap_fen=30_000 * YUAN,
        description="上海市级上云券，按账单金额的 30% 抵扣，可与各区上云券叠加，合计不超过 70%。",
    )
    stacking_rules.set_rule(
        session,
        city_program,
        actor=city,
        partner_program_ids=[pudong_cloud.id],
        combined_cap_bp=7000,
        now=now - 50 * DAY,
    )
    stacking_rules.set_rule(
        session,
        pudong_cloud,
        actor=officer,
        partner_program_ids=[city_program.id],
        combined_cap_bp=7000,
        now=now - 50 * DAY,
    )

    # Co-funded 市:区 = 1:1, owned by Pudong; settled only after the buyer accepts delivery.
    cofunded = _program(
        session,
        officer,
        now,
        publish=False,
        name=COFUNDED_PROGRAM,
        region_prefix="310115",
        budget_fen=1_000_000 * YUAN,
        ratio_bp=4000,
        annual_cap_fen=20_000 * YUAN,
        description="由上海市经信委与浦东新区科经委按 1:1 共同出资，验收后结算。",
    )
    cofunding.set_funders(
        session,
        cofunded,
        actor=officer,
        funders=[(orgs["pudong"].id, 1), (city.organization.id, 1)],
    )
    _publish(session, cofunded, officer, now - 50 * DAY)
    settlement_conditions.set_conditions(
        session,
        cofunded,
        actor=officer,
        require_fapiao=False,
        require_acceptance=True,
        min_days_used=None,
        now=now - 50 * DAY,
    )

    _jingong, jinqiao, zhangjiang, waigaoqiao = _pudong_smes(session)
    applied = now - 35 * DAY
    plan = _plan_accepting(session, VoucherKind.CLOUD, orgs["vendor"].id)
    if plan is None:
        return {}

    # 张江生物 pays one invoice with the district's and the city's vouchers (stacked).
    district_voucher = _grant(session, pudong_cloud, zhangjiang, officer, 8_000 * YUAN, applied)
    city_voucher = _grant(session, city_program, zhangjiang, city, 8_000 * YUAN, applied)
    _contract, invoice = _buy(session, zhangjiang, plan, now - 20 * DAY)
    voucher_payments.apply(
        session,
        invoice,
        codes=[district_voucher.code, city_voucher.code],
        actor=zhangjiang,
        now=now - 19 * DAY,
    )
    _settle_rest(session, invoice, operator, now - 18 * DAY)

    # The co-funded program: 外高桥注塑 accepted delivery (settled, split 1:1); 金桥电子
    # did not yet (held back).
    plan = _plan_accepting(session, VoucherKind.CLOUD, orgs["vendor"].id, skip=2) or plan
    for sme, accepted in ((waigaoqiao, True), (jinqiao, False)):
        voucher = _grant(session, cofunded, sme, officer, 10_000 * YUAN, applied)
        contract, invoice = _buy(session, sme, plan, now - 16 * DAY)
        voucher_payments.apply(
            session, invoice, codes=[voucher.code], actor=sme, now=now - 15 * DAY
        )
        _settle_rest(session, invoice, operator, now - 14 * DAY)
        if accepted:
            delivery.accept_delivery(
                session, contract, actor=sme, note="系统已上线，验收合格", now=now - 10 * DAY
            )
    batch = settlements.create_settlement(
        session,
        cofunded,
        actor=officer,
        vendor_id=invoice.vendor_id,
        period_start=now - 30 * DAY,
        period_end=now - 5 * DAY,
        now=now - 5 * DAY,
    )
    settlements.approve_settlement(session, batch, actor=officer, now=now - 4 * DAY)
    settlements.mark_paid(
        session, batch, actor=officer, bank_reference="浦东财政-2026-1203", now=now - 2 * DAY
    )
    session.flush()
    return {}
