"""The vendor's payable page splits the ledger balance into 已收 (received), 待收 (open
invoices) and 券补贴结算中 (voucher share awaiting settlement); the parts add up to the
ledger's balance, before and after a program pays its settlement."""

from __future__ import annotations

import re
from datetime import timedelta

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from billing import ledger, payable, voucher_payments
from billing.payments import bank_transfers
from tests.billing.factories import T0
from tests.catalog.factories import operator_actor
from tests.factories import login
from tests.vouchers.factories import (
    contract_between,
    create_program,
    grant,
    invoice_for,
    officer_of,
    sme_actor,
    vendor_actor,
)
from vouchers import settlements


def shown(html: str, attribute: str) -> str:
    match = re.search(rf"{attribute}>([^<]+)<", html)
    assert match, attribute
    return match.group(1).strip()


def test_the_split_adds_up_to_the_ledger_and_follows_a_settlement(
    client: FlaskClient, session: Session
) -> None:
    program = create_program(session)
    buyer, vendor = sme_actor(session), vendor_actor(session)
    operator = operator_actor(session)
    voucher = grant(session, program, buyer, 3_000)
    contract = contract_between(session, buyer, vendor)
    # Commission 10%. A: ¥100 = ¥30 voucher + ¥70 transfer; B: ¥50 open; C: ¥20 transferred.
    a = invoice_for(session, contract, 10_000)
    voucher_payments.apply(session, a, codes=[voucher.code], actor=buyer, now=T0)
    bank_transfers.record_bank_transfer(
        session, a, amount_fen=7_000, reference="A", actor=operator, now=T0
    )
    invoice_for(session, contract, 5_000)
    c = invoice_for(session, contract, 2_000)
    bank_transfers.record_bank_transfer(
        session, c, amount_fen=2_000, reference="C", actor=operator, now=T0
    )
    vendor_id = vendor.organization.id

    split = payable.split(session, vendor_id)
    assert split.balance_fen == -ledger.balance(session, ledger.VENDOR_PAYABLE, vendor_id) == 15_300
    assert split.voucher_pending_fen == 3_000
    assert split.open_fen == 4_500  # ¥50 less 10%
    assert split.received_fen == 9_000 - 1_000 - 200  # paid, less the commission on A and C
    assert split.received_fen + split.open_fen + split.voucher_pending_fen == split.balance_fen
    assert sum(row.payable_fen for row in split.by_kind) == split.balance_fen

    login(client, vendor.user)
    html = client.get("/billing/payable").get_data(as_text=True)
    assert shown(html, "data-split-received") == "¥78.00"
    assert shown(html, "data-split-open") == "¥45.00"
    assert shown(html, "data-split-vouchers") == "¥30.00"
    assert "voucher.redeemed" not in html and "invoice.issued" in html

    officer = officer_of(session, program)
    batch = settlements.create_settlement(
        session,
        program,
        actor=officer,
        vendor_id=vendor_id,
        period_start=T0 - timedelta(days=1),
        period_end=T0 + timedelta(days=3),
        now=T0,
    )
    settlements.approve_settlement(session, batch, actor=officer, now=T0)
    settlements.mark_paid(session, batch, actor=officer, bank_reference="GOV-1", now=T0)
    after = payable.split(session, vendor_id)
    assert after.voucher_pending_fen == 0
    assert after.balance_fen == 15_300 - 3_000
    assert (after.received_fen, after.open_fen) == (split.received_fen, split.open_fen)
