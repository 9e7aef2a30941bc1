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
from catalog.api_schemas import PlanOut
from catalog.models import Delivery, RevisionStatus, Screenshot, Solution, SolutionStatus
from catalog.validation import parse_plans, parse_solution
from marketplace.api_fields import DerivedInteger, state
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
    """A :class:`~catalog.models.SolutionRevision` as its vendor edits it."""

    number = ma.fields.Integer(required=True)
    status = state(RevisionStatus, required=True)
    review_note = ma.fields.String(required=True, metadata={"description": "why it was rejected"})
    submitted_at = ma.fields.AwareDateTime(allow_none=True, required=True)
    reviewed_at = ma.fields.AwareDateTime(allow_none=True, required=True)
    name = ma.fields.String(required=True)
    name_en = ma.fields.String(required=True)
    summary = ma.fields.String(required=True)
    summary_en = ma.fields.String(required=True)
    description = ma.fields.String(required=True)
    industries = ma.fields.List(ma.fields.String(), required=True)
    scenarios = ma.fields.List(ma.fields.String(), required=True)
    delivery = state(Delivery, required=True)
    deploy_days = ma.fields.Integer(required=True)
    voucher_kinds = ma.fields.List(ma.fields.String(), required=True)
    case_studies = ma.fields.List(ma.fields.Dict(), required=True)
    faq = ma.fields.List(ma.fields.Dict(), required=True)
    support = ma.fields.Dict(required=True)
    sla = ma.fields.Dict(required=True)
    deploy_steps = ma.fields.List(ma.fields.String(), required=True)
    agreement = ma.fields.String(required=True)
    agreement_version = ma.fields.Integer(required=True)
    plans = ma.fields.List(ma.fields.Nested(PlanOut), required=True)
    screenshots = ma.fields.List(ma.fields.Nested(ListingScreenshotOut), required=True)


class ListingOut(ma.Schema):
    """A :class:`~catalog.models.Solution` as its vendor manages it."""

    id = ma.fields.Integer(required=True)
    slug = ma.fields.String(required=True)
    status = state(SolutionStatus, required=True)
    fulfillment_url = ma.fields.String(required=True)
    published_revision = DerivedInteger(
        lambda solution: solution.published.number if solution.published else None,
        allow_none=True,
        required=True,
    )
    current = ma.fields.Nested(
        ListingRevisionOut,
        required=True,
        metadata={"description": "the version being worked on, else the published one"},
    )


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
def list_listings() -> list[Solution]:
    """Your organization's listings, with the review status of each."""
    org_id = current_actor().organization.id
    return list(services.vendor_solutions(db.session, org_id))


@blp.post("/listings")
@token_required([OrgKind.VENDOR], write=True)
@blp.arguments(ListingIn)
@blp.response(201, ListingOut)
@blp.alt_response(422, schema=ErrorSchema)
def create_listing(body: dict[str, Any]) -> Solution:
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
    return solution


@blp.get("/listings/<int:solution_id>")
@token_required([OrgKind.VENDOR, OrgKind.PLATFORM])
@blp.response(200, ListingOut)
@blp.alt_response(404, schema=ErrorSchema)
def get_listing(solution_id: int) -> Solution:
    """A listing with the version being worked on, its review status and the reasons."""
    return _own_listing(solution_id)


@blp.put("/listings/<int:solution_id>")
@token_required([OrgKind.VENDOR], write=True)
@blp.arguments(ListingUpdateIn)
@blp.response(200, ListingOut)
@blp.alt_response(404, schema=ErrorSchema)
@blp.alt_response(409, schema=ErrorSchema)
@blp.alt_response(422, schema=ErrorSchema)
def update_listing(body: dict[str, Any], solution_id: int) -> Solution:
    """Replace the content (case studies included); editing a published listing starts a
    new version, reviewed again while the published one stays visible."""
    solution = _own_listing(solution_id)
    with service_call():
        services.update_content(
            db.session, solution, actor=current_actor(), content=parse_solution(body)
        )
    return solution


@blp.put("/listings/<int:solution_id>/plans")
@token_required([OrgKind.VENDOR], write=True)
@blp.arguments(ListingPlansIn)
@blp.response(200, ListingOut)
@blp.alt_response(404, schema=ErrorSchema)
@blp.alt_response(409, schema=ErrorSchema)
@blp.alt_response(422, schema=ErrorSchema)
def replace_plans(body: dict[str, Any], solution_id: int) -> Solution:
    """Replace the plans of the version being worked on."""
    solution = _own_listing(solution_id)
    with service_call():
        services.update_plans(
            db.session, solution, actor=current_actor(), plans=parse_plans(body["plans"])
        )
    return solution


@blp.put("/listings/<int:solution_id>/fulfillment-url")
@token_required([OrgKind.VENDOR], write=True)
@blp.arguments(ListingFulfillmentUrlIn)
@blp.response(200, ListingOut)
@blp.alt_response(404, schema=ErrorSchema)
@blp.alt_response(422, schema=ErrorSchema)
def set_fulfillment_url(body: dict[str, Any], solution_id: int) -> Solution:
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
    return solution


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
def submit_listing(solution_id: int) -> Solution:
    """Send the version being worked on to review."""
    solution = _own_listing(solution_id)
    with service_call():
        services.submit(db.session, solution, actor=current_actor())
    return solution


@blp.post("/listings/<int:solution_id>/withdraw")
@token_required([OrgKind.VENDOR], write=True)
@blp.response(200, ListingOut)
@blp.alt_response(404, schema=ErrorSchema)
@blp.alt_response(409, schema=ErrorSchema)
def withdraw_listing(solution_id: int) -> Solution:
    """Take a version in review back to draft."""
    solution = _own_listing(solution_id)
    with service_call():
        services.withdraw(db.session, solution, actor=current_actor())
    return solution


@blp.post("/listings/<int:solution_id>/approve")
@token_required([OrgKind.PLATFORM], write=True)
@blp.response(200, ListingOut)
@blp.alt_response(404, schema=ErrorSchema)
@blp.alt_response(409, schema=ErrorSchema)
@blp.alt_response(422, schema=ErrorSchema)
def approve_listing(solution_id: int) -> Solution:
    """The operator publishes the version in review (the vendor must be verified)."""
    solution = _own_listing(solution_id)
    with service_call():
        services.approve(db.session, solution, actor=current_actor())
    return solution


@blp.post("/listings/<int:solution_id>/reject")
@token_required([OrgKind.PLATFORM], write=True)
@blp.arguments(ListingRejectIn)
@blp.response(200, ListingOut)
@blp.alt_response(404, schema=ErrorSchema)
@blp.alt_response(409, schema=ErrorSchema)
@blp.alt_response(422, schema=ErrorSchema)
def reject_listing(body: dict[str, Any], solution_id: int) -> Solution:
    """The operator sends the version back with what to change (shown to the vendor)."""
    solution = _own_listing(solution_id)
    with service_call():
        services.reject(db.session, solution, actor=current_actor(), note=body["note"])
    return solution
