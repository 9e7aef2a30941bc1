"""``marketplace catalog import`` and ``marketplace catalog reindex``."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext

from catalog import importer, indexing
from catalog.models import Solution
from marketplace.db import db
from marketplace.jsonapi import Actor
from marketplace.models import Membership, Organization, OrgKind, Role


@click.group("catalog", help="Solutions and the search index.")
def catalog_group() -> None:
    pass


def operator_actor() -> Actor:
    membership = db.session.scalar(
        sa.select(Membership)
        .join(Organization)
        .where(Organization.kind == OrgKind.PLATFORM, Membership.role == Role.OWNER)
        .order_by(Membership.id)
    )
    if membership is None:
        raise click.ClickException(
            "--publish needs a platform organization (marketplace org create --kind platform)"
        )
    return Actor(membership.user, membership.organization, membership.role)


@catalog_group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--vendor", "vendor_uscc", help="Vendor USCC for lines without vendor_uscc")
@click.option(
    "--publish", is_flag=True, help="Approve the listings at once (vendor must be verified)"
)
@with_appcontext
def import_command(path: Path, vendor_uscc: str | None, publish: bool) -> None:
    """Import solutions from a JSON Lines file: all lines, or none when any line is wrong."""
    session = db.session
    with path.open(encoding="utf-8") as handle:
        lines, errors = importer.check_lines(session, handle, default_vendor=vendor_uscc)
    if errors:
        for error in errors:
            click.echo(str(error), err=True)
        click.echo(f"{len(errors)} error(s); nothing was imported", err=True)
        session.rollback()
        sys.exit(1)
    publisher = operator_actor() if publish else None
    try:
        with click.progressbar(length=len(lines), label="importing", file=sys.stderr) as bar:
            for line in lines:
                importer.import_lines(session, [line], publish_as=publisher)
                bar.update(1)
    except Exception as exc:
        session.rollback()
        raise click.ClickException(f"{exc}; nothing was imported") from exc
    session.commit()
    click.echo(f"imported {len(lines)} solution(s){' and published them' if publish else ''}")


@catalog_group.command("reindex")
@with_appcontext
def reindex_command() -> None:
    """Rebuild the search index from the database (published solutions only)."""
    session = db.session
    total = session.scalar(
        sa.select(sa.func.count()).select_from(Solution).where(Solution.is_public)
    )
    with click.progressbar(length=total or 0, label="indexing", file=sys.stderr) as bar:
        last = 0

        def progress(done: int) -> None:
            nonlocal last
            bar.update(done - last)
            last = done

        count = indexing.reindex(session, indexing.search_index(current_app), progress=progress)
        bar.update(count - last)
    session.commit()
    click.echo(f"indexed {count} published solution(s)")
