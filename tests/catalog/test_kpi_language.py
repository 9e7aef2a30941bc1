"""A pay-for-results plan's KPI reads in the page's language: its English name and unit on
English pages (plan card, price headline, calculator, estimate), the Chinese ones in Chinese."""

from __future__ import annotations

import copy

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests.catalog.factories import OUTCOME, publish_solution

SAVINGS = {
    **copy.deepcopy(OUTCOME),
    "kpi_name": "月用电量",
    "kpi_name_en": "Monthly electricity use",
    "kpi_unit": "千瓦时",
    "kpi_unit_en": "kWh",
}


def _page(client: FlaskClient, language: str, url: str) -> str:
    client.post("/language", data={"lang": language})
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.get_data(as_text=True)


def test_the_kpi_follows_the_page_language(client: FlaskClient, session: Session) -> None:
    solution = publish_solution(session, slug="kpi-words", plans=[copy.deepcopy(SAVINGS)])
    session.commit()
    (plan,) = solution.current.plans
    url = "/solutions/kpi-words"

    english = _page(client, "en", url)
    assert "/kWh improved" in english  # the price headline
    assert "Monthly electricity use, measured in kWh" in english  # the plan card
    assert "(kWh)" in english  # the calculator's labels
    assert "千瓦时" not in english and "月用电量" not in english
    estimate = client.get(f"{url}/estimate?plan={plan.id}&baseline=500&measured=400")
    assert "100 kWh" in str(estimate.get_json()["lines"])

    chinese = _page(client, "zh_CN", url)
    assert "/千瓦时" in chinese and "(千瓦时)" in chinese and "月用电量" in chinese
    assert "kWh" not in chinese and "Monthly electricity use" not in chinese
    estimate = client.get(f"{url}/estimate?plan={plan.id}&baseline=500&measured=400")
    assert "100 千瓦时" in str(estimate.get_json()["lines"])
