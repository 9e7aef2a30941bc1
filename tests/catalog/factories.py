"""Catalog factories: listing payloads in the API/import shape, and published solutions."""

from __future__ import annotations

import copy
import itertools
from typing import Any

from sqlalchemy.orm import Session

from catalog import services
from catalog.models import Solution
from catalog.validation import parse_plans, parse_solution
from marketplace.jsonapi import Actor
from marketplace.models import OrgKind, Verification
from tests.factories import actor_for, create_org, create_user

_n = itertools.count(1)

SUBSCRIPTION = {
    "name": "标准版",
    "name_en": "Standard",
    "billing_model": "subscription",
    "price_fen": 99_900,
    "interval": "month",
    "trial_days": 14,
    "features": ["不限账号"],
}
USAGE = {
    "name": "按量计费",
    "name_en": "Pay as you go",
    "billing_model": "usage",
    "meter": "inspected_images",
    "unit": "张",
    "unit_en": "image",
    "tier_mode": "graduated",
    "tiers": [{"up_to": 10_000, "unit_fen": "2"}, {"up_to": None, "unit_fen": "1.5"}],
    "free_units": 1_000,
    "base_fee_fen": 0,
}
OUTCOME = {
    "name": "节能效果付费",
    "name_en": "Pay for savings",
    "billing_model": "outcome",
    "kpi_name": "月用电量",
    "kpi_unit": "kWh",
    "direction": "decrease",
    "price_per_unit_fen": "30",
    "cap_fen": 5_000_000,
    "base_fee_fen": 50_000,
    "verification_days": 7,
}


def payload(**overrides: Any) -> dict[str, Any]:
    """A valid listing as the API and the import file carry it."""
    n = next(_n)
    data: dict[str, Any] = {
        "name": f"AI视觉质检{n}号",
        "name_en": f"AI visual inspection {n}",
        "summary": "用工业相机和深度学习自动检出金属表面划痕、凹坑，漏检率低于 0.5%。",
        "summary_en": "Finds scratches and dents on metal surfaces with cameras and deep learning.",
        "description": "## 适用场景\n\n- 冲压件、机加工件表面质检\n\n## 部署与交付\n\n5 个工作日上线。",
        "industries": ["C33", "C34"],
        "scenarios": ["pm.quality"],
        "delivery": "saas",
        "deploy_days": 5,
        "voucher_kinds": ["cloud"],
        "case_studies": [
            {
                "customer_industry": "C33",
                "customer": "某五金件企业",
                "problem": "人工目检漏检率高",
                "result": "漏检率从 3.2% 降到 0.4%",
            }
        ],
        "plans": [copy.deepcopy(SUBSCRIPTION)],
    }
    data.update(overrides)
    return data


def vendor_actor(session: Session, *, verified: bool = True, **org: Any) -> Actor:
    owner = create_user(session)
    vendor = create_org(session, OrgKind.VENDOR, owner=owner, **org)
    if verified:
        vendor.verification = Verification.VERIFIED
        session.flush()
    return actor_for(session, owner, vendor)


def operator_actor(session: Session) -> Actor:
    owner = create_user(session)
    platform = create_org(session, OrgKind.PLATFORM, owner=owner)
    return actor_for(session, owner, platform)


def create_solution(session: Session, vendor: Actor, **overrides: Any) -> Solution:
    """A draft listing of ``vendor`` (an Actor of a vendor organization)."""
    data = payload(**overrides)
    return services.create_solution(
        session,
        actor=vendor,
        content=parse_solution(data),
        plans=parse_plans(data["plans"]),
        slug=data.get("slug"),
    )


def publish_solution(
    session: Session, vendor: Actor | None = None, operator: Actor | None = None, **overrides: Any
) -> Solution:
    """A published listing: created, submitted and approved."""
    vendor = vendor or vendor_actor(session)
    operator = operator or operator_actor(session)
    solution = create_solution(session, vendor, **overrides)
    services.submit(session, solution, actor=vendor)
    services.approve(session, solution, actor=operator)
    return solution
