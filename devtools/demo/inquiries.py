"""Demo inquiries (咨询服务商): the demo buyer asked the demo vendor about one of its
listings and got an answer it has not read yet, and asked a second question that waits
for the vendor, so both to-do lists show an item. Idempotent: skipped once any inquiry
exists."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from catalog import inquiries
from catalog.inquiry_models import Inquiry
from catalog.models import Solution
from marketplace.db import utcnow
from marketplace.jsonapi import Actor
from marketplace.models import Organization, Role, User


def load(
    session: Session, *, orgs: dict[str, Organization], users: dict[str, User], **_: Any
) -> dict[str, Any]:
    if session.scalar(sa.select(Inquiry.id).limit(1)) is not None:
        return {}
    solutions = session.scalars(
        sa.select(Solution)
        .where(Solution.vendor_id == orgs["vendor"].id, Solution.is_public)
        .order_by(Solution.id)
        .limit(2)
    ).all()
    if not solutions:
        return {}
    buyer = Actor(users["buyer@demo.local"], orgs["sme"], Role.OWNER)
    vendor = Actor(users["vendor@demo.local"], orgs["vendor"], Role.OWNER)
    now = utcnow()
    answered = inquiries.ask(
        session,
        solutions[0],
        actor=buyer,
        subject="能否对接我们现有的 MES 系统？",
        body=(
            "我们是一家 80 人的机加工厂，车间已经在用一套国产 MES。\n"
            "请问贵方案能否通过接口读取 MES 的工单和报工数据？部署大概需要几天？"
        ),
        now=now - timedelta(days=1, hours=3),
    )
    inquiries.reply(
        session,
        answered,
        actor=vendor,
        body=(
            "您好，可以对接。我们提供标准 REST 接口和常见国产 MES 的适配器，"
            "工单与报工数据每 5 分钟同步一次。\n"
            "一般 3 个工作日内完成部署和联调，期间有专人远程支持。"
        ),
        now=now - timedelta(hours=20),
    )
    inquiries.ask(
        session,
        solutions[-1],
        actor=buyer,
        subject="",
        body="试用期结束后如果不续订，数据可以导出吗？支持导出为 Excel 吗？",
        now=now - timedelta(hours=2),
    )
    return {}
