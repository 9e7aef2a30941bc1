"""Fapiao: 开票信息, request -> issue -> download, refusals, red-letter after a refund."""

from __future__ import annotations

import io
import zipfile
from datetime import date
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from billing import fapiao as rules
from billing import voucher_payments
from billing.fapiao_models import FapiaoStatus, FapiaoType
from billing.payments import bank_transfers, refunds
from marketplace.errors import Conflict, DomainError
from tests.billing.factories import T0
from tests.catalog.factories import operator_actor
from tests.factories import create_token, login, make_uscc
from tests.vouchers.factories import (
    contract_between,
    create_program,
    grant,
    invoice_for,
    officer_actor,
    officer_of,
    sme_actor,
    vendor_actor,
)

PDF = b"%PDF-1.7\n% fapiao\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
NUMBER = "26312000000012345678"
RED_NUMBER = "26312000000087654321"


@pytest.fixture
def config(config: dict[str, object], tmp_path: Path) -> dict[str, object]:
    return {**config, "UPLOAD_FOLDER": str(tmp_path / "uploads")}


def auth(session: Session, actor) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_token(session, actor.user, actor.organization)}"}


def paid_with_voucher(session: Session):
    """A 10,000 fen invoice: 3,000 from a voucher, 7,000 by bank transfer."""
    program = create_program(session)
    buyer, vendor = sme_actor(session), vendor_actor(session)
    voucher = grant(session, program, buyer, 3_000)
    invoice = invoice_for(session, contract_between(session, buyer, vendor), 10_000)
    voucher_payments.apply(session, invoice, codes=[voucher.code], actor=buyer, now=T0)
    payment = bank_transfers.record_bank_transfer(
        session,
        invoice,
        amount_fen=7_000,
        reference=f"FP-{invoice.id}",
        actor=operator_actor(session),
        now=T0,
    )
    return program, buyer, vendor, invoice, payment


def issue_form(**overrides: object) -> dict[str, object]:
    return {
        "number": NUMBER,
        "issued_on": T0.date().isoformat(),
        "file": (io.BytesIO(PDF), "发票.pdf"),
        **overrides,
    }


def test_fapiao_request_issue_and_download_by_the_parties_and_the_officer(
    client: FlaskClient, session: Session
) -> None:
    program, buyer, vendor, invoice, _payment = paid_with_voucher(session)
    url = f"/api/v1/invoices/{invoice.id}/fapiao"
    asked = client.post(url, json={"type": "normal"}, headers=auth(session, buyer))
    assert asked.status_code == 201, asked.json
    fapiao_id = asked.json["id"]
    assert asked.json["status"] == "requested"
    assert asked.json["buyer_tax_id"] == buyer.organization.uscc  # the USCC by default
    assert rules.open_requests_count(session, vendor.organization.id) == 1
    again = client.post(url, json={"type": "normal"}, headers=auth(session, buyer))
    assert again.status_code == 409  # one request per invoice

    vendor_headers = auth(session, vendor)
    short = client.post(
        f"/api/v1/fapiao/{fapiao_id}/issue",
        data=issue_form(amount_fen=7_000),  # the buyer's part only: a fapiao covers the total
        headers=vendor_headers,
        content_type="multipart/form-data",
    )
    assert short.status_code == 422 and "amount" in short.json["error"]["fields"]
    not_a_fapiao = client.post(
        f"/api/v1/fapiao/{fapiao_id}/issue",
        data=issue_form(file=(io.BytesIO(b"MZ\x90\x00 not a document"), "x.pdf")),
        headers=vendor_headers,
        content_type="multipart/form-data",
    )
    assert not_a_fapiao.status_code == 422 and "file" in not_a_fapiao.json["error"]["fields"]
    issued = client.post(
        f"/api/v1/fapiao/{fapiao_id}/issue",
        data=issue_form(amount_fen=10_000),
        headers=vendor_headers,
        content_type="multipart/form-data",
    )
    assert issued.status_code == 200, issued.json
    assert issued.json["status"] == "issued" and issued.json["amount_fen"] == 10_000
    assert rules.open_requests_count(session, vendor.organization.id) == 0
    shown = client.get(f"/api/v1/invoices/{invoice.id}", headers=auth(session, buyer))
    assert shown.json["fapiao_status"] == "issued"

    file_url = issued.json["file"]
    for actor in (buyer, vendor, officer_of(session, program), operator_actor(session)):
        with client.get(file_url, headers=auth(session, actor)) as got:
            assert got.status_code == 200 and got.data == PDF
    for stranger in (sme_actor(session), vendor_actor(session), officer_actor(session)):
        assert client.get(file_url, headers=auth(session, stranger)).status_code == 404
        assert client.get(url, headers=auth(session, stranger)).status_code == 404


def test_no_fapiao_for_an_unpaid_invoice(client: FlaskClient, session: Session) -> None:
    buyer, vendor = sme_actor(session), vendor_actor(session)
    invoice = invoice_for(session, contract_between(session, buyer, vendor), 10_000)
    answer = client.post(
        f"/api/v1/invoices/{invoice.id}/fapiao",
        json={"type": "normal"},
        headers=auth(session, buyer),
    )
    assert answer.status_code == 409
    assert rules.fapiao_of(session, invoice) is None
    with pytest.raises(Conflict):
        rules.request(session, invoice, actor=buyer, type_=FapiaoType.NORMAL, now=T0)


def test_special_fapiao_needs_complete_details(client: FlaskClient, session: Session) -> None:
    _program, buyer, _vendor, invoice, _payment = paid_with_voucher(session)
    headers = auth(session, buyer)
    refused = client.post(
        f"/api/v1/invoices/{invoice.id}/fapiao", json={"type": "special"}, headers=headers
    )
    assert refused.status_code == 422 and "type" in refused.json["error"]["fields"]
    bad = client.put(
        "/api/v1/billing-profile",
        json={"title": "测试", "tax_id": make_uscc()[:-1] + "X", "email": "no-at"},
        headers=headers,
    )
    assert bad.status_code == 422 and "tax_id" in bad.json["error"]["fields"]
    bad_mail = client.put(
        "/api/v1/billing-profile",
        json={"title": "测试", "tax_id": buyer.organization.uscc, "email": "no-at"},
        headers=headers,
    )
    assert bad_mail.status_code == 422 and "email" in bad_mail.json["error"]["fields"]
    saved = client.put(
        "/api/v1/billing-profile",
        json={
            "title": buyer.organization.name,
            "tax_id": buyer.organization.uscc,
            "address_phone": "上海市浦东新区 021-12345678",
            "bank_account": "工商银行浦东支行 1001 2345 6789",
            "email": "finance@example.cn",
        },
        headers=headers,
    )
    assert saved.status_code == 200 and saved.json["complete"] is True
    asked = client.post(
        f"/api/v1/invoices/{invoice.id}/fapiao", json={"type": "special"}, headers=headers
    )
    assert asked.status_code == 201 and asked.json["type"] == "special"


def test_red_letter_fapiao_after_a_refund_reverses_the_original(
    app, client: FlaskClient, session: Session
) -> None:
    _program, buyer, vendor, invoice, payment = paid_with_voucher(session)
    upload = Path(app.config["UPLOAD_FOLDER"])
    found = rules.request(session, invoice, actor=buyer, type_=FapiaoType.NORMAL, now=T0)
    rules.record_issued(
        session,
        found,
        actor=vendor,
        number=NUMBER,
        issued_on=T0.date(),
        amount_fen=10_000,
        data=PDF,
        filename="f.pdf",
        upload_folder=upload,
        now=T0,
    )
    red = {
        "number": RED_NUMBER,
        "issued_on": T0.date().isoformat(),
        "file": (io.BytesIO(ofd()), "红字.ofd"),
    }
    early = client.post(
        f"/api/v1/fapiao/{found.id}/red-letter",
        data=red,
        headers=auth(session, vendor),
        content_type="multipart/form-data",
    )
    assert early.status_code == 409  # nothing was refunded
    refunds.refund(
        session,
        None,
        payment,
        amount_fen=7_000,
        reason="退款",
        actor=operator_actor(session),
        now=T0,
    )
    red["file"] = (io.BytesIO(ofd()), "红字.ofd")
    assert (
        client.post(
            f"/api/v1/fapiao/{found.id}/red-letter",
            data=red,
            headers=auth(session, buyer),
            content_type="multipart/form-data",
        ).status_code
        == 403
    )
    red["file"] = (io.BytesIO(ofd()), "红字.ofd")
    answer = client.post(
        f"/api/v1/fapiao/{found.id}/red-letter",
        data=red,
        headers=auth(session, vendor),
        content_type="multipart/form-data",
    )
    assert answer.status_code == 200, answer.json
    assert answer.json["status"] == "reversed" and answer.json["red_number"] == RED_NUMBER
    session.expire_all()
    assert rules.fapiao_status(invoice) is FapiaoStatus.REVERSED
    with client.get(answer.json["red_file"], headers=auth(session, buyer)) as got:
        assert got.status_code == 200 and got.mimetype == "application/ofd"


def test_fapiao_number_has_20_digits_and_only_the_vendor_records_it(session: Session) -> None:
    _program, buyer, vendor, invoice, _payment = paid_with_voucher(session)
    found = rules.request(session, invoice, actor=buyer, type_=FapiaoType.NORMAL, now=T0)
    common = {
        "issued_on": date(2026, 1, 15),
        "amount_fen": 10_000,
        "data": PDF,
        "filename": "f.pdf",
        "upload_folder": Path("/nonexistent"),
        "now": T0,
    }
    with pytest.raises(DomainError) as short:
        rules.record_issued(session, found, actor=vendor, number="12345678", **common)
    assert short.value.field == "number"
    with pytest.raises(DomainError):
        rules.record_issued(session, found, actor=buyer, number=NUMBER, **common)
    assert found.status is FapiaoStatus.REQUESTED


def ofd() -> bytes:
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as archive:
        archive.writestr("OFD.xml", "<ofd:OFD xmlns:ofd='http://www.ofdspec.org/2016'/>")
    return data.getvalue()


def sign_in(client: FlaskClient, actor) -> None:
    login(client, actor.user)
    client.post(f"/switch/{actor.organization.id}")


def test_fapiao_pages_request_issue_and_download(client: FlaskClient, session: Session) -> None:
    program, buyer, vendor, invoice, _payment = paid_with_voucher(session)
    sign_in(client, buyer)
    html = client.get(f"/billing/invoices/{invoice.id}").get_data(as_text=True)
    assert 'data-fapiao-status="none"' in html and "data-fapiao-request" in html
    special = client.post(f"/billing/invoices/{invoice.id}/fapiao", data={"type": "special"})
    assert special.status_code == 303 and rules.fapiao_of(session, invoice) is None
    refused = client.get(special.headers["Location"]).get_data(as_text=True)
    assert "专用发票" in refused or "special VAT fapiao" in refused  # the refusal, in words
    bad = client.post("/billing/fapiao-details", data={"title": "x", "tax_id": "123"})
    assert bad.status_code == 422 and "is-invalid" in bad.get_data(as_text=True)
    assert (
        client.post(f"/billing/invoices/{invoice.id}/fapiao", data={"type": "normal"}).status_code
        == 303
    )
    assert rules.fapiao_status(invoice) is FapiaoStatus.REQUESTED

    client.post("/logout")
    sign_in(client, vendor)
    listing = client.get("/billing/fapiao").get_data(as_text=True)
    assert invoice.number in listing and 'data-fapiao-status="requested"' in listing
    found = rules.fapiao_of(session, invoice)
    recorded = client.post(
        f"/billing/fapiao/{found.id}/issue",
        data={
            "number": NUMBER,
            "issued_on": T0.date().isoformat(),
            "amount": "100.00",
            "file": (io.BytesIO(PDF), "fp.pdf"),
        },
        content_type="multipart/form-data",
    )
    assert recorded.status_code == 303
    session.expire_all()
    assert rules.fapiao_status(invoice) is FapiaoStatus.ISSUED
    vendor_view = client.get(f"/billing/invoices/{invoice.id}").get_data(as_text=True)
    assert 'data-fapiao-status="issued"' in vendor_view and NUMBER in vendor_view

    for actor in (buyer, officer_of(session, program)):
        client.post("/logout")
        sign_in(client, actor)
        with client.get(f"/billing/fapiao/{found.id}/file") as got:
            assert got.status_code == 200 and got.data == PDF
    client.post("/logout")
    sign_in(client, sme_actor(session))
    with client.get(f"/billing/fapiao/{found.id}/file") as got:
        assert got.status_code == 404


def test_officer_sees_the_fapiao_status_of_subsidised_invoices(
    client: FlaskClient, session: Session
) -> None:
    program, buyer, _vendor, invoice, _payment = paid_with_voucher(session)
    rules.request(session, invoice, actor=buyer, type_=FapiaoType.NORMAL, now=T0)
    sign_in(client, officer_of(session, program))
    html = client.get(f"/vouchers/programs/{program.id}/redemptions").get_data(as_text=True)
    assert 'data-fapiao-status="requested"' in html


def test_vendor_customer_list_shows_the_buyers_contact_person_and_phone(
    client: FlaskClient, session: Session
) -> None:
    buyer = sme_actor(session, contact_phone="021-66668888")
    vendor = vendor_actor(session)
    contract_between(session, buyer, vendor)
    sign_in(client, vendor)
    html = client.get("/billing/contracts").get_data(as_text=True)
    assert "data-customer-contact" in html
    assert buyer.user.name in html and "021-66668888" in html
