"""Exceptions services raise when a rule says no; views and the API turn them into answers."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A rule refused the action. ``field`` names the input at fault, when there is one."""

    status = 422
    code = "validation_failed"

    def __init__(self, message: Any, *, field: str | None = None, code: str | None = None):
        super().__init__(str(message))
        self.message = message
        self.field = field
        if code:
            self.code = code

    @property
    def fields(self) -> dict[str, list[str]]:
        return {self.field: [str(self.message)]} if self.field else {}


class Conflict(DomainError):
    """The action clashes with the current state (already exists, already done)."""

    status = 409
    code = "conflict"


class NotAllowed(DomainError):
    status = 403
    code = "forbidden"
