"""Demo catalog: the vendors of ``devtools/demo/data/vendors.json`` and the solutions of
``devtools/demo/data/solutions.jsonl``, imported through the same path as ``catalog import``
and published by the demo operator. Idempotent: existing vendors and slugs are kept."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from catalog import importer, indexing
from catalog.models import Solution
from catalog.search import SearchUnavailable
from devtools.demo.platform import DEMO_PASSWORD, make_uscc
from devtools.demo.screenshots import add_demo_screenshots
from marketplace import services as platform
from marketplace.db import db
from marketplace.jsonapi import Actor
from marketplace.models import Organization, OrgKind, Role, User
from marketplace.uploads import upload_folder

# How many listings the home page shows as featured.
FEATURED = 8
_VENDOR_SERIAL_BASE = 100


def _read(name: str) -> str:
    return resources.files("devtools.demo").joinpath("data", name).read_text(encoding="utf-8")


def _vendor(
    session: Session, spec: dict[str, Any], serial: int, existing: Organization | None
) -> Organization:
    org: Organization | None
    if existing is not None:
        org = existing
    else:
        uscc = make_uscc(spec["region_code"], serial)
        org = session.scalar(sa.select(Organization).where(Organization.uscc == uscc))
        if org is None:
            email = f"{spec['key']}@vendors.demo.local"
            owner = session.scalar(sa.select(User).where(User.email == email))
            owner = owner or platform.create_user(
                session, email=email, name=spec["legal_representative"], password=DEMO_PASSWORD
            )
            details = platform.OrganizationDetails(
                kind=OrgKind.VENDOR,
                name=spec["name"],
                uscc=uscc,
                region_code=spec["region_code"],
                legal_representative=spec["legal_representative"],
                address=spec["address"],
                contact_phone=spec["contact_phone"],
                contact_email=spec["contact_email"],
            )
            org = platform.register_organization(session, details, owner=owner)
    org.about = org.about or spec.get("about", "")
    org.about_en = org.about_en or spec.get("about_en", "")
    return org


def _with_trust(row: dict[str, Any], vendor: Organization) -> None:
    """FAQ, support, SLA and deployment steps for a demo listing that gives none."""
    days = row.get("deploy_days", 5)
    row.setdefault(
        "faq",
        [
            {
                "question": "需要额外采购硬件吗？",
                "answer": "大多数情况下不需要，可接入现有设备和系统。",
            },
            {"question": "数据存放在哪里？", "answer": "存放在境内云服务器，可按需导出或删除。"},
            {
                "question": "可以用上云券或算力券支付吗？",
                "answer": "可以，结算时选择券即可抵扣符合条件的金额。",
            },
        ],
    )
    row.setdefault(
        "support",
        {
            "phone": vendor.contact_phone,
            "email": vendor.contact_email,
            "wechat": f"{row['slug'][:40]}-kefu",
            "hours": "工作日 9:00-18:00，故障 7×24 小时响应",
        },
    )
    row.setdefault("sla", {"availability_bp": 9990, "response_hours": 4})
    row.setdefault(
        "deploy_steps",
        [
            "签约后 1 个工作日内远程调研",
            "开通账号并接入数据",
            "现场或远程培训",
            f"{days} 天内上线验收",
        ],
    )


def load(
    session: Session, *, orgs: dict[str, Organization], users: dict[str, User], **_: Any
) -> dict[str, Any]:
    index = indexing.search_index()
    try:
        index.doc_count()
    except SearchUnavailable:
        index.create()  # a first start: the solutions below go straight into it
    operator_org = orgs["platform"]
    operator = Actor(users["operator@demo.local"], operator_org, Role.OWNER)
    vendors: dict[str, Organization] = {}
    for serial, spec in enumerate(json.loads(_read("vendors.json")), start=_VENDOR_SERIAL_BASE):
        existing = orgs["vendor"] if spec["key"] == "yunzhi" else None
        vendor = _vendor(session, spec, serial, existing)
        if not vendor.is_verified:
            platform.review_vendor(
                session, vendor, actor=operator, approve=True, note="营业执照与资质已核验"
            )
        vendors[spec["key"]] = vendor
    session.flush()

    taken = set(session.scalars(sa.select(Solution.slug)))
    lines = []
    for raw in _read("solutions.jsonl").splitlines():
        if not raw.strip():
            continue
        row = json.loads(raw)
        if row["slug"] in taken:
            continue
        vendor_key = row.pop("vendor")
        row["vendor_uscc"] = vendors[vendor_key].uscc
        _with_trust(row, vendors[vendor_key])
        lines.append(json.dumps(row, ensure_ascii=False))
    parsed, errors = importer.check_lines(session, lines)
    if errors:
        raise ValueError("demo catalog is invalid: " + "; ".join(map(str, errors)))
    created = importer.import_lines(session, parsed, publish_as=operator)
    for solution in created[:FEATURED]:
        solution.featured = True
    for solution in created:
        if solution.published is not None:
            title = solution.published.name_en or solution.slug
            add_demo_screenshots(solution.published, title, upload_folder())
    session.flush()
    published = list(
        session.scalars(sa.select(Solution).where(Solution.is_public).order_by(Solution.id))
    )
    return {"vendors": vendors, "solutions": published}


def rebuild_index(app: Flask) -> str:
    count = indexing.reindex(db.session, indexing.search_index(app))
    db.session.commit()
    return f"search index: {count} published solutions"
