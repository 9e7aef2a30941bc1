"""Whole pages cached for visitors who are not signed in.

The storefront's public pages (home, search, a solution, the landing pages) are the same
for every anonymous visitor in one language, and most of their cost is running the search
and rendering the cards. Each worker keeps the pages it rendered for a short while, keyed
by the path with its query string, the language and a *version* the package that owns the
page provides (the catalog gives the search index's generation, which changes with every
listing published, edited or delisted): a change shows at once, and anything else the
page shows (ratings, say) is at most ``ttl`` seconds old.

A page is cached only when nothing in it belongs to the visitor: nobody is signed in, no
message is waiting to be flashed, and the answer is a plain 200 HTML page that sets no
cookie. Signed-in people always get a fresh page.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from flask import Flask, Response, g, request, session
from flask_babel import get_locale
from flask_login import current_user

HEADERS = ("Content-Type", "Content-Language", "Vary")


@dataclass(frozen=True)
class _Entry:
    body: bytes
    headers: tuple[tuple[str, str], ...]
    stored_at: float


class PageCache:
    def __init__(self, *, max_entries: int = 256, ttl: float = 60.0) -> None:
        self.max_entries = max_entries
        self.ttl = ttl
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self._versions: dict[str, Callable[[], Hashable]] = {}

    def cache(self, endpoint: str, version: Callable[[], Hashable]) -> None:
        """Cache the anonymous pages of ``endpoint`` under ``version()``."""
        self._versions[endpoint] = version

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def install(self, app: Flask) -> None:
        app.extensions["marketplace.pagecache"] = self
        app.before_request(self._serve)
        app.after_request(self._store)

    def _key(self) -> Hashable | None:
        version = self._versions.get(request.endpoint or "")
        if (
            version is None
            or request.method != "GET"
            or current_user.is_authenticated
            or session.get("_flashes")
        ):
            return None
        try:
            current = version()
        except Exception:  # the source is failing: serve fresh pages, which say so
            return None
        return (request.full_path, str(get_locale()), current)

    def _serve(self) -> Response | None:
        key = self._key()
        g.page_cache_key = key
        if key is None:
            return None
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and time.monotonic() - entry.stored_at < self.ttl:
                self._entries.move_to_end(key)
            else:
                entry = None
        if entry is None:
            return None
        g.page_cache_hit = True
        response = Response(entry.body, status=200, headers=list(entry.headers))
        response.headers["X-Page-Cache"] = "hit"
        return response

    def _store(self, response: Response) -> Response:
        key = g.pop("page_cache_key", None)
        if key is None or g.pop("page_cache_hit", False):
            return response
        if (
            response.status_code != 200
            or response.mimetype != "text/html"
            or response.direct_passthrough
            or "Set-Cookie" in response.headers
            or session.modified
            or session.get("_flashes")
        ):
            return response
        entry = _Entry(
            response.get_data(),
            tuple((name, response.headers[name]) for name in HEADERS if name in response.headers),
            time.monotonic(),
        )
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        response.headers["X-Page-Cache"] = "miss"
        return response
