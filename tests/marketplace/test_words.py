"""Words that read the same in English but mean two things carry a context (msgctxt), and
their Chinese must differ: "Open" the invoice status is 待支付, "Open" the listing button is
查看. The site also answers /favicon.ico."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import force_locale, pgettext

from billing.models import InvoiceStatus

ZH_CN = (
    Path(__file__).resolve().parents[2] / "marketplace/translations/zh_CN/LC_MESSAGES/messages.po"
)

# (context, msgid) pairs that must not share a Chinese translation.
MUST_DIFFER = [
    (("invoice status", "Open"), ("action", "Open")),
]


def _catalog():
    with ZH_CN.open("rb") as handle:
        return read_po(handle, locale="zh_CN")


@pytest.mark.parametrize("first, second", MUST_DIFFER)
def test_words_of_two_meanings_translate_differently(first, second) -> None:
    catalog = _catalog()
    one = catalog.get(first[1], context=first[0])
    other = catalog.get(second[1], context=second[0])
    assert one is not None and one.string, f"{first} is not in the Chinese catalog"
    assert other is not None and other.string, f"{second} is not in the Chinese catalog"
    assert one.string != other.string, f"{first} and {second} both read {one.string!r}"


def test_no_context_free_entry_hides_a_marked_word() -> None:
    """Once a word is marked with contexts, a stray context-free use would bring back the
    one translation for both meanings."""
    catalog = _catalog()
    for pair in MUST_DIFFER:
        for _context, msgid in pair:
            bare = catalog.get(msgid)
            assert bare is None or not bare.string, f"{msgid!r} is also used without a context"


def test_the_pages_use_each_meaning(app: Flask) -> None:
    with app.test_request_context(), force_locale("zh_CN"):
        assert InvoiceStatus.OPEN.label == "待支付"
        assert pgettext("action", "Open") == "查看"


def test_favicon_is_served(client: FlaskClient) -> None:
    with client.get("/favicon.ico") as response:
        assert response.status_code == 200
        assert response.mimetype == "image/vnd.microsoft.icon"
        assert response.data[:4] == b"\x00\x00\x01\x00"  # the ICO header
    assert b'rel="icon"' in client.get("/login").data
