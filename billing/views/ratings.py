"""Rating a solution: once per buyer organization, after an invoice for it was paid
(the rule is billing/ratings.py)."""

from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from billing import ratings
from billing.forms import RatingForm
from billing.views.common import BUYER, bp
from catalog import services as catalog_services
from marketplace.auth import org_required
from marketplace.db import db
from marketplace.errors import Conflict, DomainError, NotAllowed
from marketplace.i18n import current_language
from marketplace.views.accounts import show_error


@bp.route("/solutions/<slug>/rate", methods=["GET", "POST"])
@org_required(BUYER)
def rate(slug: str) -> ResponseReturnValue:
    solution = catalog_services.public_solution(db.session, slug)
    if solution is None or solution.published is None:
        abort(404)
    org_id = g.actor.organization.id
    revision = solution.published
    name = revision.name_en if current_language() == "en" and revision.name_en else revision.name
    existing = ratings.existing_rating(db.session, org_id, solution.id)
    paid = ratings.has_paid_invoice(db.session, org_id, solution.id)
    form = RatingForm()
    status = 200
    if form.validate_on_submit():
        if not g.actor.role.can_write:
            abort(403)
        try:
            with db.session.begin_nested():
                ratings.rate(
                    db.session, g.actor, solution, int(form.stars.data), form.comment.data or ""
                )
        except DomainError as error:
            show_error(form, error)
            status = (
                409
                if isinstance(error, Conflict)
                else 403
                if isinstance(error, NotAllowed)
                else 422
            )
        else:
            flash(_("Thank you for rating %(name)s.", name=name), "success")
            return redirect(url_for("storefront.solution", slug=solution.slug, _anchor="ratings"))
    elif form.errors:
        status = 422
    elif existing is None and not paid:
        status = 403
    return render_template(
        "billing/rate.html",
        solution=solution,
        name=name,
        form=form,
        existing=existing,
        paid=paid,
    ), status
