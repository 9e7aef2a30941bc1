"""The vouchers blueprint and what its pages share: loading an object the acting
organization may see (anything else is simply not found) and small display helpers.

Every handler runs load (404) -> authorize (403, by ``org_required`` and the services'
``access`` checks) -> act, with service calls inside ``db.session.begin_nested()`` so a
refusal leaves the database as it was.
"""

from __future__ import annotations

from urllib.parse import quote

import sqlalchemy as sa
from flask import Blueprint, abort, g
from flask_wtf import FlaskForm

from marketplace.db import db
from marketplace.errors import DomainError
from marketplace.models import Organization, OrgKind
from marketplace.views.accounts import show_error
from vouchers import eligibility
from vouchers.models import Anomaly, Application, Program, ProgramStatus, Settlement, Voucher

bp = Blueprint("vouchers", __name__, url_prefix="/vouchers")

OFFICER = (OrgKind.GOVERNMENT,)
ENTERPRISE = (OrgKind.SME,)
VENDOR = (OrgKind.VENDOR,)


def load_program(program_id: int) -> Program:
    """A program of the acting officer's own government organization."""
    program = db.session.get(Program, program_id)
    if program is None or not program.can_manage(g.actor.organization.id):
        abort(404)
    return program


def load_public_program(program_id: int) -> Program:
    """A published or closed program; a draft is nobody's business but its owner's."""
    program = db.session.get(Program, program_id)
    if program is None or program.status is ProgramStatus.DRAFT:
        abort(404)
    return program


def _owned(program_id: int) -> bool:
    program = db.session.get(Program, program_id)
    return program is not None and program.can_manage(g.actor.organization.id)


def load_application(application_id: int) -> Application:
    application = db.session.get(Application, application_id)
    if application is None or not _owned(application.program_id):
        abort(404)
    return application


def load_voucher(voucher_id: int) -> Voucher:
    voucher = db.session.get(Voucher, voucher_id)
    if voucher is None or not _owned(voucher.program_id):
        abort(404)
    return voucher


def load_settlement(settlement_id: int) -> Settlement:
    settlement = db.session.get(Settlement, settlement_id)
    if settlement is None or not _owned(settlement.program_id):
        abort(404)
    return settlement


def load_anomaly(anomaly_id: int) -> Anomaly:
    anomaly = db.session.get(Anomaly, anomaly_id)
    if anomaly is None or not _owned(anomaly.program_id):
        abort(404)
    return anomaly


def verified_vendors(also: list[int] | None = None) -> list[Organization]:
    """Vendors an officer can put in a program's pool: the verified ones, plus any already
    in it (a vendor verified once and later not stays visible until removed)."""
    condition = sa.and_(Organization.kind == OrgKind.VENDOR, Organization.is_verified)
    if also:
        condition = sa.or_(condition, Organization.id.in_(also))
    return list(
        db.session.scalars(sa.select(Organization).where(condition).order_by(Organization.name))
    )


def organizations_by_id(ids: set[int]) -> dict[int, Organization]:
    if not ids:
        return {}
    return {
        o.id: o for o in db.session.scalars(sa.select(Organization).where(Organization.id.in_(ids)))
    }


def refusal_status(error: DomainError) -> int:
    """A page re-rendered after a service refused: 409 for a clash with the current
    state, 422 for anything about the input."""
    return 409 if error.status == 409 else 422


def show_refusal(form: FlaskForm, error: DomainError, rename: dict[str, str] | None = None) -> None:
    """Put a service's refusal on the form; a failed eligibility check lists every rule."""
    if isinstance(error, eligibility.NotEligible):
        form.form_errors.append(str(error.message))
        form.form_errors.extend(str(f.message) for f in error.eligibility.failures)
        return
    show_error(form, error, rename)


def content_disposition(stem: str, extension: str, fallback: str) -> str:
    """An attachment whose Chinese name survives every browser: an ASCII ``filename`` for
    old ones and the UTF-8 name as ``filename*`` (RFC 5987, RFC 6266)."""
    return (
        f'attachment; filename="{fallback}.{extension}"; '
        f"filename*=UTF-8''{quote(f'{stem}.{extension}', safe='')}"
    )
