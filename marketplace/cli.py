"""The ``marketplace`` command (also ``flask --app wsgi``): database, organizations,
tokens, audit, and the demo."""

from __future__ import annotations

import sys

import click
import sqlalchemy as sa
from flask import Flask
from flask.cli import FlaskGroup, with_appcontext

from marketplace import audit, migrate, services
from marketplace.db import db
from marketplace.errors import DomainError
from marketplace.models import Organization, OrgKind, User


def main() -> None:
    """Entry point of the ``marketplace`` console script."""
    from marketplace import create_app

    group = FlaskGroup(create_app=lambda: create_app(), help=__doc__)
    group.main(prog_name="marketplace")


def _fail(error: DomainError) -> None:
    field = f" ({error.field})" if error.field else ""
    raise click.ClickException(f"{error.message}{field}")


@click.group("db", help="Database schema (Alembic).")
def db_group() -> None:
    pass


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@with_appcontext
def db_upgrade(revision: str) -> None:
    """Migrate the database to the latest schema."""
    migrate.upgrade(db.engine, revision)
    click.echo(f"database at {migrate.current(db.engine)}")


@db_group.command("downgrade")
@click.argument("revision")
@with_appcontext
def db_downgrade(revision: str) -> None:
    migrate.downgrade(db.engine, revision)


@db_group.command("revision")
@click.option("-m", "--message", required=True)
@with_appcontext
def db_revision(message: str) -> None:
    """Write a new migration from the difference between models and database."""
    migrate.revision(db.engine, message)


@db_group.command("current")
@with_appcontext
def db_current() -> None:
    click.echo(migrate.current(db.engine) or "empty")


@click.group("org", help="Organizations.")
def org_group() -> None:
    pass


@org_group.command("create")
@click.option(
    "--kind", type=click.Choice([k.value for k in OrgKind]), required=True, help="Organization kind"
)
@click.option("--name", required=True)
@click.option("--uscc", required=True, help="统一社会信用代码 (18 characters)")
@click.option("--region", "region_code", required=True, help="GB/T 2260 district code")
@click.option("--legal-representative", default="", show_default=False)
@click.option("--address", default="")
@click.option("--phone", "contact_phone", required=True)
@click.option("--email", "contact_email", required=True)
@click.option("--industry", "industry_code", default=None)
@click.option("--employees", type=int, default=None)
@click.option("--revenue-fen", "annual_revenue_fen", type=int, default=None)
@click.option("--owner-email", required=True, help="Owner's login; created when new")
@click.option("--owner-name", default=None)
@click.option("--owner-password", default=None, help="Needed when the owner is new")
@with_appcontext
def org_create(
    owner_email: str, owner_name: str | None, owner_password: str | None, **fields: object
) -> None:
    """Create an organization (government and platform ones are only made here)."""
    session = db.session
    try:
        owner = session.scalar(
            sa.select(User).where(User.email == services.normalize_email(owner_email))
        )
        if owner is None:
            if not owner_password:
                raise click.UsageError("--owner-password is needed for a new owner")
            owner = services.create_user(
                session, email=owner_email, name=owner_name or owner_email, password=owner_password
            )
        details = services.OrganizationDetails(kind=OrgKind(fields.pop("kind")), **fields)  # type: ignore[arg-type]
        org = services.register_organization(session, details, owner=owner)
    except DomainError as error:
        session.rollback()
        _fail(error)
    session.commit()
    click.echo(f"organization {org.id} ({org.kind.value}) {org.name}; owner {owner.email}")


@click.group("token", help="API tokens.")
def token_group() -> None:
    pass


@token_group.command("create")
@click.option("--email", required=True, help="The user the token acts as")
@click.option("--org", "org_ref", required=True, help="Organization id or USCC")
@click.option("--name", default="cli", show_default=True)
@with_appcontext
def token_create(email: str, org_ref: str, name: str) -> None:
    """Create an API token and print it (it is shown only this once)."""
    session = db.session
    user = session.scalar(sa.select(User).where(User.email == services.normalize_email(email)))
    if user is None:
        raise click.ClickException(f"no user {email}")
    where = Organization.id == int(org_ref) if org_ref.isdigit() else Organization.uscc == org_ref
    org = session.scalar(sa.select(Organization).where(where))
    if org is None:
        raise click.ClickException(f"no organization {org_ref}")
    try:
        _token, secret = services.create_token(session, user=user, organization=org, name=name)
    except DomainError as error:
        session.rollback()
        _fail(error)
    session.commit()
    click.echo(secret)


@click.group("audit", help="The hash-chained audit log.")
def audit_group() -> None:
    pass


@audit_group.command("verify")
@with_appcontext
def audit_verify() -> None:
    """Check every row of the audit chain; exit 1 naming the first row that does not match."""
    total = db.session.scalar(sa.select(sa.func.count()).select_from(audit.AuditEvent)) or 0
    with click.progressbar(length=total, label="verifying", file=sys.stderr) as bar:
        last = 0

        def progress(checked: int) -> None:
            nonlocal last
            bar.update(checked - last)
            last = checked

        result = audit.verify(db.session, progress=progress)
        bar.update(result.checked - last)
    if result.ok:
        click.echo(f"ok: {result.checked} rows, chain intact")
    else:
        click.echo(
            f"BROKEN at row {result.first_bad}: {result.reason} "
            f"({result.checked} rows good before it)"
        )
        sys.exit(1)


def init_app(app: Flask) -> None:
    from marketplace.demo import demo_command

    for command in (db_group, org_group, token_group, audit_group, demo_command):
        app.cli.add_command(command)
