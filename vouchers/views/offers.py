"""What vouchers mean for the signed-in enterprise, for any template (the dashboard and the
solution pages):

- ``voucher_offers()`` -> list[Offer]: the open programs it qualifies for, with what it
  could still ask for;
- ``price_after_voucher(plan)`` -> PriceAfterVoucher | None: the best subsidy on the plan's
  monthly price (``plan.monthly_equivalent_fen``) from a usable voucher in its wallet or an
  open program it qualifies for, so a page can say "costs ¥X after your cloud voucher".

Both answer nothing (an empty list, None) for anyone but an enterprise, and compute once
per request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import g

from catalog.models import Plan, VoucherKind
from marketplace.auth import web_actor
from marketplace.db import db, utcnow
from marketplace.models import Organization, OrgKind
from marketplace.money import apply_basis_points
from marketplace.sizeclass import SizeClass
from vouchers import eligibility, parties, programs, redemptions
from vouchers.models import Program
from vouchers.views.common import bp


@dataclass(frozen=True)
class Offer:
    program: Program
    available_fen: int  # the program's budget still to issue
    annual_remaining_fen: int  # what the enterprise may still receive this year

    @property
    def max_request_fen(self) -> int:
        return min(self.available_fen, self.annual_remaining_fen)


@dataclass(frozen=True)
class PriceAfterVoucher:
    price_fen: int  # the plan's monthly price
    subsidy_fen: int
    kind: VoucherKind
    program: Program
    voucher_code: str | None  # a voucher in the wallet; None: a program to apply to

    @property
    def after_fen(self) -> int:
        return self.price_fen - self.subsidy_fen

    @property
    def from_wallet(self) -> bool:
        return self.voucher_code is not None


def _enterprise() -> Organization | None:
    actor = web_actor()
    return actor.organization if actor is not None and actor.org_kind is OrgKind.SME else None


def voucher_offers() -> list[Offer]:
    """The open programs the signed-in enterprise qualifies for, most budget left first."""
    if "voucher_offers" in g:
        return g.voucher_offers
    offers: list[Offer] = []
    organization = _enterprise()
    if organization is not None:
        now = utcnow()
        for program in programs.open_programs(db.session, now):
            check = eligibility.check(db.session, program, organization, now)
            available = programs.figures(db.session, program).available_fen
            if check.ok and available > 0:
                offers.append(Offer(program, available, check.annual_cap_remaining_fen))
        offers.sort(key=lambda offer: (-offer.max_request_fen, offer.program.id))
    g.voucher_offers = offers
    return offers


def _in_pool(program: Program, vendor: Organization) -> bool:
    if program.vendor_whitelist:
        return vendor.id in program.vendor_whitelist
    return vendor.is_verified


def _usable_codes(buyer_id: int) -> list[str]:
    if "voucher_usable_codes" not in g:
        g.voucher_usable_codes = redemptions.usable_codes(db.session, buyer_id, utcnow())
    return g.voucher_usable_codes


def price_after_voucher(plan: Plan) -> PriceAfterVoucher | None:
    """The best single subsidy on the plan's monthly price for the signed-in enterprise,
    or None (not an enterprise, nothing to pay monthly, or no voucher applies)."""
    organization = _enterprise()
    price = plan.monthly_equivalent_fen
    if organization is None or not price:
        return None
    kinds = [str(kind) for kind in (plan.revision.voucher_kinds or [])]
    vendor = plan.solution.vendor
    if not kinds or parties.are_related(organization, vendor):
        return None
    best: PriceAfterVoucher | None = None
    line = redemptions.EligibleLine(
        solution_id=plan.solution_id, vendor_id=vendor.id, amount_fen=price, voucher_kinds=kinds
    )
    now = utcnow()
    for code in _usable_codes(organization.id):
        quoted = redemptions.quote(
            db.session, buyer_id=organization.id, lines=[line], codes=[code], now=now
        ).items[0]
        if quoted.voucher is not None and quoted.subsidy_fen > (best.subsidy_fen if best else 0):
            best = PriceAfterVoucher(
                price, quoted.subsidy_fen, quoted.voucher.kind, quoted.voucher.program, code
            )
    for offer in voucher_offers():
        program = offer.program
        if program.kind.value not in kinds or not _in_pool(program, vendor):
            continue
        limits = [apply_basis_points(price, program.ratio_bp), offer.max_request_fen, price]
        if program.invoice_cap_fen is not None:
            limits.append(program.invoice_cap_fen)
        subsidy = max(0, min(limits))
        if subsidy > (best.subsidy_fen if best else 0):
            best = PriceAfterVoucher(price, subsidy, program.kind, program, None)
    return best


@bp.app_context_processor
def voucher_helpers() -> dict[str, Any]:
    return {
        "voucher_offers": voucher_offers,
        "price_after_voucher": price_after_voucher,
    }


@bp.app_template_filter("size_class")
def size_label(value: str) -> str:
    """A size class value stored on a program ("small") in the reader's language."""
    try:
        return SizeClass(value).label
    except ValueError:
        return value
