"""Billing endpoints of the JSON API (DESIGN.md section 6), one module per noun on one
blueprint (``billing_api``): contracts and their usage in :mod:`billing.api.contracts`,
invoices, payment and credit balances in :mod:`billing.api.invoices`; the answers' shapes,
shared with the other billing endpoints, in :mod:`billing.api.schemas`."""

from billing.api import contracts, invoices
from billing.api.blueprint import blp, commission_bp

__all__ = ["blp", "commission_bp", "contracts", "invoices"]
