"""A person's own sign-ins: the devices signed in to their account, signing one of them
out, signing out everywhere, and changing the password (which ends every session)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from marketplace import user_sessions
from marketplace.auth import current_session, sign_in, sign_out
from marketplace.db import db, utcnow
from marketplace.errors import DomainError
from marketplace.forms import ChangePasswordForm
from marketplace.models import SessionEnd, UserSession
from marketplace.views.accounts import show_error

bp = Blueprint("sessions", __name__, url_prefix="/account")


@bp.get("/sessions")
@login_required
def index() -> str:
    user = current_user._get_current_object()
    return render_template(
        "marketplace/sessions.html",
        sessions=user_sessions.live_sessions(db.session, user, now=utcnow()),
        this_session=current_session(),
        describe_agent=user_sessions.describe_agent,
        form=FlaskForm(),
    )


@bp.post("/sessions/<int:session_id>/end")
@login_required
def end(session_id: int) -> Response:
    record = db.session.get(UserSession, session_id)
    if record is None or record.user_id != current_user.id:
        abort(404)
    if record is current_session():
        sign_out()
        flash(_("You are signed out."), "info")
        return redirect(url_for("storefront.home"))
    user_sessions.end_for_user(db.session, record, user=current_user, now=utcnow())
    flash(_("That device is signed out."), "info")
    return redirect(url_for("sessions.index"))


@bp.post("/sessions/end-all")
@login_required
def end_all() -> Response:
    user = current_user._get_current_object()
    user_sessions.sign_out_everywhere(db.session, user, now=utcnow())
    sign_out(SessionEnd.EVERYWHERE)
    flash(_("You are signed out on every device, this one included."), "info")
    return redirect(url_for("storefront.home"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
def change_password() -> str | Response:
    form = ChangePasswordForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        remembered = bool((record := current_session()) and record.remember)
        try:
            with db.session.begin_nested():
                user_sessions.change_password(
                    db.session,
                    user,
                    current_password=form.current_password.data or "",
                    new_password=form.new_password.data or "",
                    now=utcnow(),
                )
        except DomainError as exc:
            show_error(form, exc)
        else:
            # Every session ended with the old password; this browser carries on in a new one.
            sign_out(SessionEnd.PASSWORD_CHANGED)
            sign_in(user, remember=remembered)
            flash(
                _("Your password is changed. Every other device has been signed out."),
                "success",
            )
            return redirect(url_for("sessions.index"))
    return render_template("marketplace/password.html", form=form)
