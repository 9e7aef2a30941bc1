"""Outgoing e-mail over SMTP, when ``MAIL_SERVER`` is configured; otherwise nothing is sent.

Mail is never sent inside a transaction: :func:`queue_mail` records it in the outbox with
the change that needs it, and the worker hands it to the SMTP server after the commit
(:func:`deliver`, retried with backoff while the server is down).
"""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from typing import Any

from flask import current_app
from sqlalchemy.orm import Session

from marketplace import outbox

KIND = "mail"


def mail_enabled() -> bool:
    return bool(current_app.config.get("MAIL_SERVER"))


def queue_mail(
    session: Session, to: str, subject: str, body: str, *, dedupe_key: str | None = None
) -> bool:
    """Queue a plain-text message in the caller's transaction; True when it will be sent
    (mail is configured and no message with this key was queued before)."""
    if not mail_enabled():
        return False
    payload = {"to": to, "subject": subject, "body": body}
    key = f"{KIND}:{dedupe_key}" if dedupe_key else None
    return outbox.enqueue(session, KIND, payload, dedupe_key=key) is not None


def deliver(payload: dict[str, Any]) -> None:
    """The outbox handler: hand the message to the SMTP server, or raise (the job is
    retried)."""
    config = current_app.config
    if not mail_enabled():
        return  # mail was switched off since it was queued
    message = EmailMessage()
    message["From"] = config["MAIL_FROM"]
    message["To"] = payload["to"]
    message["Subject"] = payload["subject"]
    message.set_content(payload["body"])
    with smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=10) as smtp:
        if config.get("MAIL_USE_TLS"):
            smtp.starttls()
        if config.get("MAIL_USERNAME"):
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"] or "")
        smtp.send_message(message)
