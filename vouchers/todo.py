"""Vouchers' items on the dashboards' to-do lists (see marketplace/todo.py)."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import Flask, url_for
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from marketplace import todo
from marketplace.dates import first_day
from marketplace.models import Organization, OrgKind
from marketplace.money import format_fen
from marketplace.todo import TodoItem
from vouchers.models import (
    Anomaly,
    AnomalyStatus,
    Application,
    ApplicationStatus,
    Program,
    Settlement,
    SettlementStatus,
    Voucher,
    VoucherStatus,
)
from vouchers.notice_models import Notice, Objection, ObjectionStatus

EXPIRING_DAYS = 30


def sme_items(session: Session, org: Organization, now: datetime) -> list[TodoItem]:
    items = []
    waiting = session.scalar(
        sa.select(sa.func.count(Application.id)).where(
            Application.applicant_org_id == org.id,
            Application.status == ApplicationStatus.SUBMITTED,
        )
    )
    if waiting:
        items.append(
            TodoItem(
                "voucher_applications",
                _("%(count)d voucher application(s) awaiting a decision", count=waiting),
                url_for("vouchers.wallet_page"),
            )
        )
    count, balance, first_expiry = session.execute(
        sa.select(
            sa.func.count(Voucher.id),
            sa.func.coalesce(sa.func.sum(Voucher.balance_fen), 0),
            sa.func.min(Voucher.expires_at),
        ).where(
            Voucher.holder_org_id == org.id,
            Voucher.status == VoucherStatus.ACTIVE,
            Voucher.balance_fen > 0,
            Voucher.expires_at > now,
            Voucher.expires_at < now + timedelta(days=EXPIRING_DAYS),
        )
    ).one()
    if count:
        items.append(
            TodoItem(
                "vouchers_expiring",
                _(
                    "%(count)d voucher(s) with %(amount)s left expire, the first on %(date)s",
                    count=count,
                    amount=format_fen(int(balance)),
                    date=first_day(first_expiry).isoformat(),
                ),
                url_for("vouchers.wallet_page"),
                urgent=True,
            )
        )
    return items


def vendor_items(session: Session, org: Organization, now: datetime) -> list[TodoItem]:
    count = session.scalar(
        sa.select(sa.func.count(Settlement.id)).where(
            Settlement.vendor_id == org.id,
            Settlement.status.in_([SettlementStatus.DRAFT, SettlementStatus.APPROVED]),
        )
    )
    if not count:
        return []
    return [
        TodoItem(
            "settlements_on_the_way",
            _("%(count)d voucher settlement(s) on the way", count=count),
            url_for("vouchers.vendor_settlements"),
        )
    ]


def officer_items(session: Session, org: Organization, now: datetime) -> list[TodoItem]:
    mine = sa.select(Program.id).where(Program.owner_org_id == org.id).scalar_subquery()
    applications, anomalies, settlements = session.execute(
        sa.select(
            sa.select(sa.func.count(Application.id))
            .where(
                Application.program_id.in_(mine),
                Application.status == ApplicationStatus.SUBMITTED,
            )
            .scalar_subquery(),
            sa.select(sa.func.count(Anomaly.id))
            .where(Anomaly.program_id.in_(mine), Anomaly.status == AnomalyStatus.OPEN)
            .scalar_subquery(),
            sa.select(sa.func.count(Settlement.id))
            .where(Settlement.program_id.in_(mine), Settlement.status == SettlementStatus.DRAFT)
            .scalar_subquery(),
        )
    ).one()
    programs = url_for("vouchers.programs_list")
    items = []
    if applications:
        items.append(
            TodoItem(
                "applications_waiting",
                _("%(count)d application(s) waiting for a decision", count=applications),
                programs,
            )
        )
    if anomalies:
        items.append(
            TodoItem(
                "anomalies_open",
                _("%(count)d anomaly flag(s) to review", count=anomalies),
                programs,
                urgent=True,
            )
        )
    if settlements:
        items.append(
            TodoItem(
                "settlements_to_approve",
                _("%(count)d settlement(s) to approve", count=settlements),
                programs,
            )
        )
    # An open objection holds its voucher back until an officer decides it (公示).
    objections = session.execute(
        sa.select(sa.func.count(Objection.id), sa.func.min(Notice.program_id))
        .join(Notice, Notice.id == Objection.notice_id)
        .where(Notice.program_id.in_(mine), Objection.status == ObjectionStatus.OPEN)
    ).one()
    if objections[0]:
        items.append(
            TodoItem(
                "objections_open",
                _("%(count)d objection(s) to a public notice to decide", count=objections[0]),
                url_for("vouchers.program_notices", program_id=objections[1]),
                urgent=True,
            )
        )
    return items


def install(app: Flask) -> None:
    todo.provide(app, OrgKind.SME, sme_items)
    todo.provide(app, OrgKind.VENDOR, vendor_items)
    todo.provide(app, OrgKind.GOVERNMENT, officer_items)
