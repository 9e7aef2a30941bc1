"""The vendor console's webhook pages: endpoints (the secret shown once, at creation and
at rotation), every delivery with its attempts, redelivery. Rules in marketplace/webhooks.py;
another organization's endpoint is "not found"."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, g, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectMultipleField, StringField, widgets
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]  # new in WTForms 3.3; types-WTForms 3.2 lacks it
from wtforms.validators import DataRequired, Length

from marketplace import webhooks
from marketplace.auth import org_required
from marketplace.db import db, utcnow
from marketplace.models import OrgKind
from marketplace.urls import MAX_URL_LENGTH, UrlPolicy
from marketplace.views.flash import attempt
from marketplace.webhook_models import EVENT_TYPES, WebhookDelivery, WebhookEndpoint

bp = Blueprint("vendor_webhooks", __name__, url_prefix="/vendor/webhooks")

vendor_reads = org_required([OrgKind.VENDOR])
vendor_writes = org_required([OrgKind.VENDOR], write=True)
DELIVERIES_SHOWN = 50


class EndpointForm(FlaskForm):
    url = StringField(_l("Endpoint URL"), validators=[DataRequired(), Length(max=MAX_URL_LENGTH)])
    description = StringField(_l("Description"), validators=[Length(max=200)])
    event_types = SelectMultipleField(
        _l("Events to send"),
        choices=[SelectChoice(name, name) for name in EVENT_TYPES],
        option_widget=widgets.CheckboxInput(),
        widget=widgets.ListWidget(prefix_label=False),
    )


def _own_endpoint(endpoint_id: int) -> WebhookEndpoint:
    endpoint = db.session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or not endpoint.can_manage(g.actor.organization.id):
        abort(404)
    return endpoint


def _endpoints() -> list[WebhookEndpoint]:
    query = (
        sa.select(WebhookEndpoint)
        .where(WebhookEndpoint.organization_id == g.actor.organization.id)
        .order_by(WebhookEndpoint.id)
    )
    return list(db.session.scalars(query))


@bp.route("", methods=["GET", "POST"])
@vendor_reads
def endpoints() -> ResponseReturnValue:
    form = EndpointForm()
    new_secret = None
    if form.validate_on_submit():
        if not g.actor.role.can_write:
            abort(403)
        made: dict[str, object] = {}

        def create() -> None:
            made["endpoint"], made["secret"] = webhooks.create_endpoint(
                db.session,
                organization_id=g.actor.organization.id,
                user_id=g.actor.user.id,
                url=form.url.data or "",
                event_types=list(form.event_types.data or []),
                description=form.description.data or "",
                policy=UrlPolicy.from_config(),
                now=utcnow(),
            )

        if attempt(create, _("The endpoint is added.")):
            new_secret = made["secret"]
            form = EndpointForm(formdata=None)
    return render_template(
        "marketplace/webhooks/endpoints.html",
        form=form,
        endpoints=_endpoints(),
        new_secret=new_secret,
    )


def _detail(endpoint: WebhookEndpoint, new_secret: str | None = None) -> str:
    deliveries = db.session.scalars(
        sa.select(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint.id)
        .order_by(WebhookDelivery.id.desc())
        .limit(DELIVERIES_SHOWN)
    )
    return render_template(
        "marketplace/webhooks/endpoint.html",
        endpoint=endpoint,
        deliveries=list(deliveries),
        new_secret=new_secret,
        now=utcnow(),
    )


@bp.get("/<int:endpoint_id>")
@vendor_reads
def endpoint(endpoint_id: int) -> ResponseReturnValue:
    return _detail(_own_endpoint(endpoint_id))


@bp.post("/<int:endpoint_id>/rotate")
@vendor_writes
def rotate(endpoint_id: int) -> ResponseReturnValue:
    found = _own_endpoint(endpoint_id)
    made: dict[str, str] = {}

    def rotate_now() -> None:
        made["secret"] = webhooks.rotate_secret(db.session, found, now=utcnow())

    attempt(rotate_now, _("A new secret is made; the old one also signs for 24 hours."))
    return _detail(found, made.get("secret"))


@bp.post("/<int:endpoint_id>/enable")
@vendor_writes
def enable(endpoint_id: int) -> ResponseReturnValue:
    found = _own_endpoint(endpoint_id)
    attempt(
        lambda: webhooks.set_enabled(db.session, found, True, now=utcnow()),
        _("The endpoint is enabled."),
    )
    return redirect(url_for(".endpoint", endpoint_id=endpoint_id))


@bp.post("/<int:endpoint_id>/disable")
@vendor_writes
def disable(endpoint_id: int) -> ResponseReturnValue:
    found = _own_endpoint(endpoint_id)
    attempt(
        lambda: webhooks.set_enabled(db.session, found, False, now=utcnow()),
        _("The endpoint is disabled; nothing is sent to it."),
    )
    return redirect(url_for(".endpoint", endpoint_id=endpoint_id))


@bp.post("/<int:endpoint_id>/delete")
@vendor_writes
def delete(endpoint_id: int) -> ResponseReturnValue:
    found = _own_endpoint(endpoint_id)
    attempt(lambda: webhooks.delete_endpoint(db.session, found), _("The endpoint is deleted."))
    return redirect(url_for(".endpoints"))


@bp.post("/deliveries/<int:delivery_id>/redeliver")
@vendor_writes
def redeliver(delivery_id: int) -> ResponseReturnValue:
    delivery = db.session.get(WebhookDelivery, delivery_id)
    if delivery is None or not delivery.endpoint.can_manage(g.actor.organization.id):
        abort(404)
    attempt(
        lambda: webhooks.redeliver(db.session, delivery, now=utcnow()),
        _("The event is queued to be sent again."),
    )
    return redirect(url_for(".endpoint", endpoint_id=delivery.endpoint_id))
