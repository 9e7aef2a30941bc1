"""Concurrency on PostgreSQL: 50 payments spending one voucher at once, and approvals
racing for one budget. Each test has a database of its own with real commits (the
rolled-back outer transaction of the ``app`` fixture would hide every race)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from marketplace import create_app, migrate
from marketplace.db import make_engine
from marketplace.errors import DomainError
from marketplace.jsonapi import Actor
from marketplace.models import Membership, Organization, User
from tests.billing.factories import T0
from tests.conftest import POSTGRES_URL
from tests.vouchers.factories import (
    contract_between,
    create_program,
    grant,
    invoice_for,
    lines_of,
    officer_of,
    sme_actor,
    vendor_actor,
)
from vouchers import applications, programs, redemptions
from vouchers.models import Application, Redemption, Voucher, VoucherStatus

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not POSTGRES_URL, reason="needs PostgreSQL (set DATABASE_URL)"),
]

PAYMENTS = 50
APPROVALS = 30


@pytest.fixture
def own_app(tmp_path: Path) -> Iterator[Flask]:
    """The app on a fresh database ``<db>_vouchers_<pid>``, dropped afterwards."""
    assert POSTGRES_URL
    base = sa.make_url(make_engine(POSTGRES_URL).url)
    name = f"{base.database}_vouchers_{os.getpid()}"
    admin = make_engine(base.render_as_string(hide_password=False)).execution_options(
        isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = base.set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": url,
            "SECRET_KEY": "test-secret",
            "RATELIMIT_STORAGE_URI": "memory://",
            "SEARCH_INDEX_DIR": str(tmp_path / "index"),
        }
    )
    app.extensions["catalog.search"].create()
    yield app
    app.extensions["marketplace.db"].engine.dispose()
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def reload_actor(session: Session, actor_ids: tuple[int, int]) -> Actor:
    user = session.get(User, actor_ids[0])
    org = session.get(Organization, actor_ids[1])
    membership = session.scalar(
        sa.select(Membership).where(
            Membership.user_id == actor_ids[0], Membership.organization_id == actor_ids[1]
        )
    )
    assert user and org and membership
    return Actor(user, org, membership.role)


def race(app: Flask, count: int, work: Callable[[Session, int], Any]) -> list[tuple[str, Any]]:
    """Run ``work(session, i)`` in ``count`` threads that start together, each in its own
    session and transaction; returns ("ok", value), ("refused", error) or ("error", exc)."""
    barrier = threading.Barrier(count)
    outcomes: list[tuple[str, Any]] = [("error", None)] * count

    def runner(i: int) -> None:
        with app.app_context():
            session = app.extensions["marketplace.db"].sessions()
            try:
                barrier.wait(60)
                value = work(session, i)
                session.commit()
                outcomes[i] = ("ok", value)
            except DomainError as refusal:
                session.rollback()
                outcomes[i] = ("refused", refusal)
            except BaseException as exc:  # reported to the test
                session.rollback()
                outcomes[i] = ("error", exc)
            finally:
                session.close()

    threads = [threading.Thread(target=runner, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return outcomes


def test_fifty_concurrent_payments_never_spend_more_than_the_balance(own_app: Flask) -> None:
    with own_app.app_context(), own_app.extensions["marketplace.db"].sessions() as session:
        program = create_program(session, ratio_bp=10_000)
        buyer, vendor = sme_actor(session), vendor_actor(session)
        voucher = grant(session, program, buyer, 10_000)
        contract = contract_between(session, buyer, vendor)
        invoices = [invoice_for(session, contract, 3_000) for _ in range(PAYMENTS)]
        facts = [(invoice.id, invoice.buyer_id, lines_of(invoice)) for invoice in invoices]
        code, voucher_id, program_id = voucher.code, voucher.id, program.id
        session.commit()

    def pay(session: Session, i: int) -> int:
        invoice_id, buyer_id, lines = facts[i]
        result = redemptions.redeem(
            session, invoice_id=invoice_id, buyer_id=buyer_id, lines=lines, codes=[code], now=T0
        )
        return result.total_fen

    outcomes = race(own_app, PAYMENTS, pay)
    errors = [value for kind, value in outcomes if kind == "error"]
    assert errors == []
    paid = [value for kind, value in outcomes if kind == "ok"]
    refused = [value for kind, value in outcomes if kind == "refused"]
    assert sum(paid) == 10_000 and len(paid) == 4  # 3,000 three times, then the last 1,000
    assert len(refused) == PAYMENTS - 4
    assert all(r.reason == "spent" and "used up" in str(r.message) for r in refused)

    with own_app.app_context(), own_app.extensions["marketplace.db"].sessions() as session:
        stored = session.get(Voucher, voucher_id)
        assert stored is not None
        assert (stored.balance_fen, stored.redeemed_fen, stored.status) == (
            0,
            10_000,
            VoucherStatus.SPENT,
        )
        total = session.scalar(
            sa.select(sa.func.sum(Redemption.amount_fen)).where(Redemption.voucher_id == voucher_id)
        )
        assert total == 10_000
        program = session.get(programs.Program, program_id)
        figures = programs.figures(session, program)
        assert (figures.reserved_fen, figures.redeemed_fen) == (0, 10_000)


def test_concurrent_approvals_never_reserve_more_than_the_budget(own_app: Flask) -> None:
    with own_app.app_context(), own_app.extensions["marketplace.db"].sessions() as session:
        program = create_program(session, budget_fen=100_000, annual_cap_fen=10_000)
        officer = officer_of(session, program)
        application_ids = [
            applications.apply(
                session, program, actor=sme_actor(session), requested_fen=10_000, now=T0
            ).id
            for _ in range(APPROVALS)
        ]
        officer_ids = (officer.user.id, officer.organization.id)
        program_id = program.id
        session.commit()

    def approve(session: Session, i: int) -> int:
        application = session.get(Application, application_ids[i])
        assert application is not None
        voucher = applications.approve(
            session, application, actor=reload_actor(session, officer_ids), now=T0
        )
        return voucher.face_fen

    outcomes = race(own_app, APPROVALS, approve)
    assert [value for kind, value in outcomes if kind == "error"] == []
    approved = [value for kind, value in outcomes if kind == "ok"]
    assert len(approved) == 10 and sum(approved) == 100_000
    refused = [value for kind, value in outcomes if kind == "refused"]
    assert len(refused) == APPROVALS - 10 and all(r.field == "amount_fen" for r in refused)

    with own_app.app_context(), own_app.extensions["marketplace.db"].sessions() as session:
        program = session.get(programs.Program, program_id)
        figures = programs.figures(session, program)
        assert figures.reserved_fen == 100_000 and figures.available_fen == 0
        issued = session.scalar(
            sa.select(sa.func.sum(Voucher.face_fen)).where(Voucher.program_id == program_id)
        )
        assert issued == 100_000
