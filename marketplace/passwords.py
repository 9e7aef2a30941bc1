"""Password rules, the one validator every way of setting a password goes through
(registration, invitation sign-up, password change, the CLI), and the stand-in hash that
makes a sign-in for an unknown e-mail cost as much as one for a known e-mail.

A password is refused when it is shorter than MIN_PASSWORD_LENGTH, longer than
MAX_PASSWORD_LENGTH, in the common-password list (marketplace/data/common-passwords.txt,
compared in lower case), or the person's own e-mail address or its part before the "@".
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from werkzeug.security import generate_password_hash

from marketplace.errors import DomainError

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 200
COMMON_PASSWORDS = Path(__file__).resolve().parent / "data" / "common-passwords.txt"


@cache
def common_passwords() -> frozenset[str]:
    return frozenset(COMMON_PASSWORDS.read_text(encoding="utf-8").split())


def password_problem(password: str, *, email: str | None = None) -> LazyString | None:
    """Why ``password`` may not be used (a message in the page's language), or None."""
    password = password or ""
    if len(password) < MIN_PASSWORD_LENGTH:
        return _l("Use at least %(n)d characters.", n=MIN_PASSWORD_LENGTH)
    if len(password) > MAX_PASSWORD_LENGTH:
        return _l("Use at most %(n)d characters.", n=MAX_PASSWORD_LENGTH)
    folded = password.strip().lower()
    if folded in common_passwords():
        return _l("This password is too common; choose one that is harder to guess.")
    email = (email or "").strip().lower()
    if email and folded in {email, email.partition("@")[0]}:
        return _l("Do not use your e-mail address as the password.")
    return None


def check_password(password: str, *, email: str | None = None) -> str:
    """``password`` itself, or DomainError on the field ``password`` saying what is wrong."""
    problem = password_problem(password, email=email)
    if problem is not None:
        raise DomainError(problem, field="password")
    return password


@cache
def dummy_hash(method: str) -> str:
    """A hash of the given method and cost, checked when the e-mail is unknown so that the
    answer takes as long as for a known e-mail with a wrong password."""
    return generate_password_hash("not-a-password-of-anyone", method=method)
