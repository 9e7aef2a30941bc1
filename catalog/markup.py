"""Vendor-written Markdown, rendered to safe HTML (nh3 allow-list) or to plain text."""

from __future__ import annotations

import functools

import markdown
import nh3
from markupsafe import Markup

ALLOWED_TAGS = {
    "p",
    "br",
    "strong",
    "em",
    "ul",
    "ol",
    "li",
    "h2",
    "h3",
    "h4",
    "blockquote",
    "code",
    "pre",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "hr",
    "a",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}


@functools.lru_cache(maxsize=2048)
def render_markdown(text: str) -> Markup:
    """Markdown to HTML that can carry no script, style, frame or event handler. Cached:
    the solution page renders its description twice (the page, and detail_dict), and the
    profile of bench/load.py showed Markdown as the largest single cost of the page."""
    html = markdown.markdown(text or "", extensions=["tables", "sane_lists"])
    clean = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="nofollow noopener noreferrer",
    )
    return Markup(clean)


def plain_text(text: str) -> str:
    """The words of a Markdown text, for the search index and snippets."""
    html = markdown.markdown(text or "")
    return " ".join(nh3.clean(html, tags=set()).split())
