"""WTForms of a listing's plans in the vendor console: the plan and its price tiers, in
yuan and percentages on the page, fen and basis points for ``catalog/validation.py``. The
base class and the conversions they share are in ``catalog/forms.py``."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from wtforms import (
    FieldList,
    Form,
    FormField,
    RadioField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]  # new in WTForms 3.3; types-WTForms 3.2 lacks it

from catalog.forms import (
    EMPTY_ROWS,
    MAX_TIERS,
    ROWS_READ,
    ListingForm,
    _percent_to_bp,
    _text,
    _unit_yuan,
    _whole_number,
    _yuan_to_fen,
    pad_rows,
    percent_text,
    unit_fen_to_yuan,
    yuan_text,
)
from catalog.models import (
    BillingModel,
    Direction,
    Interval,
    Plan,
    TierMode,
)
from marketplace.errors import DomainError


class TierForm(Form):
    up_to = StringField(_l("Up to (units)"), render_kw={"inputmode": "numeric"})
    unit_yuan = StringField(_l("Unit price (元 per unit)"), render_kw={"inputmode": "decimal"})

    def is_blank(self) -> bool:
        return not _text(self.up_to) and not _text(self.unit_yuan)


class PlanForm(ListingForm):
    rename = {
        "price_fen": "price",
        "base_fee_fen": "base_fee",
        "cap_fen": "cap",
        "share_bp": "share_percent",
        "vat_rate_bp": "vat_rate",
        "plans": "name",  # "plan names must differ"
        # unit prices are typed in 元 and checked in fen
        "unit_fen": "unit_yuan",
        "price_per_unit_fen": "price_per_unit_yuan",
        "value_per_unit_fen": "value_per_unit_yuan",
    }

    name = StringField(_l("Plan name"), render_kw={"maxlength": 60})
    name_en = StringField(
        _l("English plan name (optional)"), render_kw={"maxlength": 120, "lang": "en"}
    )
    billing_model = RadioField(
        _l("Billing model"), validate_choice=False, default=BillingModel.SUBSCRIPTION.value
    )
    features = TextAreaField(
        _l("What is included"),
        description=_l("One selling point per line, at most 8 lines of 80 characters."),
        render_kw={"rows": 4},
    )
    vat_rate = StringField(
        _l("VAT rate (%)"),
        description=_l("Prices include VAT; usually 6% (software services)."),
        default="6",
        render_kw={"inputmode": "decimal", "maxlength": 6},
    )
    # subscription
    price = StringField(_l("Price (yuan)"), render_kw={"inputmode": "decimal"})
    interval = RadioField(_l("Billed every"), validate_choice=False, default=Interval.MONTH.value)
    trial_days = StringField(
        _l("Free trial (days)"), default="0", render_kw={"inputmode": "numeric", "maxlength": 3}
    )
    # usage
    meter = StringField(
        _l("Meter name"),
        description=_l("What your system reports through the usage API, e.g. 'inspected_images'."),
        render_kw={"maxlength": 60, "autocomplete": "off", "spellcheck": "false"},
    )
    unit = StringField(
        _l("Unit"),
        description=_l("As buyers read it, e.g. 张, 次, 台·月."),
        render_kw={"maxlength": 20},
    )
    unit_en = StringField(_l("English unit (optional)"), render_kw={"maxlength": 40, "lang": "en"})
    tier_mode = RadioField(
        _l("Tier pricing"), validate_choice=False, default=TierMode.GRADUATED.value
    )
    tiers = FieldList(FormField(TierForm), min_entries=EMPTY_ROWS, max_entries=ROWS_READ)
    free_units = StringField(
        _l("Free units per month"), default="0", render_kw={"inputmode": "numeric"}
    )
    base_fee = StringField(
        _l("Monthly base fee (yuan, optional)"),
        description=_l("Charged every month on top of usage or results; leave empty for none."),
        render_kw={"inputmode": "decimal"},
    )
    # outcome
    kpi_name = StringField(
        _l("Result measured (KPI)"),
        description=_l("e.g. 'electricity per month' or 'first-pass yield'."),
        render_kw={"maxlength": 60},
    )
    kpi_unit = StringField(
        _l("KPI unit"), description=_l("e.g. kWh, %, 件."), render_kw={"maxlength": 20}
    )
    kpi_name_en = StringField(
        _l("English KPI (optional)"), render_kw={"maxlength": 120, "lang": "en"}
    )
    kpi_unit_en = StringField(
        _l("English KPI unit (optional)"), render_kw={"maxlength": 40, "lang": "en"}
    )
    direction = RadioField(
        _l("Better means"), validate_choice=False, default=Direction.DECREASE.value
    )
    outcome_pricing = RadioField(_l("Charge"), validate_choice=False, default="price")
    price_per_unit_yuan = StringField(
        _l("Price per unit of improvement (元)"),
        description=_l("In 元, up to four decimals: 0.3 means ¥0.30 per unit."),
        render_kw={"inputmode": "decimal"},
    )
    share_percent = StringField(
        _l("Share of the value of the improvement (%)"), render_kw={"inputmode": "decimal"}
    )
    value_per_unit_yuan = StringField(
        _l("Value of one unit of improvement (元)"),
        description=_l(
            "What one unit of improvement is worth to the buyer in 元, e.g. 0.85 per kWh."
        ),
        render_kw={"inputmode": "decimal"},
    )
    cap = StringField(
        _l("Cap per period (yuan, optional)"),
        description=_l("The most the result part can cost in one month."),
        render_kw={"inputmode": "decimal"},
    )
    verification_days = StringField(
        _l("Days the buyer has to check a result"),
        description=_l("1 to 90; without an answer the result counts as confirmed."),
        default="7",
        render_kw={"inputmode": "numeric", "maxlength": 2},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.billing_model.choices = [SelectChoice(m.value, m.label) for m in BillingModel]
        self.interval.choices = [
            SelectChoice(Interval.MONTH.value, _l("Month")),
            SelectChoice(Interval.YEAR.value, _l("Year")),
        ]
        self.tier_mode.choices = [
            SelectChoice(
                TierMode.GRADUATED.value, _l("Graduated: each tier's units at that tier's price")
            ),
            SelectChoice(
                TierMode.VOLUME.value, _l("Volume: all units at the price of the tier reached")
            ),
        ]
        self.direction.choices = [
            SelectChoice(Direction.DECREASE.value, _l("Lower (e.g. energy, scrap)")),
            SelectChoice(Direction.INCREASE.value, _l("Higher (e.g. yield, output)")),
        ]
        self.outcome_pricing.choices = [
            SelectChoice("price", _l("A price per unit of improvement")),
            SelectChoice("share", _l("A share of the value of the improvement")),
        ]
        filled = sum(1 for entry in self.tiers if not entry.form.is_blank())
        pad_rows(self.tiers, filled, MAX_TIERS)

    @staticmethod
    def data_from(plan: Plan) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": plan.name,
            "name_en": plan.name_en,
            "billing_model": plan.billing_model.value,
            "features": "\n".join(plan.features),
            "vat_rate": percent_text(plan.vat_rate_bp),
            "base_fee": yuan_text(plan.base_fee_fen) if plan.base_fee_fen else "",
        }
        if plan.billing_model is BillingModel.SUBSCRIPTION:
            data.update(
                price=yuan_text(plan.price_fen),
                interval=plan.interval.value if plan.interval else Interval.MONTH.value,
                trial_days=str(plan.trial_days),
            )
        elif plan.billing_model is BillingModel.USAGE:
            data.update(
                meter=plan.meter or "",
                unit=plan.unit or "",
                unit_en=plan.unit_en or "",
                tier_mode=plan.tier_mode.value if plan.tier_mode else TierMode.GRADUATED.value,
                tiers=[
                    {
                        "up_to": "" if t.get("up_to") is None else str(t["up_to"]),
                        "unit_yuan": unit_fen_to_yuan(t.get("unit_fen")),
                    }
                    for t in plan.tiers or []
                ],
                free_units=str(plan.free_units),
            )
        else:
            data.update(
                kpi_name=plan.kpi_name or "",
                kpi_unit=plan.kpi_unit or "",
                kpi_name_en=plan.kpi_name_en or "",
                kpi_unit_en=plan.kpi_unit_en or "",
                direction=plan.direction.value if plan.direction else Direction.DECREASE.value,
                outcome_pricing="share" if plan.share_bp is not None else "price",
                price_per_unit_yuan=unit_fen_to_yuan(plan.price_per_unit_fen),
                share_percent=percent_text(plan.share_bp),
                value_per_unit_yuan=unit_fen_to_yuan(plan.value_per_unit_fen),
                cap=yuan_text(plan.cap_fen),
                verification_days=str(plan.verification_days),
            )
        return data

    def plan_input(self) -> dict[str, Any]:
        """What ``validation.parse_plan`` reads: only the fields of the chosen billing model,
        money in fen. Raises ``DomainError`` for an amount that is not one."""
        model = _text(self.billing_model)
        data: dict[str, Any] = {
            "name": _text(self.name),
            "name_en": _text(self.name_en),
            "billing_model": model,
            "features": self.features.data or "",
        }
        vat = _percent_to_bp(self.vat_rate, "vat_rate_bp")
        if vat is not None:
            data["vat_rate_bp"] = vat
        if model == BillingModel.SUBSCRIPTION.value:
            data["price_fen"] = _yuan_to_fen(self.price, "price_fen")
            data["interval"] = _text(self.interval)
            data["trial_days"] = _whole_number(self.trial_days) or 0
        elif model == BillingModel.USAGE.value:
            data.update(
                meter=_text(self.meter),
                unit=_text(self.unit),
                unit_en=_text(self.unit_en),
                tier_mode=_text(self.tier_mode),
                tiers=self._tiers_input(),
                free_units=_whole_number(self.free_units) or 0,
                base_fee_fen=_yuan_to_fen(self.base_fee, "base_fee_fen") or 0,
            )
        elif model == BillingModel.OUTCOME.value:
            data.update(
                kpi_name=_text(self.kpi_name),
                kpi_unit=_text(self.kpi_unit),
                kpi_name_en=_text(self.kpi_name_en),
                kpi_unit_en=_text(self.kpi_unit_en),
                direction=_text(self.direction),
                base_fee_fen=_yuan_to_fen(self.base_fee, "base_fee_fen") or 0,
                cap_fen=_yuan_to_fen(self.cap, "cap_fen"),
                verification_days=_whole_number(self.verification_days) or 7,
            )
            if _text(self.outcome_pricing) == "share":
                data["share_bp"] = _percent_to_bp(self.share_percent, "share_bp")
                if data["share_bp"] is None:
                    raise DomainError(_l("This field is required."), field="share_bp")
                data["value_per_unit_fen"] = _unit_yuan(
                    self.value_per_unit_yuan, "value_per_unit_fen"
                )
            else:
                data["price_per_unit_fen"] = _unit_yuan(
                    self.price_per_unit_yuan, "price_per_unit_fen"
                )
        return data

    def _tiers_input(self) -> list[dict[str, Any]]:
        tiers: list[dict[str, Any]] = []
        self.rows["tiers"] = []
        for row, entry in enumerate(self.tiers):
            if entry.form.is_blank():
                continue
            self.rows["tiers"].append(row)
            path = f"tiers[{len(tiers)}].unit_fen"
            tiers.append(
                {
                    "up_to": _whole_number(entry.form.up_to),
                    "unit_fen": _unit_yuan(entry.form.unit_yuan, path),
                }
            )
        return tiers
