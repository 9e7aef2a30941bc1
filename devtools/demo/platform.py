"""``marketplace demo``: a database with demo organizations and people, served by gunicorn.

Each package adds its own demo data through a loader registered by the app factory in
``app.extensions["marketplace.demo_loaders"]``; loaders run in order, receive what the
earlier ones returned, and must be idempotent (the demo may be started many times on the
same database). ``marketplace.demo_finishers`` run after the commit, and
``marketplace.demo_services`` start helpers the served site needs (a local Stripe).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, cast

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy.orm import Session
from stdnum.cn import uscc as stdnum_uscc
from werkzeug.local import LocalProxy

from marketplace import checkpoints, migrate, services
from marketplace.db import db, utcnow
from marketplace.errors import DomainError
from marketplace.models import Membership, Organization, OrgKind, Role, User
from marketplace.sizeclass import YUAN

DEMO_PASSWORD = "demo-pass-2026"


def make_uscc(region_code: str, serial: int, *, org_type: str = "91") -> str:
    """A well-formed 统一社会信用代码: type, region, a serial organization code, check digit."""
    body = f"{org_type}{region_code}{serial:08d}X"[:17]
    return body + stdnum_uscc.calc_check_digit(body + "0")


@dataclass(frozen=True)
class DemoLogin:
    role: str
    email: str
    organization: str


@dataclass(frozen=True)
class DemoOrg:
    key: str
    kind: OrgKind
    name: str
    region: str
    serial: int
    legal_rep: str
    industry: str | None = None
    employees: int | None = None
    revenue_yuan: int | None = None
    verified: bool = True


DEMO_ORGS = (
    DemoOrg("platform", OrgKind.PLATFORM, "小快轻准平台运营中心", "310115", 1, "周明"),
    DemoOrg(
        "pudong",
        OrgKind.GOVERNMENT,
        "上海市浦东新区科技和经济委员会",
        "310115",
        2,
        "陈立",
    ),
    DemoOrg("vendor", OrgKind.VENDOR, "杭州云织智能科技有限公司", "330106", 3, "王芳"),
    DemoOrg(
        "vendor2", OrgKind.VENDOR, "苏州精测视觉技术有限公司", "320505", 4, "刘强", verified=False
    ),
    DemoOrg(
        "sme",
        OrgKind.SME,
        "上海恒丰精密零件有限公司",
        "310115",
        5,
        "李建国",
        industry="C33",
        employees=86,
        revenue_yuan=26_000_000,
    ),
    DemoOrg(
        "sme2",
        OrgKind.SME,
        "宁波甬江纺织有限公司",
        "330212",
        6,
        "张秀英",
        industry="C17",
        employees=15,
        revenue_yuan=2_400_000,
    ),
)

# (email, name, organization key, role) — one login per kind of person.
DEMO_PEOPLE = (
    ("operator@demo.local", "平台运营 周明", "platform", Role.OWNER),
    ("officer@demo.local", "浦东科经委 陈立", "pudong", Role.OWNER),
    ("vendor@demo.local", "云织科技 王芳", "vendor", Role.OWNER),
    ("vendor-dev@demo.local", "云织科技 开发 吴涛", "vendor", Role.ADMIN),
    ("vendor2@demo.local", "精测视觉 刘强", "vendor2", Role.OWNER),
    ("buyer@demo.local", "恒丰精密 李建国", "sme", Role.OWNER),
    ("staff@demo.local", "恒丰精密 采购 赵敏", "sme", Role.MEMBER),
    ("auditor@demo.local", "恒丰精密 财务 孙丽", "sme", Role.AUDITOR),
    ("textile@demo.local", "甬江纺织 张秀英", "sme2", Role.OWNER),
)


def _user(session: Session, email: str, name: str) -> User:
    user = session.scalar(sa.select(User).where(User.email == email))
    return user or services.create_user(session, email=email, name=name, password=DEMO_PASSWORD)


def load_platform_demo(session: Session, **_: Any) -> dict[str, Any]:
    """Organizations and people; returns them by key for later loaders."""
    orgs: dict[str, Organization] = {}
    users: dict[str, User] = {}
    owners = {
        org_key: (email, name) for email, name, org_key, role in DEMO_PEOPLE if role is Role.OWNER
    }
    for spec in DEMO_ORGS:
        uscc = make_uscc(spec.region, spec.serial)
        org = session.scalar(sa.select(Organization).where(Organization.uscc == uscc))
        if org is None:
            email, name = owners[spec.key]
            owner = _user(session, email, name)
            details = services.OrganizationDetails(
                kind=spec.kind,
                name=spec.name,
                uscc=uscc,
                region_code=spec.region,
                legal_representative=spec.legal_rep,
                address=f"{spec.name}注册地址 {spec.serial} 号",
                contact_phone=f"021-5{spec.serial:07d}",
                contact_email=email,
                industry_code=spec.industry,
                employees=spec.employees,
                annual_revenue_fen=spec.revenue_yuan * YUAN if spec.revenue_yuan else None,
            )
            org = services.register_organization(session, details, owner=owner)
        orgs[spec.key] = org
    operator = session.scalar(
        sa.select(Membership).where(Membership.organization_id == orgs["platform"].id)
    )
    assert operator is not None  # the platform organization was registered with its owner
    for spec in DEMO_ORGS:
        org = orgs[spec.key]
        if spec.kind is OrgKind.VENDOR and spec.verified and not org.is_verified:
            from marketplace.jsonapi import Actor

            actor = Actor(operator.user, orgs["platform"], Role.OWNER)
            services.review_vendor(session, org, actor=actor, approve=True, note="资质齐全")
    for email, name, org_key, role in DEMO_PEOPLE:
        user = _user(session, email, name)
        users[email] = user
        if user.membership_in(orgs[org_key].id) is None:
            session.add(Membership(user_id=user.id, organization_id=orgs[org_key].id, role=role))
            session.flush()
            session.refresh(user)
    return {"orgs": orgs, "users": users}


# The city's program officer, whom the stacking demo (devtools/demo/stacking.py) adds with
# the city government: a second government login, for the city program stacked on Pudong's.
CITY_OFFICER = ("city@demo.local", "上海市经信委 处长", "上海市经济和信息化委员会")


def demo_logins() -> list[DemoLogin]:
    names = {spec.key: spec.name for spec in DEMO_ORGS}
    email, _name, organization = CITY_OFFICER
    return [
        *(
            DemoLogin(f"{org_key}/{role.value}", email, names[org_key])
            for email, _name, org_key, role in DEMO_PEOPLE
        ),
        DemoLogin(f"city/{Role.OWNER.value}", email, organization),
    ]


def load_demo(app: Flask) -> None:
    session = db.session
    context: dict[str, Any] = {}
    for loader in app.extensions.get("marketplace.demo_loaders", [load_platform_demo]):
        context.update(loader(session, **context))
    session.commit()


def finish_demo(app: Flask) -> None:
    """Steps other packages need after the data is in (the search index, say)."""
    for step in app.extensions.get("marketplace.demo_finishers", []):
        click.echo(step(app))


def sign_audit_checkpoint(app: Flask) -> str:
    """Anchor the demo's audit log with a signed checkpoint (a development key under
    instance/ when none is configured: the demo is never production)."""
    try:
        setup, made_key = checkpoints.signing_setup(app)
        checkpoint = checkpoints.create(db.session, setup, now=utcnow())
    except DomainError as error:
        db.session.rollback()
        return f"audit checkpoint: not signed ({error.message})"
    db.session.commit()
    made = f"; made a development audit key at {made_key}" if made_key else ""
    if checkpoint is None:
        return f"audit checkpoint: the log has not grown since the latest one{made}"
    path = checkpoints.write_file(setup.folder, checkpoint)
    return f"audit checkpoint {checkpoint.sequence} signed ({checkpoint.row_count} rows) -> {path}{made}"


def print_logins(host: str, port: int) -> None:
    click.echo("")
    click.echo(click.style(f"SME Solution Marketplace demo: http://{host}:{port}/", bold=True))
    click.echo(f"Every demo login uses the password: {DEMO_PASSWORD}")
    width = max(len(login.email) for login in demo_logins())
    for login in demo_logins():
        click.echo(f"  {login.email:<{width}}  {login.role:<18} {login.organization}")
    click.echo("")


def serve(host: str, port: int, workers: int) -> None:
    from gunicorn.app.base import BaseApplication

    from marketplace import config, throttle

    class Server(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("threads", 4)
            self.cfg.set("accesslog", "-")
            self.cfg.set("post_worker_init", throttle.gunicorn_post_worker_init)
            self.cfg.set("timeout", config.worker_timeout())

        def load(self) -> Any:
            from marketplace import create_app

            return create_app()  # each worker builds its own app and engine after the fork

    Server().run()


@click.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Prepare the database and exit")
@with_appcontext
def demo_command(host: str, port: int, workers: int, no_serve: bool) -> None:
    """Create and migrate the database, load demo data, print the logins, serve the site."""
    app = cast("LocalProxy[Flask]", current_app)._get_current_object()
    click.echo(f"database: {db.engine.url.render_as_string(hide_password=True)}")
    migrate.upgrade(db.engine)
    if not (app.config.get("AUDIT_SIGNING_KEY") or app.config.get("AUDIT_SIGNING_KEY_FILE")):
        app.config["AUDIT_DEVELOPMENT_KEY"] = True  # and the served workers, below
        os.environ.setdefault("MARKETPLACE_AUDIT_DEVELOPMENT_KEY", "true")
    load_demo(app)
    finish_demo(app)
    click.echo(sign_audit_checkpoint(app))
    db.engine.dispose()  # gunicorn workers open their own connections
    print_logins(host, port)
    if no_serve:
        return
    os.environ.setdefault("MARKETPLACE_DATABASE_URL", app.config["DATABASE_URL"])
    # Plain HTTP on loopback: a Secure cookie would not come back from some browsers.
    os.environ.setdefault("MARKETPLACE_SESSION_COOKIE_SECURE", "false")
    cleanups = []
    for start_service in app.extensions.get("marketplace.demo_services", []):
        message, cleanup = start_service(app, host, port)
        click.echo(message)
        if cleanup:
            cleanups.append(cleanup)
    try:
        serve(host, port, workers)
    finally:
        for cleanup in cleanups:
            cleanup()
