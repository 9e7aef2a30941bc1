"""Forms of a program's rules page: stacking with other programs and the combined cap
(percent), the conditions before settlement, and co-funders (a draft program's)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, StringField
from wtforms.validators import Length, NumberRange, Optional

from vouchers.forms import MultiCheckboxField, PercentField


class StackingForm(FlaskForm):
    partner_program_ids = MultiCheckboxField(
        _l("May stack on one invoice with"), coerce=int, validate_choice=False
    )
    combined_cap = PercentField(
        _l("Combined subsidy at most (percent of the eligible amount)"),
        description=_l("All programs on one invoice together, e.g. 70. Blank: no stacking rule."),
        validators=[Optional()],
    )


class ConditionsForm(FlaskForm):
    require_fapiao = BooleanField(_l("The fapiao is issued"))
    require_acceptance = BooleanField(_l("The buyer accepted delivery (验收)"))
    min_days_used = IntegerField(
        _l("Or used for at least (days)"),
        validators=[Optional(), NumberRange(1, 3650, _l("From 1 to 3650 days."))],
    )


class FundersForm(FlaskForm):
    # "org_id:weight, org_id:weight", e.g. "12:1, 15:1" for 市:区 = 1:1.
    funders = StringField(
        _l("Co-funders (organization number : share)"),
        description=_l("e.g. 12:1, 15:1 for 1:1; blank: your organization pays alone."),
        validators=[Length(max=200)],
    )
