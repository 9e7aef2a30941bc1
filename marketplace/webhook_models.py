"""Vendor webhooks' tables: endpoints, the events recorded for a vendor, and each event's
delivery to each endpoint with its attempts (the rules are in marketplace/webhooks.py)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.db import Base, enum_type, utcnow
from marketplace.states import Transitions

EVENT_TYPES = (
    "contract.created",
    "contract.activated",
    "contract.plan_changed",
    "contract.canceled",
    "contract.suspended",
    "contract.reactivated",
    "invoice.issued",
    "invoice.paid",
    "invoice.voided",
    "outcome_report.confirmed",
    "outcome_report.disputed",
    "outcome_report.resolved",
    "listing.approved",
    "listing.rejected",
    "inquiry.created",  # a buyer's new question (catalog/inquiries.py)
    "inquiry.message",  # a buyer's further message in a thread
)


class EndpointStatus(enum.StrEnum):
    ENABLED = "enabled"
    DISABLED = "disabled"


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for its first or next attempt
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # gave up: three days of failures, or the endpoint was disabled


# Endpoints and deliveries keep their own history (when and why disabled, every attempt):
# their moves write no audit row.
ENDPOINT_TRANSITIONS = Transitions(
    EndpointStatus,
    {
        EndpointStatus.ENABLED: {EndpointStatus.DISABLED},
        EndpointStatus.DISABLED: {EndpointStatus.ENABLED},
    },
    subject=None,
    stamps={EndpointStatus.DISABLED: "disabled_at"},
)

DELIVERY_TRANSITIONS = Transitions(
    DeliveryStatus,
    {
        DeliveryStatus.PENDING: {DeliveryStatus.SUCCEEDED, DeliveryStatus.FAILED},
        # sent again (same event) by the vendor's redelivery
        DeliveryStatus.SUCCEEDED: {DeliveryStatus.PENDING},
        DeliveryStatus.FAILED: {DeliveryStatus.PENDING},
    },
    subject=None,
    stamps={DeliveryStatus.SUCCEEDED: "finished_at", DeliveryStatus.FAILED: "finished_at"},
)


class WebhookEndpoint(Base):
    __tablename__ = "vendor_webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id"), index=True)
    url: Mapped[str] = mapped_column(sa.String(500))
    description: Mapped[str] = mapped_column(sa.String(200), default="")
    event_types: Mapped[list[Any]]  # names from EVENT_TYPES
    status: Mapped[EndpointStatus] = mapped_column(
        enum_type(EndpointStatus, "webhook_endpoint_status"), default=EndpointStatus.ENABLED
    )
    transitions = ENDPOINT_TRANSITIONS
    # Why it is disabled: "vendor" (by hand) or "failing" (three days without a success).
    disabled_reason: Mapped[str] = mapped_column(sa.String(20), default="")
    disabled_at: Mapped[datetime | None]
    # Fernet tokens (marketplace/webhooks.py): the platform must sign, so it keeps the secret.
    secret_encrypted: Mapped[str] = mapped_column(sa.Text)
    # After a rotation the old secret still signs until previous_secret_expires_at.
    previous_secret_encrypted: Mapped[str | None] = mapped_column(sa.Text)
    previous_secret_expires_at: Mapped[datetime | None]
    # The first failed attempt since the last success; None while deliveries succeed.
    failing_since: Mapped[datetime | None]
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    deliveries: Mapped[list[WebhookDelivery]] = relationship(
        back_populates="endpoint", cascade="all, delete-orphan", passive_deletes=True
    )

    def __repr__(self) -> str:
        return f"<WebhookEndpoint {self.id} org={self.organization_id} {self.status.value}>"

    @property
    def is_enabled(self) -> bool:
        return self.status is EndpointStatus.ENABLED

    def can_manage(self, organization_id: int) -> bool:
        return self.organization_id == organization_id

    def previous_secret_active(self, now: datetime) -> bool:
        expires = self.previous_secret_expires_at
        return self.previous_secret_encrypted is not None and expires is not None and now < expires


class VendorEvent(Base):
    """Something that happened to a vendor's contract, invoice, report or listing."""

    __tablename__ = "vendor_webhook_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(sa.String(40), unique=True)  # "evt_...": dedupe by it
    organization_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id"), index=True)
    type: Mapped[str] = mapped_column(sa.String(40))
    # One event per key ("contract.created:42"): a service run twice records it once.
    dedupe_key: Mapped[str] = mapped_column(sa.String(200), unique=True)
    data: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]

    def __repr__(self) -> str:
        return f"<VendorEvent {self.public_id} {self.type}>"


class WebhookDelivery(Base):
    """One event sent to one endpoint: the exact body, its status and its attempts."""

    __tablename__ = "vendor_webhook_deliveries"
    __table_args__ = (sa.UniqueConstraint("event_id", "endpoint_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("vendor_webhook_events.id"))
    endpoint_id: Mapped[int] = mapped_column(
        sa.ForeignKey("vendor_webhook_endpoints.id", ondelete="CASCADE"), index=True
    )
    body: Mapped[str] = mapped_column(sa.Text)  # the JSON sent, the same on every attempt
    status: Mapped[DeliveryStatus] = mapped_column(
        enum_type(DeliveryStatus, "webhook_delivery_status"), default=DeliveryStatus.PENDING
    )
    transitions = DELIVERY_TRANSITIONS
    redeliveries: Mapped[int] = mapped_column(default=0)  # times the vendor asked again
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]

    endpoint: Mapped[WebhookEndpoint] = relationship(back_populates="deliveries")
    event: Mapped[VendorEvent] = relationship()
    attempts: Mapped[list[WebhookAttempt]] = relationship(
        back_populates="delivery",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="WebhookAttempt.id",
    )

    def __repr__(self) -> str:
        return f"<WebhookDelivery {self.id} endpoint={self.endpoint_id} {self.status.value}>"


class WebhookAttempt(Base):
    """One HTTP request of a delivery and what came back (the body truncated)."""

    __tablename__ = "vendor_webhook_attempts"
    __table_args__ = (sa.CheckConstraint("duration_ms >= 0", name="duration_not_negative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        sa.ForeignKey("vendor_webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    started_at: Mapped[datetime]
    duration_ms: Mapped[int]
    response_status: Mapped[int | None]  # None: no answer (refused, timed out, bad URL)
    response_body: Mapped[str] = mapped_column(sa.Text, default="")  # at most 2 KB kept
    error: Mapped[str] = mapped_column(sa.Text, default="")

    delivery: Mapped[WebhookDelivery] = relationship(back_populates="attempts")

    def __repr__(self) -> str:
        return f"<WebhookAttempt {self.id} delivery={self.delivery_id} {self.response_status}>"

    @property
    def succeeded(self) -> bool:
        return self.response_status is not None and 200 <= self.response_status < 300
