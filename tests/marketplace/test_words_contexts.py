"""Every English word marked with a context (msgctxt) because it has two meanings keeps a
different Chinese word per meaning in the zh-CN catalog: a new context whose Chinese repeats
another meaning's ("Open" 待支付 for both the invoice status and the listing button) fails
here, whichever word it is, not only the pairs tests/marketplace/test_words.py names."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

ZH_CN = (
    Path(__file__).resolve().parents[2] / "marketplace/translations/zh_CN/LC_MESSAGES/messages.po"
)


def reused_translations(catalog: Catalog) -> list[str]:
    """Each msgid marked with a context whose meanings (contexts, and the context-free entry)
    share a Chinese translation."""
    meanings: dict[str, dict[str | None, str]] = defaultdict(dict)
    for message in catalog:
        if not message.id or not isinstance(message.id, str) or not message.string:
            continue
        meanings[message.id][message.context] = message.string
    problems = []
    for msgid, by_context in meanings.items():
        if not any(context for context in by_context):
            continue
        seen: dict[str, str | None] = {}
        for context, chinese in sorted(by_context.items(), key=lambda item: item[0] or ""):
            if chinese in seen:
                problems.append(f"{msgid!r}: {seen[chinese]!r} and {context!r} both read {chinese}")
            seen[chinese] = context
    return problems


def test_each_meaning_of_a_marked_word_has_its_own_chinese() -> None:
    with ZH_CN.open("rb") as handle:
        catalog = read_po(handle, locale="zh_CN")
    assert any(message.context for message in catalog), "no word is marked with a context"
    assert reused_translations(catalog) == []


def test_a_chinese_word_reused_for_two_meanings_is_found() -> None:
    catalog = Catalog(locale="zh_CN")
    catalog.add("Open", "待支付", context="invoice status")
    catalog.add("Open", "待支付", context="action")
    catalog.add("Time", "时间")
    catalog.add("Time", "时间", context="duration")
    catalog.add("Closed", "已关闭", context="inquiry status")
    catalog.add("Closed", "已结束")
    found = reused_translations(catalog)
    assert len(found) == 2 and "'Open'" in found[0] and "'Time'" in found[1]
