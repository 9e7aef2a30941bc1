"""Every page of every role's daily work fits a 390×844 phone: no page scrolls sideways, and
each main action (``data-main-action``) is inside the viewport once scrolled to.

The page list comes from the authorization matrix (``EXPECTED``): each role opens the pages
it may open that need no object in the URL, then every page it may open that one of those
pages links to (one URL per endpoint, so the contract, invoice, program... of the demo data).
A new page listed in the matrix and linked from a role's pages is checked without a change
here. Screenshots of each page land in tests/e2e/artifacts/<test>/.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

from devtools.demo.platform import DEMO_PASSWORD
from marketplace import create_app
from tests.e2e.conftest import ARTIFACTS
from tests.test_authorization_matrix import ANON, EXPECTED, SO, G, P, V

PHONE = {"width": 390, "height": 844}

ROLES = {
    "buyer@demo.local": SO,
    "vendor@demo.local": V,
    "officer@demo.local": G,
    "operator@demo.local": P,
    "": ANON,
}

# Files, feeds and forms that are not a page of anyone's day.
NOT_PAGES = re.compile(
    r"(_api\.|^api-docs\.|^static$|\.static$|_json$|healthz|export|evidence_file|screenshot$"
    r"|download|^accounts\.accept_invitation$)"
)

OVERFLOW = """() => {
  const width = window.innerWidth;
  const wide = [...document.querySelectorAll('body *')].filter((el) => {
    const box = el.getBoundingClientRect();
    return box.width > 0 && box.right > width + 1 && !el.closest('[data-scroll-x]');
  }).slice(0, 3).map((el) => el.tagName + '.' + el.className + ' ' + (el.textContent || '').trim().slice(0, 40));
  return {scroll: document.scrollingElement.scrollWidth, inner: width, wide};
}"""

MAIN_ACTIONS_OUTSIDE = """() => {
  const outside = [];
  for (const el of document.querySelectorAll('[data-main-action]')) {
    if (!el.offsetParent) continue;  // hidden on this page (another state's action)
    el.scrollIntoView({block: 'center', inline: 'nearest', behavior: 'instant'});
    const box = el.getBoundingClientRect();
    if (box.left < 0 || box.right > window.innerWidth || box.top < 0 || box.bottom > window.innerHeight
        || box.width === 0) {
      outside.push((el.textContent || el.value || '').trim() + ' at ' + Math.round(box.left) + '..' + Math.round(box.right));
    }
  }
  return outside;
}"""


SMALL_CHART_TEXT = """() => {
  const small = [];
  for (const svg of document.querySelectorAll('main svg[viewBox]')) {
    const drawn = svg.getBoundingClientRect().width;
    if (!drawn || !svg.viewBox.baseVal.width) continue;  // not shown on this screen
    const scale = drawn / svg.viewBox.baseVal.width;
    for (const text of svg.querySelectorAll('text')) {
      const size = parseFloat(getComputedStyle(text).fontSize) * scale;
      if (size < 11) small.push(text.textContent.trim() + ' at ' + size.toFixed(1) + 'px');
    }
  }
  return small.slice(0, 3);
}"""


def _page_endpoints(role: str) -> set[str]:
    return {
        endpoint
        for (method, endpoint), who in EXPECTED.items()
        if method == "GET" and role in who.split() and not NOT_PAGES.search(endpoint)
    }


@pytest.fixture(scope="module")
def routes(tmp_path_factory):
    """The app's routes, from an app of its own (nothing shared with the served site)."""
    tmp = tmp_path_factory.mktemp("phone-routes")
    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{tmp / 'routes.db'}",
            "SEARCH_INDEX_DIR": str(tmp / "index"),
            "UPLOAD_FOLDER": str(tmp / "uploads"),
        }
    )
    app.extensions["marketplace.db"].engine.dispose()
    return app.url_map.bind("127.0.0.1")


def _endpoint(routes, href: str) -> str | None:
    parts = urlsplit(href)
    try:
        endpoint, _ = routes.match(parts.path, method="GET")
    except (HTTPException, RequestRedirect):
        return None
    return endpoint


@pytest.mark.parametrize("email", list(ROLES), ids=lambda e: e.split("@")[0] or "visitor")
def test_every_daily_page_fits_a_phone(site, browser, routes, email: str) -> None:
    role = ROLES[email]
    allowed = _page_endpoints(role)
    folder = ARTIFACTS / f"phone-{email.split('@')[0] or 'visitor'}"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    context = browser.new_context(viewport=PHONE, locale="zh-CN", base_url=site.url)
    context.set_default_timeout(60_000)
    page = context.new_page()
    try:
        if email:
            page.goto("/login")
            page.fill("input[name=email]", email)
            page.fill("input[name=password]", DEMO_PASSWORD)
            page.click("main form button[type=submit]")
            page.wait_for_url("**/dashboard")
            switch = page.locator("button[name=lang][value=zh_CN]")
            if switch.count():
                with page.expect_navigation():
                    switch.click(force=True)
        queue = []
        for rule in routes.map.iter_rules():
            if rule.endpoint in allowed and not rule.arguments and "GET" in (rule.methods or ()):
                queue.append(rule.rule)
        seen_endpoints: set[str] = set()
        problems: list[str] = []
        checked = 0
        while queue:
            path = queue.pop(0)
            endpoint = _endpoint(routes, path)
            if endpoint is None or endpoint in seen_endpoints or endpoint not in allowed:
                continue
            seen_endpoints.add(endpoint)
            response = page.goto(path, wait_until="domcontentloaded")
            assert response is not None
            if "text/html" not in (response.headers.get("content-type") or ""):
                continue
            assert response.status < 400, (
                f"{email or 'visitor'} {path}: {response.status} {page.inner_text('body')[:300]}"
            )
            checked += 1
            page.screenshot(path=folder / f"{checked:02d}-{endpoint}.png", full_page=True)
            sizes = page.evaluate(OVERFLOW)
            if sizes["scroll"] > sizes["inner"]:
                problems.append(f"{path} ({endpoint}) is {sizes['scroll']}px wide: {sizes['wide']}")
            for text in page.evaluate(SMALL_CHART_TEXT):
                problems.append(f"{path} ({endpoint}): chart text {text}")
            for action in page.evaluate(MAIN_ACTIONS_OUTSIDE):
                problems.append(f"{path} ({endpoint}): main action {action} off-screen")
            for href in page.eval_on_selector_all(
                "a[href^='/']", "els => els.map(e => e.getAttribute('href'))"
            ):
                if _endpoint(routes, href) not in seen_endpoints:
                    queue.append(href.split("#")[0])
        assert checked >= (3 if email else 2), seen_endpoints
        assert not problems, "\n".join(problems)
    finally:
        context.close()


def test_search_filters_open_as_a_sheet_and_compare_fits_a_phone(site, browser) -> None:
    context = browser.new_context(viewport=PHONE, locale="zh-CN", base_url=site.url)
    page = context.new_page()
    try:
        page.goto("/search?q=质检")
        sheet = page.locator("#filters")
        assert not sheet.is_visible()
        page.click("[data-filters-open]")
        page.wait_for_selector("#filters.show")
        box = sheet.bounding_box()
        assert box is not None and box["width"] <= PHONE["width"]
        industry = page.locator("#filters a[href*='industry=']").first
        assert industry.is_visible()
        with page.expect_navigation():
            industry.click()
        slugs = page.eval_on_selector_all(
            "input[data-compare-slug]", "els => els.map(e => e.dataset.compareSlug)"
        )
        page.goto("/compare?" + "&".join(f"s={slug}" for slug in slugs[:3]))
        page.screenshot(path=ARTIFACTS / "phone-visitor" / "compare.png", full_page=True)
        sizes = page.evaluate(OVERFLOW)
        assert sizes["scroll"] <= sizes["inner"], sizes
    finally:
        context.close()
