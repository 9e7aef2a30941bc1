"""The sign-up handoff (as AWS Marketplace's registration token): after a buyer starts a plan
of a solution with a fulfillment URL, the buyer is sent there with a short-lived one-time
token, and the vendor exchanges it (POST /api/v1/fulfillment/resolve) for the buyer
organization, the contract and the plan.

Rules: only the token's SHA-256 is stored; it lives FULFILLMENT_TOKEN_MINUTES (15) minutes;
it is exchanged exactly once (a conditional UPDATE, so two concurrent exchanges cannot both
win): a second exchange answers 409, an expired token 410, a token of another vendor's
contract (or an unknown one) 404, as if it did not exist.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from billing.fulfillment_models import FulfillmentToken
from billing.models import Contract
from marketplace import audit
from marketplace.db import rows_changed
from marketplace.errors import Conflict, DomainError, NotAllowed
from marketplace.jsonapi import Actor
from marketplace.models import OrgKind

TOKEN_PREFIX = "ful_"
TOKEN_PARAMETER = "marketplace_token"


class TokenNotFound(DomainError):
    status = 404
    code = "not_found"


class TokenExpired(DomainError):
    status = 410
    code = "gone"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def handoff_url(base_url: str, token: str) -> str:
    """The vendor's URL with the token added to its query (its own parameters kept)."""
    parts = urlsplit(base_url)
    query = [*parse_qsl(parts.query, keep_blank_values=True), (TOKEN_PARAMETER, token)]
    return urlunsplit(parts._replace(query=urlencode(query)))


def issue(
    session: Session, contract: Contract, *, actor: Actor, now: datetime, minutes: int
) -> str:
    """A new token for the buyer of ``contract``; returns the URL to send the buyer to."""
    if actor.organization.id != contract.buyer_id or not actor.role.can_write:
        raise NotAllowed(_l("Only the buyer may do this."))
    base_url = contract.solution.fulfillment_url
    if not base_url:
        raise DomainError(_l("This solution has no sign-up page at the vendor."))
    if not contract.status.is_live and contract.status.value != "pending":
        raise Conflict(_l("This contract has ended."))
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(
        FulfillmentToken(
            token_hash=hash_token(token),
            contract_id=contract.id,
            created_by_id=actor.user.id,
            created_at=now,
            expires_at=now + timedelta(minutes=minutes),
        )
    )
    session.flush()
    return handoff_url(base_url, token)


def resolve(session: Session, token: str, *, actor: Actor, now: datetime) -> Contract:
    """The vendor's one exchange of ``token`` for its contract."""
    if actor.org_kind is not OrgKind.VENDOR:
        raise NotAllowed(_l("Only vendors exchange sign-up tokens."))
    found = session.scalar(
        sa.select(FulfillmentToken).where(FulfillmentToken.token_hash == hash_token(token))
    )
    unknown = _l("No such sign-up token.")
    if found is None or found.contract.vendor_id != actor.organization.id:
        raise TokenNotFound(unknown, field="token")
    if found.resolved_at is not None:
        raise Conflict(_l("This sign-up token has already been used."), field="token")
    if found.expires_at <= now:
        raise TokenExpired(_l("This sign-up token has expired."), field="token")
    claimed = rows_changed(
        session,
        sa.update(FulfillmentToken)
        .where(FulfillmentToken.id == found.id, FulfillmentToken.resolved_at.is_(None))
        .values(resolved_at=now)
        .execution_options(synchronize_session=False),
    )
    if claimed != 1:  # another exchange won meanwhile
        raise Conflict(_l("This sign-up token has already been used."), field="token")
    session.refresh(found)
    audit.record(
        session,
        "fulfillment.resolved",
        "contract",
        found.contract_id,
        user_id=actor.user.id,
        org_id=actor.organization.id,
        data={"token_id": found.id},
    )
    return found.contract
