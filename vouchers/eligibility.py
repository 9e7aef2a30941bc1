"""Who qualifies for a program: every rule is checked and every failure is reported with
a reason code and a message, so an enterprise learns at once all that stands in its way."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from marketplace.dates import CHINA
from marketplace.errors import DomainError
from marketplace.models import Organization, OrgKind
from vouchers import flags
from vouchers.models import Program, Voucher
from vouchers.notice_models import Notice, NoticeStatus


@dataclass(frozen=True)
class Failure:
    code: str  # "program_closed", "not_enterprise", "region", "size_class", "industry",
    # "annual_cap", "dishonest"
    message: object  # lazy, translated when shown


@dataclass(frozen=True)
class Eligibility:
    failures: tuple[Failure, ...]
    annual_cap_remaining_fen: int

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def codes(self) -> list[str]:
        return [failure.code for failure in self.failures]


class NotEligible(DomainError):
    """The enterprise does not qualify; ``eligibility`` says why, rule by rule."""

    code = "not_eligible"

    def __init__(self, eligibility: Eligibility) -> None:
        super().__init__(_l("Your organization does not qualify for this program."))
        self.eligibility = eligibility

    @property
    def fields(self) -> dict[str, list[str]]:
        return {f.code: [str(f.message)] for f in self.eligibility.failures}


def year_bounds(moment: datetime) -> tuple[datetime, datetime]:
    """The calendar year (China time) containing ``moment``, as UTC-aware bounds."""
    local = moment.astimezone(CHINA)
    start = datetime(local.year, 1, 1, tzinfo=CHINA)
    end = datetime(local.year + 1, 1, 1, tzinfo=CHINA)
    return start, end


def annual_used_fen(
    session: Session, program_id: int, organization_id: int, moment: datetime
) -> int:
    """What the organization was granted by the program in ``moment``'s calendar year:
    the vouchers' face values, less what was released unspent."""
    start, end = year_bounds(moment)
    used = session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(Voucher.face_fen - Voucher.released_fen), 0)).where(
            Voucher.program_id == program_id,
            Voucher.holder_org_id == organization_id,
            Voucher.issued_at >= start,
            Voucher.issued_at < end,
        )
    )
    # Approvals still on public notice (公示) count too: they are issued when it ends.
    on_notice = session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(Notice.amount_fen), 0)).where(
            Notice.program_id == program_id,
            Notice.applicant_org_id == organization_id,
            Notice.status == NoticeStatus.IN_NOTICE,
            Notice.starts_at >= start,
            Notice.starts_at < end,
        )
    )
    return int(used or 0) + int(on_notice or 0)


def check(
    session: Session,
    program: Program,
    organization: Organization,
    now: datetime,
    *,
    window: bool = True,
) -> Eligibility:
    """Every rule of DESIGN.md section 5 at ``now``; ``window=False`` leaves out whether the
    program takes applications (an officer approving after the window closed)."""
    failures: list[Failure] = []
    if window and not program.is_open_for_applications(now):
        failures.append(
            Failure("program_closed", _l("The program is not taking applications now."))
        )
    if organization.kind is not OrgKind.SME:
        failures.append(
            Failure("not_enterprise", _l("Only enterprises (buyers) can receive vouchers."))
        )
    if not organization.region_code.startswith(program.region_prefix):
        failures.append(
            Failure(
                "region",
                _l(
                    "The program is for enterprises registered in region %(prefix)s; yours is "
                    "%(region)s.",
                    prefix=program.region_prefix,
                    region=organization.region_code,
                ),
            )
        )
    if organization.size_class is None:
        failures.append(
            Failure(
                "size_class",
                _l("Enter your employees and annual revenue so your size class is known."),
            )
        )
    elif organization.size_class.value not in program.size_classes:
        failures.append(
            Failure(
                "size_class",
                _l(
                    "The program is not open to enterprises of your size (%(size)s).",
                    size=organization.size_class.label,
                ),
            )
        )
    if program.industries:
        code = organization.industry_code or ""
        if not code or not any(code.startswith(entry) for entry in program.industries):
            failures.append(
                Failure(
                    "industry",
                    _l(
                        "The program is for the industries %(industries)s; yours is %(industry)s.",
                        industries=", ".join(program.industries),
                        industry=code or "-",
                    ),
                )
            )
    remaining = max(
        0, program.annual_cap_fen - annual_used_fen(session, program.id, organization.id, now)
    )
    if remaining == 0:
        failures.append(
            Failure(
                "annual_cap",
                _l("Your organization has received this year's maximum from this program."),
            )
        )
    if flags.is_flagged(session, organization.id):
        failures.append(
            Failure(
                "dishonest",
                _l("Your organization is flagged as dishonest by a government authority."),
            )
        )
    return Eligibility(tuple(failures), remaining)
