"""Whole pages cached for visitors who are not signed in.

The storefront's public pages (home, search, a solution, the landing pages) are the same
for every anonymous visitor in one language, and most of their cost is running the search
and rendering the cards. Rendered pages are kept for a short while, keyed by the path with
its query string, the language and a *version* the package that owns the page provides
(the catalog gives the search log position its index has reached, which moves with every
listing published, edited, rated or delisted on any host: see catalog/indexing.py): a
change shows at once, and anything else the page shows is at most ``ttl`` seconds old.

Where they are kept: in each worker's memory (:class:`MemoryStore`, the default), or, with
``CACHE_URL=redis://...``, in Redis shared by every worker and host (:class:`RedisStore`).
The version means the same on every host, so a page one host rendered at log position
``n`` is right for any host at ``n``. When Redis fails, pages are served fresh.

A page is cached only when nothing in it belongs to the visitor: nobody is signed in, no
message is waiting to be flashed, and the answer is a plain 200 HTML page that sets no
cookie. Signed-in people get a fresh page, built around *fragments* that are the same for
everyone (:class:`FragmentCache`): the results and facets of a search, the body of the home
page. Fragments live in the same store under their own prefix and the same version, so
what a signed-in person sees is exactly as fresh as what a visitor sees.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import redis
from flask import Flask, Response, current_app, g, request, session
from flask_babel import get_locale
from flask_login import current_user
from markupsafe import Markup, escape

log = logging.getLogger(__name__)
T = TypeVar("T")
HEADERS = ("Content-Type", "Content-Language", "Vary")
REDIS_TIMEOUT = 0.5  # seconds; a slow Redis must not be slower than rendering the page


@dataclass(frozen=True)
class _Entry:
    body: bytes
    headers: tuple[tuple[str, str], ...]
    stored_at: float


class Store(Protocol):
    def get(self, key: Hashable) -> _Entry | None: ...
    def put(self, key: Hashable, entry: _Entry) -> None: ...
    def clear(self) -> None: ...


class LRU(Generic[T]):
    """The newest ``size`` values of this process (rendered pieces whose key holds
    everything they show, so they never go stale; or the page store's entries)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, T] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> T | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: Hashable, value: T) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


class MemoryStore:
    """The newest ``max_entries`` pages of this process, each for ``ttl`` seconds."""

    def __init__(self, *, max_entries: int = 256, ttl: float = 60.0) -> None:
        self.ttl = ttl
        self._entries: LRU[_Entry] = LRU(max_entries)

    def get(self, key: Hashable) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is None or time.monotonic() - entry.stored_at >= self.ttl:
            return None
        return entry

    def put(self, key: Hashable, entry: _Entry) -> None:
        self._entries.put(key, entry)

    def clear(self) -> None:
        self._entries.clear()


class RedisStore:
    """Pages in Redis under ``prefix`` + a hash of the key, expiring after ``ttl`` seconds
    (Redis evicts by its own policy too). Stored as a JSON line of headers, then the body."""

    def __init__(self, url: str, *, prefix: str, ttl: float = 60.0) -> None:
        self.client = redis.Redis.from_url(
            url, socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT
        )
        self.prefix = prefix
        self.ttl = ttl

    def _name(self, key: Hashable) -> str:
        return self.prefix + hashlib.sha256(repr(key).encode()).hexdigest()

    def get(self, key: Hashable) -> _Entry | None:
        try:
            raw = self.client.get(self._name(key))
        except redis.RedisError as exc:
            log.warning("page cache: Redis unavailable (%s)", exc)
            return None
        if not isinstance(raw, bytes):
            return None
        head, _, body = raw.partition(b"\n")
        headers = tuple((str(name), str(value)) for name, value in json.loads(head))
        return _Entry(body, headers, time.monotonic())

    def put(self, key: Hashable, entry: _Entry) -> None:
        value = json.dumps(entry.headers).encode() + b"\n" + entry.body
        try:
            self.client.set(self._name(key), value, ex=max(1, math.ceil(self.ttl)))
        except redis.RedisError as exc:
            log.warning("page cache: Redis unavailable (%s)", exc)

    def clear(self) -> None:
        try:
            for name in self.client.scan_iter(match=self.prefix + "*", count=500):
                self.client.delete(name)
        except redis.RedisError as exc:
            log.warning("page cache: Redis unavailable (%s)", exc)


class FragmentCache:
    """Rendered pieces of pages that are the same for every viewer, under a version.

    ``render`` runs on a miss; what it returns is kept for ``ttl`` seconds under ``key``,
    the language and the version (a fragment of an older version is never served). When
    the version cannot be read (the source is failing), the fragment is rendered and not
    kept, so the page says what is wrong instead of showing something stale."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> FragmentCache:
        """Beside the pages (CACHE_URL's Redis, or this process's memory), under a prefix
        of its own. A results block is up to about 70 KB (20 cards and the facets), a
        solution page's content about 15 KB: in memory, 512 of them, some 35 MB a process."""
        return cls(store_from_config(config, suffix="fragments:", max_entries=512))

    def get_or_render(
        self, key: Hashable, version: Callable[[], Hashable], render: Callable[[], str]
    ) -> Markup:
        try:
            full = (key, str(get_locale()), version())
        except Exception:
            return Markup(render())
        entry = self.store.get(full)
        if entry is not None:
            return Markup(entry.body.decode())
        html = render()
        self.store.put(full, _Entry(html.encode(), (), time.monotonic()))
        return Markup(html)

    def clear(self) -> None:
        self.store.clear()


def store_from_config(
    config: Mapping[str, Any], *, suffix: str = "", max_entries: int = 256
) -> Store:
    """PAGE_CACHE_SECONDS long, in CACHE_URL's Redis (keys under CACHE_KEY_PREFIX +
    ``suffix``) when set, else in this process's memory (the newest ``max_entries``)."""
    ttl = float(config["PAGE_CACHE_SECONDS"])
    url = config.get("CACHE_URL")
    if not url:
        return MemoryStore(max_entries=max_entries, ttl=ttl)
    prefix = (config.get("CACHE_KEY_PREFIX") or "marketplace:pages:") + suffix
    return RedisStore(url, prefix=prefix, ttl=ttl)


def hole(name: str) -> Markup:
    """A place in a shared fragment for what belongs to the viewer (``fill`` puts it in),
    as edge-side includes do. Text from users is escaped, so it can never make one."""
    return Markup(f"<!--hole:{name}-->")


def fill(shared: Markup, **parts: str) -> Markup:
    """A shared fragment with its holes replaced by this viewer's parts (``Markup``, or
    text, which is escaped)."""
    html = str(shared)
    for name, part in parts.items():
        html = html.replace(str(hole(name)), str(escape(part)))
    return Markup(html)


def fragment(key: Hashable, version: Callable[[], Hashable], render: Callable[[], str]) -> Markup:
    """A fragment of the current app's cache (rendered fresh when caching is off)."""
    cache: FragmentCache | None = current_app.extensions.get("marketplace.fragments")
    if cache is None:
        return Markup(render())
    return cache.get_or_render(key, version, render)


class PageCache:
    def __init__(
        self, *, max_entries: int = 256, ttl: float = 60.0, store: Store | None = None
    ) -> None:
        self.ttl = ttl
        self.store: Store = store or MemoryStore(max_entries=max_entries, ttl=ttl)
        self._versions: dict[str, Callable[[], Hashable]] = {}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> PageCache:
        """PAGE_CACHE_SECONDS long, in CACHE_URL's Redis when set, else in memory."""
        return cls(ttl=float(config["PAGE_CACHE_SECONDS"]), store=store_from_config(config))

    def cache(self, endpoint: str, version: Callable[[], Hashable]) -> None:
        """Cache the anonymous pages of ``endpoint`` under ``version()``."""
        self._versions[endpoint] = version

    def clear(self) -> None:
        self.store.clear()

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
        entry = self.store.get(key)
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
        self.store.put(key, entry)
        response.headers["X-Page-Cache"] = "miss"
        return response
