"""WTForms of the voucher pages. Labels are lazy so they follow the page language; amounts
are typed in yuan (``YuanField`` gives integer fen), the subsidy ratio in percent and the
application window and settlement periods as days (China time, both ends inclusive; see
marketplace/dates.py)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    DateField,
    Field,
    FieldList,
    Form,
    FormField,
    HiddenField,
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
    ValidationError,
)
from wtforms.widgets import CheckboxInput, ListWidget, TextInput

from catalog.models import VoucherKind
from marketplace import dates, reference
from marketplace.forms import SECTION_NAMES, YuanField
from marketplace.models import Organization
from marketplace.sizeclass import SizeClass
from vouchers.evidence import MAX_DOCUMENTS, DocumentSpec
from vouchers.evidence_models import DocumentAccepts, RequiredDocument
from vouchers.models import AnomalyStatus
from vouchers.programs import MAX_NOTICE_DAYS, MAX_VALIDITY_DAYS, ProgramTerms


class PercentField(Field):
    """A share typed in percent ("50", "33.5"); ``data`` is basis points (5000, 3350)."""

    widget = TextInput()
    data: int | None

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.raw = (valuelist[0] if valuelist else "") or ""
        self.data = None
        text = self.raw.strip().rstrip("%").strip()
        if not text:
            self.raw_data = []  # blank is missing: InputRequired refuses it like an absent field
            return
        try:
            value = Decimal(text)
        except InvalidOperation as exc:
            raise ValueError(str(_l("Enter a percentage such as 50."))) from exc
        if not value.is_finite() or value.as_tuple().exponent < -2:  # type: ignore[operator]
            raise ValueError(str(_l("Enter a percentage with at most two decimal places.")))
        self.data = int(value * 100)

    def _value(self) -> str:
        if getattr(self, "raw", None) is not None:
            return self.raw
        if self.data is None:
            return ""
        return format((Decimal(self.data) / 100).normalize(), "f")


class MultiCheckboxField(SelectMultipleField):
    """A list of checkboxes (size classes, vendors of the pool)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def reasonable_day(form: FlaskForm, field: DateField) -> None:
    """Days a program or settlement can mean (and date arithmetic cannot overflow)."""
    if field.data is not None and not dates.day_in_range(field.data):
        raise ValidationError(str(dates.OUT_OF_RANGE_DAY))


def size_class_choices() -> list[SelectChoice]:
    return [SelectChoice(size.value, size.label) for size in SizeClass]


def industry_filter_choices() -> list[SelectChoice]:
    """Whole sections (B, C, D) and the 41 classes: a program may name either."""
    locale = str(get_locale())
    sections = sorted({i.section for i in reference.industries()})
    choices = [
        SelectChoice(
            section,
            str(
                _l(
                    "%(code)s %(name)s (all classes)",
                    code=section,
                    name=SECTION_NAMES.get(section, section),
                )
            ),
            optgroup=str(_l("Sections")),
        )
        for section in sections
    ]
    choices += [
        SelectChoice(
            i.code, f"{i.code} {i.name(locale)}", optgroup=str(SECTION_NAMES.get(i.section, ""))
        )
        for i in reference.industries()
    ]
    return choices


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


class ApplyForm(FlaskForm):
    """The amount, the vendor the enterprise means to buy from, and one file per document
    the program requires (added by :meth:`with_documents`)."""

    requested = YuanField(
        _l("Amount you apply for (yuan)"),
        validators=[InputRequired(_l("Enter the amount you apply for."))],
    )
    vendor_id = SelectField(
        _l("Vendor you will buy from (optional)"),
        description=_l("Shown in the public notice if the program has one."),
        coerce=lambda value: int(value) if value not in (None, "", "None") else None,
        validators=[Optional()],
        validate_choice=False,
    )
    note = TextAreaField(
        _l("What will you use it for? (optional)"),
        validators=[Optional(), Length(max=2000)],
        render_kw={"rows": 2, "maxlength": 2000},
    )

    @classmethod
    def with_documents(
        cls, required: list[RequiredDocument], vendors: list[Organization], **kwargs: Any
    ) -> ApplyForm:
        """A form class with a file field per required document, bound like a FlaskForm."""

        class _Form(cls):  # type: ignore[valid-type, misc]
            pass

        for document in required:
            accept = {
                DocumentAccepts.PDF: ".pdf",
                DocumentAccepts.IMAGE: ".png,.jpg,.jpeg",
                DocumentAccepts.PDF_OR_IMAGE: ".pdf,.png,.jpg,.jpeg",
            }[document.accepts]
            setattr(
                _Form,
                f"document_{document.id}",
                FileField(
                    document.name,
                    description=_l("%(types)s, at most 10 MB.", types=document.accepts.label),
                    render_kw={"accept": accept, "data-required-document": document.id},
                ),
            )
        form = _Form(**kwargs)
        form.vendor_id.choices = [SelectChoice("", _l("Not decided yet"))] + [
            SelectChoice(vendor.id, vendor.name) for vendor in vendors
        ]
        form.document_fields = [getattr(form, f"document_{d.id}") for d in required]
        return form


class ConfirmForm(FlaskForm):
    """The confirmation step of a large action: the amount the officer saw."""

    confirm_fen = HiddenField()

    def confirmed_fen(self) -> int | None:
        try:
            return int(self.confirm_fen.data) if self.confirm_fen.data else None
        except (TypeError, ValueError):
            return None


class ObjectionForm(FlaskForm):
    contact = StringField(
        _l("How can the officer reach you? (phone or e-mail)"),
        validators=[DataRequired(_l("Give a phone number or e-mail address.")), Length(max=200)],
        render_kw={"maxlength": 200},
    )
    reason = TextAreaField(
        _l("What is wrong with this approval?"),
        validators=[DataRequired(_l("Say what is wrong.")), Length(max=2000)],
        render_kw={"rows": 3, "maxlength": 2000},
    )


class ObjectionDecisionForm(FlaskForm):
    decision = RadioField(
        _l("Decision"),
        choices=[
            SelectChoice("uphold", _l("Uphold: the voucher is not issued")),
            SelectChoice("dismiss", _l("Dismiss: the notice goes on")),
        ],
        validators=[InputRequired(_l("Uphold or dismiss the objection."))],
    )
    note = TextAreaField(
        _l("What you found"),
        validators=[DataRequired(_l("Write down what you found.")), Length(max=2000)],
        render_kw={"rows": 2, "maxlength": 2000},
    )


class ApproveForm(FlaskForm):
    amount = YuanField(
        _l("Approved amount (yuan)"),
        description=_l("Leave empty to approve the amount requested."),
    )
    # The officer's checklist: ids of the application's documents ticked as checked.
    checked_documents = SelectMultipleField(coerce=int, validate_choice=False)
    confirm_fen = HiddenField()

    def confirmed_fen(self) -> int | None:
        try:
            return int(self.confirm_fen.data) if self.confirm_fen.data else None
        except (TypeError, ValueError):
            return None


class RejectForm(FlaskForm):
    reason = TextAreaField(
        _l("Reason for the enterprise"),
        validators=[DataRequired(_l("Tell the enterprise why.")), Length(max=2000)],
        render_kw={"rows": 2, "maxlength": 2000},
    )


class RevokeForm(FlaskForm):
    reason = StringField(
        _l("Why is the voucher revoked?"),
        validators=[DataRequired(_l("Say why the voucher is revoked.")), Length(max=2000)],
    )


class SettlementForm(FlaskForm):
    vendor_id = SelectField(
        _l("Vendor"), coerce=int, validators=[InputRequired(_l("Choose a vendor."))]
    )
    period_start = DateField(
        _l("From"), validators=[InputRequired(_l("Enter a date.")), reasonable_day]
    )
    period_end = DateField(
        _l("Until (inclusive)"), validators=[InputRequired(_l("Enter a date.")), reasonable_day]
    )


class MarkPaidForm(FlaskForm):
    bank_reference = StringField(
        _l("Bank transfer reference"),
        validators=[DataRequired(_l("Enter the bank transfer's reference.")), Length(max=100)],
    )


class ReviewForm(FlaskForm):
    status = RadioField(
        _l("Finding"),
        choices=[
            SelectChoice(AnomalyStatus.CLEARED.value, _l("Cleared: nothing wrong")),
            SelectChoice(AnomalyStatus.CONFIRMED.value, _l("Confirmed: fraud or error")),
        ],
        validators=[InputRequired(_l("Mark the case cleared or confirmed."))],
    )
    note = TextAreaField(
        _l("What you found"),
        validators=[DataRequired(_l("Write down what you found.")), Length(max=2000)],
        render_kw={"rows": 2, "maxlength": 2000},
    )


class FlagForm(FlaskForm):
    uscc = StringField(
        _l("Unified social credit code of the organization"),
        validators=[DataRequired(), Length(min=18, max=18)],
        render_kw={"maxlength": 18},
    )
    reason = TextAreaField(
        _l("Why is it flagged as dishonest?"),
        validators=[DataRequired(_l("Say why the organization is flagged.")), Length(max=2000)],
        render_kw={"rows": 2, "maxlength": 2000},
    )


class ClearFlagForm(FlaskForm):
    note = StringField(_l("Note (optional)"), validators=[Optional(), Length(max=2000)])


class ActionForm(FlaskForm):
    """A button that posts nothing but its CSRF token (publish, close, scan)."""
