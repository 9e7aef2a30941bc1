"""WTForms of the billing pages. Labels are lazy so they follow the page language; amounts
are typed in yuan (``YuanField`` gives integer fen)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    Field,
    HiddenField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]  # new in WTForms 3.3; types-WTForms 3.2 lacks it
from wtforms.validators import DataRequired, InputRequired, Length, Optional, Regexp
from wtforms.widgets import TextInput

from billing.ratings import MAX_COMMENT
from marketplace.forms import YuanField

MAX_BASELINE = Decimal(10) ** 15


class DecimalTextField(Field):
    """A plain decimal number ("1234.5"); ``data`` is a Decimal or None when left empty."""

    widget = TextInput()
    data: Decimal | None

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.raw = (valuelist[0] if valuelist else "") or ""
        self.data = None
        text = self.raw.strip().replace(",", "")
        if not text:
            self.raw_data = []  # blank is missing: InputRequired refuses it like an absent field
            return
        try:
            value = Decimal(text)
        except InvalidOperation as exc:
            raise ValueError(str(_l("Enter a number such as 1250.5."))) from exc
        if not value.is_finite() or abs(value) >= MAX_BASELINE:
            raise ValueError(str(_l("Enter a number such as 1250.5.")))
        if value.as_tuple().exponent < -6:  # type: ignore[operator]
            raise ValueError(str(_l("At most six decimal places.")))
        self.data = value

    def _value(self) -> str:
        if getattr(self, "raw", None) is not None:
            return self.raw
        return "" if self.data is None else format(self.data, "f")


class StartPlanForm(FlaskForm):
    """Start a plan. Which fields apply depends on the plan's billing model."""

    spend_cap = YuanField(
        _l("Monthly spend cap (yuan, optional)"),
        description=_l(
            "Usage above the cap is still recorded but not charged; you are warned at 80% and 100%."
        ),
    )
    baseline = DecimalTextField(_l("Baseline you measured"))
    baseline_note = TextAreaField(
        _l("How the baseline was measured"),
        description=_l("Period, meter or report it comes from, so the vendor can agree to it."),
        validators=[Optional(), Length(max=2000)],
    )
    # The version shown on the page the buyer read: a stale one is refused, not accepted.
    agreement_version = HiddenField()
    accept_agreement = BooleanField()

    def accepted_agreement(self) -> int | None:
        """The agreement version the buyer ticked to accept, or None."""
        raw = (self.agreement_version.data or "").strip()
        if not self.accept_agreement.data or not raw.isdigit() or len(raw) > 9:
            return None
        return int(raw)


class SpendCapForm(FlaskForm):
    spend_cap = YuanField(
        _l("Monthly spend cap (yuan)"),
        description=_l("Leave empty to remove the cap."),
    )


class ChangePlanForm(FlaskForm):
    plan_id = SelectField(
        _l("New plan"), coerce=int, validators=[InputRequired(_l("Choose a plan."))]
    )


class CancelForm(FlaskForm):
    when = RadioField(
        _l("When should the contract end?"),
        choices=[
            SelectChoice("period_end", _l("At the end of the current period")),
            SelectChoice("now", _l("Now")),
        ],
        default="period_end",
        validators=[InputRequired(_l("Choose when the contract ends."))],
    )


class ActionForm(FlaskForm):
    """A button that posts nothing but its CSRF token (pay now, mark all read)."""


class FinishCardPaymentForm(FlaskForm):
    payment_id = HiddenField(validators=[DataRequired(), Regexp(r"^\d{1,12}$")])


class FinishCardSetupForm(FlaskForm):
    setup_intent = HiddenField(
        validators=[DataRequired(_l("The card was not confirmed.")), Length(max=100)]
    )
    next = HiddenField()


class RatingForm(FlaskForm):
    stars = RadioField(
        _l("Your rating"),
        choices=[SelectChoice(str(n), "★" * n) for n in range(5, 0, -1)],
        validators=[InputRequired(_l("Choose from one to five stars."))],
    )
    comment = TextAreaField(
        _l("Comment (optional)"),
        description=_l("Shown on the solution page as written by a verified buyer."),
        validators=[Optional(), Length(max=MAX_COMMENT)],
    )


class BankTransferForm(FlaskForm):
    amount = YuanField(
        _l("Amount received (yuan)"), validators=[InputRequired(_l("Enter the amount received."))]
    )
    reference = StringField(
        _l("Bank transaction reference"),
        validators=[DataRequired(_l("Enter the bank's transaction reference.")), Length(max=100)],
    )


class RefundForm(FlaskForm):
    amount = YuanField(
        _l("Amount to refund (yuan)"), validators=[InputRequired(_l("Enter an amount."))]
    )
    reason = StringField(
        _l("Reason"), validators=[DataRequired(_l("Give a reason.")), Length(max=500)]
    )


class VoidForm(FlaskForm):
    note = StringField(
        _l("Why is it void?"),
        validators=[DataRequired(_l("Say why the invoice is void.")), Length(max=500)],
    )


# --- pay for results (效果付费) ---------------------------------------------------------------


class BaselineForm(FlaskForm):
    """Propose or counter-propose the baseline of an outcome contract."""

    value = DecimalTextField(_l("Baseline"), validators=[InputRequired()])
    note = TextAreaField(
        _l("How it was measured"),
        description=_l("Period, meter or report it comes from."),
        validators=[Optional(), Length(max=2000)],
        render_kw={"rows": 2, "maxlength": 2000},
    )


class OutcomeReportForm(FlaskForm):
    """The vendor reports the measured KPI of an ended period, with evidence."""

    period = SelectField(_l("Period"), validators=[DataRequired()])
    measured = DecimalTextField(_l("Measured value"), validators=[InputRequired()])
    evidence = FileField(
        _l("Evidence file (optional)"),
        description=_l(
            "PDF, PNG, JPEG, CSV or XLSX, at most 10 MB. Only the buyer and the platform see it."
        ),
        render_kw={"accept": ".pdf,.png,.jpg,.jpeg,.csv,.xlsx"},
    )
    evidence_url = StringField(
        _l("Evidence link (optional)"),
        validators=[Optional(), Length(max=500)],
        render_kw={"placeholder": "https://", "maxlength": 500},
    )
    note = TextAreaField(
        _l("Note for the buyer"),
        validators=[Optional(), Length(max=2000)],
        render_kw={"rows": 2, "maxlength": 2000},
    )


class DisputeForm(FlaskForm):
    reason = TextAreaField(
        _l("What is wrong with the result?"),
        validators=[DataRequired(_l("Say what is wrong with the result.")), Length(max=2000)],
        render_kw={"rows": 3, "maxlength": 2000},
    )


class ResolveForm(FlaskForm):
    """The operator decides a disputed result."""

    decision = RadioField(
        _l("Decision"),
        choices=[
            SelectChoice("accept", _l("Accept the reported value")),
            SelectChoice("adjust", _l("Adjust the measured value")),
            SelectChoice("reject", _l("Reject the result (nothing is charged)")),
        ],
        validators=[InputRequired(_l("Choose accept, adjust or reject."))],
    )
    adjusted = DecimalTextField(_l("Corrected measured value"), validators=[Optional()])
    note = TextAreaField(
        _l("Note to both sides"),
        validators=[DataRequired(_l("Explain the decision to both sides.")), Length(max=2000)],
        render_kw={"rows": 2, "maxlength": 2000},
    )


class CorrectionForm(FlaskForm):
    """The operator corrects an invoiced result with a credit note."""

    corrected = DecimalTextField(_l("Correct measured value"), validators=[InputRequired()])
    note = TextAreaField(
        _l("Why it is corrected"),
        validators=[DataRequired(_l("Explain the correction to both sides.")), Length(max=2000)],
        render_kw={"rows": 2, "maxlength": 2000},
    )
