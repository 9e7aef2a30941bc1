"""Paying invoices with vouchers: the facts billing hands to the vouchers package (one
eligible-line record per invoice line), the invoice's voucher amount, and the ledger
bookings of redemptions, their reversal on void or refund, and settlements.

The money: a redemption moves part of what the buyer owes to the voucher program
(``voucher_program_payable`` is debited, ``buyer_receivable`` credited). The government
pays the vendor directly when it settles, which lowers what the platform owes the vendor
(``vendor_payable`` debited) and clears the program's debt (``voucher_program_payable``
credited). The platform's commission was booked on the whole invoice at issue.

A co-funded program's part is booked on each funder's ``voucher_program_payable`` by the
split stored with the redemption (vouchers/cofunding.py), and settled by the same split,
so every funder's account is balanced on its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from billing import card_attempts, invoice_money, invoices, ledger
from billing.models import Invoice, InvoiceKind, InvoiceStatus
from billing.payment_models import PaymentStatus
from marketplace.errors import Conflict, NotAllowed
from marketplace.jsonapi import Actor
from vouchers import cofunding, redemptions
from vouchers.models import Redemption, Settlement
from vouchers.redemptions import EligibleLine, Quote

PENDING = (PaymentStatus.PROCESSING, PaymentStatus.REQUIRES_ACTION)


def eligible_lines(invoice: Invoice) -> list[EligibleLine]:
    """Every line of the invoice as vouchers see it: the solution, its vendor and the
    voucher kinds the solution accepts now (its published listing, else the one the plan
    was bought from)."""
    solution = invoice.contract.solution
    revision = solution.published or invoice.contract.plan.revision
    kinds = [str(kind) for kind in (revision.voucher_kinds or [])]
    return [
        EligibleLine(
            line_id=line.id,
            solution_id=solution.id,
            vendor_id=invoice.vendor_id,
            amount_fen=left,
            voucher_kinds=kinds,
        )
        for line, left in zip(invoice.lines, _left_to_pay(invoice), strict=True)
    ]


def _left_to_pay(invoice: Invoice) -> list[int]:
    """Each line's amount once the invoice's negative lines and the customer credit applied
    to it are taken off its positive lines, in order (billing/credits.py: credit first,
    then vouchers), so a subsidy never pays more than is left to pay."""
    to_take = invoice.credit_applied_fen - sum(
        line.amount_fen for line in invoice.lines if line.amount_fen < 0
    )
    left = []
    for line in invoice.lines:
        taken = min(to_take, line.amount_fen) if line.amount_fen > 0 else 0
        to_take -= taken
        left.append(line.amount_fen - taken)
    return left


def quote(session: Session, invoice: Invoice, codes: Sequence[str], *, now: datetime) -> Quote:
    """What the chosen vouchers would pay on the invoice, nothing written."""
    return redemptions.quote(
        session,
        buyer_id=invoice.buyer_id,
        lines=eligible_lines(invoice),
        codes=codes,
        now=now,
        invoice_id=invoice.id,
    )


def best_quote(session: Session, invoice: Invoice, codes: Sequence[str], *, now: datetime) -> Quote:
    """The vouchers that would pay the most on the invoice (the pay page's default)."""
    return redemptions.best_quote(
        session,
        buyer_id=invoice.buyer_id,
        lines=eligible_lines(invoice),
        codes=codes,
        now=now,
        invoice_id=invoice.id,
    )


def apply(
    session: Session, invoice: Invoice, *, codes: Sequence[str], actor: Actor, now: datetime
) -> int:
    """Pay part of an open invoice with the buyer's vouchers, all or nothing; returns the
    subsidy. The rest stays due, to be paid by card or bank transfer. Vouchers come first:
    once money was paid or credited on the invoice they are refused, so a subsidy never
    pays more than the invoice."""
    if actor.organization.id != invoice.buyer_id or not actor.role.can_write:
        raise NotAllowed(_l("Only the buyer pays its invoices."))
    invoice_money.lock_invoice(session, invoice)
    if invoice.kind is not InvoiceKind.INVOICE or invoice.status not in (
        InvoiceStatus.OPEN,
        InvoiceStatus.UNCOLLECTIBLE,
    ):
        raise Conflict(_l("This invoice is not open for payment."))
    if invoices.amount_paid(invoice) > 0 or invoices.amount_credited(invoice) > 0:
        raise Conflict(
            _l("Vouchers are applied before any other payment; this invoice is partly paid."),
            field=redemptions.FIELD,
        )
    if any(p.status in PENDING for p in invoice.payments) or card_attempts.in_flight(
        session, invoice.id
    ):
        # A card payment of the whole amount is waiting (3-D Secure): a subsidy now would
        # make the buyer pay twice for that part once it succeeds.
        raise Conflict(
            _l("A card payment of this invoice is still being confirmed; try vouchers after it."),
            field=redemptions.FIELD,
        )
    result = redemptions.redeem(
        session,
        invoice_id=invoice.id,
        buyer_id=invoice.buyer_id,
        lines=eligible_lines(invoice),
        codes=codes,
        now=now,
        contract_id=invoice.contract_id,
        actor=actor,
    )
    if not result.redemptions:
        return 0
    shares = cofunding.shares_of(session, result.redemptions)
    bookings = []
    for redemption in result.redemptions:
        bookings.append(
            ledger.booking(
                "voucher.redeemed",
                [
                    *(
                        ledger.Line(ledger.VOUCHER_PROGRAM_PAYABLE, amount, funder_id)
                        for funder_id, amount in shares[redemption.id]
                    ),
                    ledger.Line(ledger.BUYER_RECEIVABLE, -redemption.amount_fen, invoice.buyer_id),
                ],
                memo=f"{invoice.number} voucher",
                invoice_id=invoice.id,
            )
        )
    ledger.insert_many(session, bookings, now=now)
    invoice.voucher_fen += result.total_fen
    session.flush()
    invoice_money.settle(session, invoice, now=now, note="paid with vouchers", actor=actor)
    return result.total_fen


def reverse(
    session: Session,
    invoice: Invoice,
    *,
    reason: str,
    now: datetime,
    actor: Actor | None = None,
) -> int:
    """Undo the vouchers of a voided invoice (``reason="void"``) or of one whose payments
    were refunded in full (``"refund"``): the balances come back (or, on vouchers that
    ended meanwhile, go back to the budget), and the ledger takes the program's part off.
    On a void the buyer's debt was cancelled by the void itself; on a refund the vendor's
    share and the commission of the subsidised part are given back too."""
    result = redemptions.reverse_invoice(
        session, invoice_id=invoice.id, reason=reason, now=now, actor=actor
    )
    if not result.reversed:
        return 0
    shares = cofunding.shares_of(session, result.reversed)
    bookings = []
    for redemption in result.reversed:
        amount = redemption.amount_fen
        program_lines = [
            ledger.Line(ledger.VOUCHER_PROGRAM_PAYABLE, -part, funder_id)
            for funder_id, part in shares[redemption.id]
        ]
        if reason == "void":
            others = [ledger.Line(ledger.BUYER_RECEIVABLE, amount, invoice.buyer_id)]
        else:
            vendor_share, commission = ledger.split_commission(amount, invoice.commission_bp)
            others = [
                ledger.Line(ledger.VENDOR_PAYABLE, vendor_share, invoice.vendor_id),
                ledger.Line(ledger.PLATFORM_COMMISSION, commission),
            ]
        bookings.append(
            ledger.booking(
                f"voucher.reversed.{reason}",
                [*program_lines, *others],
                memo=f"{invoice.number} voucher reversed",
                invoice_id=invoice.id,
            )
        )
    ledger.insert_many(session, bookings, now=now)
    invoice.voucher_fen -= result.total_fen
    session.flush()
    return result.total_fen


def on_invoice_money_returned(
    invoice: Invoice, *, session: Session, reason: str, now: datetime, actor: Actor | None
) -> None:
    """Receiver of ``billing.signals.invoice_money_returned`` (connected by the app factory):
    the vouchers of a voided or wholly refunded invoice go back."""
    reverse(session, invoice, reason=reason, now=now, actor=actor)


def redemptions_of(session: Session, invoice: Invoice) -> list[Redemption]:
    return redemptions.redemptions_on_invoice(session, invoice.id)


def settlement_paid(session: Session, settlement: Settlement, *, now: datetime) -> None:
    """The program paid the vendor its voucher share directly: the platform owes the
    vendor that much less, and the program's debt is cleared (each co-funder's by its
    share of the batch)."""
    shares = cofunding.settlement_shares(session, settlement)
    ledger.post(
        session,
        "voucher.settled",
        [
            ledger.Line(ledger.VENDOR_PAYABLE, settlement.total_fen, settlement.vendor_id),
            *(
                ledger.Line(ledger.VOUCHER_PROGRAM_PAYABLE, -amount, funder_id)
                for funder_id, amount in sorted(shares.items())
            ),
        ],
        memo=f"settlement {settlement.id} {settlement.bank_reference or ''}".strip(),
    )


def on_settlement_paid(settlement: Settlement, *, session: Session, now: datetime) -> None:
    """Receiver of vouchers' ``settlement_paid`` signal (connected by the app factory)."""
    settlement_paid(session, settlement, now=now)
