"""Card retries of unpaid invoices (the end of every billing run): at issue, then 3 and 7
days later; after the last failed try the contract is suspended (past due), and buyer and
vendor hear of it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from billing import notify, webhook_events
from billing.models import ContractStatus, Invoice, InvoiceStatus
from billing.period_close import skip_locked
from marketplace.states import transition

if TYPE_CHECKING:
    from billing.run import RunReport

# Card retries of an unpaid invoice: at issue, then 3 and 7 days later (3 tries over 7 days).
RETRY_OFFSETS = (timedelta(0), timedelta(days=3), timedelta(days=7))


def retry_payments(
    sessions: sessionmaker[Session],
    *,
    as_of: datetime,
    charge: Callable[[Session, Invoice, datetime], bool | None],
    report: RunReport,
) -> None:
    """Charge each invoice whose next try is due. ``charge`` commits the card attempt
    before calling Stripe (so the invoice's lock is not held while Stripe answers); a try
    whose result is not known yet (None) is not counted, the reconciliation settles it."""
    with sessions() as session:
        due = list(
            session.scalars(
                sa.select(Invoice.id)
                .where(
                    Invoice.status == InvoiceStatus.OPEN,
                    Invoice.next_attempt_at.is_not(None),
                    Invoice.next_attempt_at <= as_of,
                )
                .order_by(Invoice.id)
            )
        )
    for invoice_id in due:
        with sessions() as session:
            invoice = session.scalar(
                skip_locked(
                    session,
                    sa.select(Invoice).where(
                        Invoice.id == invoice_id,
                        Invoice.status == InvoiceStatus.OPEN,
                        Invoice.next_attempt_at <= as_of,
                    ),
                )
            )
            if invoice is None:
                continue
            paid = charge(session, invoice, as_of)
            if paid is not None:
                report.payment_attempts += 1
            if paid is False:
                report.payments_failed += 1
                _schedule_next_try(session, invoice, as_of=as_of, report=report)
            session.commit()


def _schedule_next_try(
    session: Session, invoice: Invoice, *, as_of: datetime, report: RunReport
) -> None:
    """After a failed try: the next one, or past_due once the tries are used up."""
    session.refresh(invoice, with_for_update=True)  # the charge's commit released the lock
    if invoice.status is not InvoiceStatus.OPEN:
        return
    invoice.attempt_count += 1
    if invoice.attempt_count < len(RETRY_OFFSETS):
        assert invoice.issued_at is not None  # an open invoice has been issued
        next_at = invoice.issued_at + RETRY_OFFSETS[invoice.attempt_count]
        invoice.next_attempt_at = next_at if next_at > as_of else as_of + timedelta(days=1)
    else:
        invoice.next_attempt_at = None
        contract = invoice.contract
        if contract.status in (ContractStatus.ACTIVE, ContractStatus.TRIALING):
            # The run's own record is the webhook event and the report, as before.
            transition(contract, ContractStatus.PAST_DUE, None, audit_row=False)
            report.suspended += 1
            webhook_events.contract_event(
                session, contract, "contract.suspended", now=as_of, key=f"invoice:{invoice.id}"
            )
            notify.send(
                session,
                contract.buyer_id,
                "contract_suspended",
                f"suspended:contract:{contract.id}:invoice:{invoice.id}",
                link=f"/billing/invoices/{invoice.id}",
                number=invoice.number,
                **notify.solution_params(contract),
            )
    session.flush()
