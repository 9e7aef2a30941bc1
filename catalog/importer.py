"""``marketplace catalog import FILE.jsonl``: one solution with its plans per line.

Each line is a JSON object with the fields of the API (DESIGN.md section 6) plus
``vendor_uscc`` (or the command's ``--vendor``) and an optional ``slug``. The whole file is
checked first; any error names its line and field and nothing is imported.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from catalog import services
from catalog.models import Solution
from catalog.validation import SLUG, PlanTerms, SolutionContent, parse_plans, parse_solution
from marketplace.errors import DomainError
from marketplace.jsonapi import Actor
from marketplace.models import Membership, Organization, OrgKind, Role


@dataclass
class ImportLine:
    number: int
    vendor: Organization
    slug: str | None
    content: SolutionContent
    plans: list[PlanTerms]


@dataclass
class LineError:
    number: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"line {self.number}: {self.field}: {self.message}"


def check_lines(
    session: Session, lines: Iterable[str], *, default_vendor: str | None = None
) -> tuple[list[ImportLine], list[LineError]]:
    """Parse every line; return what would be imported and every error found."""
    parsed: list[ImportLine] = []
    errors: list[LineError] = []
    slugs: dict[str, int] = {}
    vendors: dict[str, Organization | None] = {}
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            errors.append(
                LineError(number, "_json", f"not valid JSON ({exc.msg} at column {exc.colno})")
            )
            continue
        if not isinstance(data, dict):
            errors.append(LineError(number, "_json", "each line must be a JSON object"))
            continue
        uscc = data.get("vendor_uscc") or default_vendor
        if not uscc:
            errors.append(LineError(number, "vendor_uscc", "missing (or pass --vendor)"))
            continue
        if uscc not in vendors:
            vendors[uscc] = session.scalar(
                sa.select(Organization).where(
                    Organization.uscc == uscc, Organization.kind == OrgKind.VENDOR
                )
            )
        vendor = vendors[uscc]
        if vendor is None:
            errors.append(LineError(number, "vendor_uscc", f"no vendor organization {uscc}"))
            continue
        slug = data.get("slug")
        if slug is not None:
            if not isinstance(slug, str) or not SLUG.match(slug):
                errors.append(LineError(number, "slug", "3-80 lower-case letters, digits, hyphens"))
                continue
            if slug in slugs:
                errors.append(LineError(number, "slug", f"repeats line {slugs[slug]}"))
                continue
            if session.scalar(sa.select(Solution.id).where(Solution.slug == slug)) is not None:
                errors.append(LineError(number, "slug", f"{slug} exists already"))
                continue
            slugs[slug] = number
        try:
            content = parse_solution(data)
            plans = parse_plans(data.get("plans"))
        except DomainError as exc:
            errors.append(LineError(number, exc.field or "_schema", str(exc.message)))
            continue
        parsed.append(ImportLine(number, vendor, slug, content, plans))
    return parsed, errors


def vendor_actor(session: Session, vendor: Organization) -> Actor:
    """Import acts as the vendor's owner, so the audit log shows whose listing it is."""
    membership = session.scalar(
        sa.select(Membership)
        .where(Membership.organization_id == vendor.id, Membership.role == Role.OWNER)
        .order_by(Membership.id)
    )
    if membership is None:
        raise DomainError(f"vendor {vendor.uscc} has no owner")
    return Actor(membership.user, vendor, membership.role)


def import_lines(
    session: Session, lines: list[ImportLine], *, publish_as: Actor | None = None
) -> list[Solution]:
    """Create the listings; with ``publish_as`` (an operator) submit and approve them too."""
    created = []
    for line in lines:
        actor = vendor_actor(session, line.vendor)
        solution = services.create_solution(
            session, actor=actor, content=line.content, plans=line.plans, slug=line.slug
        )
        if publish_as is not None:
            services.submit(session, solution, actor=actor)
            services.approve(session, solution, actor=publish_as)
        created.append(solution)
    return created
