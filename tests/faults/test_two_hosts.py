"""Two app hosts on one PostgreSQL: what one publishes or delists, the other's search and
its anonymous cached pages show within 2 seconds; a host that was down catches up.

Each host is a real gunicorn (two workers sharing the host's index folder) with an index
folder of its own; the page cache is the Redis they share (a key prefix of this test's
own). The operator acts through host A's console pages; the other hosts learn of it only
through the search log in the database.
"""

from __future__ import annotations

import http.cookiejar
import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest
import redis
import sqlalchemy as sa
from sqlalchemy.orm import Session

from catalog import services
from marketplace.db import make_engine
from tests.catalog.factories import create_solution, operator_actor, vendor_actor
from tests.conftest import POSTGRES_URL
from tests.factories import PASSWORD
from tests.faults.conftest import cli_env, migrated, postgres_databases, run_cli
from tests.faults.test_card_charge_killed import Gunicorn

pytestmark = [
    pytest.mark.slow,
    pytest.mark.postgres,
    pytest.mark.skipif(not POSTGRES_URL, reason="needs PostgreSQL (DATABASE_URL)"),
]

REDIS_URL = "redis://127.0.0.1:6379/0"
FOLLOW_SECONDS = 2.0  # the promise


def database_name() -> str:
    """A database of this test's own, named after the one DATABASE_URL names."""
    assert POSTGRES_URL
    return f"{sa.make_url(POSTGRES_URL).database}_hosts"


class Browser:
    """A visitor of one host, with cookies; anonymous until it signs in."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
            _NoRedirect(),
        )

    def get(self, path: str) -> tuple[int, dict[str, str], str]:
        return self._open(urllib.request.Request(self.base + path))

    def post(self, path: str, form: dict[str, str]) -> tuple[int, dict[str, str], str]:
        data = urllib.parse.urlencode(form).encode()
        return self._open(urllib.request.Request(self.base + path, data=data, method="POST"))

    def _open(self, request: urllib.request.Request) -> tuple[int, dict[str, str], str]:
        try:
            with self.opener.open(request, timeout=30) as answer:
                return answer.status, dict(answer.headers), answer.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read().decode()

    def csrf(self, path: str) -> str:
        status, _headers, page = self.get(path)
        match = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page)
        assert status == 200 and match, f"no CSRF token on {path} ({status})"
        return match.group(1)

    def sign_in(self, email: str) -> None:
        token = self.csrf("/login")
        status, _h, page = self.post(
            "/login", {"csrf_token": token, "email": email, "password": PASSWORD}
        )
        assert status == 302, page[-2000:]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def api_slugs(base: str) -> tuple[int, list[str]]:
    """What the host's search index holds: the API's total (counted by the index) and the
    slugs of the listings it shows."""
    with urllib.request.urlopen(f"{base}/api/v1/solutions?per_page=50", timeout=30) as answer:
        body = json.loads(answer.read())
    return body["total"], sorted(item["slug"] for item in body["items"])


def within(seconds: float, check: Callable[[], bool], what: str) -> float:
    """Seconds until ``check()`` holds; fails after ``seconds``."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < seconds, f"not within {seconds} s: {what}"
        time.sleep(0.05)
    return time.monotonic() - started


@contextmanager
def host(url: str, workdir: Path, prefix: str) -> Iterator[Gunicorn]:
    env = cli_env(url, workdir)
    env.update(
        MARKETPLACE_RATELIMIT_STORAGE_URI="database://",  # two workers: a shared store
        MARKETPLACE_SESSION_COOKIE_SECURE="false",  # plain HTTP on loopback
        MARKETPLACE_CACHE_URL=REDIS_URL,
        MARKETPLACE_CACHE_KEY_PREFIX=prefix,
    )
    server = Gunicorn(env, workdir / "gunicorn.log", workers=2)
    try:
        yield server
    finally:
        server.stop()


def seed(url: str) -> dict[str, Any]:
    """An operator, a verified vendor and two listings waiting for review."""
    engine = make_engine(url)
    with Session(engine) as session:
        operator = operator_actor(session)
        vendor = vendor_actor(session)
        listings = []
        for name in ("两主机甲号质检云", "两主机乙号能耗云"):
            solution = create_solution(session, vendor, name=name)
            services.submit(session, solution, actor=vendor)
            listings.append(solution)
        session.commit()
        seeded = {
            "operator": operator.user.email,
            "ids": [s.id for s in listings],
            "slugs": [s.slug for s in listings],
        }
    engine.dispose()
    return seeded


def test_what_one_host_publishes_and_delists_the_others_show_within_two_seconds(
    tmp_path: Path,
) -> None:
    prefix = f"test-two-hosts:{uuid.uuid4().hex}:"
    cache = redis.Redis.from_url(REDIS_URL)
    with postgres_databases(database_name()) as (url,), ExitStack() as stack:
        migrated(url)
        seeded = seed(url)
        first, second = seeded["slugs"]
        workdirs = {name: tmp_path / name for name in "abc"}
        for workdir in workdirs.values():  # each host builds its index before it serves
            workdir.mkdir()
            assert "indexed 0" in run_cli(url, workdir, "catalog", "reindex")
        a = stack.enter_context(host(url, workdirs["a"], prefix))
        b = stack.enter_context(host(url, workdirs["b"], prefix))

        visitor_b = Browser(b.url)
        assert api_slugs(b.url) == (0, [])
        page = visitor_b.get("/search")
        assert page[0] == 200 and first not in page[2]
        assert visitor_b.get("/search")[1]["X-Page-Cache"] == "hit"  # cached, in Redis

        operator = Browser(a.url)
        operator.sign_in(seeded["operator"])
        listing = f"/console/listings/{seeded['ids'][0]}"
        status, _h, body = operator.post(
            f"{listing}/approve", {"csrf_token": operator.csrf(listing)}
        )
        assert status == 302, body[-2000:]

        within(FOLLOW_SECONDS, lambda: api_slugs(b.url) == (1, [first]), "B's search API")
        within(FOLLOW_SECONDS, lambda: first in visitor_b.get("/search")[2], "B's cached page")
        assert visitor_b.get(f"/solutions/{first}")[0] == 200

        status, _h, body = operator.post(
            f"{listing}/delist", {"csrf_token": operator.csrf(listing), "reason": "资质过期"}
        )
        assert status == 302, body[-2000:]
        within(FOLLOW_SECONDS, lambda: api_slugs(b.url) == (0, []), "B's search API")
        within(FOLLOW_SECONDS, lambda: first not in visitor_b.get("/search")[2], "B's page")
        assert visitor_b.get(f"/solutions/{first}")[0] == 404
        assert api_slugs(a.url) == (0, [])

        # While C was down (its index built before any of this), the second is published.
        listing = f"/console/listings/{seeded['ids'][1]}"
        status, _h, body = operator.post(
            f"{listing}/approve", {"csrf_token": operator.csrf(listing)}
        )
        assert status == 302, body[-2000:]
        c = stack.enter_context(host(url, workdirs["c"], prefix))
        assert api_slugs(c.url) == (1, [second])
        page = Browser(c.url).get("/search")
        assert second in page[2] and first not in page[2]
        within(FOLLOW_SECONDS, lambda: api_slugs(b.url) == (1, [second]), "B's search API")
    for name in cache.scan_iter(match=prefix + "*"):
        cache.delete(name)
