"""Property: whatever happens to a program's vouchers (issue, redeem, reverse, expire,
revoke, in any order), reserved + redeemed + released never exceeds the budget, the
program's figures are the sums of its vouchers, no balance goes negative, and no amount
is released twice."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from marketplace.errors import DomainError
from tests.billing.factories import T0
from tests.vouchers.factories import (
    contract_between,
    create_program,
    invoice_for,
    lines_of,
    officer_of,
    sme_actor,
    vendor_actor,
)
from vouchers import applications, programs, redemptions, wallet
from vouchers.models import Movement, MovementKind, VoucherStatus

BUDGET = 100_000
INVOICES_PER_BUYER = 4

steps = st.lists(
    st.one_of(
        st.tuples(st.just("issue"), st.integers(0, 1), st.integers(1, 60_000)),
        st.tuples(st.just("redeem"), st.integers(0, 1), st.integers(0, 5), st.integers(0, 3)),
        st.tuples(st.just("reverse"), st.integers(0, 1), st.integers(0, 3)),
        st.tuples(st.just("wait"), st.integers(1, 20)),
        st.tuples(st.just("expire"), st.integers(0, 1)),
        st.tuples(st.just("revoke"), st.integers(0, 5)),
    ),
    min_size=3,
    max_size=30,
)


def check_books(session: Session, program) -> None:
    figures = programs.figures(session, program)
    assert min(figures.reserved_fen, figures.redeemed_fen, figures.released_fen) >= 0
    assert figures.reserved_fen + figures.redeemed_fen + figures.released_fen <= BUDGET
    vouchers = wallet.vouchers_in(session, program)
    for voucher in vouchers:
        session.refresh(voucher)
        assert voucher.balance_fen >= 0
        assert voucher.balance_fen + voucher.redeemed_fen + voucher.released_fen == voucher.face_fen
        if voucher.status in (VoucherStatus.ACTIVE, VoucherStatus.SPENT):
            assert voucher.released_fen == 0  # only an ended voucher gives money back
    assert figures.reserved_fen == sum(v.balance_fen for v in vouchers)
    assert figures.redeemed_fen == sum(v.redeemed_fen for v in vouchers)
    assert figures.released_fen == sum(v.released_fen for v in vouchers)
    releases = session.execute(
        sa.select(Movement.voucher_id, sa.func.count())
        .where(Movement.program_id == program.id, Movement.kind == MovementKind.RELEASED)
        .group_by(Movement.voucher_id)
    ).all()
    assert all(count == 1 for _voucher_id, count in releases)  # a balance is released once


def test_budget_figures_hold_under_any_sequence(session: Session) -> None:
    program = create_program(
        session, budget_fen=BUDGET, ratio_bp=10_000, annual_cap_fen=BUDGET, validity_days=30
    )
    officer = officer_of(session, program)
    vendor = vendor_actor(session)
    buyers = [sme_actor(session) for _ in range(2)]
    invoices = []
    for buyer in buyers:
        contract = contract_between(session, buyer, vendor)
        invoices.append([invoice_for(session, contract, 30_000) for _ in range(INVOICES_PER_BUYER)])
    session.flush()

    @settings(
        max_examples=100,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(steps)
    def run(sequence: list[tuple]) -> None:
        savepoint = session.begin_nested()
        try:
            now = T0
            for step in sequence:
                action = step[0]
                try:
                    if action == "issue":
                        _, who, amount = step
                        application = applications.apply(
                            session, program, actor=buyers[who], requested_fen=amount, now=now
                        )
                        try:
                            applications.approve(session, application, actor=officer, now=now)
                        except DomainError:
                            applications.reject(
                                session, application, actor=officer, reason="预算不足", now=now
                            )
                    elif action == "redeem":
                        _, who, pick, which = step
                        held = wallet.vouchers_of(session, buyers[who].organization.id)
                        if held:
                            invoice = invoices[who][which]
                            redemptions.redeem(
                                session,
                                invoice_id=invoice.id,
                                buyer_id=invoice.buyer_id,
                                lines=lines_of(invoice),
                                codes=[held[pick % len(held)].code],
                                now=now,
                            )
                    elif action == "reverse":
                        _, who, which = step
                        redemptions.reverse_invoice(
                            session, invoice_id=invoices[who][which].id, reason="refund", now=now
                        )
                    elif action == "wait":
                        now += timedelta(days=step[1])
                    elif action == "expire":
                        wallet.expire_due(session, now)
                    elif action == "revoke":
                        held = wallet.vouchers_in(session, program)
                        if held:
                            wallet.revoke(
                                session,
                                held[step[1] % len(held)],
                                actor=officer,
                                reason="核查",
                                now=now,
                            )
                    event(f"{action} done")
                except DomainError:
                    event(f"{action} refused")  # changes nothing; the books must still hold
                check_books(session, program)
        finally:
            savepoint.rollback()

    run()
