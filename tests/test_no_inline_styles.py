"""The Content-Security-Policy allows styles from our own files only (no 'unsafe-inline'),
so a `style` attribute in a template is silently dropped by the browser: line breaks in a
vendor's FAQ answer were lost that way. Templates use CSS classes instead."""

from __future__ import annotations

import re
from pathlib import Path

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests.catalog.factories import publish_solution

ROOT = Path(__file__).resolve().parent.parent
STYLE_ATTRIBUTE = re.compile(r"""<[^>]*\sstyle\s*=\s*["'{]""", re.S)


def test_no_template_has_a_style_attribute() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / "templates").rglob("*.html"))
        if STYLE_ATTRIBUTE.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_faq_answers_keep_their_line_breaks_under_the_csp(
    client: FlaskClient, session: Session
) -> None:
    faq = [{"question": "怎么部署？", "answer": "第一步：安装相机\n第二步：标注样本"}]
    solution = publish_solution(session, slug="faq-lines", faq=faq)
    session.commit()
    response = client.get(f"/solutions/{solution.slug}")
    policy = response.headers["Content-Security-Policy"]
    style_src = re.search(r"style-src ([^;]*)", policy)
    assert style_src and "'unsafe-inline'" not in style_src.group(1)
    page = response.get_data(as_text=True)
    answer = re.search(r"<p class=\"([^\"]*)\" data-faq-answer>([^<]*)</p>", page)
    assert answer and "text-pre-line" in answer.group(1).split()
    assert answer.group(2) == "第一步：安装相机\n第二步：标注样本"
    css = (ROOT / "marketplace/static/css/site.css").read_text(encoding="utf-8")
    assert re.search(r"\.text-pre-line\b[^{]*\{[^}]*white-space:\s*pre-line", css)
    assert not STYLE_ATTRIBUTE.search(page)
