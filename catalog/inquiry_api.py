"""Inquiries by API (咨询服务商): a vendor's integration reads the questions buyers sent from
its solution pages and answers them. The rules are catalog/inquiries.py's, as for the
console; another organization's thread does not exist (404)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask_babel import gettext as _
from flask_smorest import Blueprint

from catalog import inquiries
from catalog.inquiry_models import BODY_MAX, Inquiry, InquiryMessage, InquiryStatus, Side
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
    side = ma.fields.String(required=True, metadata={"description": "buyer or vendor"})
    author_name = ma.fields.String(required=True)
    body = ma.fields.String(required=True)
    created_at = ma.fields.String(required=True)


class InquiryOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    solution_id = ma.fields.Integer(required=True)
    solution_slug = ma.fields.String(required=True)
    buyer_id = ma.fields.Integer(required=True)
    buyer_name = ma.fields.String(required=True)
    subject = ma.fields.String(required=True, metadata={"description": "may be empty"})
    status = ma.fields.String(required=True, metadata={"description": "open, answered, closed"})
    unread = ma.fields.Boolean(
        required=True, metadata={"description": "a buyer's message nobody of yours has read"}
    )
    created_at = ma.fields.String(required=True)
    last_message_at = ma.fields.String(required=True)
    closed_at = ma.fields.String(required=True, allow_none=True)
    message_count = ma.fields.Integer(required=True)


class InquiryDetailOut(InquiryOut):
    messages = ma.fields.List(ma.fields.Nested(InquiryMessageOut), required=True)


def message_dict(message: InquiryMessage) -> dict[str, Any]:
    return {
        "id": message.id,
        "side": message.side.value,
        "author_name": message.author.name,
        "body": message.body,
        "created_at": message.created_at.isoformat(),
    }


def inquiry_dict(inquiry: Inquiry, *, messages: bool = False) -> dict[str, Any]:
    found = {
        "id": inquiry.id,
        "solution_id": inquiry.solution_id,
        "solution_slug": inquiry.solution.slug,
        "buyer_id": inquiry.buyer_id,
        "buyer_name": inquiry.buyer.name,
        "subject": inquiry.subject,
        "status": inquiry.status.value,
        "unread": inquiry.unread_by_vendor,
        "created_at": inquiry.created_at.isoformat(),
        "last_message_at": inquiry.last_message_at.isoformat(),
        "closed_at": inquiry.closed_at.isoformat() if inquiry.closed_at else None,
        "message_count": len(inquiry.messages),
    }
    if messages:
        found["messages"] = [message_dict(m) for m in inquiry.messages]
    return found


def _own_inquiry(inquiry_id: int) -> Inquiry:
    found = inquiries.visible(db.session, inquiry_id, current_actor().organization.id, Side.VENDOR)
    if found is None:
        raise ApiError(404, _("No such inquiry."))
    return found


@blp.get("/inquiries")
@token_required([OrgKind.VENDOR])
@blp.arguments(InquiryListArgs, location="query")
@blp.response(200, InquiryOut(many=True))
def list_inquiries(args: dict[str, Any]) -> list[dict[str, Any]]:
    """Threads buyers started on your listings, the latest message first (at most 200)."""
    status = InquiryStatus(args["status"]) if args.get("status") else None
    found = inquiries.threads(
        db.session, current_actor().organization.id, Side.VENDOR, status=status, limit=MAX_LISTED
    )
    return [inquiry_dict(inquiry) for inquiry in found]


@blp.get("/inquiries/<int:inquiry_id>")
@token_required([OrgKind.VENDOR])
@blp.response(200, InquiryDetailOut)
@blp.alt_response(404, schema=ErrorSchema)
def get_inquiry(inquiry_id: int) -> dict[str, Any]:
    """A thread with its messages in order. Reading it here does not mark it read."""
    return inquiry_dict(_own_inquiry(inquiry_id), messages=True)


@blp.post("/inquiries/<int:inquiry_id>/messages")
@token_required([OrgKind.VENDOR], write=True)
@blp.arguments(InquiryReplyIn)
@blp.response(201, InquiryDetailOut)
@blp.alt_response(404, schema=ErrorSchema)
@blp.alt_response(409, schema=ErrorSchema)
@blp.alt_response(422, schema=ErrorSchema)
def reply(body: dict[str, Any], inquiry_id: int) -> dict[str, Any]:
    """Answer the buyer: the thread becomes ``answered`` and the buyer is notified. A
    closed thread answers 409."""
    inquiry = _own_inquiry(inquiry_id)
    with service_call():
        inquiries.reply(db.session, inquiry, actor=current_actor(), body=body["body"], now=utcnow())
    return inquiry_dict(inquiry, messages=True)
