"""Chinese by default, English on request, and every message has a Chinese translation."""

from __future__ import annotations

from pathlib import Path

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests.factories import create_org, create_user, login

ROOT = Path(__file__).resolve().parents[2]


def test_chinese_is_the_default(client: FlaskClient) -> None:
    page = client.get("/login").get_data(as_text=True)
    assert '<html lang="zh-CN">' in page
    assert "登录" in page


def test_switch_to_english_and_back(client: FlaskClient) -> None:
    response = client.post("/language", data={"lang": "en", "next": "/login"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")
    page = client.get("/login").get_data(as_text=True)
    assert '<html lang="en">' in page and "Sign in" in page and "登录" not in page
    client.post("/language", data={"lang": "zh_CN"})
    assert "登录" in client.get("/login").get_data(as_text=True)


def test_unknown_language_is_ignored(client: FlaskClient) -> None:
    client.post("/language", data={"lang": "fr"})
    assert '<html lang="zh-CN">' in client.get("/").get_data(as_text=True)


def test_language_choice_is_kept_on_the_account(app, client: FlaskClient, session: Session) -> None:
    user = create_user(session)
    create_org(session, owner=user)
    login(client, user)
    client.post("/language", data={"lang": "en"})
    session.refresh(user)
    assert user.locale == "en"
    fresh = app.test_client()
    login(fresh, user)
    assert '<html lang="en">' in fresh.get("/dashboard").get_data(as_text=True)


def extracted_messages() -> set[str]:
    """The msgids in the code and templates as they are now (babel.cfg, the same keywords)."""
    from babel.messages.extract import extract_from_dir
    from babel.messages.frontend import parse_mapping_cfg

    with (ROOT / "babel.cfg").open() as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None}
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        ROOT, method_map, options_map, keywords=keywords
    ):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def test_every_message_has_a_chinese_translation() -> None:
    from babel.messages.pofile import read_po

    po = ROOT / "marketplace" / "translations" / "zh_CN" / "LC_MESSAGES" / "messages.po"
    with po.open("rb") as handle:
        catalog = read_po(handle)
    # A plural entry's id is (singular, plural); the code is searched by the singular.
    translated = {
        m.id[0] if isinstance(m.id, tuple) else m.id
        for m in catalog
        if m.id and m.string and not m.fuzzy
    }
    missing = sorted(extracted_messages() - translated)
    assert not missing, "run scripts/i18n.py extract/update and translate: " + repr(missing[:20])
