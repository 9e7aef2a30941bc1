"""Turning a listing as vendors send it (form, JSON API, import file) into checked values.

The same field names are used everywhere (DESIGN.md sections 3, 4 and 6); a refusal names
the field, for nested values with a path such as ``plans[1].tiers``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any

from flask_babel import lazy_gettext as _l

from catalog import taxonomy
from catalog.agreements import MAX_AGREEMENT_CHARS
from catalog.limits import MAX_PERIOD_QUANTITY, MAX_PRICE_FEN, MAX_UNIT_FEN
from catalog.models import BillingModel, Delivery, Direction, Interval, TierMode, VoucherKind
from marketplace.errors import DomainError

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,78}[a-z0-9])$")
METER = re.compile(r"^[a-z][a-z0-9_]{0,59}$")
MAX_PLANS = 6
MAX_CASE_STUDIES = 6
MAX_FAQ = 12
MAX_DEPLOY_STEPS = 12
SUPPORT_FIELDS = {"phone": 40, "email": 120, "wechat": 60, "hours": 100}
MAX_FEATURES = 8


@dataclass
class SolutionContent:
    name: str
    summary: str
    industries: list[str]
    scenarios: list[str]
    delivery: Delivery
    deploy_days: int
    name_en: str = ""
    summary_en: str = ""
    description: str = ""
    voucher_kinds: list[str] = field(default_factory=list)
    case_studies: list[dict[str, str]] = field(default_factory=list)
    faq: list[dict[str, str]] = field(default_factory=list)
    support: dict[str, str] = field(default_factory=dict)
    sla: dict[str, int] = field(default_factory=dict)
    deploy_steps: list[str] = field(default_factory=list)
    agreement: str = ""  # the vendor's service agreement; "" for the platform's standard one


@dataclass
class PlanTerms:
    name: str
    billing_model: BillingModel
    name_en: str = ""
    features: list[str] = field(default_factory=list)
    vat_rate_bp: int = 600
    base_fee_fen: int = 0
    price_fen: int | None = None
    interval: Interval | None = None
    trial_days: int = 0
    meter: str | None = None
    unit: str | None = None
    unit_en: str | None = None
    tier_mode: TierMode | None = None
    tiers: list[dict[str, Any]] | None = None
    free_units: int = 0
    kpi_name: str | None = None
    kpi_unit: str | None = None
    kpi_name_en: str | None = None
    kpi_unit_en: str | None = None
    direction: Direction | None = None
    price_per_unit_fen: Decimal | None = None
    share_bp: int | None = None
    value_per_unit_fen: Decimal | None = None
    cap_fen: int | None = None
    verification_days: int = 7


def _fail(path: str, message: Any) -> DomainError:
    return DomainError(message, field=path)


def _text(data: Mapping[str, Any], key: str, path: str, *, max_len: int, required: bool) -> str:
    value = data.get(key)
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise _fail(path, _l("Enter text."))
    value = value.strip()
    if required and not value:
        raise _fail(path, _l("This field is required."))
    if len(value) > max_len:
        raise _fail(path, _l("At most %(n)d characters.", n=max_len))
    return value


def _int(
    data: Mapping[str, Any], key: str, path: str, *, low: int, high: int, default: int | None = None
) -> int:
    value = data.get(key, default)
    if value is None:
        raise _fail(path, _l("This field is required."))
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value.strip())
        else:
            raise _fail(path, _l("Enter a whole number."))
    if not low <= value <= high:
        raise _fail(path, _l("Enter a number from %(low)d to %(high)d.", low=low, high=high))
    return value


def _optional_int(
    data: Mapping[str, Any], key: str, path: str, *, low: int, high: int
) -> int | None:
    if data.get(key) in (None, ""):
        return None
    return _int(data, key, path, low=low, high=high)


def _decimal_fen(data: Mapping[str, Any], key: str, path: str) -> Decimal:
    """A unit price in fen; may be fractional ("0.5"); never a float in JSON."""
    value = data.get(key)
    if isinstance(value, (bool, float)) or value is None:
        raise _fail(path, _l('Give the price in fen as a string or whole number, such as "0.5".'))
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise _fail(path, _l("Enter a price in fen, such as 0.5.")) from None
    if not amount.is_finite() or amount < 0:
        raise _fail(path, _l("Enter a price in fen, such as 0.5."))
    if amount > MAX_UNIT_FEN:
        raise _fail(path, _l("A unit price is at most %(max)s fen.", max=f"{int(MAX_UNIT_FEN):,}"))
    if amount.as_tuple().exponent < -6:  # type: ignore[operator]
        raise _fail(path, _l("Unit prices have at most six decimal places."))
    return amount


def _choice(data: Mapping[str, Any], key: str, path: str, enum: type[Enum]) -> Any:
    value = data.get(key)
    try:
        return enum(value)
    except ValueError:
        options = ", ".join(m.value for m in enum)
        raise _fail(path, _l("Choose one of: %(options)s.", options=options)) from None


def _codes(
    data: Mapping[str, Any], key: str, path: str, valid: Any, *, low: int, high: int
) -> list[str]:
    value = data.get(key) or []
    if isinstance(value, str):
        value = [part for part in re.split(r"[,\s]+", value) if part]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(path, _l("Give a list of codes."))
    codes = list(dict.fromkeys(value))  # keep order, drop repeats
    unknown = [code for code in codes if not valid(code)]
    if unknown:
        raise _fail(path, _l("Unknown code: %(codes)s.", codes=", ".join(unknown)))
    if not low <= len(codes) <= high:
        if low == high:
            raise _fail(path, _l("Choose exactly %(n)d.", n=low))
        raise _fail(path, _l("Choose from %(low)d to %(high)d.", low=low, high=high))
    return codes


def parse_solution(data: Mapping[str, Any]) -> SolutionContent:
    if not isinstance(data, Mapping):
        raise _fail("_schema", _l("A solution is a JSON object."))
    case_studies = data.get("case_studies") or []
    if not isinstance(case_studies, list) or len(case_studies) > MAX_CASE_STUDIES:
        raise _fail("case_studies", _l("At most %(n)d case studies.", n=MAX_CASE_STUDIES))
    studies = []
    for i, study in enumerate(case_studies):
        path = f"case_studies[{i}]"
        if not isinstance(study, Mapping):
            raise _fail(path, _l("A case study is an object."))
        industry = _text(
            study, "customer_industry", f"{path}.customer_industry", max_len=3, required=True
        )
        if not taxonomy.is_valid_industry(industry):
            raise _fail(f"{path}.customer_industry", _l("Unknown code: %(codes)s.", codes=industry))
        studies.append(
            {
                "customer_industry": industry,
                "customer": _text(
                    study, "customer", f"{path}.customer", max_len=80, required=False
                ),
                "problem": _text(study, "problem", f"{path}.problem", max_len=400, required=True),
                "result": _text(study, "result", f"{path}.result", max_len=400, required=True),
            }
        )
    return SolutionContent(
        name=_text(data, "name", "name", max_len=60, required=True),
        name_en=_text(data, "name_en", "name_en", max_len=120, required=False),
        summary=_text(data, "summary", "summary", max_len=200, required=True),
        summary_en=_text(data, "summary_en", "summary_en", max_len=400, required=False),
        description=_text(data, "description", "description", max_len=20_000, required=False),
        industries=_codes(
            data, "industries", "industries", taxonomy.is_valid_industry, low=1, high=10
        ),
        scenarios=_codes(data, "scenarios", "scenarios", taxonomy.is_valid_scenario, low=1, high=3),
        delivery=_choice(data, "delivery", "delivery", Delivery),
        deploy_days=_int(data, "deploy_days", "deploy_days", low=0, high=365),
        voucher_kinds=_codes(
            data,
            "voucher_kinds",
            "voucher_kinds",
            lambda v: v in {k.value for k in VoucherKind},
            low=0,
            high=2,
        ),
        case_studies=studies,
        faq=_parse_faq(data.get("faq")),
        support=_parse_support(data.get("support")),
        sla=_parse_sla(data.get("sla")),
        deploy_steps=_parse_steps(data.get("deploy_steps")),
        agreement=_text(
            data, "agreement", "agreement", max_len=MAX_AGREEMENT_CHARS, required=False
        ),
    )


def _parse_faq(raw: Any) -> list[dict[str, str]]:
    """Questions a buyer asks before buying, with the vendor's answers (plain text)."""
    raw = raw or []
    if not isinstance(raw, list) or len(raw) > MAX_FAQ:
        raise _fail("faq", _l("At most %(n)d questions.", n=MAX_FAQ))
    faq = []
    for i, item in enumerate(raw):
        if not isinstance(item, Mapping):
            raise _fail(f"faq[{i}]", _l("A question is an object with question and answer."))
        faq.append(
            {
                "question": _text(
                    item, "question", f"faq[{i}].question", max_len=200, required=True
                ),
                "answer": _text(item, "answer", f"faq[{i}].answer", max_len=1000, required=True),
            }
        )
    return faq


def _parse_support(raw: Any) -> dict[str, str]:
    """How buyers reach the vendor's support: only the channels given are kept."""
    raw = raw or {}
    if not isinstance(raw, Mapping):
        raise _fail("support", _l("Support is an object with phone, email, wechat and hours."))
    support = {}
    for key, max_len in SUPPORT_FIELDS.items():
        value = _text(raw, key, f"support.{key}", max_len=max_len, required=False)
        if value:
            support[key] = value
    email = support.get("email")
    if email and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
        raise _fail("support.email", _l("Enter an e-mail address."))
    return support


def _parse_sla(raw: Any) -> dict[str, int]:
    """Availability in basis points (9990 = 99.9%) and first response time in hours."""
    raw = raw or {}
    if not isinstance(raw, Mapping):
        raise _fail("sla", _l("The SLA is an object with availability_bp and response_hours."))
    sla = {}
    availability = _optional_int(
        raw, "availability_bp", "sla.availability_bp", low=9000, high=10_000
    )
    if availability is not None:
        sla["availability_bp"] = availability
    response = _optional_int(raw, "response_hours", "sla.response_hours", low=1, high=720)
    if response is not None:
        sla["response_hours"] = response
    return sla


def _parse_steps(raw: Any) -> list[str]:
    """Deployment steps in order, as the buyer will live them."""
    raw = raw or []
    if not isinstance(raw, list) or len(raw) > MAX_DEPLOY_STEPS:
        raise _fail("deploy_steps", _l("At most %(n)d steps.", n=MAX_DEPLOY_STEPS))
    steps = []
    for i, step in enumerate(raw):
        text = _text({"step": step}, "step", f"deploy_steps[{i}]", max_len=200, required=True)
        steps.append(text)
    return steps


def _parse_tiers(raw: Any, path: str) -> list[dict[str, Any]]:
    if not isinstance(raw, list) or not 1 <= len(raw) <= 10:
        raise _fail(path, _l("Give one to ten tiers."))
    tiers = []
    previous = 0
    for i, tier in enumerate(raw):
        tier_path = f"{path}[{i}]"
        if not isinstance(tier, Mapping):
            raise _fail(tier_path, _l("A tier is an object with up_to and unit_fen."))
        last = i == len(raw) - 1
        up_to = tier.get("up_to")
        if last:
            if up_to is not None:
                raise _fail(f"{tier_path}.up_to", _l("The last tier has no upper limit (null)."))
        else:
            up_to = _int(
                tier, "up_to", f"{tier_path}.up_to", low=previous + 1, high=MAX_PERIOD_QUANTITY
            )
            previous = up_to
        unit = _decimal_fen(tier, "unit_fen", f"{tier_path}.unit_fen")
        tiers.append({"up_to": up_to, "unit_fen": format(unit.normalize(), "f")})
    return tiers


def parse_plan(data: Mapping[str, Any], path: str = "plan") -> PlanTerms:
    if not isinstance(data, Mapping):
        raise _fail(path, _l("A plan is a JSON object."))
    model = _choice(data, "billing_model", f"{path}.billing_model", BillingModel)
    features = data.get("features") or []
    if isinstance(features, str):
        features = [line.strip() for line in features.splitlines() if line.strip()]
    if (
        not isinstance(features, list)
        or len(features) > MAX_FEATURES
        or not all(isinstance(f, str) and len(f) <= 80 for f in features)
    ):
        raise _fail(f"{path}.features", _l("At most %(n)d short lines.", n=MAX_FEATURES))
    terms = PlanTerms(
        name=_text(data, "name", f"{path}.name", max_len=60, required=True),
        name_en=_text(data, "name_en", f"{path}.name_en", max_len=120, required=False),
        billing_model=model,
        features=[f.strip() for f in features if f.strip()],
        vat_rate_bp=_int(
            data, "vat_rate_bp", f"{path}.vat_rate_bp", low=0, high=10_000, default=600
        ),
        base_fee_fen=_int(
            data, "base_fee_fen", f"{path}.base_fee_fen", low=0, high=MAX_PRICE_FEN, default=0
        ),
    )
    if model is BillingModel.SUBSCRIPTION:
        terms.base_fee_fen = 0
        terms.price_fen = _int(data, "price_fen", f"{path}.price_fen", low=0, high=MAX_PRICE_FEN)
        terms.interval = _choice(data, "interval", f"{path}.interval", Interval)
        terms.trial_days = _int(
            data, "trial_days", f"{path}.trial_days", low=0, high=365, default=0
        )
    elif model is BillingModel.USAGE:
        meter = _text(data, "meter", f"{path}.meter", max_len=60, required=True)
        if not METER.match(meter):
            raise _fail(
                f"{path}.meter", _l("Use lower-case letters, digits and _ (e.g. api_calls).")
            )
        terms.meter = meter
        terms.unit = _text(data, "unit", f"{path}.unit", max_len=20, required=True)
        terms.unit_en = (
            _text(data, "unit_en", f"{path}.unit_en", max_len=40, required=False) or None
        )
        terms.tier_mode = _choice(data, "tier_mode", f"{path}.tier_mode", TierMode)
        terms.tiers = _parse_tiers(data.get("tiers"), f"{path}.tiers")
        terms.free_units = _int(
            data, "free_units", f"{path}.free_units", low=0, high=MAX_PERIOD_QUANTITY, default=0
        )
    else:
        terms.kpi_name = _text(data, "kpi_name", f"{path}.kpi_name", max_len=60, required=True)
        terms.kpi_unit = _text(data, "kpi_unit", f"{path}.kpi_unit", max_len=20, required=True)
        terms.kpi_name_en = (
            _text(data, "kpi_name_en", f"{path}.kpi_name_en", max_len=120, required=False) or None
        )
        terms.kpi_unit_en = (
            _text(data, "kpi_unit_en", f"{path}.kpi_unit_en", max_len=40, required=False) or None
        )
        terms.direction = _choice(data, "direction", f"{path}.direction", Direction)
        has_price = data.get("price_per_unit_fen") not in (None, "")
        has_share = data.get("share_bp") not in (None, "")
        if has_price == has_share:
            raise _fail(
                f"{path}.price_per_unit_fen",
                _l("Give either a price per unit of improvement or a share of its value."),
            )
        if has_price:
            terms.price_per_unit_fen = _decimal_fen(
                data, "price_per_unit_fen", f"{path}.price_per_unit_fen"
            )
        else:
            terms.share_bp = _int(data, "share_bp", f"{path}.share_bp", low=1, high=10_000)
            terms.value_per_unit_fen = _decimal_fen(
                data, "value_per_unit_fen", f"{path}.value_per_unit_fen"
            )
        terms.cap_fen = _optional_int(data, "cap_fen", f"{path}.cap_fen", low=1, high=MAX_PRICE_FEN)
        terms.verification_days = _int(
            data, "verification_days", f"{path}.verification_days", low=1, high=90, default=7
        )
    return terms


def parse_plans(raw: Any) -> list[PlanTerms]:
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_PLANS:
        raise _fail("plans", _l("Give one to %(n)d plans.", n=MAX_PLANS))
    plans = [parse_plan(plan, f"plans[{i}]") for i, plan in enumerate(raw)]
    names = [plan.name for plan in plans]
    if len(set(names)) != len(names):
        raise _fail("plans", _l("Plan names must differ."))
    return plans
