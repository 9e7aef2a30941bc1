"""Voucher programs: a government organization writes the terms, publishes the program,
and closes it; its budget figures are sums of the vouchers' movements."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from catalog.models import VoucherKind
from marketplace import dates, reference
from marketplace.errors import Conflict, DomainError
from marketplace.jsonapi import Actor
from marketplace.models import Organization, OrgKind
from marketplace.money import BASIS_POINTS_PER_UNIT, MAX_FEN
from marketplace.sizeclass import SizeClass
from marketplace.states import transition
from vouchers import access, confirmations, evidence
from vouchers.evidence import DocumentSpec
from vouchers.models import Movement, Program, ProgramStatus
from vouchers.notice_models import Notice, NoticeStatus

MAX_VALIDITY_DAYS = 3660
MAX_NOTICE_DAYS = 30
_GROUPING_NAMES = frozenset({"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"})


@dataclass
class ProgramTerms:
    """What an officer decides when writing a program (DESIGN.md section 5)."""

    name: str
    kind: VoucherKind
    region_prefix: str
    budget_fen: int
    ratio_bp: int
    annual_cap_fen: int
    size_classes: list[SizeClass]
    opens_at: datetime
    closes_at: datetime
    validity_days: int
    invoice_cap_fen: int | None = None
    industries: list[str] = field(default_factory=list)
    vendor_whitelist: list[int] = field(default_factory=list)
    description: str = ""
    # Documents every applicant uploads (营业执照, 采购合同, 承诺书).
    required_documents: list[DocumentSpec] = field(default_factory=list)
    notice_days: int = 0  # 公示 in working days before issue; 0 issues at approval


@dataclass(frozen=True)
class BudgetFigures:
    budget_fen: int
    reserved_fen: int  # on vouchers still usable
    redeemed_fen: int  # paid on invoices, net of reversals
    released_fen: int  # expired or revoked, back to the government

    @property
    def available_fen(self) -> int:
        """What can still be issued."""
        return self.budget_fen - self.reserved_fen - self.redeemed_fen - self.released_fen


def _check_amount(value: int, field_name: str, message: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_FEN:
        raise DomainError(message, field=field_name)


def _checked(session: Session, terms: ProgramTerms) -> ProgramTerms:
    name = terms.name.strip()
    if not name or len(name) > 200:
        raise DomainError(_l("Give the program a name of at most 200 characters."), field="name")
    prefix = terms.region_prefix.strip()
    if not (2 <= len(prefix) <= 6 and prefix.isascii() and prefix.isdigit()):
        raise DomainError(
            _l("The region is the first 2 to 6 digits of a region code, e.g. 310115."),
            field="region_prefix",
        )
    if not reference.is_valid_region(prefix.ljust(6, "0")) and not reference.is_valid_region(
        prefix
    ):
        raise DomainError(_l("No region has this code."), field="region_prefix")
    _check_amount(terms.budget_fen, "budget_fen", _l("The budget must be more than zero."))
    _check_amount(
        terms.annual_cap_fen, "annual_cap_fen", _l("The cap per enterprise must be more than zero.")
    )
    if terms.invoice_cap_fen is not None:
        _check_amount(
            terms.invoice_cap_fen,
            "invoice_cap_fen",
            _l("The cap per invoice must be more than zero, or left empty."),
        )
    if not 0 < terms.ratio_bp <= BASIS_POINTS_PER_UNIT:
        raise DomainError(
            _l("The subsidy ratio is more than 0 and at most 100 percent."), field="ratio_bp"
        )
    if not terms.size_classes:
        raise DomainError(_l("Choose at least one size class."), field="size_classes")
    size_classes = [SizeClass(value) for value in dict.fromkeys(terms.size_classes)]
    industries = [code.strip().upper() for code in dict.fromkeys(terms.industries)]
    for code in industries:
        is_section = len(code) == 1 and any(i.section == code for i in reference.industries())
        if not (is_section or reference.is_valid_industry(code)):
            raise DomainError(_l("Unknown industry code: %(code)s.", code=code), field="industries")
    whitelist = list(dict.fromkeys(int(vendor_id) for vendor_id in terms.vendor_whitelist))
    if whitelist:
        vendors = set(
            session.scalars(
                sa.select(Organization.id).where(
                    Organization.id.in_(whitelist), Organization.kind == OrgKind.VENDOR
                )
            )
        )
        unknown = [vendor_id for vendor_id in whitelist if vendor_id not in vendors]
        if unknown:
            raise DomainError(
                _l("These are not vendors: %(ids)s.", ids=", ".join(map(str, unknown))),
                field="vendor_whitelist",
            )
    for field_name, moment in (("opens_at", terms.opens_at), ("closes_at", terms.closes_at)):
        if not dates.moment_in_range(moment):
            raise DomainError(dates.OUT_OF_RANGE_MOMENT, field=field_name)
    if terms.closes_at <= terms.opens_at:
        raise DomainError(
            _l("The application window must close after it opens."), field="closes_at"
        )
    if not 0 < terms.validity_days <= MAX_VALIDITY_DAYS:
        raise DomainError(_l("Vouchers are valid for 1 to 3,660 days."), field="validity_days")
    notice_days = terms.notice_days
    if isinstance(notice_days, bool) or not isinstance(notice_days, int):
        raise DomainError(_l("The notice period is 0 to 30 working days."), field="notice_days")
    if not 0 <= notice_days <= MAX_NOTICE_DAYS:
        raise DomainError(_l("The notice period is 0 to 30 working days."), field="notice_days")
    return ProgramTerms(
        name=name,
        kind=VoucherKind(terms.kind),
        region_prefix=prefix,
        budget_fen=terms.budget_fen,
        ratio_bp=terms.ratio_bp,
        annual_cap_fen=terms.annual_cap_fen,
        size_classes=size_classes,
        opens_at=terms.opens_at,
        closes_at=terms.closes_at,
        validity_days=terms.validity_days,
        invoice_cap_fen=terms.invoice_cap_fen,
        industries=industries,
        vendor_whitelist=whitelist,
        description=terms.description.strip(),
        required_documents=evidence.checked_specs(terms.required_documents),
        notice_days=notice_days,
    )


def _terms_data(program: Program) -> dict[str, object]:
    return {
        "name": program.name,
        "kind": program.kind.value,
        "region_prefix": program.region_prefix,
        "budget_fen": program.budget_fen,
        "ratio_bp": program.ratio_bp,
        "annual_cap_fen": program.annual_cap_fen,
        "invoice_cap_fen": program.invoice_cap_fen,
        "size_classes": program.size_classes,
        "industries": program.industries,
        "vendor_whitelist": program.vendor_whitelist,
        "opens_at": program.opens_at.isoformat(),
        "closes_at": program.closes_at.isoformat(),
        "validity_days": program.validity_days,
        "notice_days": program.notice_days,
    }


def _documents_data(specs: list[DocumentSpec]) -> list[dict[str, str]]:
    return [{"name": spec.name, "accepts": spec.accepts.value} for spec in specs]


def _apply(program: Program, terms: ProgramTerms) -> None:
    program.name = terms.name
    program.description = terms.description
    program.kind = terms.kind
    program.region_prefix = terms.region_prefix
    program.budget_fen = terms.budget_fen
    program.ratio_bp = terms.ratio_bp
    program.annual_cap_fen = terms.annual_cap_fen
    program.invoice_cap_fen = terms.invoice_cap_fen
    program.size_classes = [size.value for size in terms.size_classes]
    program.industries = terms.industries
    program.vendor_whitelist = terms.vendor_whitelist
    program.opens_at = terms.opens_at
    program.closes_at = terms.closes_at
    program.validity_days = terms.validity_days
    program.notice_days = terms.notice_days


def create_program(session: Session, *, actor: Actor, terms: ProgramTerms) -> Program:
    """A draft program of the officer's government organization."""
    access.require_officer(actor)
    terms = _checked(session, terms)
    program = Program(
        owner_org_id=actor.organization.id,
        created_by_id=actor.user.id,
        status=ProgramStatus.DRAFT,
    )
    _apply(program, terms)
    session.add(program)
    session.flush()
    evidence.replace_required_documents(session, program, terms.required_documents)
    access.record(
        session,
        "voucher_program.created",
        "voucher_program",
        program.id,
        actor,
        **_terms_data(program),
        required_documents=_documents_data(terms.required_documents),
    )
    return program


def update_program(
    session: Session, program: Program, *, actor: Actor, terms: ProgramTerms
) -> Program:
    """Change a draft's terms; a published program's terms are what people applied under."""
    access.require_manager(program, actor)
    if program.status is not ProgramStatus.DRAFT:
        raise Conflict(_l("Only a draft program can be changed."))
    terms = _checked(session, terms)
    _apply(program, terms)
    session.flush()
    evidence.replace_required_documents(session, program, terms.required_documents)
    access.record(
        session,
        "voucher_program.updated",
        "voucher_program",
        program.id,
        actor,
        **_terms_data(program),
        required_documents=_documents_data(terms.required_documents),
    )
    return program


def publish_program(
    session: Session, program: Program, *, actor: Actor, now: datetime, confirm_fen: int | None
) -> Program:
    """Open the program to applications; ``confirm_fen`` is the budget the officer saw and
    confirmed (see vouchers/confirmations.py)."""
    access.require_manager(program, actor)
    if program.status is not ProgramStatus.DRAFT:
        raise Conflict(_l("The program is published already."))
    confirmations.require_for_publish(program.budget_fen, confirm_fen)
    if program.closes_at <= now:
        raise DomainError(
            _l("The application window has ended; move it before publishing."), field="closes_at"
        )
    transition(program, ProgramStatus.PUBLISHED, actor, now=now)
    return program


def close_program(session: Session, program: Program, *, actor: Actor, now: datetime) -> Program:
    """No more applications or approvals; issued vouchers stay usable until they expire."""
    access.require_manager(program, actor)
    if program.status is ProgramStatus.CLOSED:
        raise Conflict(_l("The program is closed already."))
    transition(program, ProgramStatus.CLOSED, actor, now=now)
    return program


def change_budget(session: Session, program: Program, *, actor: Actor, budget_fen: int) -> Program:
    """Raise or lower the budget, never below what has been issued already."""
    access.require_manager(program, actor)
    _check_amount(budget_fen, "budget_fen", _l("The budget must be more than zero."))
    lock_program(session, program)
    issued = figures(session, program)
    committed = issued.reserved_fen + issued.redeemed_fen + issued.released_fen
    committed += on_notice_fen(session, program)
    if budget_fen < committed:
        raise Conflict(
            _l("Vouchers worth more than this have been issued already."), field="budget_fen"
        )
    before = program.budget_fen
    program.budget_fen = budget_fen
    session.flush()
    access.record(
        session,
        "voucher_program.budget_changed",
        "voucher_program",
        program.id,
        actor,
        before_fen=before,
        budget_fen=budget_fen,
    )
    return program


def lock_program(session: Session, program: Program) -> Program:
    """Take the program's row lock (PostgreSQL) and reload it: approvals and budget changes
    of one program queue here, so the budget is never issued twice."""
    return session.scalars(
        sa.select(Program)
        .where(Program.id == program.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def on_notice_fen(session: Session, program: Program) -> int:
    """Approved amounts on public notice (公示): promised, issued when the notice ends."""
    total = session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(Notice.amount_fen), 0)).where(
            Notice.program_id == program.id, Notice.status == NoticeStatus.IN_NOTICE
        )
    )
    return int(total or 0)


def region_name(prefix: str) -> str:
    """A program's region by name ("上海市 浦东新区", "上海市"); the prefix if unknown. A
    city-level row that only groups districts (上海市 市辖区) reads as its province."""
    names = [
        step.name
        for step in reference.region_path(prefix.ljust(6, "0"))
        if step.name not in _GROUPING_NAMES
    ]
    return " ".join(names) or prefix


def figures(session: Session, program: Program) -> BudgetFigures:
    row = session.execute(
        sa.select(
            sa.func.coalesce(sa.func.sum(Movement.reserved_fen), 0),
            sa.func.coalesce(sa.func.sum(Movement.redeemed_fen), 0),
            sa.func.coalesce(sa.func.sum(Movement.released_fen), 0),
        ).where(Movement.program_id == program.id)
    ).one()
    return BudgetFigures(program.budget_fen, int(row[0]), int(row[1]), int(row[2]))


# --- who sees which programs ----------------------------------------------------------------


def programs_of(session: Session, owner_org_id: int) -> list[Program]:
    """An officer's console: the programs of their own organization, newest first."""
    return list(
        session.scalars(
            sa.select(Program)
            .where(Program.owner_org_id == owner_org_id)
            .order_by(Program.created_at.desc(), Program.id.desc())
        )
    )


def open_programs(
    session: Session, now: datetime, *, kind: VoucherKind | None = None
) -> list[Program]:
    """Published programs whose application window is open, for everyone."""
    query = sa.select(Program).where(
        Program.status == ProgramStatus.PUBLISHED,
        Program.opens_at <= now,
        Program.closes_at > now,
    )
    if kind is not None:
        query = query.where(Program.kind == kind)
    return list(session.scalars(query.order_by(Program.closes_at, Program.id)))


def public_programs(session: Session) -> list[Program]:
    """Published and closed programs: what the public program pages may show."""
    return list(
        session.scalars(
            sa.select(Program)
            .where(Program.status != ProgramStatus.DRAFT)
            .order_by(Program.opens_at.desc(), Program.id.desc())
        )
    )
