"""Rules for people and organizations: registration, sign-in, tokens, vendor verification
(invitations and roles: :mod:`marketplace.memberships`; sessions and password changes:
:mod:`marketplace.user_sessions`). Functions take a session and plain values, flush, never
commit."""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session
from stdnum.cn import uscc as stdnum_uscc
from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidLength, ValidationError
from werkzeug.security import check_password_hash, generate_password_hash

from marketplace import audit, passwords, reference
from marketplace.db import utcnow
from marketplace.errors import Conflict, DomainError, NotAllowed
from marketplace.jsonapi import Actor, hash_token, new_token_secret
from marketplace.models import (
    ApiToken,
    Membership,
    Organization,
    OrgKind,
    Role,
    User,
    Verification,
)
from marketplace.sizeclass import classify

MIN_PASSWORD_LENGTH = passwords.MIN_PASSWORD_LENGTH
# werkzeug's default (scrypt); the test suite swaps in a cheap method to stay fast.
PASSWORD_HASH_METHOD = "scrypt"
_PHONE = re.compile(r"^\+?[0-9][0-9\- ]{5,19}$")

# --- validation shared by forms, the API and the CLI ----------------------------------


def normalize_uscc(value: str) -> str:
    return stdnum_uscc.compact(value or "")


def check_uscc(value: str) -> str:
    """The compact USCC, or DomainError saying what is wrong with it."""
    try:
        return stdnum_uscc.validate(value or "")
    except InvalidLength:
        message = _l("A unified social credit code has exactly 18 characters.")
    except InvalidChecksum:
        message = _l("The check digit (last character) is wrong; please check the code.")
    except InvalidComponent:
        message = _l("The registration authority or organization type code is not valid.")
    except ValidationError:
        message = _l("Use digits and capital letters only (I, O, Z, S and V are never used).")
    raise DomainError(message, field="uscc")


def check_region(code: str) -> str:
    if not reference.is_valid_region(code or ""):
        raise DomainError(_l("Choose a province, city and district."), field="region_code")
    if not reference.is_leaf_region(code):
        raise DomainError(_l("Choose the district or county as well."), field="region_code")
    return code


def check_industry(code: str | None) -> str:
    if not code or not reference.is_valid_industry(code):
        raise DomainError(_l("Choose an industry from the list."), field="industry_code")
    return code


def check_password(password: str, *, email: str | None = None) -> str:
    """The password rules of marketplace/passwords.py (length, common list, not the e-mail)."""
    return passwords.check_password(password, email=email)


def normalize_email(email: str) -> str:
    return (email or "").strip().lower()


# --- users ----------------------------------------------------------------------------


def create_user(
    session: Session, *, email: str, name: str, password: str, locale: str = "zh_CN"
) -> User:
    email = normalize_email(email)
    if session.scalar(sa.select(User.id).where(User.email == email)) is not None:
        raise Conflict(_l("An account with this e-mail address exists already."), field="email")
    user = User(
        email=email,
        name=name.strip(),
        password_hash=generate_password_hash(
            check_password(password, email=email), method=PASSWORD_HASH_METHOD
        ),
        locale=locale,
    )
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The active user with this e-mail and password, or None. An unknown e-mail is checked
    against a stand-in hash of the same method and cost, so that both answers take as long
    and the time does not tell which addresses have an account."""
    user = session.scalar(sa.select(User).where(User.email == normalize_email(email)))
    stored = user.password_hash if user is not None else None
    matches = check_password_hash(stored or passwords.dummy_hash(PASSWORD_HASH_METHOD), password)
    if user is None or not user.active or not matches:
        return None
    return user


# --- organizations ----------------------------------------------------------------------


@dataclass
class OrganizationDetails:
    """What an organization registers with; SMEs add industry, employees and revenue."""

    kind: OrgKind
    name: str
    uscc: str
    region_code: str
    legal_representative: str
    address: str
    contact_phone: str
    contact_email: str
    industry_code: str | None = None
    employees: int | None = None
    annual_revenue_fen: int | None = None


def _checked(session: Session, details: OrganizationDetails) -> OrganizationDetails:
    details.uscc = check_uscc(details.uscc)
    check_region(details.region_code)
    if not details.name.strip():
        raise DomainError(_l("Enter the registered name."), field="name")
    if not _PHONE.match(details.contact_phone or ""):
        raise DomainError(_l("Enter a phone number with digits only."), field="contact_phone")
    if details.kind is OrgKind.SME:
        check_industry(details.industry_code)
        if details.employees is None or details.employees < 0:
            raise DomainError(_l("Enter the number of employees."), field="employees")
        if details.annual_revenue_fen is None or details.annual_revenue_fen < 0:
            raise DomainError(_l("Enter the annual revenue."), field="annual_revenue_fen")
    elif details.industry_code:
        check_industry(details.industry_code)
    taken = session.scalar(sa.select(Organization.id).where(Organization.uscc == details.uscc))
    if taken is not None:
        raise Conflict(
            _l("An organization with this unified social credit code is registered already."),
            field="uscc",
        )
    return details


def register_organization(
    session: Session, details: OrganizationDetails, *, owner: User
) -> Organization:
    """Register an organization with ``owner`` as its owner. Vendors await verification;
    SMEs need none; government and platform organizations come from the CLI only."""
    details = _checked(session, details)
    size_class = None
    if details.employees is not None and details.annual_revenue_fen is not None:
        size_class = classify(details.employees, details.annual_revenue_fen)
    org = Organization(
        kind=details.kind,
        name=details.name.strip(),
        uscc=details.uscc,
        region_code=details.region_code,
        industry_code=details.industry_code or None,
        employees=details.employees,
        annual_revenue_fen=details.annual_revenue_fen,
        size_class=size_class,
        legal_representative=details.legal_representative.strip(),
        address=details.address.strip(),
        contact_phone=details.contact_phone.strip(),
        contact_email=normalize_email(details.contact_email),
        verification=(
            Verification.PENDING if details.kind is OrgKind.VENDOR else Verification.VERIFIED
        ),
        verified_at=None if details.kind is OrgKind.VENDOR else utcnow(),
    )
    session.add(org)
    session.flush()
    session.add(Membership(user_id=owner.id, organization_id=org.id, role=Role.OWNER))
    session.flush()
    audit.record(
        session,
        "organization.registered",
        "organization",
        org.id,
        user_id=owner.id,
        org_id=org.id,
        data={"kind": org.kind.value, "name": org.name, "uscc": org.uscc},
    )
    return org


def review_vendor(
    session: Session, org: Organization, *, actor: Actor, approve: bool, note: str = ""
) -> None:
    """The platform operator verifies (or rejects) a vendor organization."""
    if actor.org_kind is not OrgKind.PLATFORM:
        raise NotAllowed(_l("Only the platform operator verifies vendors."))
    if org.kind is not OrgKind.VENDOR:
        raise DomainError(_l("Only vendor organizations are verified."))
    if not approve and not note.strip():
        raise DomainError(_l("Say why the verification is rejected."), field="note")
    org.verification = Verification.VERIFIED if approve else Verification.REJECTED
    org.verification_note = note.strip()
    org.verified_at = utcnow() if approve else None
    session.flush()
    audit.record(
        session,
        "vendor.verified" if approve else "vendor.rejected",
        "organization",
        org.id,
        user_id=actor.user.id,
        org_id=actor.organization.id,
        data={"note": org.verification_note, "uscc": org.uscc},
    )


# --- API tokens -----------------------------------------------------------------------


def create_token(
    session: Session, *, user: User, organization: Organization, name: str
) -> tuple[ApiToken, str]:
    """A new token acting as ``user`` in ``organization``; the secret is shown once."""
    if user.membership_in(organization.id) is None:
        raise NotAllowed(_l("You are not a member of this organization."))
    name = (name or "").strip()
    if not name:
        raise DomainError(
            _l("Give the token a name, such as the system that will use it."), field="name"
        )
    secret = new_token_secret()
    token = ApiToken(
        user_id=user.id,
        organization_id=organization.id,
        name=name[:100],
        prefix=secret[:12],
        token_hash=hash_token(secret),
    )
    session.add(token)
    session.flush()
    audit.record(
        session,
        "token.created",
        "api_token",
        token.id,
        user_id=user.id,
        org_id=organization.id,
        data={"name": token.name, "prefix": token.prefix},
    )
    return token, secret


def revoke_token(session: Session, token: ApiToken, *, actor: Actor) -> None:
    own = token.user_id == actor.user.id
    managed = token.organization_id == actor.organization.id and actor.role.can_manage
    if not (own or managed):
        raise NotAllowed(_l("You cannot revoke this token."))
    if token.revoked_at is not None:
        return
    token.revoked_at = utcnow()
    session.flush()
    audit.record(
        session,
        "token.revoked",
        "api_token",
        token.id,
        user_id=actor.user.id,
        org_id=actor.organization.id,
        data={"prefix": token.prefix},
    )


def visible_tokens(session: Session, actor: Actor) -> list[ApiToken]:
    """The actor's own tokens in this organization; managers see everyone's in it."""
    query = sa.select(ApiToken).where(ApiToken.organization_id == actor.organization.id)
    if not actor.role.can_manage:
        query = query.where(ApiToken.user_id == actor.user.id)
    return list(session.scalars(query.order_by(ApiToken.created_at.desc())))
