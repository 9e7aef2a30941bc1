"""WTForms for accounts and organizations. Labels are lazy so they follow the page language."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    Field,
    HiddenField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]  # new in WTForms 3.3; types-WTForms 3.2 lacks it
from wtforms.validators import (
    DataRequired,
    Email,
    EqualTo,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)
from wtforms.widgets import TextInput

from marketplace import reference
from marketplace.errors import DomainError
from marketplace.models import OrgKind, Role
from marketplace.money import MoneyParseError, parse_yuan
from marketplace.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, password_problem
from marketplace.services import check_region, check_uscc


class YuanField(Field):
    """An amount typed in yuan ("1,234.50", "¥12"); ``data`` is integer fen."""

    widget = TextInput()
    data: int | None

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.raw = valuelist[0] if valuelist else ""
        self.data = None
        if not self.raw.strip():
            self.raw_data = []  # blank is missing: InputRequired refuses it like an absent field
            return
        if self.raw and self.raw.strip():
            try:
                self.data = parse_yuan(self.raw).fen
            except MoneyParseError as exc:
                self.data = None
                raise ValueError(str(exc)) from exc

    def _value(self) -> str:
        if getattr(self, "raw", None) is not None:
            return self.raw
        return "" if self.data is None else f"{self.data / 100:.2f}".rstrip("0").rstrip(".")


def _uscc_valid(form: FlaskForm, field: StringField) -> None:
    try:
        field.data = check_uscc(field.data or "")
    except DomainError as exc:
        raise ValidationError(str(exc.message)) from exc


class PasswordRules:
    """The password rules of marketplace/passwords.py on a form field; ``email_field`` names
    the form's e-mail field, when it has one, so the password may not repeat it."""

    def __init__(self, email_field: str | None = None) -> None:
        self.email_field = email_field

    def __call__(self, form: FlaskForm, field: PasswordField) -> None:
        email = getattr(form, self.email_field).data if self.email_field else None
        problem = password_problem(field.data or "", email=email)
        if problem is not None:
            raise ValidationError(str(problem))


def _region_valid(form: FlaskForm, field: StringField) -> None:
    try:
        check_region((field.data or "").strip())
    except DomainError as exc:
        raise ValidationError(str(exc.message)) from exc


SECTION_NAMES = {"B": _l("Mining"), "C": _l("Manufacturing"), "D": _l("Utilities")}


def industry_choices() -> list[SelectChoice]:
    from flask_babel import get_locale

    locale = str(get_locale())
    return [SelectChoice("", str(_l("Choose an industry")))] + [
        SelectChoice(
            i.code, f"{i.code} {i.name(locale)}", optgroup=str(SECTION_NAMES.get(i.section, ""))
        )
        for i in reference.industries()
    ]


class OrganizationForm(FlaskForm):
    kind = RadioField(
        _l("Organization type"),
        choices=[
            SelectChoice(kind.value, kind.lazy_label) for kind in (OrgKind.SME, OrgKind.VENDOR)
        ],
        default=OrgKind.SME.value,
        validators=[InputRequired()],
    )
    org_name = StringField(_l("Registered name"), validators=[DataRequired(), Length(max=200)])
    uscc = StringField(
        _l("Unified social credit code"),
        description=_l("18 characters, as on the business licence (营业执照)."),
        validators=[DataRequired(), _uscc_valid],
    )
    region_code = StringField(
        _l("Region"),
        description=_l("Province, city and district of the registered address."),
        validators=[DataRequired(), _region_valid],
    )
    industry_code = SelectField(_l("Industry (GB/T 4754)"), validators=[Optional()])
    employees = IntegerField(
        _l("Employees"), validators=[Optional(), NumberRange(min=0, max=10_000_000)]
    )
    annual_revenue = YuanField(
        _l("Annual revenue (yuan)"),
        description=_l("Operating revenue of the last financial year, in yuan."),
    )
    legal_representative = StringField(
        _l("Legal representative"), validators=[DataRequired(), Length(max=100)]
    )
    address = StringField(_l("Registered address"), validators=[DataRequired(), Length(max=300)])
    contact_phone = StringField(_l("Contact phone"), validators=[DataRequired(), Length(max=30)])
    contact_email = EmailField(
        _l("Contact e-mail"), validators=[DataRequired(), Email(), Length(max=254)]
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.industry_code.choices = industry_choices()

    def validate(self, extra_validators: Any = None) -> bool:
        ok = super().validate(extra_validators)
        if self.kind.data == "sme":
            for field, message in (
                (self.industry_code, _l("Choose the industry of your main business.")),
                (self.employees, _l("Enter the number of employees.")),
                (self.annual_revenue, _l("Enter the annual revenue.")),
            ):
                if field.data in (None, "") and not field.errors:
                    field.errors = [*field.errors, message]
                    ok = False
        return ok


class RegistrationForm(OrganizationForm):
    name = StringField(_l("Your name"), validators=[DataRequired(), Length(max=100)])
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Email(), Length(max=254)])
    password = PasswordField(
        _l("Password"),
        description=_l("At least %(n)d characters.", n=MIN_PASSWORD_LENGTH),
        validators=[DataRequired(), PasswordRules(email_field="email")],
    )
    confirm = PasswordField(
        _l("Repeat the password"),
        validators=[DataRequired(), EqualTo("password", message=_l("The passwords differ."))],
    )


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(
        _l("Password"), validators=[DataRequired(), Length(max=MAX_PASSWORD_LENGTH)]
    )
    remember = BooleanField(_l("Keep me signed in"))
    next = HiddenField()


class AcceptInvitationForm(FlaskForm):
    """A new person accepting an invitation creates their account here."""

    name = StringField(_l("Your name"), validators=[DataRequired(), Length(max=100)])
    password = PasswordField(
        _l("Password"),
        description=_l("At least %(n)d characters.", n=MIN_PASSWORD_LENGTH),
        validators=[DataRequired(), PasswordRules()],
    )


class ChangePasswordForm(FlaskForm):
    """A signed-in person sets a new password; every session of theirs ends with it."""

    current_password = PasswordField(
        _l("Current password"), validators=[DataRequired(), Length(max=MAX_PASSWORD_LENGTH)]
    )
    new_password = PasswordField(
        _l("New password"),
        description=_l("At least %(n)d characters.", n=MIN_PASSWORD_LENGTH),
        validators=[DataRequired(), PasswordRules()],
    )
    confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[
            DataRequired(),
            EqualTo("new_password", message=_l("The passwords differ.")),
        ],
    )


def role_choices() -> list[SelectChoice]:
    return [SelectChoice(r.value, r.label) for r in Role]


class InviteForm(FlaskForm):
    email = EmailField(_l("Colleague's e-mail"), validators=[DataRequired(), Email()])
    role = SelectField(_l("Role"), default=Role.MEMBER.value, validators=[InputRequired()])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.role.choices = role_choices()


class RoleForm(FlaskForm):
    role = SelectField(_l("Role"), validators=[InputRequired()])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.role.choices = role_choices()


class TokenForm(FlaskForm):
    name = StringField(
        _l("Token name"),
        description=_l("Which system will use it, e.g. 'MES usage reporter'."),
        validators=[DataRequired(), Length(max=100)],
    )


class VerificationForm(FlaskForm):
    note = TextAreaField(_l("Note to the vendor"), validators=[Length(max=2000)])
