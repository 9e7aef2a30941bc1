"""Running one service call for a page: in a savepoint, so a refusal changes nothing, with
the result flashed in the page language."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import flash

from marketplace.db import db
from marketplace.errors import DomainError


def attempt(action: Callable[[], Any], success: str, *, category: str = "success") -> bool:
    """Run ``action``; flash ``success`` when it worked, or the rule that refused it."""
    try:
        with db.session.begin_nested():
            action()
    except DomainError as exc:
        flash(str(exc.message), "danger")
        return False
    flash(success, category)
    return True
