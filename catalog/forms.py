"""WTForms of the vendor console and the listing review. Labels are lazy (page language).

The forms only collect what was typed. The listing rules live in ``catalog/validation.py``;
a view turns a form into the dict that module reads (``content_input``, ``plan_input``), so
the form, the JSON API and the import share one checker. What a form must turn into numbers
first -- yuan into fen, percentages into basis points -- it converts here, raising
``DomainError`` with the field name the checker would use. :meth:`ListingForm.show_error`
puts any such refusal next to the input it names (``plans[0].tiers[1].unit_fen`` -> the
unit price of the second tier row).
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    Field,
    FieldList,
    Form,
    FormField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]  # new in WTForms 3.3; types-WTForms 3.2 lacks it

from catalog import taxonomy
from catalog.models import (
    BillingModel,
    Delivery,
    Direction,
    Interval,
    Plan,
    SolutionRevision,
    TierMode,
    VoucherKind,
)
from catalog.validation import MAX_CASE_STUDIES, MAX_FAQ
from marketplace.errors import DomainError
from marketplace.forms import SECTION_NAMES
from marketplace.money import Money, MoneyParseError, parse_yuan

MAX_TIERS = 10
# Rows a page shows without JavaScript; "add another" adds more up to the maximum.
EMPTY_ROWS = 3
# More rows than allowed are read so the checker can say "at most 6", instead of the
# form silently dropping the 7th; the cap keeps a forged request from costing memory.
ROWS_READ = 20
_UNIT_YUAN = re.compile(r"[0-9]{1,9}(?:\.[0-9]+)?|\.[0-9]+")
_PATH_PART = re.compile(r"^(?P<name>\w+)(?:\[(?P<index>\d+)\])?$")


def _text(field: Field) -> str:
    return (field.data or "").strip() if isinstance(field.data, str) else ""


def _whole_number(field: Field) -> str | None:
    """A count typed with optional thousands separators ("10,000"); None when empty."""
    raw = _text(field).replace(",", "").replace("，", "").replace(" ", "")
    return raw or None


def _yuan_to_fen(field: Field, path: str) -> int | None:
    raw = _text(field)
    if not raw:
        return None
    try:
        return parse_yuan(raw).fen
    except MoneyParseError as exc:
        raise DomainError(exc.message, field=path) from None


# Unit prices are typed in 元 like every other price; four places of 元 reach a hundredth of
# a fen, which the rating engine keeps (1.5 元/千张 is 0.0015 元/张).
UNIT_PRICE_YUAN_PLACES = 4


def unit_yuan_to_fen(raw: str) -> str:
    """A unit price typed in 元 as the fen string the checker reads: "1.5" -> "150",
    "0.0125" -> "1.25". Raises ``MoneyParseError`` for text that is not such a price."""
    text = unicodedata.normalize("NFKC", raw).strip()
    text = text.removeprefix("¥").removesuffix("元").strip().replace(",", "")
    if not _UNIT_YUAN.fullmatch(text):
        raise MoneyParseError(_l("Enter a price in yuan such as 0.02."))
    yuan = Decimal(text)
    exponent = yuan.normalize().as_tuple().exponent  # an int: the pattern admits no NaN
    if isinstance(exponent, int) and -exponent > UNIT_PRICE_YUAN_PLACES:
        raise MoneyParseError(_l("Unit prices in yuan have at most four decimal places."))
    return format((yuan * 100).normalize(), "f")


def unit_fen_to_yuan(value: Any) -> str:
    """The other way, to show a stored unit price in the form again: "150" -> "1.5"."""
    if value is None or value == "":
        return ""
    return format((Decimal(str(value)) / 100).normalize(), "f")


def _unit_yuan(field: Field, path: str) -> str:
    raw = _text(field)
    if not raw:
        return ""
    try:
        return unit_yuan_to_fen(raw)
    except MoneyParseError as exc:
        raise DomainError(exc.message, field=path) from None


def _percent_to_bp(field: Field, path: str) -> int | None:
    """ "6" -> 600, "12.5" -> 1250 basis points."""
    raw = _text(field).rstrip("%").strip()
    if not raw:
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise DomainError(_l("Enter a percentage such as 6 or 12.5."), field=path) from None
    if not value.is_finite() or value < 0 or value > 100:
        raise DomainError(_l("Enter a percentage from 0 to 100."), field=path)
    basis_points = value * 100
    if basis_points != basis_points.to_integral_value():
        raise DomainError(_l("Percentages have at most two decimal places."), field=path)
    return int(basis_points)


def yuan_text(fen: int | None) -> str:
    """Fen as a person types yuan: 99900 -> "999", 99950 -> "999.50"."""
    if fen is None:
        return ""
    text = format(Money(fen).yuan, "f")
    return text[:-3] if text.endswith(".00") else text


def percent_text(basis_points: int | None) -> str:
    if basis_points is None:
        return ""
    return format((Decimal(basis_points) / 100).normalize(), "f")


def industry_choices() -> list[SelectChoice]:
    locale = str(get_locale())
    return [
        SelectChoice(
            i.code, f"{i.code} {i.name(locale)}", optgroup=str(SECTION_NAMES.get(i.section, ""))
        )
        for i in taxonomy.industries()
    ]


def scenario_choices() -> list[SelectChoice]:
    locale = str(get_locale())
    return [
        SelectChoice(s.code, s.name(locale), optgroup=s.group_name(locale))
        for s in taxonomy.scenarios()
    ]


class ListingForm(FlaskForm):
    """A form whose refusals come as paths (``tiers[2].up_to``) from the shared checker."""

    # Service field names that the form calls differently.
    rename: dict[str, str] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Errors about a whole repeatable group ("at most 6 case studies").
        self.group_errors: dict[str, list[str]] = {}
        # For each repeatable group, the form row of each non-empty entry sent to the checker.
        self.rows: dict[str, list[int]] = {}

    def show_error(self, error: DomainError, prefix: str = "") -> None:
        """Put a refusal next to the input it names, or above the form.

        ``prefix`` is this form's place in a list the checker saw (``plans[2].``); a
        refusal about another entry of that list goes above the form.
        """
        message = str(error.message)
        path = error.field or ""
        if prefix and path.startswith(prefix):
            path = path[len(prefix) :]
        elif prefix and path.startswith(prefix.split("[", 1)[0] + "["):
            self.form_errors.append(message)
            return
        target = self._resolve(path)
        if isinstance(target, FieldList):
            self.group_errors.setdefault(target.name, []).append(message)
        elif target is not None:
            target.errors = [*target.errors, message]
        else:
            self.form_errors.append(message)

    def _resolve(self, path: str) -> Field | None:
        """The field a checker path names; a repeatable group for a whole row."""
        container: Any = self
        target: Field | None = None
        for part in path.split("."):
            match = _PATH_PART.match(part)
            if match is None:
                return None
            name = self.rename.get(match["name"], match["name"])
            if container is None or name not in container:
                return None
            target = container[name]
            container = getattr(target, "form", None)
            if match["index"] is not None:
                rows = self.rows.get(target.name, [])
                index = int(match["index"])
                if not isinstance(target, FieldList) or index >= len(rows):
                    return target
                container = target.entries[rows[index]].form
        return target


def pad_rows(field_list: FieldList, filled: int, maximum: int) -> None:
    """Show the filled rows plus empty ones: three at least, one spare when there is room."""
    wanted = min(maximum, max(EMPTY_ROWS, filled + 1))
    while len(field_list.entries) < wanted:
        field_list.append_entry()


# --- the listing ------------------------------------------------------------------------


class CaseStudyForm(Form):
    customer_industry = SelectField(_l("Customer's industry"), validate_choice=False)
    customer = StringField(
        _l("Customer"),
        description=_l("Optional; e.g. 'a die-casting plant in Ningbo' if it must stay anonymous."),
        render_kw={"maxlength": 80},
    )
    problem = TextAreaField(_l("Problem"), render_kw={"rows": 2, "maxlength": 400})
    result = TextAreaField(
        _l("Measured result"),
        description=_l(
            "A figure that was measured, e.g. 'scrap rate from 3.1% to 1.2% within 8 weeks'."
        ),
        render_kw={"rows": 2, "maxlength": 400},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.customer_industry.choices = [
            SelectChoice("", str(_l("Choose an industry"))),
            *industry_choices(),
        ]

    def is_blank(self) -> bool:
        return not any(
            _text(f) for f in (self.customer_industry, self.customer, self.problem, self.result)
        )

    def as_input(self) -> dict[str, str]:
        return {
            "customer_industry": _text(self.customer_industry),
            "customer": _text(self.customer),
            "problem": _text(self.problem),
            "result": _text(self.result),
        }


class FaqForm(Form):
    question = StringField(_l("Question"), render_kw={"maxlength": 200})
    answer = TextAreaField(_l("Answer"), render_kw={"rows": 2, "maxlength": 1000})

    def is_blank(self) -> bool:
        return not _text(self.question) and not _text(self.answer)


# Checker paths of the trust fields -> the inputs that carry them.
_TRUST_INPUTS = {
    **{f"support.{key}": f"support_{key}" for key in ("phone", "email", "wechat", "hours")},
    "sla.availability_bp": "sla_availability",
    "sla.response_hours": "sla_response_hours",
}


class SolutionForm(ListingForm):
    name = StringField(_l("Name"), render_kw={"maxlength": 60})
    summary = TextAreaField(
        _l("Summary"),
        description=_l(
            "One or two sentences: the problem it solves and for whom. At most 200 characters."
        ),
        render_kw={"rows": 2, "maxlength": 200},
    )
    description = TextAreaField(
        _l("Description"),
        description=_l(
            "Markdown: ## headings, **bold**, lists, tables and links. No images or HTML."
        ),
        render_kw={"rows": 16, "maxlength": 20000},
    )
    name_en = StringField(_l("English name (optional)"), render_kw={"maxlength": 120, "lang": "en"})
    summary_en = TextAreaField(
        _l("English summary (optional)"), render_kw={"rows": 2, "maxlength": 400, "lang": "en"}
    )
    industries = SelectMultipleField(
        _l("Industries"),
        description=_l(
            "The GB/T 4754 industries it is made for (up to 10). Hold Ctrl or ⌘ to choose several."
        ),
        validate_choice=False,
        render_kw={"size": 12},
    )
    scenarios = SelectMultipleField(
        _l("Scenarios"),
        description=_l(
            "One to three; a listing that does one or two things well earns the 准 badge."
        ),
        validate_choice=False,
    )
    delivery = RadioField(_l("Delivery"), validate_choice=False)
    deploy_days = StringField(
        _l("Days to deploy"),
        description=_l(
            "From signing to first use, 0 to 365. Seven days or less earns the 快 badge."
        ),
        render_kw={"inputmode": "numeric", "maxlength": 3},
    )
    voucher_kinds = SelectMultipleField(
        _l("Vouchers accepted"),
        description=_l("Which government vouchers buyers may pay this solution with."),
        validate_choice=False,
    )
    case_studies = FieldList(
        FormField(CaseStudyForm), min_entries=EMPTY_ROWS, max_entries=ROWS_READ
    )
    faq = FieldList(FormField(FaqForm), min_entries=EMPTY_ROWS, max_entries=ROWS_READ)
    support_phone = StringField(_l("Support phone"), render_kw={"maxlength": 40})
    support_email = StringField(
        _l("Support e-mail"), render_kw={"maxlength": 120, "inputmode": "email"}
    )
    support_wechat = StringField(_l("WeChat ID"), render_kw={"maxlength": 60})
    support_hours = StringField(
        _l("Support hours"),
        description=_l("e.g. 'Mon-Fri 9:00-18:00, 7×24 for outages'."),
        render_kw={"maxlength": 100},
    )
    sla_availability = StringField(
        _l("Availability (%)"),
        description=_l("What you commit to, from 90 to 100, e.g. 99.9."),
        render_kw={"inputmode": "decimal", "maxlength": 6},
    )
    sla_response_hours = StringField(
        _l("First response within (hours)"), render_kw={"inputmode": "numeric", "maxlength": 3}
    )
    deploy_steps = TextAreaField(
        _l("Deployment steps"),
        description=_l("One step per line, in order; at most 12 lines of 200 characters."),
        render_kw={"rows": 5},
    )
    agreement = TextAreaField(
        _l("Service agreement"),
        description=_l(
            "Plain text buyers accept when they start a plan. Leave it empty to use the "
            "platform's standard agreement. A changed text gets a new version; contracts keep "
            "the version their buyer accepted."
        ),
        render_kw={"rows": 10, "maxlength": 20000},
    )

    def show_error(self, error: DomainError, prefix: str = "") -> None:
        name = _TRUST_INPUTS.get(error.field or "")
        if name is not None:
            self[name].errors = [*self[name].errors, str(error.message)]
            return
        super().show_error(error, prefix)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.industries.choices = industry_choices()
        self.scenarios.choices = scenario_choices()
        self.delivery.choices = [SelectChoice(d.value, d.label) for d in Delivery]
        self.voucher_kinds.choices = [SelectChoice(k.value, k.label) for k in VoucherKind]
        filled = sum(1 for entry in self.case_studies if not entry.form.is_blank())
        pad_rows(self.case_studies, filled, MAX_CASE_STUDIES)
        filled = sum(1 for entry in self.faq if not entry.form.is_blank())
        pad_rows(self.faq, filled, MAX_FAQ)

    @staticmethod
    def data_from(revision: SolutionRevision) -> dict[str, Any]:
        return {
            "name": revision.name,
            "name_en": revision.name_en,
            "summary": revision.summary,
            "summary_en": revision.summary_en,
            "description": revision.description,
            "industries": list(revision.industries),
            "scenarios": list(revision.scenarios),
            "delivery": revision.delivery.value,
            "deploy_days": str(revision.deploy_days),
            "voucher_kinds": list(revision.voucher_kinds),
            "case_studies": [dict(study) for study in revision.case_studies],
            "faq": [dict(item) for item in revision.faq],
            **{f"support_{key}": value for key, value in revision.support.items()},
            "sla_availability": percent_text(revision.sla.get("availability_bp")),
            "sla_response_hours": str(revision.sla.get("response_hours") or ""),
            "deploy_steps": "\n".join(revision.deploy_steps),
            "agreement": revision.agreement,
        }

    def content_input(self) -> dict[str, Any]:
        """What ``validation.parse_solution`` reads; empty case study rows are left out."""
        studies = []
        self.rows["case_studies"] = []
        for row, entry in enumerate(self.case_studies):
            if not entry.form.is_blank():
                self.rows["case_studies"].append(row)
                studies.append(entry.form.as_input())
        return {
            "name": _text(self.name),
            "name_en": _text(self.name_en),
            "summary": _text(self.summary),
            "summary_en": _text(self.summary_en),
            "description": self.description.data or "",
            "industries": list(self.industries.data or []),
            "scenarios": list(self.scenarios.data or []),
            "delivery": _text(self.delivery),
            "deploy_days": _whole_number(self.deploy_days),
            "voucher_kinds": list(self.voucher_kinds.data or []),
            "case_studies": studies,
            "faq": self._faq_input(),
            "support": {
                key: _text(self[f"support_{key}"]) for key in ("phone", "email", "wechat", "hours")
            },
            "sla": {
                "availability_bp": _percent_to_bp(self.sla_availability, "sla.availability_bp"),
                "response_hours": _whole_number(self.sla_response_hours),
            },
            "deploy_steps": [
                line.strip() for line in (self.deploy_steps.data or "").splitlines() if line.strip()
            ],
            "agreement": self.agreement.data or "",
        }

    def _faq_input(self) -> list[dict[str, str]]:
        self.rows["faq"] = []
        faq = []
        for row, entry in enumerate(self.faq):
            if not entry.form.is_blank():
                self.rows["faq"].append(row)
                faq.append(
                    {"question": _text(entry.form.question), "answer": _text(entry.form.answer)}
                )
        return faq


class NewSolutionForm(SolutionForm):
    slug = StringField(
        _l("Web address (optional)"),
        description=_l(
            "Lower-case letters, digits and hyphens, e.g. 'vision-inspection'. "
            "Left empty, one is chosen for you. It cannot change later."
        ),
        render_kw={"maxlength": 80, "autocomplete": "off"},
    )


class ScreenshotForm(ListingForm):
    screenshot = FileField(
        _l("Screenshot"),
        description=_l("PNG, JPEG or WebP, at most 2 MB and 4000 x 4000 pixels; up to 6."),
        render_kw={"accept": "image/png,image/jpeg,image/webp"},
    )
    caption = StringField(_l("Caption (optional)"), render_kw={"maxlength": 120})


class FulfillmentForm(ListingForm):
    fulfillment_url = StringField(
        _l("Sign-up page (fulfillment URL, optional)"),
        description=_l(
            "After starting a plan, a buyer can go here with a one-time token your system "
            "exchanges for the customer (see README, For vendors). https only; takes effect "
            "at once, without a review. Leave empty for none."
        ),
        render_kw={"maxlength": 500, "inputmode": "url", "autocomplete": "off", "lang": "en"},
    )


class DelistForm(ListingForm):
    reason = TextAreaField(
        _l("Reason"),
        description=_l("Buyers with a contract and the platform see it."),
        render_kw={"rows": 2, "maxlength": 500},
    )


class RejectForm(ListingForm):
    note = TextAreaField(
        _l("What the vendor should change"),
        description=_l("The vendor sees this note next to the listing."),
        render_kw={"rows": 4, "maxlength": 2000},
    )


# --- plans --------------------------------------------------------------------------------


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
