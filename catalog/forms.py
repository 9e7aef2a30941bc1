"""WTForms of the vendor console and the listing review: the base class and the conversions
they share (the forms themselves are in ``catalog/solution_forms.py`` and
``catalog/plan_forms.py``). Labels are lazy (page language).

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
from wtforms import (
    Field,
    FieldList,
)
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]  # new in WTForms 3.3; types-WTForms 3.2 lacks it

from catalog import taxonomy
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
