"""WTForms of a listing's content in the vendor console (the solution, its case studies,
FAQ, screenshots and fulfillment) and of the listing review (delist, reject). The base
class and the conversions they share are in ``catalog/forms.py``."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField
from wtforms import (
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

from catalog.forms import (
    EMPTY_ROWS,
    ROWS_READ,
    ListingForm,
    _percent_to_bp,
    _text,
    _whole_number,
    industry_choices,
    pad_rows,
    percent_text,
    scenario_choices,
)
from catalog.models import (
    Delivery,
    SolutionRevision,
    VoucherKind,
)
from catalog.validation import MAX_CASE_STUDIES, MAX_FAQ
from marketplace.errors import DomainError


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
