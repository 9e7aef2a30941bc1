"""The public storefront: home, search, landing pages, the solution page and its price
calculator, compare. Only published solutions are ever visible."""

from __future__ import annotations

import copy
import html
import re
import shutil
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from catalog import pricing, services
from catalog.models import Plan, Solution
from catalog.views.listing import INVALID_ARGUMENT
from marketplace.jsonapi import Actor
from tests.catalog.factories import (
    OUTCOME,
    SUBSCRIPTION,
    USAGE,
    create_solution,
    operator_actor,
    payload,
    publish_solution,
    vendor_actor,
)

GRADUATED = {
    **copy.deepcopy(USAGE),
    "tiers": [
        {"up_to": 1_000, "unit_fen": "2"},
        {"up_to": 10_000, "unit_fen": "1.5"},
        {"up_to": None, "unit_fen": "1"},
    ],
    "free_units": 100,
    "base_fee_fen": 9_900,
}
VOLUME = {
    **copy.deepcopy(GRADUATED),
    "name": "阶梯量价",
    "name_en": "Volume",
    "tier_mode": "volume",
}
CAPPED_OUTCOME = {**copy.deepcopy(OUTCOME), "cap_fen": 100_000}  # ¥1,000 a month at most


@dataclass
class Catalog:
    vendor: Actor
    operator: Actor
    quality: Solution  # 质检, SaaS, featured
    molding: Solution  # 质检 too, edge device, another industry
    energy: Solution  # 能耗, usage and outcome plans
    draft: Solution
    rejected: Solution
    delisted: Solution


def _content(name: str, name_en: str, summary: str, **overrides: object) -> dict[str, object]:
    return {
        "name": name,
        "name_en": name_en,
        "summary": summary,
        "summary_en": "",
        "description": f"{summary}\n\n- 标准化交付",
        "case_studies": [],
        **overrides,
    }


@pytest.fixture
def catalog(session: Session) -> Catalog:
    """Three published solutions and one draft, one rejected, one delisted (all about 质检),
    committed so the index follows as it does in production."""
    vendor = vendor_actor(session)
    vendor.organization.about = "专注工业视觉与能效的软件企业。"
    vendor.organization.about_en = "Industrial vision and energy software."
    operator = operator_actor(session)

    def publish(slug: str, **content: object) -> Solution:
        return publish_solution(session, vendor, operator, slug=slug, **content)

    quality = publish(
        "vision-qc",
        **_content(
            "AI视觉质检云",
            "AI Visual Quality Inspection",
            "用工业相机和深度学习自动检出表面划痕，漏检率低于0.5%。",
            industries=["C33", "C34"],
            scenarios=["pm.quality"],
            plans=[copy.deepcopy(SUBSCRIPTION), copy.deepcopy(GRADUATED)],
            case_studies=[
                {
                    "customer_industry": "C33",
                    "customer": "某五金件企业",
                    "problem": "人工目检漏检率高",
                    "result": "漏检率从3.2%降到0.4%",
                }
            ],
        ),
    )
    quality.featured = True
    molding = publish(
        "molding-qc",
        **_content(
            "注塑件外观质检一体机",
            "Molded part inspection station",
            "边缘一体机在产线旁完成注塑件外观质检。",
            industries=["C29"],
            scenarios=["pm.quality", "pm.execution", "pm.equipment"],
            delivery="edge",
            deploy_days=20,
            voucher_kinds=["compute"],
            plans=[{**copy.deepcopy(SUBSCRIPTION), "price_fen": 3_000_000}],
        ),
    )
    energy = publish(
        "energy-saver",
        **_content(
            "能耗管理与节能优化",
            "Energy management and savings",
            "电表数据接入后按设备分析能耗，找出浪费并按节能效果付费。",
            industries=["C26"],
            scenarios=["pm.energy"],
            plans=[copy.deepcopy(VOLUME), copy.deepcopy(CAPPED_OUTCOME)],
        ),
    )
    draft = create_solution(
        session, vendor, slug="draft-qc", **_content("质检草稿方案", "Draft QC", "草稿的质检方案。")
    )
    rejected = create_solution(
        session,
        vendor,
        slug="rejected-qc",
        **_content("质检被拒方案", "Rejected QC", "被拒的质检方案。"),
    )
    services.submit(session, rejected, actor=vendor)
    services.reject(session, rejected, actor=operator, note="价格不清楚")
    delisted = publish(
        "delisted-qc", **_content("质检下架方案", "Delisted QC", "已下架的质检方案。")
    )
    services.delist(session, delisted, actor=operator, reason="供应商要求")
    session.commit()
    return Catalog(vendor, operator, quality, molding, energy, draft, rejected, delisted)


def page(client: FlaskClient, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code)
    return response.get_data(as_text=True)


def card_slugs(text: str) -> list[str]:
    """Slugs of the solution cards on a page, in order."""
    return re.findall(
        r'<article class="card solution-card[^>]*>.*?href="/solutions/([^"]+)"', text, re.S
    )


def result_total(text: str) -> int:
    match = re.search(r'data-total="(\d+)"', text)
    assert match, "no result count on the page"
    return int(match.group(1))


def facet_links(text: str) -> list[tuple[str, str, str, int]]:
    """(facet, value, url, count) of every facet option on a listing page."""
    links = []
    for section in re.finditer(r'data-facet="([a-z_]+)">(.*?)</section>', text, re.S):
        for option in re.finditer(
            r'href="([^"]+)" data-value="([^"]+)".*?data-count="(\d+)"', section.group(2), re.S
        ):
            url, value, count = option.groups()
            links.append((section.group(1), value, html.unescape(url), int(count)))
    return links


UNPUBLISHED = ("draft-qc", "rejected-qc", "delisted-qc")


# --- home ------------------------------------------------------------------------------


def test_home_shows_groups_counts_featured_and_a_search_box(
    client: FlaskClient, catalog: Catalog
) -> None:
    text = page(client, "/")
    for group in (
        "研发设计",
        "生产制造",
        "仓储物流",
        "供应链",
        "营销服务",
        "经营管理",
        "算力与模型",
    ):
        assert group in text
    assert re.search(
        r'href="/scenarios/pm.quality">质量检测与追溯</a>\s*<span class="count" data-count="pm.quality">2<',
        text,
    )
    assert 'action="/search"' in text and 'name="q"' in text
    assert card_slugs(text)[0] == "vision-qc"  # featured first
    assert set(card_slugs(text)) == {"vision-qc", "molding-qc", "energy-saver"}
    # every industry is reachable, the ones with solutions first
    assert len(set(re.findall(r'href="/industries/([A-T]\d\d)"', text))) == 41
    assert text.index('href="/industries/C26"') < text.index('href="/industries/B06"')
    for char in "小快轻准":  # the badges explained
        assert f'aria-hidden="true">{char}</span>' in text
    assert "上云券" in text and "算力券" in text  # and voucher payment


# --- search ----------------------------------------------------------------------------


def test_search_finds_quality_inspection_not_energy(client: FlaskClient, catalog: Catalog) -> None:
    text = page(client, "/search?q=质检")
    assert set(card_slugs(text)) == {"vision-qc", "molding-qc"}
    assert result_total(text) == 2
    assert "<mark>质检</mark>" in text  # highlighted snippet
    text = page(client, "/search?q=能耗")
    assert card_slugs(text) == ["energy-saver"]


def test_filters_narrow_and_each_facet_count_is_the_total_after_clicking(
    client: FlaskClient, catalog: Catalog
) -> None:
    text = page(client, "/search?q=质检&industry=C29")
    assert card_slugs(text) == ["molding-qc"]
    links = facet_links(page(client, "/search?q=质检"))
    assert {facet for facet, *_ in links} == {
        "industry",
        "scenario",
        "delivery",
        "billing_model",
        "voucher_kind",
        "price_band",
    }
    for facet, value, url, count in links:
        assert f"{facet}={value}" in url and "q=" in url  # the query is kept
        after = page(client, url)
        assert result_total(after) == count, (facet, value)
        # the chosen value links back to "any" for that facet, keeping the query
        clear = re.search(rf'href="([^"]+)" data-clear="{facet}"', after)
        assert clear and f"{facet}=" not in html.unescape(clear.group(1))


def test_filters_combine_and_stay_in_the_url(client: FlaskClient, catalog: Catalog) -> None:
    text = page(client, "/search?scenario=pm.quality&delivery=saas&sort=price_asc")
    assert card_slugs(text) == ["vision-qc"]
    hrefs = [html.unescape(h) for h in re.findall(r'href="(/search\?[^"]+)"', text)]
    industry_link = next(h for h in hrefs if "industry=C33" in h)
    assert "scenario=pm.quality" in industry_link and "delivery=saas" in industry_link
    assert "sort=price_asc" in industry_link


def test_sort_by_price(client: FlaskClient, catalog: Catalog) -> None:
    # lowest monthly: ¥99 base fees (quality, energy) < ¥30,000 (molding)
    ascending = card_slugs(page(client, "/search?sort=price_asc"))
    descending = card_slugs(page(client, "/search?sort=price_desc"))
    assert ascending[-1] == "molding-qc" and descending[0] == "molding-qc"
    assert set(ascending) == {"vision-qc", "molding-qc", "energy-saver"}


def test_pages_keep_the_filters(
    client: FlaskClient, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("catalog.views.listing.PER_PAGE", 1)
    first = page(client, "/search?scenario=pm.quality&sort=newest")
    assert result_total(first) == 2 and len(card_slugs(first)) == 1
    next_page = html.unescape(re.search(r'href="([^"]+)" rel="next"', first).group(1))
    assert "scenario=pm.quality" in next_page and "sort=newest" in next_page
    second = page(client, next_page)
    assert card_slugs(second) != card_slugs(first)
    assert set(card_slugs(first) + card_slugs(second)) == {"vision-qc", "molding-qc"}
    beyond = page(client, "/search?scenario=pm.quality&page=9")
    assert card_slugs(beyond) == [] and 'href="/search?scenario=pm.quality"' in beyond


def test_did_you_mean_and_the_fuzzy_retry(client: FlaskClient, catalog: Catalog) -> None:
    text = page(client, "/search?q=inspecton")
    assert "data-fuzzy" in text  # nothing matched exactly: close matches, with a note
    assert set(card_slugs(text)) == {"vision-qc", "molding-qc"}
    text = page(client, "/search?q=inspectoin")
    assert "data-empty" in text  # too far for the retry, but
    assert re.search(r'href="/search\?q=inspection"', text)  # "did you mean" knows better
    assert "data-fuzzy" not in page(client, "/search?q=inspection")


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/search?industry=ZZZ", "industry"),
        ("/search?q=质检&page=abc", "page"),
        ("/search?scenario=nope", "scenario"),
    ],
)
def test_an_invalid_filter_is_a_friendly_page_not_a_500(
    app: Flask, client: FlaskClient, catalog: Catalog, url: str, field: str
) -> None:
    text = page(client, url, 422)
    assert '<html lang="zh-CN">' in text
    with app.test_request_context("/"):
        message = str(INVALID_ARGUMENT[field])  # in the page's language
    assert html.escape(message, quote=False) in text or message in text
    assert f'data-invalid="{field}"' in text
    assert "质量检测与追溯" in text  # suggestions to browse instead


def test_search_without_an_index_is_503_and_the_rest_works(
    app: Flask, client: FlaskClient, catalog: Catalog
) -> None:
    shutil.rmtree(Path(app.config["SEARCH_INDEX_DIR"]))
    text = page(client, "/search?q=质检", 503)
    assert "data-unavailable" in text
    assert "质检" in page(client, "/")  # no counts, featured still shown
    assert "vision-qc" in page(client, "/")
    page(client, "/solutions/vision-qc")
    page(client, "/industries/C33")


# --- only published solutions ----------------------------------------------------------


def test_unpublished_listings_never_appear(client: FlaskClient, catalog: Catalog) -> None:
    listings = [
        page(client, "/"),
        page(client, "/search?q=质检"),
        page(client, "/search"),
        page(client, "/scenarios/pm.quality"),
        page(client, "/industries/C33"),
        page(client, "/compare?" + "&".join(f"s={slug}" for slug in UNPUBLISHED)),
    ]
    for text in listings:
        for slug in UNPUBLISHED:
            assert f"/solutions/{slug}" not in text
        for name in ("质检草稿方案", "质检被拒方案", "质检下架方案"):
            assert name not in text
    for slug in UNPUBLISHED:
        page(client, f"/solutions/{slug}", 404)
        assert client.get(f"/solutions/{slug}/estimate?plan=1&quantity=1").status_code == 404


def test_a_delisted_solution_leaves_search_at_once(
    client: FlaskClient, session: Session, catalog: Catalog
) -> None:
    assert "energy-saver" in card_slugs(page(client, "/search?q=能耗"))
    services.delist(session, catalog.energy, actor=catalog.operator, reason="停止服务")
    session.commit()
    assert card_slugs(page(client, "/search?q=能耗")) == []
    page(client, "/solutions/energy-saver", 404)


# --- landing pages ---------------------------------------------------------------------


def test_industry_and_scenario_landing_pages(client: FlaskClient, catalog: Catalog) -> None:
    text = page(client, "/industries/C29")
    assert "塑料制品业" in text and card_slugs(text) == ["molding-qc"]
    assert 'data-facet="industry"' not in text  # the page's own filter
    text = page(client, "/scenarios/pm.quality?delivery=edge")
    assert "质量检测与追溯" in text and card_slugs(text) == ["molding-qc"]
    assert "生产制造" in text  # its group
    assert card_slugs(page(client, "/scenarios/pm.energy")) == ["energy-saver"]


@pytest.mark.parametrize("url", ["/industries/ZZZ", "/industries/c13", "/scenarios/pm.nothing"])
def test_unknown_taxonomy_codes_are_404(client: FlaskClient, url: str) -> None:
    page(client, url, 404)


# --- the solution page -----------------------------------------------------------------


def test_solution_page_shows_badges_vendor_plans_and_cases(
    client: FlaskClient, catalog: Catalog
) -> None:
    text = page(client, "/solutions/vision-qc")
    for badge in ("small", "fast", "light", "precise"):
        assert f'data-badge="{badge}" data-earned="yes"' in text
    assert "¥99.00" in text  # the lowest monthly price (a base fee), with fen
    assert catalog.vendor.organization.name in text and "专注工业视觉与能效的软件企业。" in text
    assert "上海市" in text  # the vendor's region
    assert "漏检率从3.2%降到0.4%" in text
    assert 'action="/solutions/vision-qc#calculator-' in text  # the calculator's no-JS form
    text = page(client, "/solutions/molding-qc")
    assert 'data-badge="light" data-earned="no"' in text
    assert 'data-badge="fast" data-earned="no"' in text
    assert 'data-badge="precise" data-earned="no"' in text


def _plan(solution: Solution, name_en: str) -> Plan:
    assert solution.published is not None
    return next(p for p in solution.published.plans if p.name_en == name_en)


@pytest.mark.parametrize("quantity", [0, 50, 1_000, 1_101, 12_345, 250_000, Decimal("1500.25")])
def test_calculator_matches_pricing_for_graduated_and_volume_plans(
    client: FlaskClient, catalog: Catalog, quantity: int | Decimal
) -> None:
    for solution, name_en in ((catalog.quality, "Pay as you go"), (catalog.energy, "Volume")):
        plan = _plan(solution, name_en)
        assert plan.tier_mode is not None
        expected = pricing.usage_charge(
            pricing.parse_tiers(plan.tiers or []),
            plan.tier_mode.value,
            quantity,
            free_units=plan.free_units,
            base_fee_fen=plan.base_fee_fen,
        )
        response = client.get(
            f"/solutions/{solution.slug}/estimate",
            query_string={"plan": plan.id, "quantity": quantity},
        )
        assert response.status_code == 200
        body = response.get_json()
        assert body["total_fen"] == expected
        assert sum(line["amount_fen"] or 0 for line in body["lines"]) == expected


def test_calculator_for_an_outcome_plan_applies_the_cap_and_base_fee(
    client: FlaskClient, catalog: Catalog
) -> None:
    plan = _plan(catalog.energy, "Pay for savings")
    url = f"/solutions/energy-saver/estimate?plan={plan.id}"
    # 50,000 kWh - 40,000 kWh = 10,000 kWh saved x 30 fen = ¥3,000, capped at ¥1,000, + ¥500
    body = client.get(f"{url}&baseline=50000&measured=40000").get_json()
    expected = pricing.outcome_charge(
        direction="decrease",
        baseline=Decimal(50000),
        measured=Decimal(40000),
        price_per_unit_fen=plan.price_per_unit_fen,
        cap_fen=plan.cap_fen,
        base_fee_fen=plan.base_fee_fen,
    )
    assert body["total_fen"] == expected == 100_000 + 50_000
    assert body["capped"] is True
    assert sum(line["amount_fen"] or 0 for line in body["lines"]) == expected
    small = client.get(f"{url}&baseline=50000&measured=49990.5").get_json()
    assert small["total_fen"] == round(Decimal("9.5") * 30) + 50_000 and small["capped"] is False
    worse = client.get(f"{url}&baseline=50000&measured=60000").get_json()
    assert worse["total_fen"] == 50_000  # no improvement, only the base fee


@pytest.mark.parametrize("quantity", ["-1", "abc", "1.2.3", "0.1234567", "", "9" * 14])
def test_calculator_refuses_bad_numbers(
    client: FlaskClient, catalog: Catalog, quantity: str
) -> None:
    plan = _plan(catalog.quality, "Pay as you go")
    response = client.get(f"/solutions/vision-qc/estimate?plan={plan.id}&quantity={quantity}")
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "validation_failed" and "quantity" in error["fields"]
    assert error["fields"]["quantity"] == [error["message"]] and error["message"]


def test_calculator_needs_a_plan_of_this_solution(client: FlaskClient, catalog: Catalog) -> None:
    other = _plan(catalog.energy, "Volume")
    assert (
        client.get(f"/solutions/vision-qc/estimate?plan={other.id}&quantity=5").status_code == 404
    )
    subscription = _plan(catalog.quality, "Standard")
    response = client.get(f"/solutions/vision-qc/estimate?plan={subscription.id}&quantity=5")
    assert response.status_code == 422 and "plan" in response.get_json()["error"]["fields"]
    outcome = _plan(catalog.energy, "Pay for savings")
    response = client.get(
        f"/solutions/energy-saver/estimate?plan={outcome.id}&baseline=x&measured=1"
    )
    assert response.status_code == 422 and "baseline" in response.get_json()["error"]["fields"]


def test_calculator_works_without_javascript(client: FlaskClient, catalog: Catalog) -> None:
    plan = _plan(catalog.quality, "Pay as you go")
    text = page(client, f"/solutions/vision-qc?plan={plan.id}&quantity=12,345")
    expected = pricing.usage_charge(
        pricing.parse_tiers(plan.tiers or []),
        "graduated",
        12_345,
        free_units=100,
        base_fee_fen=9_900,
    )
    assert expected == 27_545  # ¥99 base + (1,000 - 100 free) x 2 + 9,000 x 1.5 + 2,345 x 1 fen
    assert "¥275.45" in text
    text = page(client, f"/solutions/vision-qc?plan={plan.id}&quantity=-1", 422)
    assert "is-invalid" in text


def test_the_usage_counting_rule_is_said_where_buyers_read_prices(
    client: FlaskClient, catalog: Catalog
) -> None:
    """Free units first, tiers on the whole month, half-up per tier: on the plan card and
    beside the calculator, in both languages."""
    text = page(client, "/solutions/vision-qc")
    assert text.count("免费额度为当月最先使用的用量") >= 2  # the plan card and the calculator
    assert "四舍五入" in text
    client.post("/language", data={"lang": "en"})
    text = html.unescape(page(client, "/solutions/vision-qc"))
    assert text.count("the free units are the month’s first units") >= 2
    assert "rounded to the fen, half up" in text


def test_script_in_a_listing_is_inert(
    client: FlaskClient, session: Session, catalog: Catalog
) -> None:
    attack = "<script>alert(1)</script>"
    publish_solution(
        session,
        catalog.vendor,
        catalog.operator,
        slug="xss-qc",
        **_content(
            f"质检{attack}",
            f"QC {attack}",
            f"质检摘要{attack}<img src=x onerror=alert(2)>",
            description=f'# 标题\n\n{attack}\n\n<a href="javascript:alert(3)">link</a>',
        ),
    )
    session.commit()
    for url in ("/solutions/xss-qc", "/search?q=质检", "/search", "/scenarios/pm.quality"):
        text = page(client, url)
        assert attack not in text and "<img src=x" not in text
        assert "javascript:alert" not in text
        assert "&lt;script&gt;" in text


# --- compare ---------------------------------------------------------------------------


def test_compare_shows_at_most_four_with_a_message(
    client: FlaskClient, session: Session, catalog: Catalog
) -> None:
    extra = [
        publish_solution(session, catalog.vendor, catalog.operator, slug=f"extra-{n}", **payload())
        for n in range(2)
    ]
    session.commit()
    slugs = ["vision-qc", "molding-qc", "energy-saver", *(s.slug for s in extra)]
    text = page(client, "/compare?" + "&".join(f"s={slug}" for slug in slugs))
    assert "data-too-many" in text
    shown = re.findall(r'class="compare-name" href="/solutions/([^"]+)"', text)
    assert shown == slugs[:4]
    # removing one keeps the others in a shareable URL
    remove = html.unescape(
        re.search(r'href="([^"]+)" data-compare-remove="molding-qc"', text).group(1)
    )
    assert remove == "/compare?s=vision-qc&s=energy-saver&s=extra-0" or remove.count("s=") == 3
    shown = re.findall(r'class="compare-name" href="/solutions/([^"]+)"', page(client, remove))
    assert "molding-qc" not in shown and len(shown) == 3


def test_compare_lists_plans_badges_and_prices(client: FlaskClient, catalog: Catalog) -> None:
    text = page(client, "/compare?s=vision-qc&s=energy-saver&q=质检")
    assert "¥999.00" in text and "¥99.00" in text
    assert text.count('data-badge="small"') == 2
    # the no-JS add form offers the other 质检 listing, not those already compared
    add = re.findall(r'href="(/compare\?[^"]+)"[^>]*>[^<]*</a>\s*</li>', text)
    assert [html.unescape(a) for a in add] == ["/compare?s=vision-qc&s=energy-saver&s=molding-qc"]


# --- languages -------------------------------------------------------------------------


def test_english_pages_show_english_names(client: FlaskClient, catalog: Catalog) -> None:
    client.post("/language", data={"lang": "en"})
    text = page(client, "/search?q=能耗")
    assert "Energy management and savings" in text and "能耗管理与节能优化" not in text
    assert "Energy management" in page(client, "/")  # scenario names from the taxonomy
    text = page(client, "/solutions/vision-qc")
    assert (
        "AI Visual Quality Inspection" in text and "Industrial vision and energy software." in text
    )
    assert '<html lang="en">' in text
