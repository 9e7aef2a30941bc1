"""The billing pages (HTML). One blueprint, ``billing``, split by noun: contracts,
invoices, payments (card and bank transfer), ratings, notifications, the vendor's payable
balance and the operator's console. The rules live in the billing services; these views
load, authorize and call them."""

from billing.views import (  # noqa: F401  (importing registers the routes)
    bank_statements,
    contracts,
    delivery,
    documents,
    evidence,
    fapiao,
    fulfillment,
    invoices,
    notifications,
    operator,
    outcomes,
    overdue,
    payment_links,
    payments,
    ratings,
    start,
    vendor,
)
from billing.views.common import bp

__all__ = ["bp"]
