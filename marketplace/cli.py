"""The ``marketplace`` command (also ``flask --app wsgi``): database, organizations,
tokens, audit, and the demo."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, NoReturn

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from marketplace import audit, audit_keys, checkpoints, migrate, services
from marketplace.db import db, utcnow
from marketplace.errors import DomainError
from marketplace.models import Organization, OrgKind, User


def main() -> None:
    """Entry point of the ``marketplace`` console script."""
    from marketplace import create_app

    group = FlaskGroup(create_app=lambda: create_app(), help=__doc__)
    group.main(prog_name="marketplace")


def _fail(error: DomainError) -> NoReturn:
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


@click.group("audit", help="The hash-chained audit log and its signed checkpoints.")
def audit_group() -> None:
    pass


@audit_group.command("verify")
@with_appcontext
def audit_verify() -> None:
    """Check every row of the audit chain against the signed checkpoints; exit 1 naming the
    first row or checkpoint that does not match."""
    total = db.session.scalar(sa.select(sa.func.count()).select_from(audit.AuditEvent)) or 0
    try:
        setup = checkpoints.setup_for(current_app)
    except audit_keys.AuditKeyError as error:
        raise click.ClickException(str(error)) from None
    with click.progressbar(length=total, label="verifying", file=sys.stderr) as bar:
        last = 0

        def progress(checked: int) -> None:
            nonlocal last
            bar.update(checked - last)
            last = checked

        result = checkpoints.verify(db.session, setup, progress=progress)
        bar.update(max(result.checked - last, 0))
    if result.ok:
        click.echo(
            f"ok: {result.checked} rows, chain intact, "
            f"{result.checkpoints_checked} signed checkpoints match"
        )
        if result.notice:
            click.echo(f"note: {result.notice}")
        return
    where = []
    if result.first_bad_checkpoint is not None:
        where.append(f"checkpoint {result.first_bad_checkpoint}")
    if result.first_bad is not None:
        where.append(f"row {result.first_bad}")
    click.echo(
        f"BROKEN at {', '.join(where) or 'the checkpoints'}: {result.reason} "
        f"({result.checked} rows proven good before it)"
    )
    sys.exit(1)


@audit_group.command("checkpoint")
@with_appcontext
def audit_checkpoint() -> None:
    """Sign the chain's head (nothing when it has not moved since the latest checkpoint)."""
    session = db.session
    try:
        setup, made_key = checkpoints.signing_setup(current_app)
        if made_key:
            click.echo(f"no audit key configured: made a development key at {made_key}")
        checkpoint = checkpoints.create(session, setup, now=utcnow())
    except audit_keys.AuditKeyError as error:
        raise click.ClickException(str(error)) from None
    except DomainError as error:
        session.rollback()
        _fail(error)
    session.commit()
    for path in checkpoints.write_missing_files(session, setup):
        click.echo(f"wrote {path}")
    if checkpoint is None:
        previous = checkpoints.latest(session)
        click.echo(
            f"no new rows since checkpoint {previous.sequence}"
            if previous
            else "the audit log is empty: nothing to sign"
        )
        return
    click.echo(
        f"checkpoint {checkpoint.sequence}: {checkpoint.row_count} rows, head row "
        f"{checkpoint.head_id}, key {checkpoint.key_id} -> {setup.folder / checkpoint.file_name}"
    )


@audit_group.command("verify-checkpoint")
@click.argument("checkpoint_file", type=click.File("rb"))
@click.option(
    "--public-key",
    required=True,
    help="The platform's audit public key: a PEM file, or its base64 text",
)
@click.option(
    "--against-database",
    is_flag=True,
    help="Also check that this database's chain still has the checkpoint's head",
)
@with_appcontext
def audit_verify_checkpoint(checkpoint_file: Any, public_key: str, against_database: bool) -> None:
    """Check a downloaded checkpoint file's signature (works offline)."""
    key_text = Path(public_key).read_text() if Path(public_key).is_file() else public_key
    try:
        document = json.loads(checkpoint_file.read())
        payload = audit_keys.verify_document(document, key_text)
    except (ValueError, AttributeError, audit_keys.AuditKeyError) as error:
        click.echo(f"NOT VALID: {error}")
        sys.exit(1)
    click.echo(
        f"signature good: checkpoint {payload['sequence']} of {payload['created_at']}, "
        f"{payload['count']} rows, head row {payload['head_id']} {payload['head_hash']}"
    )
    if against_database:
        anchor = audit.Anchor(
            payload["sequence"], payload["count"], payload["head_id"], payload["head_hash"]
        )
        result = audit.verify(db.session, anchors=[anchor])
        if not result.ok:
            click.echo(f"the database does NOT match: {result.reason}")
            sys.exit(1)
        click.echo(f"the database matches: {result.checked} rows, chain intact")


@audit_group.command("keygen")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Where to write the new private key (PEM, readable by its owner only)",
)
def audit_keygen(out: Path) -> None:
    """Make a new audit signing key; print its public key and id."""
    if out.exists():
        raise click.ClickException(f"{out} exists; choose a new file (rotation keeps the old one)")
    key = audit_keys.create_key_file(out).public_key()
    click.echo(f"private key: {out}")
    click.echo(f"key id:      {audit_keys.key_id(key)}")
    click.echo(f"public key:  {audit_keys.public_base64(key)}")
    click.echo(audit_keys.public_pem(key), nl=False)


def init_app(app: Flask) -> None:
    from marketplace.worker import worker_command

    for command in (db_group, org_group, token_group, audit_group, worker_command):
        app.cli.add_command(command)
