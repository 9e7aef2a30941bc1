"""The navigation of every kind of person fits a 1280-pixel laptop screen in both
languages: no page scrolls sideways."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    "email",
    ["buyer@demo.local", "vendor@demo.local", "officer@demo.local", "operator@demo.local"],
)
def test_no_page_scrolls_sideways_at_1280_pixels(journey, email: str) -> None:
    person = journey()
    person.sign_in(email)
    for lang in ("en", "zh_CN"):  # ends in Chinese, the default
        switch = person.page.locator(f"button[name=lang][value={lang}]")
        if switch.count():
            with person.page.expect_navigation():
                switch.click()
        width = person.page.evaluate("document.documentElement.scrollWidth")
        assert width <= 1280, f"{email} in {lang}: the page is {width}px wide"
