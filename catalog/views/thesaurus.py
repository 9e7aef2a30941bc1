"""The operator's console page of search words: the thesaurus (synonym sets) and the pain
points, packaged ones with the operators' edits; add, edit, disable and enable an entry.
The rules live in catalog/search_thesaurus.py; an edit reaches the next search of every
host without rebuilding the index.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import BooleanField, SelectField, TextAreaField

from catalog import search_thesaurus, taxonomy
from catalog.search_thesaurus import VocabularyKind
from marketplace.auth import org_required
from marketplace.db import db
from marketplace.errors import DomainError
from marketplace.i18n import current_language
from marketplace.models import OrgKind
from marketplace.views.flash import attempt

bp = Blueprint("thesaurus", __name__, url_prefix="/console/search-words")

operator_reads = org_required([OrgKind.PLATFORM])
operator_writes = org_required([OrgKind.PLATFORM], write=True)
PER_PAGE = 60


class EntryForm(FlaskForm):
    text = TextAreaField(render_kw={"rows": 3, "maxlength": search_thesaurus.MAX_LINE})
    scenario = SelectField(_l("Scenario it leads to"), choices=[], validate_choice=False)
    enabled = BooleanField(_l("Used by search"), default=True)


def _kind_or_404(kind: str) -> VocabularyKind:
    try:
        return VocabularyKind(kind)
    except ValueError:
        abort(404)


def _form(kind: VocabularyKind, **data: object) -> EntryForm:
    form = EntryForm(**data)
    if kind is VocabularyKind.SYNONYMS:
        form.text.label.text = _("Words")
        form.text.description = _(
            "Words that mean the same, separated by commas; then | and related words. "
            "Example: 质检, 质量检测 | 缺陷检测, 验布"
        )
    else:
        form.text.label.text = _("Problem, as a buyer types it")
        form.text.description = _("Example: 电费太高")
        form.text.render_kw = {"rows": 1, "maxlength": search_thesaurus.MAX_PHRASE}
    form.scenario.choices = [("", "—")] + [
        (s.code, s.name(current_language())) for s in taxonomy.scenarios()
    ]
    return form


@bp.get("/")
@operator_reads
def index() -> str:
    kind = request.args.get("kind", VocabularyKind.SYNONYMS.value)
    chosen = VocabularyKind(kind) if kind in VocabularyKind._value2member_map_ else None
    chosen = chosen or VocabularyKind.SYNONYMS
    q = request.args.get("q", "").strip()
    status = request.args.get("status", "")
    rows = [e for e in search_thesaurus.entries(db.session) if e.kind is chosen]
    if q:
        rows = [e for e in rows if q.lower() in e.text.lower() or q == e.scenario]
    if status == "edited":
        rows = [e for e in rows if e.edited]
    elif status == "disabled":
        rows = [e for e in rows if not e.enabled]
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    total = len(rows)
    return render_template(
        "catalog/thesaurus/index.html",
        kind=chosen,
        kinds=list(VocabularyKind),
        q=q,
        status=status,
        rows=rows[(page - 1) * PER_PAGE : page * PER_PAGE],
        total=total,
        page=page,
        pages=max((total + PER_PAGE - 1) // PER_PAGE, 1),
        scenario_name=_scenario_name,
        toggle_form=FlaskForm(),
    )


def _scenario_name(code: str | None) -> str:
    found = taxonomy.scenario(code) if code else None
    return found.name(current_language()) if found else (code or "")


@bp.route("/<kind>/new", methods=["GET", "POST"])
@operator_writes
def new(kind: str) -> str | Response:
    return _edit(_kind_or_404(kind), None)


@bp.route("/<kind>/edit", methods=["GET", "POST"])
@operator_writes
def edit(kind: str) -> str | Response:
    return _edit(_kind_or_404(kind), request.args.get("key", ""))


def _edit(kind: VocabularyKind, key: str | None) -> str | Response:
    entry = search_thesaurus.find_entry(db.session, kind, key) if key is not None else None
    if key is not None and entry is None:
        abort(404)
    data = (
        {"text": entry.text, "scenario": entry.scenario, "enabled": entry.enabled} if entry else {}
    )
    form = _form(kind, **({} if request.method == "POST" else data))
    if form.validate_on_submit():
        try:
            with db.session.begin_nested():
                search_thesaurus.save_entry(
                    db.session,
                    actor_id=g.actor.user.id,
                    kind=kind,
                    key=key,
                    text=form.text.data or "",
                    scenario=form.scenario.data or None,
                    enabled=bool(form.enabled.data),
                )
        except DomainError as exc:
            target = getattr(form, exc.field or "", None) if exc.field else None
            if target is not None:
                target.errors = [*target.errors, str(exc.message)]
            else:
                form.form_errors.append(str(exc.message))
        else:
            flash(_("Saved. The next search uses it."), "success")
            return redirect(url_for(".index", kind=kind.value))
    return render_template("catalog/thesaurus/edit.html", form=form, kind=kind, entry=entry)


@bp.post("/<kind>/toggle")
@operator_writes
def toggle(kind: str) -> Response:
    chosen = _kind_or_404(kind)
    key = request.form.get("key", "")
    enable = request.form.get("enable") == "1"
    if FlaskForm().validate_on_submit():
        attempt(
            lambda: search_thesaurus.set_enabled(
                db.session, actor_id=g.actor.user.id, kind=chosen, key=key, enabled=enable
            ),
            _("Enabled: the next search uses it.")
            if enable
            else _("Disabled: searches no longer use it."),
        )
    return redirect(url_for(".index", kind=chosen.value, q=request.form.get("q") or None))
