"""The audit trail in words an officer reads: each row's event in the reader's language,
who acted (a person's name and organization), what it was about (a program by its name, a
voucher by its code, an organization by its name) and the amounts it carried, in yuan.

The chain stores event keys ("voucher.issued") and ids; this module only reads them. An
event kind this table does not know yet is shown by its object's name and the key's last
word, never as a blank. The same lines feed the page and the export (in Chinese there,
whatever the interface language: the files go to finance offices and auditors).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from marketplace import audit_words
from marketplace.audit import AuditEvent
from marketplace.models import Organization, User
from marketplace.money import format_fen
from vouchers import vocabulary
from vouchers.audit_trail import SYSTEM
from vouchers.models import Application, Program, Voucher

# vouchers' own events; marketplace's (members, tokens, ...) are in marketplace.audit_words,
# which this module registers these with (``install``) and asks for every name.
EVENT_NAMES: dict[str, Any] = {
    "voucher_program.created": _l("Program created"),
    "voucher_program.updated": _l("Program terms changed"),
    "voucher_program.published": _l("Program published"),
    "voucher_program.closed": _l("Program closed"),
    "voucher_program.budget_changed": _l("Program budget changed"),
    "voucher_program.stacking_set": _l("Program stacking rule set"),
    "voucher_program.stacking_removed": _l("Program stacking rule removed"),
    "voucher_program.funders_set": _l("Program funders set"),
    "voucher_program.settlement_conditions_set": _l("Program settlement conditions set"),
    "voucher_application.submitted": _l("Application submitted"),
    "voucher_application.approved": _l("Application approved"),
    "voucher_application.rejected": _l("Application rejected"),
    "voucher_application.withdrawn": _l("Application withdrawn"),
    "voucher.issued": _l("Voucher issued"),
    "voucher.redeemed": _l("Voucher redeemed on an invoice"),
    "voucher.expired": _l("Voucher expired"),
    "voucher.revoked": _l("Voucher revoked"),
    "voucher.settled": _l("Voucher settled"),
    "voucher_redemption.reversed": _l("Redemption reversed"),
    "voucher_settlement.created": _l("Settlement batch created"),
    "voucher_settlement.reduced": _l("Settlement batch reduced"),
    "voucher_settlement.dropped": _l("Settlement batch dropped"),
    "voucher_settlement.approved": _l("Settlement batch approved"),
    "voucher_settlement.paid": _l("Settlement batch paid"),
    "voucher_anomaly.detected": _l("Anomaly detected"),
    "voucher_anomaly.cleared": _l("Anomaly cleared"),
    "voucher_anomaly.confirmed": _l("Anomaly confirmed"),
    "voucher_notice.started": _l("Public notice started"),
    "voucher_notice.ended": _l("Public notice ended"),
    "voucher_notice.cancelled": _l("Public notice cancelled"),
    "voucher_objection.filed": _l("Objection filed"),
    "voucher_objection.upheld": _l("Objection upheld"),
    "voucher_objection.dismissed": _l("Objection dismissed"),
    "organization.flagged": _l("Organization flagged as dishonest"),
    "organization.flag_cleared": _l("Dishonesty flag cleared"),
}

SUBJECT_NAMES: dict[str, Any] = {
    "voucher_program": _l("Program"),
    "voucher_application": _l("Application"),
    "voucher": _l("Voucher"),
    "voucher_redemption": _l("Redemption"),
    "voucher_settlement": _l("Settlement batch"),
    "voucher_anomaly": _l("Anomaly case"),
    "voucher_notice": _l("Public notice"),
    "voucher_objection": _l("Objection"),
}


def install(app: Flask) -> None:
    """At app setup: vouchers' names join marketplace's audit vocabulary."""
    audit_words.register(EVENT_NAMES, SUBJECT_NAMES)


# The amounts a row may carry, in the order they are shown.
AMOUNT_NAMES: dict[str, Any] = {
    "amount_fen": _l("Amount"),
    "eligible_fen": vocabulary.ELIGIBLE,
    "requested_fen": _l("Requested"),
    "approved_fen": _l("Approved amount"),
    "face_fen": _l("Face value"),
    "total_fen": _l("Total"),
    "released_fen": _l("Released"),
    "before_fen": _l("Amount before"),
    "budget_fen": _l("Budget"),
    "annual_cap_fen": _l("Cap per enterprise"),
    "invoice_cap_fen": _l("Cap per invoice"),
}
# Text fields worth reading beside the amounts.
NOTE_KEYS = ("reason", "note", "bank_reference")


event_name = audit_words.event_name
subject_name = audit_words.subject_name


@dataclass(frozen=True)
class Amount:
    key: str
    label: str
    fen: int

    @property
    def text(self) -> str:
        return f"{self.label} {format_fen(self.fen)}"


@dataclass
class AuditLine:
    """One audit row as the officer reads it."""

    event: AuditEvent
    event_name: str
    person: str  # a name, or "system"
    person_id: int  # SYSTEM for jobs
    organization: str  # the acting organization's name ("" for jobs)
    subject: str  # e.g. "Program 浦东新区上云券"
    program: str  # the program the row concerns, by name ("" when none)
    amounts: list[Amount] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def id(self) -> int:
        return self.event.id

    @property
    def at(self) -> datetime:
        return self.event.created_at

    @property
    def amount(self) -> Amount | None:
        """The row's main amount (the first one it carries)."""
        return self.amounts[0] if self.amounts else None


def _names(session: Session, model: Any, column: Any, ids: Iterable[int]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return dict(session.execute(sa.select(model.id, column).where(model.id.in_(wanted))).all())


def _int(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit() and len(value) <= 18:
        return int(value)
    return None


def _ids_of(events: list[AuditEvent], subject_type: str) -> set[int]:
    return {
        i
        for e in events
        if e.subject_type == subject_type and (i := _int(e.subject_id)) is not None
    }


def describe(session: Session, events: list[AuditEvent]) -> list[AuditLine]:
    """The rows in words, with a handful of queries however many rows there are."""
    users = _names(
        session, User, User.name, (e.actor_user_id for e in events if e.actor_user_id is not None)
    )
    program_ids = _ids_of(events, "voucher_program") | {
        i for e in events if (i := _int((e.data or {}).get("program_id"))) is not None
    }
    programs = _names(session, Program, Program.name, program_ids)
    org_ids = (
        {e.actor_org_id for e in events if e.actor_org_id is not None}
        | _ids_of(events, "organization")
        | {
            i
            for e in events
            for key in ("vendor_id", "holder_org_id")
            if (i := _int((e.data or {}).get(key))) is not None
        }
    )
    orgs = _names(session, Organization, Organization.name, org_ids)
    codes = _names(session, Voucher, Voucher.code, _ids_of(events, "voucher"))
    applicants = dict(
        session.execute(
            sa.select(Application.id, Organization.name)
            .join(Organization, Organization.id == Application.applicant_org_id)
            .where(Application.id.in_(_ids_of(events, "voucher_application")))
        ).all()
    )
    lines = []
    for event in events:
        data = event.data or {}
        subject_id = _int(event.subject_id)
        kind = subject_name(event.subject_type)
        if event.subject_type == "voucher_program" and subject_id in programs:
            subject = f"{kind} {programs[subject_id]}"
        elif event.subject_type == "organization" and subject_id in orgs:
            subject = f"{kind} {orgs[subject_id]}"
        elif event.subject_type == "voucher" and subject_id in codes:
            subject = f"{kind} {codes[subject_id]}"
        elif event.subject_type == "voucher_application" and subject_id in applicants:
            subject = f"{kind} #{subject_id} ({applicants[subject_id]})"
        else:
            subject = f"{kind} #{event.subject_id}"
        program_id = (
            subject_id if event.subject_type == "voucher_program" else _int(data.get("program_id"))
        )
        amounts = [
            Amount(key, str(label), value)
            for key, label in AMOUNT_NAMES.items()
            if isinstance(value := data.get(key), int) and not isinstance(value, bool)
        ]
        notes = [str(data[key]) for key in NOTE_KEYS if data.get(key)]
        for key, role in (("vendor_id", _("Vendor")), ("holder_org_id", _("Enterprise"))):
            if (org_id := _int(data.get(key))) in orgs:
                notes.append(f"{role}: {orgs[org_id]}")
        lines.append(
            AuditLine(
                event=event,
                event_name=event_name(event.action),
                person=(
                    users.get(event.actor_user_id, f"#{event.actor_user_id}")
                    if event.actor_user_id is not None
                    else _("System")
                ),
                person_id=event.actor_user_id if event.actor_user_id is not None else SYSTEM,
                organization=orgs.get(event.actor_org_id, "") if event.actor_org_id else "",
                subject=subject,
                program=programs.get(program_id, "") if program_id is not None else "",
                amounts=amounts,
                notes=notes,
            )
        )
    return lines


def person_names(session: Session, ids: Iterable[int]) -> dict[int, str]:
    """For the person filter: names by id, jobs as "System"."""
    ids = list(ids)
    names = _names(session, User, User.name, (i for i in ids if i != SYSTEM))
    return {i: (_("System") if i == SYSTEM else names.get(i, f"#{i}")) for i in ids}
