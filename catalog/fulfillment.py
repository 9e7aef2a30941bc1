"""A listing's fulfillment URL: where a buyer who started a plan signs up with the vendor
(the handoff itself is billing/fulfillment.py). An integration setting of the vendor's, not
buyer-facing content, so it is kept on the solution and changes without a review."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from catalog import services
from catalog.models import Solution
from marketplace import audit
from marketplace.errors import NotAllowed
from marketplace.jsonapi import Actor
from marketplace.urls import UrlPolicy, check_outbound_url


def set_fulfillment_url(
    session: Session, solution: Solution, *, actor: Actor, url: str, policy: UrlPolicy
) -> None:
    """Set (or, with "", clear) the URL; refused unless https to a public host."""
    if not services.can_edit(solution, actor):
        raise NotAllowed(_l("Only the vendor's members can change this listing."))
    url = (url or "").strip()
    if url:
        url = check_outbound_url(url, field="fulfillment_url", policy=policy)
    if url == solution.fulfillment_url:
        return
    solution.fulfillment_url = url
    session.flush()
    audit.record(
        session,
        "solution.fulfillment_url",
        "solution",
        solution.id,
        user_id=actor.user.id,
        org_id=actor.organization.id,
        data={"url": url},
    )
