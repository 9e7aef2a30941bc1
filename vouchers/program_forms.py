"""The form of a voucher program: what an officer sets up (kind, budget, ratios, caps,
eligibility, region, the documents an application needs). The fields and choices it shares
with the other voucher forms are in ``vouchers/forms.py``."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    FieldList,
    Form,
    FormField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]  # new in WTForms 3.3; types-WTForms 3.2 lacks it
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
)

from catalog.models import VoucherKind
from marketplace import dates
from marketplace.forms import YuanField
from marketplace.models import Organization
from marketplace.sizeclass import SizeClass
from vouchers.evidence import MAX_DOCUMENTS, DocumentSpec
from vouchers.evidence_models import DocumentAccepts
from vouchers.forms import (
    MultiCheckboxField,
    PercentField,
    industry_filter_choices,
    reasonable_day,
    size_class_choices,
)
from vouchers.programs import MAX_NOTICE_DAYS, MAX_VALIDITY_DAYS, ProgramTerms

DOCUMENT_ROWS = 3  # empty rows shown when drafting (more with "add another")


class DocumentRowForm(Form):
    """One document the program requires: a name and the file types it may be."""

    name = StringField(
        _l("Document"), validators=[Optional(), Length(max=100)], render_kw={"maxlength": 100}
    )
    accepts = SelectField(
        _l("Accepted files"),
        choices=[SelectChoice(a.value, a.lazy_label) for a in DocumentAccepts],
        default=DocumentAccepts.PDF_OR_IMAGE.value,
    )


def region_prefix_of(code: str) -> str:
    """The picker answers a 6-digit code of any level; a program keeps its prefix:
    310000 (上海市) -> 31, 310100 -> 3101, 310115 (浦东新区) -> 310115."""
    prefix = code.strip()
    while len(prefix) > 2 and prefix.endswith("00"):
        prefix = prefix[:-2]
    return prefix


class ProgramForm(FlaskForm):
    """Every term of a voucher program (DESIGN.md section 5)."""

    name = StringField(_l("Program name"), validators=[DataRequired(), Length(max=200)])
    description = TextAreaField(
        _l("Description (optional)"),
        description=_l("Shown on the public program page: purpose, contact, documents."),
        validators=[Optional(), Length(max=5000)],
        render_kw={"rows": 3},
    )
    kind = RadioField(
        _l("Kind"),
        choices=[SelectChoice(kind.value, kind.lazy_label) for kind in VoucherKind],
        default=VoucherKind.CLOUD.value,
        validators=[InputRequired(_l("Choose cloud or compute voucher."))],
    )
    region_prefix = StringField(
        _l("Region"),
        description=_l(
            "Choose a province, a city or a district: enterprises registered in it qualify."
        ),
        validators=[
            DataRequired(),
            Regexp(r"^\s*[0-9]{2,6}\s*$", message=_l("Enter 2 to 6 digits, e.g. 310115.")),
        ],
        render_kw={"inputmode": "numeric", "maxlength": 6, "placeholder": "310115"},
    )
    budget = YuanField(
        _l("Budget (yuan)"), validators=[InputRequired(_l("Enter the program's budget."))]
    )
    ratio = PercentField(
        _l("Subsidy ratio (percent)"),
        description=_l("The share of each eligible invoice the voucher pays, e.g. 50."),
        validators=[InputRequired(_l("Enter the subsidy ratio."))],
    )
    annual_cap = YuanField(
        _l("Cap per enterprise per calendar year (yuan)"),
        validators=[InputRequired(_l("Enter the cap per enterprise."))],
    )
    invoice_cap = YuanField(
        _l("Cap per invoice (yuan, optional)"),
        description=_l("Leave empty for no cap per invoice."),
    )
    size_classes = MultiCheckboxField(
        _l("Size classes that qualify"),
        default=[SizeClass.MEDIUM.value, SizeClass.SMALL.value, SizeClass.MICRO.value],
    )
    industries = SelectMultipleField(
        _l("Industries (optional)"),
        description=_l("Leave empty for every industry. Hold Ctrl or ⌘ to choose several."),
        render_kw={"size": 8},
    )
    vendor_whitelist = MultiCheckboxField(
        _l("Service provider pool (服务商资源池)"),
        description=_l("Leave empty to accept every verified vendor."),
        coerce=int,
    )
    opens_on = DateField(
        _l("Applications open on"), validators=[InputRequired(_l("Enter a date.")), reasonable_day]
    )
    closes_on = DateField(
        _l("Applications close after"),
        description=_l("The last day on which enterprises can apply (China time)."),
        validators=[InputRequired(_l("Enter a date.")), reasonable_day],
    )
    validity_days = IntegerField(
        _l("Validity (days from issue)"),
        default=365,
        validators=[
            InputRequired(_l("Enter how many days a voucher is valid.")),
            NumberRange(min=1, max=MAX_VALIDITY_DAYS),
        ],
    )
    notice_days = IntegerField(
        _l("Public notice (公示), working days"),
        description=_l(
            "Approved applications are listed publicly this many working days before the "
            "voucher is issued; anyone may object. 0: issue at approval."
        ),
        default=0,
        validators=[Optional(), NumberRange(min=0, max=MAX_NOTICE_DAYS)],
    )
    required_documents = FieldList(
        FormField(DocumentRowForm), min_entries=DOCUMENT_ROWS, max_entries=MAX_DOCUMENTS
    )

    def __init__(self, *args: Any, vendors: list[Organization] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.size_classes.choices = size_class_choices()
        self.industries.choices = industry_filter_choices()
        self.vendor_whitelist.choices = [
            SelectChoice(vendor.id, vendor.name) for vendor in (vendors or [])
        ]

    def terms(self) -> ProgramTerms:
        """The form's values as the service takes them (call after validation)."""
        assert self.opens_on.data is not None and self.closes_on.data is not None
        # InputRequired, all of them
        assert self.budget.data is not None and self.ratio.data is not None
        assert self.annual_cap.data is not None and self.validity_days.data is not None
        return ProgramTerms(
            name=self.name.data or "",
            description=self.description.data or "",
            kind=VoucherKind(self.kind.data),
            region_prefix=region_prefix_of(self.region_prefix.data or ""),
            budget_fen=self.budget.data,
            ratio_bp=self.ratio.data,
            annual_cap_fen=self.annual_cap.data,
            invoice_cap_fen=self.invoice_cap.data,
            size_classes=[SizeClass(value) for value in self.size_classes.data or []],
            industries=list(self.industries.data or []),
            vendor_whitelist=list(self.vendor_whitelist.data or []),
            opens_at=dates.day_start(self.opens_on.data),
            closes_at=dates.day_end(self.closes_on.data),
            validity_days=self.validity_days.data,
            notice_days=self.notice_days.data or 0,
            required_documents=[
                DocumentSpec(row.form.name.data or "", DocumentAccepts(row.form.accepts.data))
                for row in self.required_documents
                if (row.form.name.data or "").strip()
            ],
        )

    def fill_from(self, terms: dict[str, Any]) -> None:
        """Show a program's terms for editing (a GET of the edit page)."""
        for name, value in terms.items():
            if name == "required_documents":
                continue
            getattr(self, name).data = value
        specs: list[DocumentSpec] = terms.get("required_documents", [])
        while len(self.required_documents.entries) > 0:
            self.required_documents.pop_entry()
        for spec in specs:
            self.required_documents.append_entry({"name": spec.name, "accepts": spec.accepts.value})
        while len(self.required_documents.entries) < max(DOCUMENT_ROWS, len(specs) + 1):
            self.required_documents.append_entry()


# The service's names for the form's fields.
PROGRAM_FIELDS = {
    "budget_fen": "budget",
    "ratio_bp": "ratio",
    "annual_cap_fen": "annual_cap",
    "invoice_cap_fen": "invoice_cap",
    "opens_at": "opens_on",
    "closes_at": "closes_on",
}
