"""Listings by API (issue 14): a vendor creates and edits drafts, plans, case studies and
screenshots, submits and withdraws them and reads the review; the operator approves or
rejects. Every input goes through catalog/validation.py, the console's own checker, so a
refusal names the same field (``name``, ``plans[1].tiers``) as the console shows it at."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask_babel import gettext as _
from flask_smorest import Blueprint

from catalog import fulfillment, screenshots, services
from catalog.models import Screenshot, Solution, SolutionRevision
from catalog.presenters import plan_dict
from catalog.validation import parse_plans, parse_solution
from marketplace.db import db
from marketplace.jsonapi import (
    ApiError,
    ErrorSchema,
    current_actor,
    service_call,
    token_required,
)
from marketplace.models import OrgKind
from marketplace.uploads import upload_folder
from marketplace.urls import UrlPolicy

blp = Blueprint(
    "listings_api", __name__, url_prefix="/api/v1", description="Listings (vendors) and review"
)

_CONTENT_FIELDS = {
    "name": "at most 60 characters",
    "name_en": "at most 120 characters",
    "summary": "at most 200 characters",
    "summary_en": "at most 400 characters",
    "description": "Markdown, at most 20,000 characters",
    "industries": "GB/T 4754 codes, one to ten",
    "scenarios": "scenario codes, one to three",
    "delivery": "saas, edge, maas, agent, api or service",
    "deploy_days": "0 to 365",
    "voucher_kinds": "cloud, compute",
    "case_studies": "[{customer_industry, customer?, problem, result}], at most six",
    "faq": "[{question, answer}], at most twelve, plain text",
    "support": "{phone?, email?, wechat?, hours?}",
    "sla": "{availability_bp? (9000 to 10000), response_hours? (1 to 720)}",
    "deploy_steps": "[step], in order, at most twelve",
    "agreement": "the service agreement buyers accept (plain text, at most 20,000 characters); "
    "empty for the platform's standard agreement; its version changes when the text does",
}


def _raw_fields(**extra: ma.fields.Field) -> dict[str, ma.fields.Field]:
    """Documented but unchecked here: catalog/validation.py checks them, as for the console."""
    fields: dict[str, ma.fields.Field] = {
        name: ma.fields.Raw(metadata={"description": text})
        for name, text in _CONTENT_FIELDS.items()
    }
    fields.update(extra)
    return fields


ListingIn = ma.Schema.from_dict(
    _raw_fields(
        slug=ma.fields.Raw(metadata={"description": "the storefront address; made up if absent"}),
        plans=ma.fields.Raw(
            metadata={"description": "plans in the shape of GET /solutions/{slug}; optional"}
        ),
        fulfillment_url=ma.fields.Raw(metadata={"description": "https sign-up page, optional"}),
    ),
    name="ListingIn",
)
ListingUpdateIn = ma.Schema.from_dict(_raw_fields(), name="ListingUpdateIn")


class ListingPlansIn(ma.Schema):
    plans = ma.fields.Raw(
        required=True, metadata={"description": "the whole list of plans, at most six"}
    )


class ListingFulfillmentUrlIn(ma.Schema):
    fulfillment_url = ma.fields.String(
        required=True, metadata={"description": "https sign-up page; empty to remove"}
    )


class ListingRejectIn(ma.Schema):
    note = ma.fields.String(required=True, validate=ma.validate.Length(max=2000))


class ListingScreenshotIn(ma.Schema):
    caption = ma.fields.String(load_default="", validate=ma.validate.Length(max=200))


class ListingScreenshotFileIn(ma.Schema):
    file = ma.fields.Raw(
        required=True, metadata={"type": "string", "format": "binary", "description": "PNG or JPEG"}
    )


class ListingScreenshotOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    caption = ma.fields.String(required=True)
    content_type = ma.fields.String(required=True)
    width = ma.fields.Integer(required=True)
    height = ma.fields.Integer(required=True)


class ListingRevisionOut(ma.Schema):
    number = ma.fields.Integer(required=True)
    status = ma.fields.String(required=True)
    review_note = ma.fields.String(required=True, metadata={"description": "why it was rejected"})
    submitted_at = ma.fields.String(allow_none=True, required=True)
    reviewed_at = ma.fields.String(allow_none=True, required=True)
    name = ma.fields.String(required=True)
    name_en = ma.fields.String(required=True)
    summary = ma.fields.String(required=True)
    summary_en = ma.fields.String(required=True)
    description = ma.fields.String(required=True)
    industries = ma.fields.List(ma.fields.String(), required=True)
    scenarios = ma.fields.List(ma.fields.String(), required=True)
    delivery = ma.fields.String(required=True)
    deploy_days = ma.fields.Integer(required=True)
    voucher_kinds = ma.fields.List(ma.fields.String(), required=True)
    case_studies = ma.fields.List(ma.fields.Dict(), required=True)
    faq = ma.fields.List(ma.fields.Dict(), required=True)
    support = ma.fields.Dict(required=True)
    sla = ma.fields.Dict(required=True)
    deploy_steps = ma.fields.List(ma.fields.String(), required=True)
    agreement = ma.fields.String(required=True)
    agreement_version = ma.fields.Integer(required=True)
    plans = ma.fields.List(ma.fields.Dict(), required=True)
    screenshots = ma.fields.List(ma.fields.Nested(ListingScreenshotOut), required=True)


class ListingOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    slug = ma.fields.String(required=True)
    status = ma.fields.String(required=True)
    fulfillment_url = ma.fields.String(required=True)
    published_revision = ma.fields.Integer(allow_none=True, required=True)
    current = ma.fields.Nested(
        ListingRevisionOut,
        required=True,
        metadata={"description": "the version being worked on, else the published one"},
    )


def _revision_dict(revision: SolutionRevision) -> dict[str, Any]:
    return {
        "number": revision.number,
        "status": revision.status.value,
        "review_note": revision.review_note,
        "submitted_at": revision.submitted_at.isoformat() if revision.submitted_at else None,
        "reviewed_at": revision.reviewed_at.isoformat() if revision.reviewed_at else None,
        "name": revision.name,
        "name_en": revision.name_en,
        "summary": revision.summary,
        "summary_en": revision.summary_en,
        "description": revision.description,
        "industries": list(revision.industries),
        "scenarios": list(revision.scenarios),
        "delivery": revision.delivery.value,
        "deploy_days": revision.deploy_days,
        "voucher_kinds": list(revision.voucher_kinds),
        "case_studies": list(revision.case_studies),
        "faq": list(revision.faq),
        "support": dict(revision.support),
        "sla": dict(revision.sla),
        "deploy_steps": list(revision.deploy_steps),
        "agreement": revision.agreement,
        "agreement_version": revision.agreement_version,
        "plans": [plan_dict(plan) for plan in revision.plans],
        "screenshots": [
            {
                "id": shot.id,
                "caption": shot.caption,
                "content_type": shot.content_type,
                "width": shot.width,
                "height": shot.height,
            }
            for shot in revision.screenshots
        ],
    }


def listing_dict(solution: Solution) -> dict[str, Any]:
    return {
        "id": solution.id,
        "slug": solution.slug,
        "status": solution.status.value,
        "fulfillment_url": solution.fulfillment_url,
        "published_revision": solution.published.number if solution.published else None,
        "current": _revision_dict(solution.current),
    }


def _own_listing(solution_id: int) -> Solution:
    """Load -> authorize: another vendor's listing does not exist; the operator sees all."""
    actor = current_actor()
    solution = db.session.get(Solution, solution_id)
    if solution is None or not services.can_view_unpublished(solution, actor):
        raise ApiError(404, _("No such listing."))
    return solution


@blp.get("/listings")
@token_required([OrgKind.VENDOR])
@blp.response(200, ListingOut(many=True))
def list_listings() -> list[dict[str, Any]]:
    """Your organization's listings, with the review status of each."""
    org_id = current_actor().organization.id
    return [listing_dict(s) for s in services.vendor_solutions(db.session, org_id)]


@blp.post("/listings")
@token_required([OrgKind.VENDOR], write=True)
@blp.arguments(ListingIn)
@blp.response(201, ListingOut)
@blp.alt_response(422, schema=ErrorSchema)
def create_listing(body: dict[str, Any]) -> dict[str, Any]:
    """A new draft, optionally with its plans and fulfillment URL (a draft may have no plan
    yet; submitting needs one)."""
    with service_call():
        content = parse_solution(body)
        raw_plans = body.get("plans")
        plans = parse_plans(raw_plans) if raw_plans else []
        slug = body.get("slug")
        solution = services.create_solution(
            db.session,
            actor=current_actor(),
            content=content,
            plans=plans,
            slug=slug.strip() if isinstance(slug, str) and slug.strip() else None,
        )
        if body.get("fulfillment_url"):
            fulfillment.set_fulfillment_url(
                db.session,
                solution,
                actor=current_actor(),
                url=str(body["fulfillment_url"]),
                policy=UrlPolicy.from_config(),
            )
    return listing_dict(solution)


@blp.get("/listings/<int:solution_id>")
@token_required([OrgKind.VENDOR, OrgKind.PLATFORM])
@blp.response(200, ListingOut)
@blp.alt_response(404, schema=ErrorSchema)
def get_listing(solution_id: int) -> dict[str, Any]:
    """A listing with the version being worked on, its review status and the reasons."""
    return listing_dict(_own_listing(solution_id))


@blp.put("/listings/<int:solution_id>")
@token_required([OrgKind.VENDOR], write=True)
@blp.arguments(ListingUpdateIn)
@blp.response(200, ListingOut)
@blp.alt_response(404, schema=ErrorSchema)
@blp.alt_response(409, schema=ErrorSchema)
@blp.alt_response(422, schema=ErrorSchema)
def update_listing(body: dict[str, Any], solution_id: int) -> dict[str, Any]:
    """Replace the content (case studies included); editing a published listing starts a
    new version, reviewed again while the published one stays visible."""
    solution = _own_listing(solution_id)
    with service_call():
        services.update_content(
            db.session, solution, actor=current_actor(), content=parse_solution(body)
        )
    return listing_dict(solution)


@blp.put("/listings/<int:solution_id>/plans")
@token_required([OrgKind.VENDOR], write=True)
@blp.arguments(ListingPlansIn)
@blp.response(200, ListingOut)
@blp.alt_response(404, schema=ErrorSchema)
@blp.alt_response(409, schema=ErrorSchema)
@blp.alt_response(422, schema=ErrorSchema)
def replace_plans(body: dict[str, Any], solution_id: int) -> dict[str, Any]:
    """Replace the plans of the version being worked on."""
    solution = _own_listing(solution_id)
    with service_call():
        services.update_plans(
            db.session, solution, actor=current_actor(), plans=parse_plans(body["plans"])
        )
    return listing_dict(solution)


@blp.put("/listings/<int:solution_id>/fulfillment-url")
@token_required([OrgKind.VENDOR], write=True)
@blp.arguments(ListingFulfillmentUrlIn)
@blp.response(200, ListingOut)
@blp.alt_response(404, schema=ErrorSchema)
@blp.alt_response(422, schema=ErrorSchema)
def set_fulfillment_url(body: dict[str, Any], solution_id: int) -> dict[str, Any]:
    """Where buyers who started a plan are sent to sign up (with a one-time token)."""
    solution = _own_listing(solution_id)
    with service_call():
        fulfillment.set_fulfillment_url(
            db.session,
            solution,
            actor=current_actor(),
            url=body["fulfillment_url"],
            policy=UrlPolicy.from_config(),
        )
    return listing_dict(solution)


@blp.post("/listings/<int:solution_id>/screenshots")
@token_required([OrgKind.VENDOR], write=True)
@blp.arguments(ListingScreenshotIn, location="form")
@blp.arguments(ListingScreenshotFileIn, location="files")
@blp.response(201, ListingScreenshotOut)
@blp.alt_response(404, schema=ErrorSchema)
@blp.alt_response(409, schema=ErrorSchema)
@blp.alt_response(422, schema=ErrorSchema)
def add_screenshot(form: dict[str, Any], files: dict[str, Any], solution_id: int) -> Screenshot:
    """Add a PNG or JPEG screenshot (multipart: `file`, `caption`)."""
    solution = _own_listing(solution_id)
    with service_call():
        shot = screenshots.add_screenshot(
            db.session,
            solution,
            current_actor(),
            files["file"],
            upload_folder(),
            caption=form.get("caption", ""),
        )
    return shot


@blp.delete("/listings/<int:solution_id>/screenshots/<int:screenshot_id>")
@token_required([OrgKind.VENDOR], write=True)
@blp.response(204)
@blp.alt_response(404, schema=ErrorSchema)
@blp.alt_response(409, schema=ErrorSchema)
@blp.alt_response(422, schema=ErrorSchema)
def delete_screenshot(solution_id: int, screenshot_id: int) -> None:
    solution = _own_listing(solution_id)
    with service_call():
        screenshots.remove_screenshot(
            db.session, solution, current_actor(), screenshot_id, upload_folder()
        )


@blp.post("/listings/<int:solution_id>/submit")
@token_required([OrgKind.VENDOR], write=True)
@blp.response(200, ListingOut)
@blp.alt_response(404, schema=ErrorSchema)
@blp.alt_response(409, schema=ErrorSchema)
@blp.alt_response(422, schema=ErrorSchema)
def submit_listing(solution_id: int) -> dict[str, Any]:
    """Send the version being worked on to review."""
    solution = _own_listing(solution_id)
    with service_call():
        services.submit(db.session, solution, actor=current_actor())
    return listing_dict(solution)


@blp.post("/listings/<int:solution_id>/withdraw")
@token_required([OrgKind.VENDOR], write=True)
@blp.response(200, ListingOut)
@blp.alt_response(404, schema=ErrorSchema)
@blp.alt_response(409, schema=ErrorSchema)
def withdraw_listing(solution_id: int) -> dict[str, Any]:
    """Take a version in review back to draft."""
    solution = _own_listing(solution_id)
    with service_call():
        services.withdraw(db.session, solution, actor=current_actor())
    return listing_dict(solution)


@blp.post("/listings/<int:solution_id>/approve")
@token_required([OrgKind.PLATFORM], write=True)
@blp.response(200, ListingOut)
@blp.alt_response(404, schema=ErrorSchema)
@blp.alt_response(409, schema=ErrorSchema)
@blp.alt_response(422, schema=ErrorSchema)
def approve_listing(solution_id: int) -> dict[str, Any]:
    """The operator publishes the version in review (the vendor must be verified)."""
    solution = _own_listing(solution_id)
    with service_call():
        services.approve(db.session, solution, actor=current_actor())
    return listing_dict(solution)


@blp.post("/listings/<int:solution_id>/reject")
@token_required([OrgKind.PLATFORM], write=True)
@blp.arguments(ListingRejectIn)
@blp.response(200, ListingOut)
@blp.alt_response(404, schema=ErrorSchema)
@blp.alt_response(409, schema=ErrorSchema)
@blp.alt_response(422, schema=ErrorSchema)
def reject_listing(body: dict[str, Any], solution_id: int) -> dict[str, Any]:
    """The operator sends the version back with what to change (shown to the vendor)."""
    solution = _own_listing(solution_id)
    with service_call():
        services.reject(db.session, solution, actor=current_actor(), note=body["note"])
    return listing_dict(solution)
