"""Solutions and plans as the JSON API shows them, declared once: the schemas dump the models
(a solution through :class:`Listed`, which adds what the database row does not hold: the
buyers' rating and a search's highlights). The storefront's cards, solution page and
compare page render the same dumps, so a page and the API never disagree."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import marshmallow as ma

from catalog.claims import payment_claims
from catalog.markup import render_markdown
from catalog.models import (
    BillingModel,
    Delivery,
    Direction,
    Interval,
    Plan,
    Solution,
    SolutionRevision,
    SolutionStatus,
    TierMode,
)
from marketplace.api_fields import (
    DecimalText,
    DerivedDict,
    DerivedInteger,
    DerivedList,
    DerivedNested,
    DerivedNumber,
    DerivedString,
    state,
)


@dataclass(frozen=True)
class Listed:
    """A solution as shown: the revision shown, its buyers' rating (average, count) and the
    search's highlighted snippets."""

    solution: Solution
    revision: SolutionRevision
    rating: tuple[float, int] | None = None
    highlights: dict[str, str] | None = None


class VendorSummaryOut(ma.Schema):
    name = ma.fields.String(required=True)
    region_code = ma.fields.String(required=True)


class VendorOut(VendorSummaryOut):
    about = ma.fields.String()
    about_en = ma.fields.String()
    verified = ma.fields.Boolean(attribute="is_verified")


class BadgesOut(ma.Schema):
    small = ma.fields.Boolean(
        required=True, metadata={"description": "小: lowest monthly price <= ¥2,000"}
    )
    fast = ma.fields.Boolean(required=True, metadata={"description": "快: deploys in <= 7 days"})
    light = ma.fields.Boolean(
        required=True, metadata={"description": "轻: saas, maas, agent or api"}
    )
    precise = ma.fields.Boolean(required=True, metadata={"description": "准: one or two scenarios"})


class PaymentClaimsOut(ma.Schema):
    """What the listing may promise about paying, derived from its plans (catalog/claims.py)."""

    trial_days = ma.fields.Integer(required=True, metadata={"description": "0 for none"})
    pay_after_use = ma.fields.Boolean(required=True)
    pay_for_results = ma.fields.Boolean(required=True)
    no_upfront_payment = ma.fields.Boolean(required=True)


class TierOut(ma.Schema):
    up_to = ma.fields.Integer(allow_none=True, required=True)
    unit_fen = ma.fields.String(required=True, metadata={"description": "decimal fen"})


# The terms each billing model has; a plan's answer holds only its own model's.
_PLAN_TERMS = {
    BillingModel.SUBSCRIPTION: {"price_fen", "interval", "trial_days"},
    BillingModel.USAGE: {
        "meter",
        "unit",
        "unit_en",
        "tier_mode",
        "tiers",
        "free_units",
        "base_fee_fen",
    },
    BillingModel.OUTCOME: {
        "kpi_name",
        "kpi_unit",
        "kpi_name_en",
        "kpi_unit_en",
        "direction",
        "price_per_unit_fen",
        "share_bp",
        "value_per_unit_fen",
        "cap_fen",
        "base_fee_fen",
        "verification_days",
    },
}
_OTHER_TERMS = set().union(*_PLAN_TERMS.values())


class PlanOut(ma.Schema):
    """A :class:`~catalog.models.Plan`: the common fields, then its billing model's terms."""

    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    name_en = ma.fields.String(required=True)
    billing_model = state(BillingModel, required=True)
    features = ma.fields.List(ma.fields.String(), required=True)
    vat_rate_bp = ma.fields.Integer(required=True)
    monthly_equivalent_fen = ma.fields.Integer(allow_none=True, required=True)
    price_fen = ma.fields.Integer(allow_none=True)
    interval = state(Interval, allow_none=True)
    trial_days = ma.fields.Integer()
    meter = ma.fields.String(allow_none=True)
    unit = ma.fields.String(allow_none=True)
    unit_en = ma.fields.String(allow_none=True)
    tier_mode = state(TierMode, allow_none=True)
    tiers = DerivedList(lambda plan: plan.tiers or [], ma.fields.Nested(TierOut))
    free_units = ma.fields.Integer()
    base_fee_fen = ma.fields.Integer()
    kpi_name = ma.fields.String(allow_none=True)
    kpi_unit = ma.fields.String(allow_none=True)
    kpi_name_en = ma.fields.String(allow_none=True)
    kpi_unit_en = ma.fields.String(allow_none=True)
    direction = state(Direction, allow_none=True)
    price_per_unit_fen = DecimalText(allow_none=True)
    share_bp = ma.fields.Integer(allow_none=True)
    value_per_unit_fen = DecimalText(allow_none=True)
    cap_fen = ma.fields.Integer(allow_none=True)
    verification_days = ma.fields.Integer()

    @ma.post_dump(pass_original=True)
    def _only_its_terms(self, data: dict[str, Any], plan: Plan, **_: Any) -> dict[str, Any]:
        others = _OTHER_TERMS - _PLAN_TERMS[plan.billing_model]
        return {name: value for name, value in data.items() if name not in others}


def _rating(listed: Listed) -> float | None:
    return round(listed.rating[0], 2) if listed.rating else None


class _SolutionOut(ma.Schema):
    """What a summary and a detail share (a :class:`Listed`)."""

    slug = ma.fields.String(attribute="solution.slug", required=True)
    name = ma.fields.String(attribute="revision.name", required=True)
    name_en = ma.fields.String(attribute="revision.name_en", required=True)
    summary = ma.fields.String(attribute="revision.summary", required=True)
    summary_en = ma.fields.String(attribute="revision.summary_en", required=True)
    industries = ma.fields.List(ma.fields.String(), attribute="revision.industries", required=True)
    scenarios = ma.fields.List(ma.fields.String(), attribute="revision.scenarios", required=True)
    delivery = state(Delivery, attribute="revision.delivery", required=True)
    deploy_days = ma.fields.Integer(attribute="revision.deploy_days", required=True)
    voucher_kinds = ma.fields.List(
        ma.fields.String(), attribute="revision.voucher_kinds", required=True
    )
    billing_models = DerivedList(
        lambda listed: listed.revision.billing_models(), ma.fields.String(), required=True
    )
    lowest_monthly_fen = DerivedInteger(
        lambda listed: listed.revision.lowest_monthly_fen(), allow_none=True, required=True
    )
    badges = DerivedNested(lambda listed: listed.revision.badges(), BadgesOut, required=True)
    payment_claims = DerivedNested(
        lambda listed: payment_claims(listed.revision.plans), PaymentClaimsOut, required=True
    )
    rating = DerivedNumber(_rating, allow_none=True, required=True)
    rating_count = DerivedInteger(
        lambda listed: listed.rating[1] if listed.rating else 0, required=True
    )
    published_at = ma.fields.AwareDateTime(
        attribute="solution.published_at", allow_none=True, required=True
    )


class SolutionSummaryOut(_SolutionOut):
    vendor = ma.fields.Nested(VendorSummaryOut, attribute="solution.vendor", required=True)
    highlights = DerivedDict(
        lambda listed: listed.highlights or {}, keys=ma.fields.String(), values=ma.fields.String()
    )


class CaseStudyOut(ma.Schema):
    customer_industry = ma.fields.String(required=True)
    customer = ma.fields.String()
    problem = ma.fields.String(required=True)
    result = ma.fields.String(required=True)


class FaqOut(ma.Schema):
    question = ma.fields.String(required=True)
    answer = ma.fields.String(required=True)


class SupportOut(ma.Schema):
    phone = ma.fields.String()
    email = ma.fields.String()
    wechat = ma.fields.String()
    hours = ma.fields.String()


class SlaOut(ma.Schema):
    availability_bp = ma.fields.Integer(metadata={"description": "9990 = 99.9%"})
    response_hours = ma.fields.Integer()


class SolutionDetailOut(_SolutionOut):
    vendor = ma.fields.Nested(VendorOut, attribute="solution.vendor", required=True)
    description = ma.fields.String(
        attribute="revision.description", required=True, metadata={"description": "Markdown"}
    )
    description_html = DerivedString(
        lambda listed: str(render_markdown(listed.revision.description)),
        required=True,
        metadata={"description": "sanitized HTML"},
    )
    case_studies = ma.fields.List(
        ma.fields.Nested(CaseStudyOut), attribute="revision.case_studies", required=True
    )
    faq = ma.fields.List(ma.fields.Nested(FaqOut), attribute="revision.faq", required=True)
    support = ma.fields.Nested(SupportOut, attribute="revision.support", required=True)
    sla = ma.fields.Nested(SlaOut, attribute="revision.sla", required=True)
    deploy_steps = ma.fields.List(
        ma.fields.String(), attribute="revision.deploy_steps", required=True
    )
    agreement = ma.fields.String(
        attribute="revision.agreement",
        required=True,
        metadata={
            "description": "the vendor's service agreement; empty when the platform's standard "
            "agreement applies (the solution page links to it)"
        },
    )
    agreement_version = ma.fields.Integer(
        attribute="revision.agreement_version",
        required=True,
        metadata={"description": "send it as accept_agreement_version to start a plan"},
    )
    plans = ma.fields.List(ma.fields.Nested(PlanOut), attribute="revision.plans", required=True)


class TombstoneOut(ma.Schema):
    """A solution that is no longer published (catalog sync)."""

    slug = ma.fields.String(required=True)
    status = state(SolutionStatus, required=True, metadata={"description": "no longer published"})
    changed_at = ma.fields.AwareDateTime(required=True)
