"""WTForms of the voucher pages (the program form is in ``vouchers/program_forms.py``).
Labels are lazy so they follow the page language; amounts are typed in yuan (``YuanField`` gives integer fen), the subsidy ratio in percent and the
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
    HiddenField,
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
    Optional,
    ValidationError,
)
from wtforms.widgets import CheckboxInput, ListWidget, TextInput

from marketplace import dates, reference
from marketplace.forms import SECTION_NAMES, YuanField
from marketplace.models import Organization
from marketplace.sizeclass import SizeClass
from vouchers.evidence_models import DocumentAccepts, RequiredDocument
from vouchers.models import AnomalyStatus


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
