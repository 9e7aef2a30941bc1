"""Concurrency on PostgreSQL: a city voucher and a district voucher racing on one invoice
(real threads, each with its own connection and commit) never pay more together than the
combined cap; without the invoice's row lock both would read "nothing paid yet" and pay
50% + 40%."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from billing import ledger, voucher_payments
from billing.models import Invoice
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
from tests.vouchers.test_concurrency import own_app, race, reload_actor  # noqa: F401
from vouchers import redemptions, stacking
from vouchers.models import Redemption, RedemptionStatus

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not POSTGRES_URL, reason="needs PostgreSQL (set DATABASE_URL)"),
]

ROUNDS = 6


def test_city_and_district_racing_on_one_invoice_stay_within_the_combined_cap(
    own_app: Flask,  # noqa: F811
) -> None:
    with own_app.app_context(), own_app.extensions["marketplace.db"].sessions() as session:
        city = create_program(session, name="上海市上云券", region_prefix="31", ratio_bp=5000)
        district = create_program(session, name="浦东新区上云券", ratio_bp=4000)
        stacking.set_rule(
            session,
            city,
            actor=officer_of(session, city),
            partner_program_ids=[district.id],
            combined_cap_bp=7000,
            now=T0,
        )
        buyer, vendor = sme_actor(session), vendor_actor(session)
        codes = [grant(session, p, buyer, 200_000).code for p in (city, district)]
        contract = contract_between(session, buyer, vendor)
        invoices = [invoice_for(session, contract, 10_000) for _ in range(ROUNDS + 1)]
        facts = [(i.id, i.buyer_id, lines_of(i)) for i in invoices]
        buyer_ids = (buyer.user.id, buyer.organization.id)
        session.commit()

    for invoice_id, buyer_id, lines in facts[:ROUNDS]:

        def pay(session: Session, i: int) -> int:
            return redemptions.redeem(
                session,
                invoice_id=invoice_id,  # noqa: B023
                buyer_id=buyer_id,  # noqa: B023
                lines=lines,  # noqa: B023
                codes=[codes[i]],
                now=T0 + timedelta(hours=1),
            ).total_fen

        outcomes = race(own_app, 2, pay)
        assert [kind for kind, _v in outcomes] == ["ok", "ok"], outcomes
        assert sum(value for _k, value in outcomes) == 7_000  # 5,000 + 2,000 or 4,000 + 3,000

    # The same through billing's pay path (the buyer's two payments at once).
    last_id = facts[ROUNDS][0]

    def pay_invoice(session: Session, i: int) -> int:
        invoice = session.get(Invoice, last_id)
        assert invoice is not None
        return voucher_payments.apply(
            session, invoice, codes=[codes[i]], actor=reload_actor(session, buyer_ids), now=T0
        )

    outcomes = race(own_app, 2, pay_invoice)
    assert [kind for kind, _v in outcomes] == ["ok", "ok"], outcomes
    assert sum(value for _k, value in outcomes) == 7_000

    with own_app.app_context(), own_app.extensions["marketplace.db"].sessions() as session:
        per_invoice = dict(
            session.execute(
                sa.select(Redemption.invoice_id, sa.func.sum(Redemption.amount_fen))
                .where(Redemption.status == RedemptionStatus.ACTIVE)
                .group_by(Redemption.invoice_id)
            ).all()
        )
        assert sorted(per_invoice) == sorted(f[0] for f in facts)
        assert set(per_invoice.values()) == {7_000}
        assert session.get(Invoice, last_id).voucher_fen == 7_000
        assert ledger.unbalanced_transactions(session) == []
