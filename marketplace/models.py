"""Organizations, people and their roles, invitations and API tokens."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.ext.hybrid import hybrid_method, hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.db import Base, enum_type, utcnow
from marketplace.enums import LabeledEnum
from marketplace.sizeclass import SizeClass

if TYPE_CHECKING:

    class UserMixin:
        """What Flask-Login's mixin gives a user. Flask-Login ships no types, and a base class
        of unknown type would make every ``User`` (and every query for users) an ``Any``."""

        @property
        def is_authenticated(self) -> bool: ...
        @property
        def is_active(self) -> bool: ...
        @property
        def is_anonymous(self) -> bool: ...
        def get_id(self) -> str | None: ...

else:
    from flask_login import UserMixin


class OrgKind(LabeledEnum):
    SME = "sme", _l("Enterprise (buyer)")
    VENDOR = "vendor", _l("Solution vendor")
    GOVERNMENT = "government", _l("Government")
    PLATFORM = "platform", _l("Platform operator")


class Verification(LabeledEnum):
    PENDING = "pending", _l("Awaiting verification")
    VERIFIED = "verified", _l("Verified")
    REJECTED = "rejected", _l("Verification rejected")


class Role(LabeledEnum):
    OWNER = "owner", _l("Owner")
    ADMIN = "admin", _l("Administrator")
    MEMBER = "member", _l("Member")
    AUDITOR = "auditor", _l("Auditor (read only)")

    @property
    def can_manage(self) -> bool:
        """Owners and admins manage people, tokens of others and the organization profile."""
        return self in (Role.OWNER, Role.ADMIN)

    @property
    def can_write(self) -> bool:
        """Auditors only read."""
        return self is not Role.AUDITOR


class Organization(Base):
    __tablename__ = "organizations"
    __table_args__ = (
        sa.CheckConstraint("employees IS NULL OR employees >= 0", name="employees_not_negative"),
        sa.CheckConstraint(
            "annual_revenue_fen IS NULL OR annual_revenue_fen >= 0", name="revenue_not_negative"
        ),
        sa.CheckConstraint("length(uscc) = 18", name="uscc_length"),
        sa.CheckConstraint("length(region_code) = 6", name="region_code_length"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[OrgKind] = mapped_column(enum_type(OrgKind, "org_kind"), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    uscc: Mapped[str] = mapped_column(sa.String(18), unique=True)  # 统一社会信用代码
    region_code: Mapped[str] = mapped_column(sa.String(6), index=True)  # GB/T 2260
    industry_code: Mapped[str | None] = mapped_column(sa.String(3))  # GB/T 4754 class, SMEs
    employees: Mapped[int | None]
    annual_revenue_fen: Mapped[int | None] = mapped_column(sa.BigInteger)
    # Computed from employees and revenue by marketplace.sizeclass when they change.
    size_class: Mapped[SizeClass | None] = mapped_column(enum_type(SizeClass, "size_class"))
    legal_representative: Mapped[str] = mapped_column(sa.String(100))
    address: Mapped[str] = mapped_column(sa.String(300))
    contact_phone: Mapped[str] = mapped_column(sa.String(30))
    contact_email: Mapped[str] = mapped_column(sa.String(254))
    # Public profile, shown with a vendor's listings.
    about: Mapped[str] = mapped_column(sa.Text, default="")
    about_en: Mapped[str] = mapped_column(sa.Text, default="")
    website: Mapped[str] = mapped_column(sa.String(200), default="")
    verification: Mapped[Verification] = mapped_column(
        enum_type(Verification, "verification"), default=Verification.PENDING
    )
    verification_note: Mapped[str] = mapped_column(sa.Text, default="")
    verified_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="organization", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"<Organization {self.id} {self.kind.value} {self.name!r}>"

    @hybrid_property
    def is_verified(self) -> bool:
        return self.verification == Verification.VERIFIED

    @is_verified.inplace.expression
    @classmethod
    def _is_verified_expression(cls) -> sa.ColumnElement[bool]:
        return cls.verification == Verification.VERIFIED


class User(UserMixin, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)  # stored lower-case
    name: Mapped[str] = mapped_column(sa.String(100))
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    locale: Mapped[str] = mapped_column(sa.String(10), default="zh_CN")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email}>"

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    def membership_in(self, org_id: int | None) -> Membership | None:
        return next((m for m in self.memberships if m.organization_id == org_id), None)


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (sa.UniqueConstraint("user_id", "organization_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    organization_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[Role] = mapped_column(enum_type(Role, "role"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(back_populates="memberships")
    organization: Mapped[Organization] = relationship(back_populates="memberships")

    def __repr__(self) -> str:
        return f"<Membership user={self.user_id} org={self.organization_id} {self.role.value}>"


class Invitation(Base):
    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(sa.String(254))
    role: Mapped[Role] = mapped_column(enum_type(Role, "role"))
    # SHA-256 of the secret in the link; the secret itself is never stored.
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    invited_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    accepted_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    revoked_at: Mapped[datetime | None]

    organization: Mapped[Organization] = relationship()
    invited_by: Mapped[User] = relationship(foreign_keys=[invited_by_id])

    def __repr__(self) -> str:
        return f"<Invitation {self.id} {self.email} -> org {self.organization_id}>"

    def is_open(self, now: datetime) -> bool:
        return self.accepted_at is None and self.revoked_at is None and now < self.expires_at


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    organization_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(sa.String(100))
    # First characters of the token, shown in lists so people can tell tokens apart.
    prefix: Mapped[str] = mapped_column(sa.String(16))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)  # SHA-256 hex
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()
    organization: Mapped[Organization] = relationship()

    def __repr__(self) -> str:
        return f"<ApiToken {self.id} {self.prefix}… user={self.user_id} org={self.organization_id}>"

    @hybrid_property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @is_active.inplace.expression
    @classmethod
    def _is_active_expression(cls) -> sa.ColumnElement[bool]:
        return cls.revoked_at.is_(None)


class SessionEnd(enum.StrEnum):
    """Why a signed-in session stopped working before it expired."""

    SIGNED_OUT = "signed_out"  # the person signed out on that device
    ENDED_REMOTELY = "ended_remotely"  # ended from the sessions page of another device
    EVERYWHERE = "everywhere"  # "sign out everywhere"
    PASSWORD_CHANGED = "password_changed"


class UserSession(Base):
    """One signed-in browser. The random secret whose hash is ``token_hash`` is kept in the
    signed session cookie and in the remember-me cookie; a request showing either is signed
    in only while this row is live, so ending the row signs that browser out for good."""

    __tablename__ = "user_sessions"
    __table_args__ = (
        sa.CheckConstraint("expires_at > created_at", name="expires_after_creation"),
        sa.CheckConstraint(
            "(revoked_at IS NULL) = (revoke_reason IS NULL)", name="revoked_with_reason"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)  # SHA-256 hex
    remember: Mapped[bool]  # "keep me signed in": a remember-me cookie carries the secret too
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    # Shown on the sessions page so people can tell their devices apart.
    user_agent: Mapped[str] = mapped_column(sa.String(300), default="")
    ip_address: Mapped[str] = mapped_column(sa.String(45), default="")
    revoked_at: Mapped[datetime | None]
    revoke_reason: Mapped[SessionEnd | None] = mapped_column(enum_type(SessionEnd, "session_end"))

    user: Mapped[User] = relationship()

    def __repr__(self) -> str:
        state = f"revoked {self.revoke_reason.value}" if self.revoke_reason else "live"
        return f"<UserSession {self.id} user={self.user_id} {state}>"

    @hybrid_method
    def is_live(self, now: datetime) -> bool:
        return self.revoked_at is None and now < self.expires_at

    @is_live.expression  # a hybrid_method's expression() sets it in place
    @classmethod
    def _is_live_expression(cls, now: datetime) -> sa.ColumnElement[bool]:
        return sa.and_(cls.revoked_at.is_(None), cls.expires_at > now)
