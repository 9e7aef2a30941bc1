"""What a listing may promise about paying, derived from its plans and nothing else.

A listing never claims a free trial or "no upfront payment" on its own say-so: the solution
page, the cards, the compare view, the landing pages and the API all read these claims,
computed from the published plans:

- a free trial of N days when a subscription plan has a trial (N is the longest one);
- pay after use (先用后付) when a usage plan is offered: it is invoiced in arrears;
- pay for results (效果付费) when an outcome plan is offered: only confirmed results are
  invoiced;
- no upfront payment only when some plan really needs none at the start: a subscription with
  a trial, a usage plan or an outcome plan. A subscription without a trial is invoiced in
  advance, at the start of its first period, so a listing of only such plans claims nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from flask_babel import gettext as _
from flask_babel import ngettext

from catalog.models import BillingModel


class PlanTerms(Protocol):
    billing_model: BillingModel
    trial_days: int


@dataclass(frozen=True)
class PaymentClaims:
    trial_days: int  # the longest free trial of a subscription plan; 0 for none
    pay_after_use: bool
    pay_for_results: bool
    no_upfront_payment: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def sentences(self) -> list[str]:
        """The claims in words, in the request's language; empty when there are none."""
        return claim_sentences(self.as_dict())


def payment_claims(plans: Iterable[PlanTerms]) -> PaymentClaims:
    trial_days = 0
    pay_after_use = pay_for_results = False
    for plan in plans:
        if plan.billing_model is BillingModel.SUBSCRIPTION:
            trial_days = max(trial_days, plan.trial_days or 0)
        elif plan.billing_model is BillingModel.USAGE:
            pay_after_use = True
        elif plan.billing_model is BillingModel.OUTCOME:
            pay_for_results = True
    return PaymentClaims(
        trial_days=trial_days,
        pay_after_use=pay_after_use,
        pay_for_results=pay_for_results,
        no_upfront_payment=trial_days > 0 or pay_after_use or pay_for_results,
    )


def claim_sentences(claims: dict[str, Any]) -> list[str]:
    """The words for claims as the API and the cards carry them (``PaymentClaims.as_dict``)."""
    sentences = []
    if claims["no_upfront_payment"]:
        sentences.append(_("No upfront payment"))
    if claims["trial_days"]:
        days = claims["trial_days"]
        sentences.append(ngettext("%(num)d-day free trial", "%(num)d-day free trial", days))
    if claims["pay_after_use"]:
        sentences.append(_("Pay after use, invoiced monthly"))
    if claims["pay_for_results"]:
        sentences.append(_("Pay only for confirmed results"))
    return sentences
