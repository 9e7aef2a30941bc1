"""How the storefront names facet values (industries, scenarios, price bands, delivery,
payment models, voucher kinds) in the page's language: for listing pages, cards and the
solution page alike."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from catalog import taxonomy
from catalog.models import BillingModel, Delivery, VoucherKind
from marketplace.i18n import current_language

PRICE_BAND_LABELS = {
    "lt500": _l("Under ¥500 a month"),
    "500-2000": _l("¥500 to ¥2,000 a month"),
    "2000-10000": _l("¥2,000 to ¥10,000 a month"),
    "gte10000": _l("¥10,000 a month or more"),
    "none": _l("No fixed fee"),
}


def scenario_name(code: str) -> str:
    found = taxonomy.scenario(code)
    return found.name(current_language()) if found else code


def facet_label(facet: str, value: str) -> str:
    """How a facet value reads on the page, in the page's language."""
    if facet == "industry":
        found = taxonomy.industry(value)
        return found.name(current_language()) if found else value
    if facet == "scenario":
        return scenario_name(value)
    if facet == "price_band":
        return str(PRICE_BAND_LABELS.get(value, value))
    enum = {"delivery": Delivery, "billing_model": BillingModel, "voucher_kind": VoucherKind}[facet]
    try:
        return enum(value).label
    except ValueError:
        return value
