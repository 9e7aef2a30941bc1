"""The billing pages (HTML). One blueprint, ``billing``, split by noun: contracts,
invoices, payments (card and bank transfer), ratings, notifications, the vendor's payable
balance and the operator's console. The rules live in the billing services; these views
load, authorize and call them."""

# The pay-for-results pages live with the rest of outcome billing; importing registers them.
from billing.outcomes import views as outcome_views  # noqa: F401
from billing.views import (  # noqa: F401  (importing registers the routes)
    bank_statements,
    contracts,
    delivery,
    documents,
    fapiao,
    fulfillment,
    invoices,
    notifications,
    operator,
    overdue,
    payment_links,
    payments,
    ratings,
    start,
    vendor,
)
from billing.views.common import bp

__all__ = ["bp"]
