"""Fapiao endpoints of the JSON API: 开票信息, requests, issued and red-letter fapiao, files."""

from __future__ import annotations

from datetime import date
from typing import Any

import marshmallow as ma
from flask import send_from_directory
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_smorest import Blueprint
from flask_smorest.fields import Upload

from billing import fapiao as rules
from billing.fapiao_models import BillingProfile, Fapiao, FapiaoStatus, FapiaoType
from billing.models import Invoice
from marketplace.api_fields import DerivedBoolean, DerivedString, state
from marketplace.db import db, utcnow
from marketplace.errors import DomainError
from marketplace.jsonapi import (
    ApiError,
    ErrorSchema,
    Fen,
    current_actor,
    service_call,
    token_required,
)
from marketplace.models import OrgKind
from marketplace.uploads import upload_folder

blp = Blueprint("fapiao_api", __name__, url_prefix="/api/v1", description="Fapiao (发票)")

TYPES = [t.value for t in FapiaoType]


class ProfileIn(ma.Schema):
    title = ma.fields.String(required=True, metadata={"description": "名称"})
    tax_id = ma.fields.String(required=True, metadata={"description": "纳税人识别号 (USCC)"})
    address_phone = ma.fields.String(load_default="", metadata={"description": "地址电话"})
    bank_account = ma.fields.String(load_default="", metadata={"description": "开户行及账号"})
    email = ma.fields.String(load_default="", metadata={"description": "receives the fapiao"})


class ProfileOut(ProfileIn):
    """The organization's 开票信息 (a blank one when none is saved yet)."""

    complete = DerivedBoolean(
        lambda profile: profile.id is not None and profile.is_complete,
        required=True,
        metadata={"description": "enough for a special VAT fapiao (专票)"},
    )


class RequestIn(ma.Schema):
    type = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(TYPES),
        metadata={"description": "`normal` 普通发票 or `special` 增值税专用发票"},
    )


class IssueForm(ma.Schema):
    # Checked by the service (not here) so that another vendor's fapiao answers 404 first.
    number = ma.fields.String(
        load_default="", metadata={"description": "20-digit 数电发票 number (required)"}
    )
    issued_on = ma.fields.Date(load_default=None, metadata={"description": "required"})
    amount_fen = Fen(
        in_query=True,  # a multipart form: every value is text, so plain digits
        metadata={"description": "the invoice total, vouchers included (issue only)"},
    )
    type = ma.fields.String(validate=ma.validate.OneOf(TYPES))


class FileIn(ma.Schema):
    file = Upload(metadata={"description": "PDF, OFD or XML, <= 10 MB (required)"})


def _file_path(found: Fapiao) -> str | None:
    return f"/api/v1/fapiao/{found.id}/file" if found.file else None


def _red_file_path(found: Fapiao) -> str | None:
    return f"/api/v1/fapiao/{found.id}/red-file" if found.red_file else None


class FapiaoOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    invoice_id = ma.fields.Integer(required=True)
    type = state(FapiaoType, required=True)
    status = state(FapiaoStatus, required=True)
    buyer_title = ma.fields.String(required=True)
    buyer_tax_id = ma.fields.String(required=True)
    requested_at = ma.fields.AwareDateTime(required=True)
    number = ma.fields.String(allow_none=True, required=True)
    issued_on = ma.fields.Date(allow_none=True, required=True)
    amount_fen = ma.fields.Integer(allow_none=True, required=True)
    file = DerivedString(
        _file_path,
        allow_none=True,
        required=True,
        metadata={"description": "download path"},
    )
    red_number = ma.fields.String(allow_none=True, required=True)
    red_issued_on = ma.fields.Date(allow_none=True, required=True)
    red_file = DerivedString(_red_file_path, allow_none=True, required=True)


def _invoice(invoice_id: int) -> Invoice:
    invoice = db.session.get(Invoice, invoice_id)
    actor = current_actor()
    if invoice is None or not invoice.can_view(actor.organization.id):
        raise ApiError(404, _("No such invoice."))
    return invoice


def _fapiao(fapiao_id: int) -> Fapiao:
    found = db.session.get(Fapiao, fapiao_id)
    if found is None or not rules.may_download(db.session, found, current_actor()):
        raise ApiError(404, _("No such fapiao."))
    return found


@blp.get("/billing-profile")
@token_required()
@blp.response(200, ProfileOut)
def get_profile() -> BillingProfile:
    """Your organization's 开票信息 (filled from its register data until saved)."""
    return rules.profile_of(db.session, current_actor().organization)


@blp.put("/billing-profile")
@token_required(write=True)
@blp.arguments(ProfileIn)
@blp.response(200, ProfileOut)
@blp.alt_response(422, schema=ErrorSchema)
def put_profile(data: dict[str, Any]) -> BillingProfile:
    """Save the 开票信息 (owner or admin); the tax ID is a checked USCC."""
    actor = current_actor()
    with service_call():
        profile = rules.save_profile(
            db.session, actor.organization, actor=actor, now=utcnow(), **data
        )
    return profile


@blp.post("/invoices/<int:invoice_id>/fapiao")
@token_required([OrgKind.SME], write=True)
@blp.arguments(RequestIn)
@blp.response(201, FapiaoOut)
@blp.alt_response(404, schema=ErrorSchema)
@blp.alt_response(409, schema=ErrorSchema)
@blp.alt_response(422, schema=ErrorSchema)
def request_fapiao(data: dict[str, Any], invoice_id: int) -> Fapiao:
    """The buyer asks for a fapiao of a paid invoice (one per invoice)."""
    invoice = _invoice(invoice_id)
    with service_call():
        found = rules.request(
            db.session,
            invoice,
            actor=current_actor(),
            type_=FapiaoType(data["type"]),
            now=utcnow(),
        )
    return found


@blp.get("/invoices/<int:invoice_id>/fapiao")
@token_required()
@blp.response(200, FapiaoOut)
@blp.alt_response(404, schema=ErrorSchema)
def get_invoice_fapiao(invoice_id: int) -> Fapiao:
    """The invoice's fapiao: for its buyer and vendor, the operator and a subsidising officer."""
    invoice = db.session.get(Invoice, invoice_id)
    found = rules.fapiao_of(db.session, invoice) if invoice else None
    if found is None or not rules.may_download(db.session, found, current_actor()):
        raise ApiError(404, _("No such fapiao."))
    return found


def _upload(files: dict[str, Any]) -> tuple[bytes, str]:
    upload = files.get("file")
    if upload is None:
        return b"", ""
    return upload.stream.read(rules.MAX_BYTES + 1), upload.filename or ""


def _issued_on(form: dict[str, Any]) -> date:
    if form.get("issued_on") is None:
        raise DomainError(_("Enter the date the fapiao was issued."), field="issued_on")
    return form["issued_on"]


@blp.post("/fapiao/<int:fapiao_id>/issue")
@token_required([OrgKind.VENDOR], write=True)
@blp.arguments(IssueForm, location="form")
@blp.arguments(FileIn, location="files")
@blp.response(200, FapiaoOut)
@blp.alt_response(404, schema=ErrorSchema)
@blp.alt_response(409, schema=ErrorSchema)
@blp.alt_response(422, schema=ErrorSchema)
def issue(form: dict[str, Any], files: dict[str, Any], fapiao_id: int) -> Fapiao:
    """The vendor records the issued 数电发票 (multipart: fields and ``file``); the amount
    is the invoice total, vouchers included."""
    found = _fapiao(fapiao_id)
    data, filename = _upload(files)
    with service_call():
        rules.record_issued(
            db.session,
            found,
            actor=current_actor(),
            number=form["number"],
            issued_on=_issued_on(form),
            amount_fen=form.get("amount_fen", found.invoice.total_fen),
            type_=FapiaoType(form["type"]) if form.get("type") else None,
            data=data,
            filename=filename,
            upload_folder=upload_folder(),
            now=utcnow(),
        )
    return found


@blp.post("/fapiao/<int:fapiao_id>/red-letter")
@token_required([OrgKind.VENDOR], write=True)
@blp.arguments(IssueForm, location="form")
@blp.arguments(FileIn, location="files")
@blp.response(200, FapiaoOut)
@blp.alt_response(404, schema=ErrorSchema)
@blp.alt_response(409, schema=ErrorSchema)
@blp.alt_response(422, schema=ErrorSchema)
def red_letter(form: dict[str, Any], files: dict[str, Any], fapiao_id: int) -> Fapiao:
    """After a refund, the vendor records the red-letter (红字) fapiao reversing the original."""
    found = _fapiao(fapiao_id)
    data, filename = _upload(files)
    with service_call():
        rules.record_red_letter(
            db.session,
            found,
            actor=current_actor(),
            number=form["number"],
            issued_on=_issued_on(form),
            data=data,
            filename=filename,
            upload_folder=upload_folder(),
            now=utcnow(),
        )
    return found


def send_fapiao_file(found: Fapiao, *, red: bool) -> ResponseReturnValue:
    stored = found.red_file if red else found.file
    if not stored:
        raise ApiError(404, _("No such fapiao."))
    response = send_from_directory(
        upload_folder() / "fapiao",
        stored,
        mimetype=(found.red_file_content_type if red else found.file_content_type),
        as_attachment=True,
        download_name=(found.red_file_name if red else found.file_name) or stored,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


@blp.get("/fapiao/<int:fapiao_id>/file")
@token_required()
@blp.alt_response(404, schema=ErrorSchema)
def download(fapiao_id: int) -> ResponseReturnValue:
    """The fapiao file (PDF, OFD or XML)."""
    return send_fapiao_file(_fapiao(fapiao_id), red=False)


@blp.get("/fapiao/<int:fapiao_id>/red-file")
@token_required()
@blp.alt_response(404, schema=ErrorSchema)
def download_red(fapiao_id: int) -> ResponseReturnValue:
    """The red-letter fapiao file."""
    return send_fapiao_file(_fapiao(fapiao_id), red=True)
