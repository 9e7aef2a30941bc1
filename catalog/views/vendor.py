"""The vendor console: write a listing and its plans, add screenshots, submit for review.

Every page belongs to the vendor organization the person acts for; another organization's
listing is "not found" (404). Any role may read, writing needs a role that writes. Each
change runs in a savepoint, so a refusal leaves the database as it was; the request commits
once at its end. The listing rules are in ``catalog/validation.py`` and
``catalog/services.py``; this module only turns forms into their inputs.

Also here: ``media``, the small blueprint that serves screenshots to whoever may see them,
and the template filters the listing partials (``catalog/_solution_body.html``, used by the
storefront too) need.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_babel import gettext as _
from markupsafe import Markup
from werkzeug.wrappers import Response

from catalog import fulfillment, services, taxonomy
from catalog.api_schemas import PlanOut
from catalog.markup import render_markdown
from catalog.models import Screenshot, Solution, SolutionRevision
from catalog.plan_forms import PlanForm
from catalog.screenshots import STORED_NAME_LENGTH, add_screenshot, remove_screenshot
from catalog.solution_forms import (
    DelistForm,
    FulfillmentForm,
    NewSolutionForm,
    ScreenshotForm,
    SolutionForm,
)
from catalog.validation import parse_plans, parse_solution
from marketplace.auth import org_required, web_actor
from marketplace.db import db
from marketplace.errors import DomainError
from marketplace.extensions import limiter
from marketplace.i18n import current_language
from marketplace.models import OrgKind
from marketplace.money import format_fen
from marketplace.uploads import upload_folder
from marketplace.urls import UrlPolicy
from marketplace.views.flash import attempt

bp = Blueprint("vendor_console", __name__, url_prefix="/vendor")
media = Blueprint("media", __name__)

vendor_reads = org_required([OrgKind.VENDOR])
vendor_writes = org_required([OrgKind.VENDOR], write=True)
MAX_PREVIEW_CHARS = 20_000  # the longest description validation accepts


def _own_solution(solution_id: int) -> Solution:
    """The acting vendor's listing, or 404: another organization's listing does not exist."""
    solution = db.session.get(Solution, solution_id)
    if solution is None or solution.vendor_id != g.actor.organization.id:
        abort(404)
    return solution


def _require_write() -> None:
    if not g.actor.role.can_write:
        abort(403)


# --- listings ---------------------------------------------------------------------------


@bp.get("/solutions")
@vendor_reads
def solutions() -> str:
    return render_template(
        "catalog/vendor/solutions.html",
        solutions=services.vendor_solutions(db.session, g.actor.organization.id),
    )


@bp.get("/solutions/<int:solution_id>")
@vendor_reads
def solution(solution_id: int) -> str:
    return _render_overview(_own_solution(solution_id), DelistForm(formdata=None))


def _render_overview(solution: Solution, delist_form: DelistForm) -> str:
    return render_template(
        "catalog/vendor/solution.html",
        solution=solution,
        revision=solution.current,
        delist_form=delist_form,
    )


@bp.route("/solutions/new", methods=["GET", "POST"])
@vendor_writes
def new_solution() -> str | Response:
    form = NewSolutionForm()
    if form.validate_on_submit():
        try:
            content = parse_solution(form.content_input())
            with db.session.begin_nested():
                created = services.create_solution(
                    db.session,
                    actor=g.actor,
                    content=content,
                    plans=[],
                    slug=(form.slug.data or "").strip() or None,
                )
        except DomainError as exc:
            form.show_error(exc)
        else:
            flash(_("The draft is saved. Now add at least one plan."), "success")
            return redirect(url_for(".plans", solution_id=created.id))
    return render_template(
        "catalog/vendor/edit.html",
        form=form,
        solution=None,
        scenario_groups=taxonomy.scenario_groups(),
    )


@bp.route("/solutions/<int:solution_id>/edit", methods=["GET", "POST"])
@vendor_reads
def edit_solution(solution_id: int) -> str | Response:
    solution = _own_solution(solution_id)
    if request.method == "GET":
        return _render_edit(solution, SolutionForm(data=SolutionForm.data_from(solution.current)))
    _require_write()
    form = SolutionForm()
    if form.validate_on_submit():
        try:
            content = parse_solution(form.content_input())
            with db.session.begin_nested():
                services.update_content(db.session, solution, actor=g.actor, content=content)
        except DomainError as exc:
            form.show_error(exc)
        else:
            flash(_("Your changes are saved."), "success")
            return redirect(url_for(".solution", solution_id=solution.id))
    return _render_edit(solution, form)


def _render_edit(
    solution: Solution,
    form: SolutionForm,
    shot_form: ScreenshotForm | None = None,
    url_form: FulfillmentForm | None = None,
) -> str:
    return render_template(
        "catalog/vendor/edit.html",
        form=form,
        solution=solution,
        revision=solution.current,
        shot_form=shot_form or ScreenshotForm(formdata=None),
        url_form=url_form
        or FulfillmentForm(formdata=None, data={"fulfillment_url": solution.fulfillment_url}),
        scenario_groups=taxonomy.scenario_groups(),
    )


@bp.post("/solutions/<int:solution_id>/fulfillment-url")
@vendor_writes
def set_fulfillment_url(solution_id: int) -> str | Response:
    """The sign-up handoff target: checked by the API's validator, applied without review."""
    solution = _own_solution(solution_id)
    url_form = FulfillmentForm()
    if url_form.validate_on_submit():
        try:
            with db.session.begin_nested():
                fulfillment.set_fulfillment_url(
                    db.session,
                    solution,
                    actor=g.actor,
                    url=url_form.fulfillment_url.data or "",
                    policy=UrlPolicy.from_config(),
                )
        except DomainError as exc:
            url_form.show_error(exc)
        else:
            flash(_("The sign-up page is saved."), "success")
            return redirect(
                url_for(".edit_solution", solution_id=solution.id, _anchor="fulfillment")
            )
    form = SolutionForm(data=SolutionForm.data_from(solution.current))
    return _render_edit(solution, form, url_form=url_form)


@bp.post("/preview")
@limiter.limit("120 per minute")
@vendor_reads
def preview_markdown() -> Response | tuple[Response, int]:
    """The description as buyers will see it. The server sanitizes; the page only shows it."""
    text = request.form.get("text", "")
    if len(text) > MAX_PREVIEW_CHARS:
        message = _("At most %(n)d characters.", n=MAX_PREVIEW_CHARS)
        return jsonify(html="", error=message), 422
    return jsonify(html=str(markdown_html(text)))


# --- screenshots ------------------------------------------------------------------------


@bp.post("/solutions/<int:solution_id>/screenshots")
@vendor_writes
def upload_screenshot(solution_id: int) -> str | Response:
    solution = _own_solution(solution_id)
    shot_form = ScreenshotForm()
    if shot_form.validate_on_submit():
        try:
            with db.session.begin_nested():
                add_screenshot(
                    db.session,
                    solution,
                    g.actor,
                    shot_form.screenshot.data,
                    upload_folder(),
                    caption=shot_form.caption.data or "",
                )
        except DomainError as exc:
            shot_form.show_error(exc)
        else:
            flash(_("The screenshot is added."), "success")
            return redirect(
                url_for(".edit_solution", solution_id=solution.id, _anchor="screenshots")
            )
    form = SolutionForm(data=SolutionForm.data_from(solution.current))
    return _render_edit(solution, form, shot_form)


@bp.post("/solutions/<int:solution_id>/screenshots/<int:screenshot_id>/delete")
@vendor_writes
def delete_screenshot(solution_id: int, screenshot_id: int) -> Response:
    solution = _own_solution(solution_id)
    try:
        with db.session.begin_nested():
            remove_screenshot(db.session, solution, g.actor, screenshot_id, upload_folder())
    except DomainError as exc:
        flash(str(exc.message), "danger")
    else:
        flash(_("The screenshot is removed."), "success")
    return redirect(url_for(".edit_solution", solution_id=solution.id, _anchor="screenshots"))


# --- plans ------------------------------------------------------------------------------


def _plan_inputs(solution: Solution) -> list[dict[str, Any]]:
    """The current plans in the shape the checker reads, to be sent back with a change."""
    return PlanOut(many=True).dump(solution.current.plans)


def _store_plans(solution: Solution, raw_plans: list[dict[str, Any]]) -> None:
    """Check the whole list with the shared checker, then store it (DomainError if refused)."""
    terms = parse_plans(raw_plans) if raw_plans else []  # a draft may have no plan yet
    with db.session.begin_nested():
        services.update_plans(db.session, solution, actor=g.actor, plans=terms)


def _plan_index(solution: Solution, index: int) -> int:
    if not 0 <= index < len(solution.current.plans):
        abort(404)
    return index


@bp.route("/solutions/<int:solution_id>/plans", methods=["GET", "POST"])
@vendor_reads
def plans(solution_id: int) -> str | Response:
    """The plans, and the form to add one."""
    solution = _own_solution(solution_id)
    form = PlanForm()
    if request.method == "POST":
        _require_write()
        if form.validate_on_submit():
            raw = _plan_inputs(solution)
            index = len(raw)
            try:
                raw.append(form.plan_input())
                _store_plans(solution, raw)
            except DomainError as exc:
                form.show_error(exc, prefix=f"plans[{index}].")
            else:
                flash(_("The plan is added."), "success")
                return redirect(url_for(".plans", solution_id=solution.id))
    return _render_plans(solution, form, editing=None)


@bp.route("/solutions/<int:solution_id>/plans/<int:index>", methods=["GET", "POST"])
@vendor_reads
def edit_plan(solution_id: int, index: int) -> str | Response:
    solution = _own_solution(solution_id)
    index = _plan_index(solution, index)
    if request.method == "GET":
        plan = solution.current.plans[index]
        return _render_plans(solution, PlanForm(data=PlanForm.data_from(plan)), editing=index)
    _require_write()
    form = PlanForm()
    if form.validate_on_submit():
        raw = _plan_inputs(solution)
        try:
            raw[index] = form.plan_input()
            _store_plans(solution, raw)
        except DomainError as exc:
            form.show_error(exc, prefix=f"plans[{index}].")
        else:
            flash(_("The plan is saved."), "success")
            return redirect(url_for(".plans", solution_id=solution.id))
    return _render_plans(solution, form, editing=index)


def _render_plans(solution: Solution, form: PlanForm, editing: int | None) -> str:
    return render_template(
        "catalog/vendor/plans.html",
        solution=solution,
        revision=solution.current,
        form=form,
        editing=editing,
    )


@bp.post("/solutions/<int:solution_id>/plans/<int:index>/delete")
@vendor_writes
def delete_plan(solution_id: int, index: int) -> Response:
    solution = _own_solution(solution_id)
    index = _plan_index(solution, index)
    raw = _plan_inputs(solution)
    del raw[index]
    _change_plans(solution, raw, _("The plan is deleted."))
    return redirect(url_for(".plans", solution_id=solution.id))


@bp.post("/solutions/<int:solution_id>/plans/<int:index>/move")
@vendor_writes
def move_plan(solution_id: int, index: int) -> Response:
    solution = _own_solution(solution_id)
    index = _plan_index(solution, index)
    target = index - 1 if request.form.get("direction") == "up" else index + 1
    raw = _plan_inputs(solution)
    if 0 <= target < len(raw):
        raw[index], raw[target] = raw[target], raw[index]
        _change_plans(solution, raw, _("The order of the plans is saved."))
    return redirect(url_for(".plans", solution_id=solution.id))


def _change_plans(solution: Solution, raw: list[dict[str, Any]], success: str) -> None:
    attempt(lambda: _store_plans(solution, raw), success)


# --- review workflow --------------------------------------------------------------------


@bp.post("/solutions/<int:solution_id>/submit")
@vendor_writes
def submit(solution_id: int) -> Response:
    solution = _own_solution(solution_id)
    attempt(
        lambda: services.submit(db.session, solution, actor=g.actor),
        _("Submitted. The platform reviews listings within two working days."),
    )
    return redirect(url_for(".solution", solution_id=solution.id))


@bp.post("/solutions/<int:solution_id>/withdraw")
@vendor_writes
def withdraw(solution_id: int) -> Response:
    solution = _own_solution(solution_id)
    attempt(
        lambda: services.withdraw(db.session, solution, actor=g.actor),
        _("Withdrawn from review; you can edit it again."),
        category="info",
    )
    return redirect(url_for(".solution", solution_id=solution.id))


@bp.post("/solutions/<int:solution_id>/delist")
@vendor_writes
def delist(solution_id: int) -> str | Response:
    solution = _own_solution(solution_id)
    form = DelistForm()
    if form.validate_on_submit():
        try:
            with db.session.begin_nested():
                services.delist(db.session, solution, actor=g.actor, reason=form.reason.data or "")
        except DomainError as exc:
            form.show_error(exc)
        else:
            flash(_("The listing is taken off the storefront."), "info")
            return redirect(url_for(".solution", solution_id=solution.id))
    return _render_overview(solution, form)


# --- screenshots for whoever may see them -----------------------------------------------

_STORED_NAME = re.compile(rf"^[0-9a-f]{{{STORED_NAME_LENGTH}}}\.(?:png|jpg|webp)$")


@media.get("/media/screenshots/<name>")
def screenshot(name: str) -> Response:
    """A screenshot of a published listing for anyone; of a draft for its vendor and the
    operator only. Served with the content type found when it was decoded."""
    if not _STORED_NAME.match(name):
        abort(404)
    rows = db.session.execute(
        sa.select(Screenshot, Solution)
        .join(SolutionRevision, Screenshot.revision_id == SolutionRevision.id)
        .join(Solution, SolutionRevision.solution_id == Solution.id)
        .where(Screenshot.stored_name == name)
    ).all()
    public = any(
        solution.is_public and solution.published_revision_id == shot.revision_id
        for shot, solution in rows
    )
    if not public:
        actor = web_actor()
        if not any(services.can_view_unpublished(solution, actor) for _shot, solution in rows):
            abort(404)
    shot = rows[0][0]
    response = send_from_directory(
        upload_folder() / "screenshots", name, mimetype=shot.content_type, max_age=3600
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Disposition"] = "inline"
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    if not public:
        response.cache_control.public = False
        response.cache_control.private = True
    return response


# --- template filters of the listing partials --------------------------------------------


def markdown_html(text: str) -> Markup:
    """A description as HTML: sanitized by ``render_markdown``, then tables get Bootstrap's
    table style (a fixed class added to nh3's output, never anything from the text)."""
    html = str(render_markdown(text)).replace("<table>", '<table class="table table-sm w-auto">')
    return Markup(html)  # sanitized by nh3 in render_markdown


def yuan(fen: int | None) -> str:
    """A price for people: "¥999" for whole yuan, "¥999.50" otherwise."""
    if fen is None:
        return ""
    text = format_fen(fen)
    return text[:-3] if text.endswith(".00") else text


def unit_yuan(fen: Decimal | str | int | None) -> str:
    """A unit price in (fractional) fen as yuan: 2 -> "¥0.02", "1.5" -> "¥0.015", 30 -> "¥0.30"."""
    if fen is None or fen == "":
        return ""
    value = Decimal(str(fen)).scaleb(-2).normalize()
    whole, _sep, fraction = format(value, "f").partition(".")
    if not fraction:
        return f"¥{int(whole):,}"
    return f"¥{int(whole):,}.{fraction.ljust(2, '0')}"


def thousands(value: int | Decimal | None) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        whole, _sep, fraction = format(value.normalize(), "f").partition(".")
        return f"{int(whole):,}" + (f".{fraction}" if fraction else "")
    return f"{value:,}"


def scenario_label(code: str) -> str:
    found = taxonomy.scenario(code)
    return found.name(current_language()) if found else code


def percent(basis_points: int | None) -> str:
    if basis_points is None:
        return ""
    return format((Decimal(basis_points) / 100).normalize(), "f") + "%"


_filters: dict[str, Callable[..., str]] = {
    "markdown": markdown_html,
    "yuan": yuan,
    "unit_yuan": unit_yuan,
    "thousands": thousands,
    "scenario_label": scenario_label,
    "percent": percent,
}
for _name, _filter in _filters.items():
    media.add_app_template_filter(_filter, _name)
