"""Solutions and plans as the JSON API (and the compare page) show them."""

from __future__ import annotations

from typing import Any

from catalog.claims import payment_claims
from catalog.markup import render_markdown
from catalog.models import BillingModel, Plan, Solution, SolutionRevision


def _decimal(value: Any) -> str | None:
    return None if value is None else format(value.normalize(), "f")


def plan_dict(plan: Plan) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": plan.id,
        "name": plan.name,
        "name_en": plan.name_en,
        "billing_model": plan.billing_model.value,
        "features": list(plan.features),
        "vat_rate_bp": plan.vat_rate_bp,
        "monthly_equivalent_fen": plan.monthly_equivalent_fen,
    }
    if plan.billing_model is BillingModel.SUBSCRIPTION:
        data.update(
            price_fen=plan.price_fen,
            interval=plan.interval.value if plan.interval else None,
            trial_days=plan.trial_days,
        )
    elif plan.billing_model is BillingModel.USAGE:
        data.update(
            meter=plan.meter,
            unit=plan.unit,
            unit_en=plan.unit_en,
            tier_mode=plan.tier_mode.value if plan.tier_mode else None,
            tiers=list(plan.tiers or []),
            free_units=plan.free_units,
            base_fee_fen=plan.base_fee_fen,
        )
    else:
        data.update(
            kpi_name=plan.kpi_name,
            kpi_unit=plan.kpi_unit,
            kpi_name_en=plan.kpi_name_en,
            kpi_unit_en=plan.kpi_unit_en,
            direction=plan.direction.value if plan.direction else None,
            price_per_unit_fen=_decimal(plan.price_per_unit_fen),
            share_bp=plan.share_bp,
            value_per_unit_fen=_decimal(plan.value_per_unit_fen),
            cap_fen=plan.cap_fen,
            base_fee_fen=plan.base_fee_fen,
            verification_days=plan.verification_days,
        )
    return data


def summary_dict(
    solution: Solution,
    revision: SolutionRevision,
    *,
    rating: tuple[float, int] | None = None,
    highlights: dict[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "slug": solution.slug,
        "name": revision.name,
        "name_en": revision.name_en,
        "summary": revision.summary,
        "summary_en": revision.summary_en,
        "vendor": {"name": solution.vendor.name, "region_code": solution.vendor.region_code},
        "industries": list(revision.industries),
        "scenarios": list(revision.scenarios),
        "delivery": revision.delivery.value,
        "deploy_days": revision.deploy_days,
        "voucher_kinds": list(revision.voucher_kinds),
        "billing_models": revision.billing_models(),
        "lowest_monthly_fen": revision.lowest_monthly_fen(),
        "badges": revision.badges(),
        "payment_claims": payment_claims(revision.plans).as_dict(),
        "rating": round(rating[0], 2) if rating else None,
        "rating_count": rating[1] if rating else 0,
        "published_at": solution.published_at.isoformat() if solution.published_at else None,
        "highlights": highlights or {},
    }


def detail_dict(
    solution: Solution,
    revision: SolutionRevision,
    *,
    rating: tuple[float, int] | None = None,
    with_html: bool = True,
) -> dict[str, Any]:
    """The JSON API's solution; ``with_html=False`` leaves out the rendered description
    (the solution page renders the description in its shared body instead)."""
    data = summary_dict(solution, revision, rating=rating)
    data.pop("highlights")
    data.update(
        description=revision.description,
        description_html=str(render_markdown(revision.description)) if with_html else None,
        case_studies=list(revision.case_studies),
        faq=list(revision.faq),
        support=dict(revision.support),
        sla=dict(revision.sla),
        deploy_steps=list(revision.deploy_steps),
        agreement=revision.agreement,
        agreement_version=revision.agreement_version,
        vendor={
            "name": solution.vendor.name,
            "region_code": solution.vendor.region_code,
            "about": solution.vendor.about,
            "about_en": solution.vendor.about_en,
            "verified": solution.vendor.is_verified,
        },
        plans=[plan_dict(plan) for plan in revision.plans],
    )
    return data
