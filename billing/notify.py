"""In-app notifications (and e-mail when SMTP is configured), each sent once per key.

The notification row is stored in the caller's transaction; its e-mails are queued in the
outbox with it and sent by the worker after the commit (never over SMTP from here).

Messages are stored as a kind and parameters and worded when read, so each person sees
them in their own language.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import has_app_context
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from billing.models import Contract, Invoice, Notification
from catalog.inquiries import excerpt
from catalog.inquiry_models import Side
from marketplace.db import insert_or_skip
from marketplace.i18n import current_language
from marketplace.mail import mail_enabled, queue_mail
from marketplace.models import Membership, Role
from marketplace.money import format_fen

MESSAGES = {
    "invoice_issued": _l("Invoice %(number)s for %(amount)s has been issued."),
    "payment_failed": _l("Paying invoice %(number)s failed: %(reason)s"),
    "payment_succeeded": _l("Invoice %(number)s is paid."),
    "spend_cap_80": _l("Usage on %(solution)s has reached 80%% of the spend cap of %(cap)s."),
    "spend_cap_100": _l(
        "Usage on %(solution)s has reached the spend cap of %(cap)s; further usage this period is not charged."
    ),
    "outcome_reported": _l(
        "A result was reported: %(kpi)s %(measured)s. Confirm or dispute it within the verification window."
    ),
    "baseline_proposed": _l(
        "A baseline of %(value)s was proposed for %(solution)s. Accept it or make a counter-proposal."
    ),
    "baseline_agreed": _l(
        "The baseline of %(value)s for %(solution)s is agreed; the contract has started."
    ),
    "outcome_disputed": _l("The buyer disputed the result %(measured)s: %(reason)s"),
    "outcome_resolved": _l("The operator decided the disputed result: %(note)s"),
    "outcome_corrected": _l(
        "An invoiced result was corrected: %(number)s for %(amount)s has been issued."
    ),
    "webhook_disabled": _l(
        "Your webhook endpoint %(url)s has failed for three days and is disabled; fix it, then enable it again."
    ),
    "contract_suspended": _l(
        "Your contract for %(solution)s is suspended because invoice %(number)s is unpaid."
    ),
    "invoice_due_soon": _l("Invoice %(number)s for %(amount)s is due on %(date)s."),
    "invoice_due_today": _l("Invoice %(number)s for %(amount)s is due today."),
    "invoice_overdue_3": _l("Invoice %(number)s for %(amount)s is overdue by %(days)s days."),
    "invoice_overdue_7": _l(
        "Invoice %(number)s for %(amount)s is overdue by %(days)s days. Please pay it to keep the service running."
    ),
    "inquiry_question": _l("%(buyer)s asked about %(solution)s: %(excerpt)s"),
    "inquiry_answer": _l("%(vendor)s answered your question about %(solution)s: %(excerpt)s"),
}


def message(notification: Notification) -> str:
    template = MESSAGES.get(notification.kind)
    return (
        str(template) % in_reader_language(notification.params) if template else notification.kind
    )


def in_reader_language(params: dict[str, Any]) -> dict[str, Any]:
    """A parameter worded from data in two languages (a solution's name, a value with its
    unit) is stored twice, the English one as ``<name>_en``; English readers get that one."""
    if not has_app_context() or current_language() != "en":
        return params
    return {
        **params,
        **{key[:-3]: value for key, value in params.items() if key.endswith("_en") and value},
    }


def send_many(session: Session, rows: list[dict[str, Any]]) -> int:
    """Store notifications ({organization_id, kind, dedupe_key, link, params}); those whose
    key was used before are skipped. Returns how many are new (and e-mails them)."""
    if not rows:
        return 0
    statement = (
        insert_or_skip(session, Notification)
        .on_conflict_do_nothing(index_elements=["organization_id", "dedupe_key"])
        .returning(
            Notification.id, Notification.organization_id, Notification.kind, Notification.params
        )
    )
    created = session.execute(statement, rows).all()
    if created and has_app_context():
        for notification_id, organization_id, kind, params in created:
            _email(session, notification_id, organization_id, kind, params)
    return len(created)


def send(
    session: Session,
    organization_id: int,
    kind: str,
    dedupe_key: str,
    *,
    link: str = "",
    **params: Any,
) -> bool:
    """Store a notification unless one with this key exists; True when it is new."""
    row = {
        "organization_id": organization_id,
        "kind": kind,
        "params": params,
        "link": link,
        "dedupe_key": dedupe_key,
    }
    return send_many(session, [row]) == 1


def _email(
    session: Session, notification_id: int, organization_id: int, kind: str, params: dict[str, Any]
) -> None:
    if not mail_enabled():
        return
    recipients = session.scalars(
        sa.select(Membership).where(
            Membership.organization_id == organization_id,
            Membership.role.in_([Role.OWNER, Role.ADMIN]),
        )
    )
    text = str(MESSAGES[kind]) % params
    for membership in recipients:
        queue_mail(
            session,
            membership.user.email,
            text[:80],
            text,
            dedupe_key=f"notification:{notification_id}:user:{membership.user_id}",
        )


def invoice_issued(session: Session, invoice: Invoice) -> None:
    invoices_issued(session, [invoice])


def invoices_issued(session: Session, invoices: list[Invoice]) -> None:
    send_many(
        session,
        [
            {
                "organization_id": invoice.buyer_id,
                "kind": "invoice_issued",
                "dedupe_key": f"invoice:{invoice.id}:issued",
                "link": f"/billing/invoices/{invoice.id}",
                "params": {"number": invoice.number, "amount": format_fen(invoice.total_fen)},
            }
            for invoice in invoices
            if invoice.total_fen > 0
        ],
    )


def payment_failed(session: Session, invoice: Invoice, reason: str, attempt: int) -> None:
    send(
        session,
        invoice.buyer_id,
        "payment_failed",
        f"invoice:{invoice.id}:failed:{attempt}",
        link=f"/billing/invoices/{invoice.id}",
        number=invoice.number,
        reason=reason,
    )


def solution_name(contract: Contract) -> str:
    """The solution's name in a notification (stored with it, so in the listing's own
    language): the published one, or the one the plan was bought from."""
    return (contract.solution.published or contract.plan.revision).name


def solution_params(contract: Contract) -> dict[str, str]:
    """The solution's name for a notification, with its English name for English readers."""
    revision = contract.solution.published or contract.plan.revision
    return {"solution": revision.name, "solution_en": revision.name_en or revision.name}


def spend_cap(session: Session, contract: Contract, level: int, period_key: str) -> None:
    """Warn buyer and vendor once per period at 80% and 100% of the spend cap."""
    kind = f"spend_cap_{level}"
    for org_id in (contract.buyer_id, contract.vendor_id):
        send(
            session,
            org_id,
            kind,
            f"cap{level}:contract:{contract.id}:{period_key}",
            link=f"/billing/contracts/{contract.id}",
            cap=format_fen(contract.spend_cap_fen or 0),
            **solution_params(contract),
        )


def webhook_endpoint_disabled(endpoint: Any, *, session: Session, now: Any) -> None:
    """Connected to marketplace.webhooks.endpoint_disabled (marketplace cannot import
    billing): the vendor hears that its failing endpoint was switched off."""
    send(
        session,
        endpoint.organization_id,
        "webhook_disabled",
        f"webhook:{endpoint.id}:disabled:{now.isoformat()}",
        link=f"/vendor/webhooks/{endpoint.id}",
        url=endpoint.url[:200],
    )


def inquiry_message_posted(message: Any, *, session: Session) -> None:
    """Connected to catalog.signals.inquiry_message_posted (catalog cannot import billing):
    the other side of the thread hears of the new message, in the app and by e-mail."""
    inquiry = message.inquiry
    revision = inquiry.solution.published or inquiry.solution.current
    params = {"solution": revision.name, "excerpt": excerpt(message)}
    if message.side is Side.BUYER:
        organization_id, kind = inquiry.vendor_id, "inquiry_question"
        link, params["buyer"] = f"/vendor/inquiries/{inquiry.id}", inquiry.buyer.name
    else:
        organization_id, kind = inquiry.buyer_id, "inquiry_answer"
        link, params["vendor"] = f"/account/inquiries/{inquiry.id}", inquiry.vendor.name
    send(session, organization_id, kind, f"inquiry_message:{message.id}", link=link, **params)


def inquiry_read(inquiry: Any, *, session: Session, organization_id: int, now: Any) -> None:
    """Connected to catalog.signals.inquiry_read: the notifications of the thread's
    messages are read once the organization has opened the thread."""
    keys = [f"inquiry_message:{message.id}" for message in inquiry.messages]
    session.execute(
        sa.update(Notification)
        .where(
            Notification.organization_id == organization_id,
            Notification.dedupe_key.in_(keys),
            Notification.read_at.is_(None),
        )
        .values(read_at=now)
    )
