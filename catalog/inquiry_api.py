"""Inquiries by API (咨询服务商): a vendor's integration reads the questions buyers sent from
its solution pages and answers them. The rules are catalog/inquiries.py's, as for the
console; another organization's thread does not exist (404)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask_babel import gettext as _
from flask_smorest import Blueprint

from catalog import inquiries
from catalog.inquiry_models import BODY_MAX, Inquiry, InquiryStatus, Side
from marketplace.api_fields import DerivedInteger, state
from marketplace.db import db, utcnow
from marketplace.jsonapi import ApiError, ErrorSchema, current_actor, service_call, token_required
from marketplace.models import OrgKind

blp = Blueprint(
    "inquiries_api", __name__, url_prefix="/api/v1", description="Buyer inquiries (vendors)"
)

MAX_LISTED = 200


class InquiryListArgs(ma.Schema):
    status = ma.fields.String(
        validate=ma.validate.OneOf([s.value for s in InquiryStatus]),
        metadata={"description": "open (waiting for your answer), answered or closed"},
    )


class InquiryReplyIn(ma.Schema):
    body = ma.fields.String(
        required=True, metadata={"description": f"plain text, 1 to {BODY_MAX} characters"}
    )


class InquiryMessageOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    side = state(Side, required=True, metadata={"description": "buyer or vendor"})
    author_name = ma.fields.String(attribute="author.name", required=True)
    body = ma.fields.String(required=True)
    created_at = ma.fields.AwareDateTime(required=True)


class InquiryOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    solution_id = ma.fields.Integer(required=True)
    solution_slug = ma.fields.String(attribute="solution.slug", required=True)
    buyer_id = ma.fields.Integer(required=True)
    buyer_name = ma.fields.String(attribute="buyer.name", required=True)
    subject = ma.fields.String(required=True, metadata={"description": "may be empty"})
    status = state(InquiryStatus, required=True, metadata={"description": "open, answered, closed"})
    unread = ma.fields.Boolean(
        attribute="unread_by_vendor",
        required=True,
        metadata={"description": "a buyer's message nobody of yours has read"},
    )
    created_at = ma.fields.AwareDateTime(required=True)
    last_message_at = ma.fields.AwareDateTime(required=True)
    closed_at = ma.fields.AwareDateTime(required=True, allow_none=True)
    message_count = DerivedInteger(lambda inquiry: len(inquiry.messages), required=True)


class InquiryDetailOut(InquiryOut):
    messages = ma.fields.List(ma.fields.Nested(InquiryMessageOut), required=True)


def _own_inquiry(inquiry_id: int) -> Inquiry:
    found = inquiries.visible(db.session, inquiry_id, current_actor().organization.id, Side.VENDOR)
    if found is None:
        raise ApiError(404, _("No such inquiry."))
    return found


@blp.get("/inquiries")
@token_required([OrgKind.VENDOR])
@blp.arguments(InquiryListArgs, location="query")
@blp.response(200, InquiryOut(many=True))
def list_inquiries(args: dict[str, Any]) -> list[Inquiry]:
    """Threads buyers started on your listings, the latest message first (at most 200)."""
    status = InquiryStatus(args["status"]) if args.get("status") else None
    found = inquiries.threads(
        db.session, current_actor().organization.id, Side.VENDOR, status=status, limit=MAX_LISTED
    )
    return list(found)


@blp.get("/inquiries/<int:inquiry_id>")
@token_required([OrgKind.VENDOR])
@blp.response(200, InquiryDetailOut)
@blp.alt_response(404, schema=ErrorSchema)
def get_inquiry(inquiry_id: int) -> Inquiry:
    """A thread with its messages in order. Reading it here does not mark it read."""
    return _own_inquiry(inquiry_id)


@blp.post("/inquiries/<int:inquiry_id>/messages")
@token_required([OrgKind.VENDOR], write=True)
@blp.arguments(InquiryReplyIn)
@blp.response(201, InquiryDetailOut)
@blp.alt_response(404, schema=ErrorSchema)
@blp.alt_response(409, schema=ErrorSchema)
@blp.alt_response(422, schema=ErrorSchema)
def reply(body: dict[str, Any], inquiry_id: int) -> Inquiry:
    """Answer the buyer: the thread becomes ``answered`` and the buyer is notified. A
    closed thread answers 409."""
    inquiry = _own_inquiry(inquiry_id)
    with service_call():
        inquiries.reply(db.session, inquiry, actor=current_actor(), body=body["body"], now=utcnow())
    return inquiry
