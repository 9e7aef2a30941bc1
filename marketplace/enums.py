"""Enums whose members carry the words people see.

A member is declared with its value and its label, once::

    class InvoiceStatus(LabeledEnum):
        DRAFT = "draft", _l("Draft")
        PAID = "paid", _l("Paid")

The value stays the plain string (what the database, JSON and URLs hold: ``InvoiceStatus.PAID
== "paid"``); ``member.label`` is the label translated into the current locale, and
``member.lazy_label`` the lazy string itself, for module-level uses such as a form's choices.
Babel extracts the ``_l(...)`` calls where they are written.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any, Self


class LabeledEnum(enum.StrEnum):
    _lazy_label: Any

    if TYPE_CHECKING:
        # Looked up, ``Kind("value")`` takes the value alone, as every StrEnum does.
        def __new__(cls, value: str) -> Self: ...
    else:
        # Declared, a member is ``(value, label)``.
        def __new__(cls, value: str, label: Any) -> Self:
            member = str.__new__(cls, value)
            member._value_ = value
            member._lazy_label = label
            return member

    @property
    def label(self) -> str:
        """The label in the current locale."""
        return str(self._lazy_label)

    @property
    def lazy_label(self) -> Any:
        """The label as declared (a lazy string: translated when it is rendered)."""
        return self._lazy_label
