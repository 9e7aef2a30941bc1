"""Accounts: register an organization, sign in and out, switch organization, invite
colleagues, manage roles, remove members, API tokens. (A person's own sessions and
password: marketplace/views/sessions.py.)"""

from __future__ import annotations

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from marketplace import memberships, services, throttle, todo
from marketplace.auth import org_required, sign_in, sign_out, web_actor
from marketplace.db import db, utcnow
from marketplace.errors import DomainError
from marketplace.extensions import limiter
from marketplace.forms import (
    AcceptInvitationForm,
    InviteForm,
    LoginForm,
    OrganizationForm,
    RegistrationForm,
    RoleForm,
    TokenForm,
)
from marketplace.mail import mail_enabled, queue_mail
from marketplace.models import ApiToken, Invitation, Membership, OrgKind, Role
from marketplace.views.site import safe_next

bp = Blueprint("accounts", __name__)

# Service field names that a form calls differently.
_FORM_FIELD = {"name": "org_name", "annual_revenue_fen": "annual_revenue"}


def show_error(form: FlaskForm, error: DomainError, rename: dict[str, str] | None = None) -> None:
    """Put a service's refusal next to the field it names, or above the form."""
    name = (rename or {}).get(error.field or "", error.field)
    field = getattr(form, name, None) if name else None
    if field is not None and hasattr(field, "errors"):
        field.errors = [*field.errors, str(error.message)]
    else:
        form.form_errors.append(str(error.message))


def _details(form: OrganizationForm) -> services.OrganizationDetails:
    kind = OrgKind(form.kind.data)
    sme = kind is OrgKind.SME
    return services.OrganizationDetails(
        kind=kind,
        name=form.org_name.data or "",
        uscc=form.uscc.data or "",
        region_code=(form.region_code.data or "").strip(),
        legal_representative=form.legal_representative.data or "",
        address=form.address.data or "",
        contact_phone=form.contact_phone.data or "",
        contact_email=form.contact_email.data or "",
        industry_code=form.industry_code.data or None,
        employees=form.employees.data if sme else None,
        annual_revenue_fen=form.annual_revenue.data if sme else None,
    )


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit("20 per hour", methods=["POST"])
def register() -> str | Response:
    if current_user.is_authenticated:
        return redirect(url_for("accounts.new_organization"))
    form = RegistrationForm()
    if form.validate_on_submit():
        session_ = db.session
        try:
            with session_.begin_nested():
                user = services.create_user(
                    session_,
                    email=form.email.data or "",
                    name=form.name.data or "",
                    password=form.password.data or "",
                    locale=session.get("lang", current_app.config["BABEL_DEFAULT_LOCALE"]),
                )
                org = services.register_organization(session_, _details(form), owner=user)
        except DomainError as exc:
            show_error(form, exc, _FORM_FIELD)
        else:
            sign_in(user)
            session["org_id"] = org.id
            flash(_("Welcome! %(org)s is registered.", org=org.name), "success")
            return redirect(url_for("accounts.organization"))
    return render_template("marketplace/register.html", form=form, title=_("Register"))


@bp.route("/organizations/new", methods=["GET", "POST"])
@login_required
def new_organization() -> str | Response:
    form = OrganizationForm()
    if form.validate_on_submit():
        try:
            with db.session.begin_nested():
                org = services.register_organization(
                    db.session, _details(form), owner=current_user._get_current_object()
                )
        except DomainError as exc:
            show_error(form, exc, _FORM_FIELD)
        else:
            session["org_id"] = org.id
            flash(_("%(org)s is registered.", org=org.name), "success")
            return redirect(url_for("accounts.organization"))
    return render_template(
        "marketplace/register.html", form=form, title=_("Register another organization")
    )


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def login() -> str | Response:
    form = LoginForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        lockout = throttle.login_lockout()
        email, password = form.email.data or "", form.password.data or ""
        if not lockout.attempt(email):
            abort(429)  # locked for the window, even with the right password
        user = services.authenticate(db.session, email, password)
        if user is None:
            form.form_errors.append(_("The e-mail address or password is wrong."))
        else:
            lockout.succeeded(email)
            session.clear()
            sign_in(user, remember=bool(form.remember.data))
            session["lang"] = user.locale
            return redirect(safe_next(form.next.data, url_for("accounts.dashboard")))
    return render_template("marketplace/login.html", form=form)


@bp.post("/logout")
def logout() -> Response:
    lang = session.get("lang")
    sign_out()
    session.clear()
    if lang:
        session["lang"] = lang
    flash(_("You are signed out."), "info")
    return redirect(url_for("storefront.home"))


@bp.get("/dashboard")
@login_required
def dashboard() -> str:
    actor = web_actor()
    items = todo.items_for(current_app, db.session, actor.organization, utcnow()) if actor else []
    return render_template("marketplace/dashboard.html", todo_items=items)


@bp.post("/switch/<int:org_id>")
@login_required
def switch_organization(org_id: int) -> Response:
    if current_user.membership_in(org_id) is None:
        abort(404)
    session["org_id"] = org_id
    g.pop("web_actor", None)
    actor = web_actor()
    assert actor is not None  # a member of org_id, as checked above
    flash(_("You now act for %(org)s.", org=actor.organization.name), "info")
    return redirect(safe_next(request.form.get("next"), url_for("accounts.dashboard")))


@bp.get("/organization")
@org_required()
def organization() -> str:
    return render_template("marketplace/organization.html", org=g.actor.organization)


# --- members and invitations -------------------------------------------------------------


def _members() -> list[Membership]:
    return list(
        db.session.scalars(
            sa.select(Membership)
            .where(Membership.organization_id == g.actor.organization.id)
            .order_by(Membership.id)
        )
    )


def _open_invitations() -> list[Invitation]:
    return list(
        db.session.scalars(
            sa.select(Invitation)
            .where(
                Invitation.organization_id == g.actor.organization.id,
                Invitation.accepted_at.is_(None),
                Invitation.revoked_at.is_(None),
            )
            .order_by(Invitation.created_at.desc())
        )
    )


@bp.route("/organization/members", methods=["GET", "POST"])
@org_required()
def members() -> str | Response:
    form = InviteForm()
    link = None
    if request.method == "POST":
        if not g.actor.role.can_manage:
            abort(403)
        if form.validate_on_submit():
            try:
                with db.session.begin_nested():
                    invitation, secret = memberships.invite(
                        db.session,
                        actor=g.actor,
                        email=form.email.data or "",
                        role=Role(form.role.data),
                        days=current_app.config["INVITATION_DAYS"],
                    )
            except DomainError as exc:
                show_error(form, exc)
            else:
                link = url_for("accounts.accept_invitation", secret=secret, _external=True)
                sent = queue_mail(
                    db.session,
                    invitation.email,
                    _("Invitation to %(org)s", org=g.actor.organization.name),
                    _(
                        "%(name)s invites you to join %(org)s on %(site)s.\n\n"
                        "Open this link to accept (valid for %(days)d days):\n%(link)s\n",
                        name=g.actor.user.name,
                        org=g.actor.organization.name,
                        site=current_app.config["SITE_NAME"],
                        days=current_app.config["INVITATION_DAYS"],
                        link=link,
                    ),
                    dedupe_key=f"invitation:{invitation.id}",
                )
                if sent:
                    flash(_("Invitation e-mailed to %(email)s.", email=invitation.email), "success")
                form = InviteForm(formdata=None)
    return render_template(
        "marketplace/members.html",
        form=form,
        link=link,
        mail_enabled=mail_enabled(),
        members=_members(),
        invitations=_open_invitations(),
        role_form=RoleForm(formdata=None),
    )


@bp.post("/organization/members/<int:membership_id>/role")
@org_required(manage=True)
def change_role(membership_id: int) -> Response:
    membership = db.session.get(Membership, membership_id)
    if membership is None or membership.organization_id != g.actor.organization.id:
        abort(404)
    form = RoleForm()
    if form.validate_on_submit():
        try:
            with db.session.begin_nested():
                memberships.change_role(db.session, membership, Role(form.role.data), actor=g.actor)
        except DomainError as exc:
            flash(str(exc.message), "danger")
        else:
            flash(_("Role changed."), "success")
    else:
        flash(_("Choose a role."), "danger")
    return redirect(url_for("accounts.members"))


@bp.post("/organization/members/<int:membership_id>/remove")
@org_required(owner=True)
def remove_member(membership_id: int) -> Response:
    membership = db.session.get(Membership, membership_id)
    if membership is None or membership.organization_id != g.actor.organization.id:
        abort(404)
    name = membership.user.name
    try:
        with db.session.begin_nested():
            memberships.remove_member(db.session, membership, actor=g.actor)
    except DomainError as exc:
        flash(str(exc.message), "danger")
    else:
        flash(
            _("%(name)s no longer belongs to %(org)s.", name=name, org=g.actor.organization.name),
            "success",
        )
    return redirect(url_for("accounts.members"))


@bp.post("/organization/invitations/<int:invitation_id>/revoke")
@org_required(manage=True)
def revoke_invitation(invitation_id: int) -> Response:
    invitation = db.session.get(Invitation, invitation_id)
    if invitation is None or invitation.organization_id != g.actor.organization.id:
        abort(404)
    memberships.revoke_invitation(db.session, invitation, actor=g.actor)
    flash(_("Invitation withdrawn."), "info")
    return redirect(url_for("accounts.members"))


@bp.route("/invitations/<secret>", methods=["GET", "POST"])
def accept_invitation(secret: str) -> ResponseReturnValue:
    """Only the invited address joins: a person signed in with it accepts; a person
    signed in with another address is told so (403 to a POST) and nothing changes; a
    visitor registers with the invited address, or signs in first if it has an account."""
    invitation = memberships.find_invitation(db.session, secret)
    if invitation is None:
        return render_template("marketplace/invitation_invalid.html"), 404
    form = AcceptInvitationForm()
    page = {
        "invitation": invitation,
        "form": form,
        "has_account": memberships.invitee_has_account(db.session, invitation),
        "login_url": url_for("accounts.login", next=request.path),
    }
    if current_user.is_authenticated and not memberships.is_invitee(invitation, current_user):
        status = 403 if request.method == "POST" else 200
        return render_template("marketplace/invitation.html", wrong_person=True, **page), status
    if request.method == "POST":
        try:
            with db.session.begin_nested():
                if current_user.is_authenticated:
                    user = current_user._get_current_object()
                elif form.validate_on_submit():
                    user = services.create_user(
                        db.session,
                        email=invitation.email,
                        name=form.name.data or "",
                        password=form.password.data or "",
                        locale=session.get("lang", current_app.config["BABEL_DEFAULT_LOCALE"]),
                    )
                else:
                    user = None
                if user is not None:
                    memberships.accept_invitation(db.session, invitation, user)
        except DomainError as exc:
            show_error(form, exc)
        else:
            if user is not None:
                if not current_user.is_authenticated:
                    sign_in(user)
                session["org_id"] = invitation.organization_id
                flash(_("You joined %(org)s.", org=invitation.organization.name), "success")
                return redirect(url_for("accounts.dashboard"))
    return render_template("marketplace/invitation.html", wrong_person=False, **page)


# --- API tokens ---------------------------------------------------------------------------


@bp.route("/tokens", methods=["GET", "POST"])
@org_required()
def tokens() -> str | Response:
    form = TokenForm()
    new_secret = None
    if request.method == "POST" and form.validate_on_submit():
        try:
            with db.session.begin_nested():
                _token, new_secret = services.create_token(
                    db.session,
                    user=g.actor.user,
                    organization=g.actor.organization,
                    name=form.name.data or "",
                )
        except DomainError as exc:
            show_error(form, exc)
        else:
            form = TokenForm(formdata=None)
    return render_template(
        "marketplace/tokens.html",
        form=form,
        new_secret=new_secret,
        tokens=services.visible_tokens(db.session, g.actor),
    )


@bp.post("/tokens/<int:token_id>/revoke")
@org_required()
def revoke_token(token_id: int) -> Response:
    token = db.session.get(ApiToken, token_id)
    if token is None or token not in services.visible_tokens(db.session, g.actor):
        abort(404)
    services.revoke_token(db.session, token, actor=g.actor)
    flash(_("Token %(prefix)s… revoked.", prefix=token.prefix), "info")
    return redirect(url_for("accounts.tokens"))
