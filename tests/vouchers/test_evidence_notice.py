"""Applications with evidence, 公示 (public notice) with objections and the worker's issue,
confirmation of large actions, and program regions by name (issue 16)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy.orm import Session

from marketplace import worker
from marketplace.db import utcnow
from marketplace.errors import DomainError
from tests.billing.factories import T0
from tests.factories import login
from tests.vouchers.factories import create_program, officer_of, sme_actor, vendor_actor
from vouchers import applications, evidence, notice, programs, wallet
from vouchers import todo as vouchers_todo
from vouchers.confirmations import ConfirmationNeeded
from vouchers.evidence import DocumentSpec, Upload
from vouchers.evidence_models import ApplicationDocument, DocumentAccepts
from vouchers.models import Application, ApplicationStatus, Program, ProgramStatus, Voucher
from vouchers.notice_models import Notice, NoticeStatus

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture(autouse=True)
def _app_context(app: Flask) -> Iterator[None]:
    """Services store uploads in the app's upload folder."""
    with app.app_context():
        yield


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(buffer, "PNG")
    return buffer.getvalue()


DOCUMENTS = [
    DocumentSpec("营业执照", DocumentAccepts.PDF_OR_IMAGE),
    DocumentSpec("承诺书", DocumentAccepts.PDF),
]


def evidence_program(session: Session, **overrides: Any) -> Program:
    return create_program(session, required_documents=DOCUMENTS, **overrides)


def uploads_for(session: Session, program: Program, **by_name: Upload) -> dict[int, Upload]:
    return {
        r.id: by_name[r.name]
        for r in evidence.required_documents(session, program.id)
        if r.name in by_name
    }


def count(session: Session, model: Any) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(model)) or 0


def stored_files(app: Flask) -> list[Path]:
    folder = Path(app.config["UPLOAD_FOLDER"]) / evidence.FOLDER
    return list(folder.iterdir()) if folder.exists() else []


# --- evidence -----------------------------------------------------------------------------------


def test_required_documents_missing_or_of_the_wrong_type_refuse_the_application(
    app: Flask, session: Session
) -> None:
    program = evidence_program(session)
    sme = sme_actor(session)
    licence = Upload("licence.png", png())
    pledge = Upload("pledge.pdf", PDF)
    refused = [
        ({}, "营业执照"),
        ({"营业执照": licence}, "承诺书"),  # one of two is still missing
        ({"营业执照": licence, "承诺书": Upload("pledge.pdf", png())}, "承诺书"),  # PDF only
        ({"营业执照": Upload("licence.pdf", b"not really a pdf"), "承诺书": pledge}, "营业执照"),
        ({"营业执照": licence, "承诺书": Upload("pledge.pdf", b"")}, "承诺书"),
    ]
    for given, named in refused:
        with pytest.raises(DomainError) as error, session.begin_nested():
            applications.apply(
                session,
                program,
                actor=sme,
                requested_fen=50_000,
                now=T0,
                documents=uploads_for(session, program, **given),
            )
        required = {r.name: r for r in evidence.required_documents(session, program.id)}
        assert error.value.field == evidence.document_field(required[named])
    assert count(session, Application) == 0 and count(session, ApplicationDocument) == 0
    assert stored_files(app) == []

    application = applications.apply(
        session,
        program,
        actor=sme,
        requested_fen=50_000,
        now=T0,
        documents=uploads_for(session, program, 营业执照=licence, 承诺书=pledge),
    )
    documents = evidence.documents_of(session, application.id)
    assert [(d.required.name, d.content_type) for d in documents] == [
        ("营业执照", "image/png"),
        ("承诺书", "application/pdf"),
    ]
    assert sorted(p.read_bytes() for p in stored_files(app)) == sorted([licence.data, PDF])


def test_the_officer_ticks_every_document_before_approving(session: Session) -> None:
    program = evidence_program(session)
    sme = sme_actor(session)
    application = applications.apply(
        session,
        program,
        actor=sme,
        requested_fen=50_000,
        now=T0,
        documents=uploads_for(
            session, program, 营业执照=Upload("l.pdf", PDF), 承诺书=Upload("p.pdf", PDF)
        ),
    )
    officer = officer_of(session, program)
    first, second = evidence.documents_of(session, application.id)
    with pytest.raises(DomainError) as error, session.begin_nested():
        applications.approve(
            session, application, actor=officer, now=T0, checked_documents=[first.id]
        )
    assert error.value.field == "checked_documents" and "承诺书" in str(error.value.message)
    session.refresh(application)
    assert application.status is ApplicationStatus.SUBMITTED

    voucher = applications.approve(
        session,
        application,
        actor=officer,
        now=T0,
        amount_fen=30_000,  # less than asked
        checked_documents=[first.id, second.id],
    )
    assert voucher is not None and voucher.face_fen == 30_000
    assert all(d.checked_by_user_id == officer.user.id for d in (first, second))


def test_the_apply_form_uploads_documents_and_refuses_a_missing_one(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    now = utcnow()
    program = evidence_program(
        session, opens_at=now - timedelta(days=1), closes_at=now + timedelta(days=30)
    )
    sme = sme_actor(session)
    login(client, sme.user)
    page = client.get(f"/vouchers/p/{program.id}").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in page and "营业执照" in page and "承诺书" in page
    required = {r.name: r for r in evidence.required_documents(session, program.id)}
    licence_field = evidence.document_field(required["营业执照"])
    pledge_field = evidence.document_field(required["承诺书"])

    response = client.post(
        f"/vouchers/p/{program.id}/apply",
        data={"requested": "500", licence_field: (io.BytesIO(png()), "licence.png")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "承诺书" in response.get_data(as_text=True)
    assert count(session, Application) == 0

    response = client.post(
        f"/vouchers/p/{program.id}/apply",
        data={
            "requested": "500",
            licence_field: (io.BytesIO(png()), "licence.png"),
            pledge_field: (io.BytesIO(png()), "pledge.png"),  # a photo where a PDF is asked
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 422 and count(session, Application) == 0

    response = client.post(
        f"/vouchers/p/{program.id}/apply",
        data={
            "requested": "500",
            licence_field: (io.BytesIO(png()), "licence.png"),
            pledge_field: (io.BytesIO(PDF), "承诺书.pdf"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    application = session.scalars(sa.select(Application)).one()
    documents = evidence.documents_of(session, application.id)
    assert [d.filename for d in documents] == ["licence.png", "承诺书.pdf"]
    download = client.get(f"/vouchers/documents/{documents[1].id}")
    assert download.status_code == 200 and download.data == PDF
    download.close()

    # The program's officer sees the checklist beside the eligibility result.
    officer = officer_of(session, program)
    login(client, officer.user)
    console = client.get(f"/vouchers/programs/{program.id}").get_data(as_text=True)
    assert "data-checklist" in console and f'value="{documents[0].id}"' in console
    download = client.get(f"/vouchers/documents/{documents[0].id}")
    assert download.status_code == 200
    download.close()
    # Anyone else does not find the file.
    login(client, sme_actor(session).user)
    assert client.get(f"/vouchers/documents/{documents[0].id}").status_code == 404


# --- public notice ------------------------------------------------------------------------------


def test_working_days_skip_weekends() -> None:
    thursday = date(2026, 1, 15)
    assert notice.add_working_days(thursday, 5) == date(2026, 1, 22)
    assert notice.add_working_days(date(2026, 1, 16), 1) == date(2026, 1, 19)  # Fri -> Mon
    assert notice.add_working_days(date(2026, 1, 17), 1) == date(2026, 1, 19)  # Sat -> Mon
    # Approved on Thursday 17:00 China: five working days end with Thursday the 22nd.
    assert notice.notice_end(T0, 5) == datetime(2026, 1, 22, 16, 0, tzinfo=UTC)


def on_notice(session: Session, amount_fen: int = 50_000) -> tuple[Program, Application, Notice]:
    program = create_program(session, notice_days=5)
    sme = sme_actor(session)
    application = applications.apply(session, program, actor=sme, requested_fen=amount_fen, now=T0)
    voucher = applications.approve(session, application, actor=officer_of(session, program), now=T0)
    assert voucher is None  # not before the notice ends
    found = notice.notice_of(session, application.id)
    assert found is not None and found.status is NoticeStatus.IN_NOTICE
    return program, application, found


def vouchers_of(session: Session, application: Application) -> list[Voucher]:
    return list(session.scalars(sa.select(Voucher).where(Voucher.application_id == application.id)))


def test_the_scheduled_job_issues_only_after_the_notice_period(
    app: Flask, session: Session
) -> None:
    program, application, found = on_notice(session)
    assert "notice_issue" in worker.schedule(app)
    # The approved amount is held while on notice: the budget left to approve shrinks.
    assert programs.on_notice_fen(session, program) == 50_000

    worker.run_schedule(app, now=found.ends_at - timedelta(hours=1))
    session.expire_all()
    assert vouchers_of(session, application) == []

    worker.run_schedule(app, now=found.ends_at + timedelta(minutes=1))
    session.expire_all()
    (voucher,) = vouchers_of(session, application)
    assert voucher.face_fen == 50_000 and voucher.issued_at >= found.ends_at
    assert session.get(Notice, found.id).status is NoticeStatus.ISSUED
    assert programs.on_notice_fen(session, program) == 0
    # Issued from the budget (the expiry job of the same run, on the real clock, may
    # already have released it: the test travelled to January 2026).
    issued = programs.figures(session, program)
    assert issued.reserved_fen + issued.redeemed_fen + issued.released_fen == 50_000


def test_an_upheld_objection_cancels_the_issue(app: Flask, session: Session) -> None:
    program, application, found = on_notice(session)
    neighbour = vendor_actor(session)
    objection = notice.object_to(
        session,
        found,
        actor=neighbour,
        contact="13800000000",
        reason="买方与服务商法定代表人为亲属",
        now=T0 + timedelta(days=1),
    )
    notice.decide_objection(
        session,
        objection,
        actor=officer_of(session, program),
        uphold=True,
        note="核实属实",
        now=T0 + timedelta(days=2),
    )
    worker.run_schedule(app, now=found.ends_at + timedelta(days=1))
    session.expire_all()
    assert vouchers_of(session, application) == []
    assert session.get(Notice, found.id).status is NoticeStatus.CANCELLED
    application = session.get(Application, application.id)
    assert application.status is ApplicationStatus.REJECTED
    assert "核实属实" in application.decision_reason
    assert programs.on_notice_fen(session, program) == 0


def test_an_open_objection_holds_the_issue_until_dismissed(session: Session) -> None:
    program, _application, found = on_notice(session)
    objection = notice.object_to(
        session,
        found,
        actor=sme_actor(session),
        contact="someone@example.cn",
        reason="疑似拆分申请",
        now=T0,
    )
    after = found.ends_at + timedelta(hours=1)
    assert notice.issue_after_notice(session, found, now=after) is None
    assert notice.due_notice_ids(session, after) == []
    notice.decide_objection(
        session,
        objection,
        actor=officer_of(session, program),
        uphold=False,
        note="无证据",
        now=after,
    )
    assert notice.due_notice_ids(session, after) == [found.id]
    assert notice.issue_after_notice(session, found, now=after) is not None
    # After the end, objections are no longer taken.
    with pytest.raises(DomainError):
        notice.object_to(
            session, found, actor=sme_actor(session), contact="x", reason="y", now=after
        )


def test_the_public_notice_page_lists_approvals_and_takes_objections(
    client: FlaskClient, session: Session
) -> None:
    now = utcnow()
    program = create_program(
        session,
        notice_days=5,
        opens_at=now - timedelta(days=1),
        closes_at=now + timedelta(days=30),
    )
    vendor = vendor_actor(session)
    sme = sme_actor(session, name="浦东精密机械有限公司")
    application = applications.apply(
        session,
        program,
        actor=sme,
        requested_fen=80_000,
        now=now,
        vendor_id=vendor.organization.id,
    )
    applications.approve(session, application, actor=officer_of(session, program), now=now)
    found = notice.notice_of(session, application.id)
    assert found is not None

    listing = client.get("/vouchers/notices").get_data(as_text=True)
    assert "浦东精密机械有限公司" in listing and "¥800.00" in listing
    assert vendor.organization.name in listing
    # Objecting needs a signed-in person.
    assert client.get(f"/vouchers/notices/{found.id}/object").status_code == 302
    login(client, vendor_actor(session).user)
    response = client.post(
        f"/vouchers/notices/{found.id}/object", data={"contact": "", "reason": ""}
    )
    assert response.status_code == 422
    response = client.post(
        f"/vouchers/notices/{found.id}/object",
        data={"contact": "13900000000", "reason": "该企业已停产"},
    )
    assert response.status_code == 302
    officer = officer_of(session, program)
    login(client, officer.user)
    # The officer's to-do list points at the objection waiting for a decision.
    with client.application.test_request_context():
        items = vouchers_todo.officer_items(session, program.owner, utcnow())
    (waiting,) = [i for i in items if i.key == "objections_open"]
    assert waiting.link.endswith(f"/vouchers/programs/{program.id}/notices")
    tab = client.get(f"/vouchers/programs/{program.id}/notices").get_data(as_text=True)
    assert "该企业已停产" in tab and "13900000000" in tab
    (objection,) = notice.objections_in(session, program)
    response = client.post(
        f"/vouchers/objections/{objection.id}/decide", data={"decision": "uphold", "note": "属实"}
    )
    assert response.status_code == 302
    session.expire_all()
    assert session.get(Notice, found.id).status is NoticeStatus.CANCELLED


# --- confirmation of large actions --------------------------------------------------------------


def test_a_large_approval_needs_the_amount_confirmed(client: FlaskClient, session: Session) -> None:
    now = utcnow()
    program = create_program(
        session,
        budget_fen=100_000_000,
        annual_cap_fen=50_000_000,
        opens_at=now - timedelta(days=1),
        closes_at=now + timedelta(days=30),
    )
    sme = sme_actor(session)
    application = applications.apply(session, program, actor=sme, requested_fen=20_000_000, now=now)
    officer = officer_of(session, program)
    with pytest.raises(ConfirmationNeeded) as needed, session.begin_nested():
        applications.approve(session, application, actor=officer, now=now)
    assert needed.value.amount_fen == 20_000_000 and "¥200,000.00" in str(needed.value.message)
    # Another amount than the one approved is no confirmation either.
    with pytest.raises(ConfirmationNeeded), session.begin_nested():
        applications.approve(session, application, actor=officer, now=now, confirm_fen=19_000_000)
    assert vouchers_of(session, application) == []

    login(client, officer.user)
    step = client.post(f"/vouchers/applications/{application.id}/approve", data={"amount": ""})
    html = step.get_data(as_text=True)
    assert step.status_code == 200 and 'data-confirm-amount="20000000"' in html
    assert "¥200,000.00" in html and vouchers_of(session, application) == []
    done = client.post(
        f"/vouchers/applications/{application.id}/approve",
        data={"amount": "", "confirm_fen": "20000000"},
    )
    assert done.status_code == 302
    session.expire_all()
    assert [v.face_fen for v in vouchers_of(session, application)] == [20_000_000]


def test_publishing_needs_the_budget_confirmed(session: Session) -> None:
    program = create_program(session, publish=False, budget_fen=5_000_000)
    officer = officer_of(session, program)
    for wrong in (None, 4_999_999):
        with pytest.raises(ConfirmationNeeded):
            programs.publish_program(session, program, actor=officer, now=T0, confirm_fen=wrong)
    assert program.status is ProgramStatus.DRAFT
    programs.publish_program(session, program, actor=officer, now=T0, confirm_fen=5_000_000)
    assert program.status is ProgramStatus.PUBLISHED


# --- regions ------------------------------------------------------------------------------------


def test_regions_are_picked_and_shown_by_name(client: FlaskClient, session: Session) -> None:
    assert programs.region_name("310115") == "上海市 浦东新区"
    assert programs.region_name("31") == "上海市"
    assert programs.region_name("3101") == "上海市"
    officer_program = create_program(session, publish=False)
    officer = officer_of(session, officer_program)
    login(client, officer.user)
    form = client.get("/vouchers/programs/new").get_data(as_text=True)
    assert "data-region-picker" in form and "region-picker.js" in form
    response = client.post(
        "/vouchers/programs/new",
        data={
            "name": "上海市算力券",
            "kind": "compute",
            "region_prefix": "310000",  # the picker's answer for the province
            "budget": "100000",
            "ratio": "30",
            "annual_cap": "10000",
            "size_classes": ["small"],
            "opens_on": "2026-12-01",
            "closes_on": "2027-03-31",
            "validity_days": "180",
            "notice_days": "5",
            "required_documents-0-name": "营业执照",
            "required_documents-0-accepts": "pdf_or_image",
        },
    )
    assert response.status_code == 302
    program = session.scalars(sa.select(Program).where(Program.name == "上海市算力券")).one()
    assert program.region_prefix == "31" and program.notice_days == 5
    assert evidence.specs_of(session, program.id) == [
        DocumentSpec("营业执照", DocumentAccepts.PDF_OR_IMAGE)
    ]
    listing = client.get("/vouchers/programs").get_data(as_text=True)
    assert "上海市" in listing and "浦东新区" in listing  # the draft made above is in Pudong
    console = client.get(f"/vouchers/programs/{officer_program.id}").get_data(as_text=True)
    assert "<span data-program-region>上海市 浦东新区</span>" in console
    edit = client.get(f"/vouchers/programs/{program.id}/edit").get_data(as_text=True)
    assert 'value="310000"' in edit  # the picker opens on the province
    published = create_program(session)
    public = client.get(f"/vouchers/p/{published.id}").get_data(as_text=True)
    assert "上海市 浦东新区" in public and "region code starting" not in public
    assert "上海市 浦东新区" in client.get("/vouchers/").get_data(as_text=True)


def test_wallet_shows_no_voucher_while_on_notice(session: Session) -> None:
    _program, application, _found = on_notice(session)
    assert wallet.vouchers_of(session, application.applicant_org_id) == []


# --- demo ---------------------------------------------------------------------------------------


def test_the_demo_pudong_programs_show_evidence_and_a_notice_in_progress(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    from devtools.demo.platform import DEMO_PASSWORD, load_demo

    load_demo(app)
    cloud = session.scalars(sa.select(Program).where(Program.name.contains("上云券"))).first()
    assert cloud is not None and cloud.notice_days == 5
    assert [s.name for s in evidence.specs_of(session, cloud.id)][:2] == [
        "营业执照",
        "上云服务采购合同",
    ]
    assert count(session, ApplicationDocument) > 0
    running = session.scalars(
        sa.select(Notice).where(Notice.status == NoticeStatus.IN_NOTICE)
    ).all()
    assert running and all(n.ends_at > utcnow() for n in running)
    public = client.get(f"/vouchers/p/{cloud.id}").get_data(as_text=True)
    assert "承诺书" in public and "上海市 浦东新区" in public
    listing = client.get("/vouchers/notices").get_data(as_text=True)
    assert running[0].applicant.name in listing and "data-object-link" in listing
    client.post("/login", data={"email": "officer@demo.local", "password": DEMO_PASSWORD})
    waiting = session.scalars(
        sa.select(Application).where(Application.status == ApplicationStatus.SUBMITTED)
    ).first()
    assert waiting is not None and evidence.documents_of(session, waiting.id)
    console = client.get(f"/vouchers/programs/{waiting.program_id}").get_data(as_text=True)
    assert "data-checklist" in console
