"""Fields the JSON API's output schemas are built from, so each answer is declared once.

An ``...Out`` schema dumps the model (or a small typed object) itself; flask-smorest's
``@blp.response`` runs the dump and the OpenAPI document is generated from the same schema.
Times are :class:`marshmallow.fields.AwareDateTime` (``datetime.isoformat()``: ISO 8601 with
its offset, e.g. ``2026-05-01T00:00:00+00:00``), money is integer fen, decimal quantities
are text (``"12.5"``), states are their enum's value.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import marshmallow as ma


class DecimalText(ma.fields.String):
    """A :class:`~decimal.Decimal` as plain text without trailing zeros (``"0.5"``, ``"120"``),
    never in exponent form; dump only."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        if value is None:
            return None
        return format(Decimal(value).normalize(), "f")


def state(enum_class: type[enum.Enum], **options: Any) -> ma.fields.Enum:
    """A state or kind: the member's value, listed as the allowed strings in the document."""
    return ma.fields.Enum(enum_class, by_value=ma.fields.String, **options)


class _Derived:
    """Mixin: the value is ``compute(obj)`` instead of an attribute of ``obj``."""

    def __init__(self, compute: Callable[[Any], Any], **options: Any) -> None:
        self.compute = compute
        super().__init__(dump_only=True, **options)  # type: ignore[call-arg]

    def get_value(
        self, obj: Any, attr: str, accessor: Any = None, default: Any = ma.missing
    ) -> Any:
        return self.compute(obj)


class DerivedInteger(_Derived, ma.fields.Integer):
    """An integer worked out from the object (e.g. an invoice's amount due)."""


class DerivedString(_Derived, ma.fields.String):
    """A string worked out from the object."""


class DerivedBoolean(_Derived, ma.fields.Boolean):
    """A yes/no worked out from the object."""


class DerivedNumber(_Derived, ma.fields.Float):
    """A number worked out from the object (e.g. an average rating)."""


class DerivedDate(_Derived, ma.fields.Date):
    """A day worked out from the object (``YYYY-MM-DD``)."""


class DerivedDict(_Derived, ma.fields.Dict):
    """A mapping worked out from the object."""


class DerivedDecimalText(_Derived, DecimalText):
    """A decimal worked out from the object, as :class:`DecimalText`."""


class DerivedNested(_Derived, ma.fields.Nested):
    """A nested object worked out from the object."""

    def __init__(self, compute: Callable[[Any], Any], nested: Any, **options: Any) -> None:
        self.compute = compute
        ma.fields.Nested.__init__(self, nested, dump_only=True, **options)


class DerivedList(_Derived, ma.fields.List):
    """A list worked out from the object."""

    def __init__(self, compute: Callable[[Any], Any], inner: Any, **options: Any) -> None:
        self.compute = compute
        ma.fields.List.__init__(self, inner, dump_only=True, **options)
