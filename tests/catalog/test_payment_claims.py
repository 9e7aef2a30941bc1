"""The "no upfront payment" and "free trial" wording comes from the listing's own plans,
everywhere it is shown: the solution page, the cards, the compare view and the API."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from catalog.claims import payment_claims
from catalog.models import Solution
from tests.catalog.factories import OUTCOME, SUBSCRIPTION, USAGE, publish_solution

NO_TRIAL = {**SUBSCRIPTION, "trial_days": 0}
# plans -> (trial_days, pay_after_use, pay_for_results, no_upfront_payment)
CASES: dict[str, tuple[list[dict[str, Any]], tuple[int, bool, bool, bool]]] = {
    "subscription-with-trial": ([SUBSCRIPTION], (14, False, False, True)),
    "subscription-without-trial": ([NO_TRIAL], (0, False, False, False)),
    "usage-only": ([USAGE], (0, True, False, True)),
    "outcome-only": ([OUTCOME], (0, False, True, True)),
}


def publish(session: Session, plans: list[dict[str, Any]]) -> Solution:
    return publish_solution(session, plans=copy.deepcopy(plans))


def claims_shown(page: str) -> list[str]:
    return [
        re.sub(r"\s+", " ", m).strip() for m in re.findall(r"data-payment-claims>([^<]*)<", page)
    ]


@pytest.mark.parametrize("case", CASES)
def test_the_claims_follow_the_plans_in_the_api(
    client: FlaskClient, session: Session, case: str
) -> None:
    plans, (trial, after_use, results, no_upfront) = CASES[case]
    solution = publish(session, plans)
    assert payment_claims(solution.published.plans).as_dict() == {
        "trial_days": trial,
        "pay_after_use": after_use,
        "pay_for_results": results,
        "no_upfront_payment": no_upfront,
    }
    detail = client.get(f"/api/v1/solutions/{solution.slug}").get_json()
    assert detail["payment_claims"] == {
        "trial_days": trial,
        "pay_after_use": after_use,
        "pay_for_results": results,
        "no_upfront_payment": no_upfront,
    }


def test_a_subscription_without_trial_claims_nothing_free_anywhere(
    client: FlaskClient, session: Session
) -> None:
    solution = publish(session, [NO_TRIAL])
    client.post("/language", data={"lang": "en"})
    page = client.get(f"/solutions/{solution.slug}").get_data(as_text=True)
    for words in (
        "free trial",
        "No upfront payment",
        "No payment up front",
        "免费试用",
        "无需预付",
    ):
        assert words not in page
    compare = client.get(f"/compare?s={solution.slug}").get_data(as_text=True)
    assert "free trial" not in compare and "No upfront payment" not in compare


def test_each_page_shows_the_claims_its_plans_allow(client: FlaskClient, session: Session) -> None:
    trial = publish(session, [SUBSCRIPTION])
    usage = publish(session, [USAGE])
    outcome = publish(session, [OUTCOME])
    client.post("/language", data={"lang": "en"})
    page = client.get(f"/solutions/{trial.slug}").get_data(as_text=True)
    assert claims_shown(page) == ["No upfront payment · 14-day free trial"]
    page = client.get(f"/solutions/{usage.slug}").get_data(as_text=True)
    assert claims_shown(page) == ["No upfront payment · Pay after use, invoiced monthly"]
    assert "free trial" not in page
    page = client.get(f"/solutions/{outcome.slug}").get_data(as_text=True)
    assert claims_shown(page) == ["No upfront payment · Pay only for confirmed results"]
    assert "free trial" not in page

    compare = client.get(f"/compare?s={trial.slug}&s={usage.slug}&s={outcome.slug}").get_data(
        as_text=True
    )
    assert claims_shown(compare) == [
        "No upfront payment · 14-day free trial",
        "No upfront payment · Pay after use, invoiced monthly",
        "No upfront payment · Pay only for confirmed results",
    ]
