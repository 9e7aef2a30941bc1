"""Programs, eligibility, applications and the annual cap."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from marketplace import audit
from marketplace.errors import Conflict, DomainError, NotAllowed
from marketplace.sizeclass import SizeClass
from tests.billing.factories import T0
from tests.vouchers.factories import (
    create_program,
    grant,
    officer_actor,
    officer_of,
    sme_actor,
    terms,
)
from vouchers import applications, eligibility, flags, programs, wallet
from vouchers.models import ApplicationStatus, ProgramStatus, VoucherStatus


def test_officer_writes_publishes_and_closes_a_program(session: Session) -> None:
    officer = officer_actor(session)
    program = programs.create_program(session, actor=officer, terms=terms())
    assert program.status is ProgramStatus.DRAFT
    programs.publish_program(
        session, program, actor=officer, now=T0, confirm_fen=program.budget_fen
    )
    assert program.status is ProgramStatus.PUBLISHED
    with pytest.raises(Conflict):
        programs.update_program(session, program, actor=officer, terms=terms(name="改名"))
    programs.close_program(session, program, actor=officer, now=T0)
    actions = [
        e.action
        for e in session.query(audit.AuditEvent).filter_by(
            subject_type="voucher_program", subject_id=str(program.id)
        )
    ]
    assert actions == [
        "voucher_program.created",
        "voucher_program.published",
        "voucher_program.closed",
    ]


def test_program_terms_are_checked(session: Session) -> None:
    officer = officer_actor(session)
    for bad, field in [
        ({"region_prefix": "3"}, "region_prefix"),
        ({"ratio_bp": 0}, "ratio_bp"),
        ({"budget_fen": 0}, "budget_fen"),
        ({"size_classes": []}, "size_classes"),
        ({"industries": ["Q99"]}, "industries"),
        ({"closes_at": T0 - timedelta(days=5)}, "closes_at"),
        ({"vendor_whitelist": [officer.organization.id]}, "vendor_whitelist"),
    ]:
        with pytest.raises(DomainError) as refused:
            programs.create_program(session, actor=officer, terms=terms(**bad))
        assert refused.value.field == field


def test_only_government_officers_create_programs(session: Session) -> None:
    with pytest.raises(NotAllowed):
        programs.create_program(session, actor=sme_actor(session), terms=terms())


def test_officers_see_and_manage_only_their_own_programs(session: Session) -> None:
    mine, theirs = officer_actor(session), officer_actor(session)
    own = create_program(session, mine)
    other = create_program(session, theirs)
    assert programs.programs_of(session, mine.organization.id) == [own]
    assert programs.programs_of(session, theirs.organization.id) == [other]
    with pytest.raises(NotAllowed):
        programs.close_program(session, other, actor=mine, now=T0)
    application = applications.apply(
        session, other, actor=sme_actor(session), requested_fen=1000, now=T0
    )
    with pytest.raises(NotAllowed):
        applications.approve(session, application, actor=mine, now=T0)
    assert other in programs.open_programs(session, T0)


def test_eligibility_names_every_failed_rule(session: Session) -> None:
    program = create_program(session, industries=["C33"], size_classes=[SizeClass.MICRO])
    sme = sme_actor(
        session,
        region_code="330106",
        industry_code="C13",
        employees=500,
        annual_revenue_fen=50_000_000_000,
    )
    flags.flag(
        session, sme.organization, actor=officer_actor(session), reason="失信被执行人", now=T0
    )
    check = eligibility.check(session, program, sme.organization, T0 + timedelta(days=100))
    assert set(check.codes) == {"program_closed", "region", "size_class", "industry", "dishonest"}
    assert all(str(f.message) for f in check.failures)
    with pytest.raises(eligibility.NotEligible) as refused:
        applications.apply(session, program, actor=sme, requested_fen=1000, now=T0)
    assert set(refused.value.fields) == {"region", "size_class", "industry", "dishonest"}


def test_eligibility_of_a_qualifying_enterprise(session: Session) -> None:
    program = create_program(session, industries=["C"])
    check = eligibility.check(session, program, sme_actor(session).organization, T0)
    assert check.ok and check.annual_cap_remaining_fen == program.annual_cap_fen


def test_a_cleared_flag_no_longer_blocks(session: Session) -> None:
    program = create_program(session)
    sme = sme_actor(session)
    officer = officer_actor(session)
    record = flags.flag(session, sme.organization, actor=officer, reason="虚假材料", now=T0)
    assert eligibility.check(session, program, sme.organization, T0).codes == ["dishonest"]
    with pytest.raises(NotAllowed):
        flags.clear(session, record, actor=officer_actor(session), note="", now=T0)
    flags.clear(session, record, actor=officer, note="已纠正", now=T0)
    assert eligibility.check(session, program, sme.organization, T0).ok


def test_annual_cap_counts_every_voucher_of_the_program_in_the_year(session: Session) -> None:
    program = create_program(session, annual_cap_fen=100_000)
    sme = sme_actor(session)
    officer = officer_of(session, program)
    grant(session, program, sme, 60_000, officer=officer)
    with pytest.raises(DomainError) as refused:
        applications.apply(session, program, actor=sme, requested_fen=50_000, now=T0)
    assert refused.value.field == "requested_fen"
    second = applications.apply(session, program, actor=sme, requested_fen=40_000, now=T0)
    voucher = applications.approve(session, second, actor=officer, now=T0)
    assert voucher.face_fen == 40_000
    check = eligibility.check(session, program, sme.organization, T0)
    assert check.codes == ["annual_cap"]
    with pytest.raises(eligibility.NotEligible):
        applications.apply(session, program, actor=sme, requested_fen=1, now=T0)
    # What expires unspent no longer counts against the enterprise.
    wallet.revoke(session, voucher, actor=officer, reason="企业申请注销", now=T0)
    assert (
        eligibility.check(session, program, sme.organization, T0).annual_cap_remaining_fen == 40_000
    )
    # A new calendar year (China time) starts afresh.
    new_year = T0.replace(month=12, day=31, hour=16, minute=0)  # 00:00 on 1 January in Beijing
    assert eligibility.annual_used_fen(session, program.id, sme.organization.id, new_year) == 0


def test_approval_issues_a_voucher_and_reserves_the_budget(session: Session) -> None:
    program = create_program(session)
    sme = sme_actor(session)
    officer = officer_of(session, program)
    application = applications.apply(session, program, actor=sme, requested_fen=80_000, now=T0)
    with pytest.raises(Conflict):
        applications.apply(session, program, actor=sme, requested_fen=1_000, now=T0)
    voucher = applications.approve(session, application, actor=officer, now=T0, amount_fen=50_000)
    assert application.status is ApplicationStatus.APPROVED and application.approved_fen == 50_000
    assert voucher.status is VoucherStatus.ACTIVE
    assert voucher.balance_fen == voucher.face_fen == 50_000
    assert voucher.expires_at == T0 + timedelta(days=program.validity_days)
    assert voucher.code.startswith("CLD-") and len(voucher.code) == 23
    assert wallet.find_by_code(session, voucher.code.lower().replace("-", " - ")) == voucher
    figures = programs.figures(session, program)
    assert (figures.reserved_fen, figures.redeemed_fen, figures.released_fen) == (50_000, 0, 0)
    assert figures.available_fen == program.budget_fen - 50_000
    with pytest.raises(Conflict):
        applications.approve(session, application, actor=officer, now=T0)


def test_approval_never_exceeds_the_budget(session: Session) -> None:
    program = create_program(session, budget_fen=100_000, annual_cap_fen=100_000)
    officer = officer_of(session, program)
    grant(session, program, sme_actor(session), 70_000, officer=officer)
    application = applications.apply(
        session, program, actor=sme_actor(session), requested_fen=50_000, now=T0
    )
    with pytest.raises(Conflict) as refused:
        applications.approve(session, application, actor=officer, now=T0)
    assert "300.00" in str(refused.value.message)
    applications.approve(session, application, actor=officer, now=T0, amount_fen=30_000)
    assert programs.figures(session, program).available_fen == 0


def test_reject_and_withdraw(session: Session) -> None:
    program = create_program(session)
    officer = officer_of(session, program)
    sme = sme_actor(session)
    application = applications.apply(session, program, actor=sme, requested_fen=5_000, now=T0)
    with pytest.raises(DomainError):
        applications.reject(session, application, actor=officer, reason=" ", now=T0)
    applications.reject(session, application, actor=officer, reason="材料不全", now=T0)
    assert application.status is ApplicationStatus.REJECTED
    again = applications.apply(session, program, actor=sme, requested_fen=5_000, now=T0)
    with pytest.raises(NotAllowed):
        applications.withdraw(session, again, actor=sme_actor(session), now=T0)
    applications.withdraw(session, again, actor=sme, now=T0)
    assert [a.status for a in applications.applications_of(session, sme.organization.id)] == [
        ApplicationStatus.WITHDRAWN,
        ApplicationStatus.REJECTED,
    ]


def test_smes_see_only_their_own_vouchers(session: Session) -> None:
    program = create_program(session)
    officer = officer_of(session, program)
    alice, bob = sme_actor(session), sme_actor(session)
    mine = grant(session, program, alice, 10_000, officer=officer)
    theirs = grant(session, program, bob, 20_000, officer=officer)
    assert wallet.vouchers_of(session, alice.organization.id) == [mine]
    assert wallet.vouchers_of(session, bob.organization.id) == [theirs]


def test_revocation_and_expiry_release_the_unspent_balance_once(session: Session) -> None:
    program = create_program(session)
    officer = officer_of(session, program)
    revoked = grant(session, program, sme_actor(session), 10_000, officer=officer)
    expiring = grant(session, program, sme_actor(session), 20_000, officer=officer)
    wallet.revoke(session, revoked, actor=officer, reason="骗补", now=T0)
    with pytest.raises(Conflict):
        wallet.revoke(session, revoked, actor=officer, reason="again", now=T0)
    assert wallet.expire_due(session, expiring.expires_at - timedelta(seconds=1)) == 0
    assert wallet.expire_due(session, expiring.expires_at) == 1
    assert wallet.expire_due(session, expiring.expires_at) == 0
    assert expiring.status is VoucherStatus.EXPIRED and expiring.balance_fen == 0
    figures = programs.figures(session, program)
    assert (figures.reserved_fen, figures.released_fen) == (0, 30_000)
