"""Load benchmark: the storefront under concurrent clients, served by gunicorn.

    python bench/load.py [--n 10000] [--clients 8,32,64] [--seconds 10] [--reuse]

Builds PostgreSQL database ``bench_load`` on the DATABASE_URL server (default
postgresql+psycopg://postgres@127.0.0.1:5432/) with N published solutions (the synthetic
corpus of bench/search.py, one to three plans each), indexes them, serves the app with
gunicorn on loopback (2 x cores workers, gthread), and drives it with ``wrk`` from a second
process: the home page, search with facets (Chinese queries with an industry filter), a
solution page, and /healthz (a trivial endpoint of the same app: the ceiling). For each page
and number of clients it prints requests per second, p50/p95/p99 latency and the page's
throughput as a share of /healthz's. Targets (issue 7): search p95 under 150 ms at 32
clients; the solution page at least 30% of /healthz's throughput.

Every page is driven twice: as an anonymous visitor (who may be served from the page
cache) and signed in as a buyer (a real session cookie from the login form; signed-in
people never get the page cache, so this is what every SME sees). Targets (issue 17), at
32 clients signed in: search >= 150 req/s with p95 <= 150 ms, home >= 150 req/s, the
solution page >= 30% of /healthz's throughput.

A page of search results is rendered once per address, language and catalog version and
shared by everyone (marketplace/pagecache.py, fragments), so the "search" row, six kinds
of search asked again and again, is served mostly from that block. The "search-varied" row
sends several hundred different searches (the judged queries of bench/search_judged.py, some
with an industry or a second page): what a search costs when the block has to be made.

``--reuse`` keeps the database and index of a previous run (seeding 10,000 takes a while).
``--profile PATH`` instead profiles one page through the test client (pyinstrument);
with ``--signed-in`` as the bench buyer. ``--modes anonymous`` or ``--modes signed-in``
drives only one of the two.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa

from bench.common import ROOT, gunicorn
from bench.search import generate
from bench.search_judged import JUDGED
from marketplace import create_app, migrate
from marketplace.db import make_engine, normalize_url

DATABASE = "bench_load"
BUYER_EMAIL = "bench-buyer@example.com"
BUYER_PASSWORD = "bench-buyer-password-2026"
# Flask-Login's strong session protection ties a session to the browser's User-Agent and
# address: the login and every request of wrk send the same one, from loopback.
USER_AGENT = "marketplace-bench/1"
WORKDIR = Path(tempfile.gettempdir()) / "bench-load"
SEARCHES = (
    "/search?q=质检&industry={industry}",
    "/search?q=能耗&industry={industry}",
    "/search?q=排产",
    "/search?q=设备维护&industry={industry}",
    "/search?q=质检&delivery=saas&voucher_kind=cloud",
    "/search?q=能耗&billing_model=subscription",
)

# Prints one JSON line with the figures wrk measured (latencies in microseconds).
WRK_SCRIPT = """
local paths = {%s}
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", paths[(n %% #paths) + 1])
end
done = function(summary, latency, requests)
  io.write(string.format(
    '{"requests": %%d, "seconds": %%f, "p50": %%d, "p95": %%d, "p99": %%d, ' ..
    '"errors": %%d, "non2xx": %%d}\\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(95),
    latency:percentile(99),
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
"""


def server_url() -> sa.URL:
    raw = os.environ.get("DATABASE_URL") or "postgresql+psycopg://postgres@127.0.0.1:5432/"
    return sa.make_url(normalize_url(raw))


def create_database() -> str:
    base = server_url()
    admin = make_engine(base.set(database="postgres").render_as_string(hide_password=False))
    with admin.execution_options(isolation_level="AUTOCOMMIT").connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        connection.exec_driver_sql(f'CREATE DATABASE "{DATABASE}"')
    admin.dispose()
    url = base.set(database=DATABASE).render_as_string(hide_password=False)
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    return url


def app_for(url: str):
    return create_app(
        {"DATABASE_URL": url, "SECRET_KEY": "bench", "SEARCH_INDEX_DIR": str(WORKDIR / "index")}
    )


def plans_for(doc: Any) -> list[dict[str, Any]]:
    from tests.catalog.factories import OUTCOME, SUBSCRIPTION, USAGE

    plans = []
    if doc.monthly_fen or "subscription" in doc.billing_models:
        plans.append({**SUBSCRIPTION, "price_fen": doc.monthly_fen or 99_900})
    if "usage" in doc.billing_models:
        plans.append(dict(USAGE))
    if "outcome" in doc.billing_models:
        plans.append(dict(OUTCOME))
    return plans


def seed(url: str, n: int) -> None:
    """N published solutions, inserted in bulk (the services would take an hour), then
    indexed with the reindex code."""
    from dataclasses import asdict

    from catalog import indexing
    from catalog.models import (
        Plan,
        RevisionStatus,
        Solution,
        SolutionRevision,
        SolutionStatus,
    )
    from catalog.validation import parse_plans
    from marketplace import services
    from marketplace.db import db, utcnow
    from tests.catalog.factories import vendor_actor

    services.PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"  # seeding only
    app = app_for(url)
    docs = generate(n, seed=7)
    rng = random.Random(7)
    with app.app_context():
        session = db.session
        vendors: dict[str, int] = {}
        for doc in docs:
            if doc.vendor_name not in vendors:
                vendors[doc.vendor_name] = vendor_actor(
                    session, name=doc.vendor_name
                ).organization.id
        session.commit()
        now = utcnow()
        for start in range(0, n, 1000):
            chunk = docs[start : start + 1000]
            ids = session.scalars(
                sa.insert(Solution).returning(Solution.id, sort_by_parameter_order=True),
                [
                    {
                        "vendor_id": vendors[d.vendor_name],
                        "slug": d.slug,
                        "status": SolutionStatus.PUBLISHED,
                        "featured": d.id % 997 == 0,
                        "created_at": d.published_at,
                        "published_at": d.published_at,
                        "delisted_reason": "",
                        "needs_reindex": False,
                    }
                    for d in chunk
                ],
            ).all()
            revision_ids = session.scalars(
                sa.insert(SolutionRevision).returning(
                    SolutionRevision.id, sort_by_parameter_order=True
                ),
                [
                    {
                        "solution_id": sid,
                        "number": 1,
                        "status": RevisionStatus.APPROVED,
                        "name": d.name[:60],
                        "name_en": d.name_en[:120],
                        "summary": d.summary[:200],
                        "summary_en": d.summary_en[:400],
                        "description": d.description,
                        "industries": list(d.industries),
                        "scenarios": list(d.scenarios),
                        "delivery": d.delivery,
                        "deploy_days": rng.choice((3, 5, 7, 14, 30)),
                        "voucher_kinds": list(d.voucher_kinds),
                        "case_studies": [],
                        "review_note": "",
                        "created_at": now,
                        "submitted_at": now,
                        "reviewed_at": now,
                    }
                    for sid, d in zip(ids, chunk, strict=True)
                ],
            ).all()
            session.execute(
                sa.update(Solution),
                [
                    {"id": sid, "published_revision_id": rid}
                    for sid, rid in zip(ids, revision_ids, strict=True)
                ],
            )
            plan_rows = [
                {**asdict(terms), "position": position, "revision_id": rid, "solution_id": sid}
                for sid, rid, d in zip(ids, revision_ids, chunk, strict=True)
                for position, terms in enumerate(parse_plans(plans_for(d)))
            ]
            session.execute(sa.insert(Plan), plan_rows)
            session.commit()
            print(f"seeded {start + len(chunk)} solutions", file=sys.stderr)
        ensure_buyer(session)
        session.commit()
        index = indexing.search_index(app)
        index.create()
        started = time.perf_counter()
        count = indexing.reindex(session, index)
        session.commit()
        print(f"indexed {count} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    app.extensions["marketplace.db"].engine.dispose()


def ensure_buyer(session: Any) -> None:
    """The SME whose session cookie drives the signed-in half."""
    from marketplace.models import OrgKind, User
    from tests.factories import create_org, create_user

    if session.scalar(sa.select(User.id).where(User.email == BUYER_EMAIL)) is None:
        buyer = create_user(session, email=BUYER_EMAIL, password=BUYER_PASSWORD, name="压测买家")
        create_org(session, OrgKind.SME, owner=buyer, name="压测制造有限公司")


def buyer_cookie(url: str) -> str:
    """A live session of the bench buyer, signed in through the login form, as the value
    of a Cookie header (the server keeps the session row, so any worker accepts it)."""
    from marketplace import services
    from marketplace.db import db

    services.PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"  # seeding only
    app = create_app(
        {
            "DATABASE_URL": url,
            "SECRET_KEY": "bench",
            "SEARCH_INDEX_DIR": str(WORKDIR / "index"),
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
        }
    )
    with app.app_context():
        ensure_buyer(db.session)
        db.session.commit()
    client = app.test_client()
    response = client.post(
        "/login",
        data={"email": BUYER_EMAIL, "password": BUYER_PASSWORD},
        headers={"User-Agent": USER_AGENT},
    )
    if response.status_code != 302:
        raise RuntimeError(f"bench buyer could not sign in: {response.status_code}")
    cookies = [client.get_cookie(name) for name in ("session", "remember_token")]
    app.extensions["marketplace.db"].engine.dispose()
    return "; ".join(f"{c.key}={c.value}" for c in cookies if c is not None)


def check_signed_in(base: str, cookie: str) -> None:
    """Refuse to report 'signed-in' figures of pages that were served to a visitor."""
    import urllib.request

    request = urllib.request.Request(
        base + "/dashboard", headers={"Cookie": cookie, "User-Agent": USER_AGENT}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        if not response.geturl().endswith("/dashboard"):
            raise RuntimeError("the bench buyer's cookie does not sign in")


def sample_paths(url: str) -> dict[str, list[str]]:
    engine = make_engine(url)
    with engine.connect() as connection:
        slugs = list(
            connection.scalars(sa.text("SELECT slug FROM solutions ORDER BY id LIMIT 2000"))
        )
    engine.dispose()
    rng = random.Random(3)
    industries = ("C33", "C34", "C38", "C39", "C29", "C13")
    # Many different searches (the judged queries, with and without an industry, pages 1-2):
    # almost every request misses the shared results block, so this row shows what a
    # search costs when nobody has just asked the same thing. Not part of the targets.
    varied = sorted(
        {
            f"/search?q={judged.q}"
            + (f"&industry={rng.choice(industries)}" if rng.random() < 0.5 else "")
            + ("&page=2" if rng.random() < 0.2 else "")
            for judged in JUDGED
            for _ in range(8)
        }
    )
    rng.shuffle(varied)
    return {
        "home": ["/"],
        "search": [p.format(industry=rng.choice(industries)) for p in SEARCHES for _ in range(3)],
        "solution": [f"/solutions/{slug}" for slug in rng.sample(slugs, 50)],
        "healthz": ["/healthz"],
        # Last: its hundreds of addresses push other pages out of each worker's caches.
        "search-varied": varied,
    }


def drive(
    base: str, paths: list[str], clients: int, seconds: int, cookie: str = ""
) -> dict[str, float]:
    """wrk in its own process; returns its figures. ``cookie``: a Cookie header to send."""
    script = WORKDIR / "paths.lua"
    # wrk refuses raw UTF-8 in a request line: send the paths percent-encoded, as browsers do.
    quoted = ", ".join(json.dumps(quote(p, safe="/?=&")) for p in paths)
    script.write_text(WRK_SCRIPT % quoted, encoding="utf-8")
    threads = min(clients, os.cpu_count() or 2)
    output = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{clients}",
            f"-d{seconds}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            "-H",
            f"User-Agent: {USER_AGENT}",
            *(["-H", f"Cookie: {cookie}"] if cookie else []),
            base,
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    figures = json.loads(output.strip().splitlines()[-1])
    figures["rps"] = figures["requests"] / figures["seconds"]
    return figures


def profile(url: str, path: str, repeat: int, cookie: str = "") -> None:
    from pyinstrument import Profiler

    app = app_for(url)
    client = app.test_client()
    headers = {"User-Agent": USER_AGENT}
    # The test client sends the cookies of its own jar (a Cookie header would be replaced).
    for pair in filter(None, cookie.split("; ")):
        name, _eq, value = pair.partition("=")
        client.set_cookie(name, value)
    if cookie and client.get("/dashboard", headers=headers).status_code != 200:
        raise RuntimeError("the bench buyer's cookie does not sign in")
    for _ in range(3):
        client.get(path, headers=headers)  # warm: templates, searchers, the index snapshot
    profiler = Profiler(interval=0.0005)
    started = time.perf_counter()
    with profiler:
        for _ in range(repeat):
            assert client.get(path, headers=headers).status_code == 200
    elapsed = (time.perf_counter() - started) / repeat
    print(profiler.output_text(unicode=True, color=False, show_all=False))
    print(f"{path}: {elapsed * 1000:.1f} ms per request (test client, profiled)")


MODES = ("anonymous", "signed-in")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--clients", default="8,32,64")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--modes", default=",".join(MODES), help="anonymous,signed-in")
    parser.add_argument("--profile", metavar="PATH")
    parser.add_argument("--signed-in", action="store_true", help="profile as the bench buyer")
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument(
        "--cache-url",
        default="",
        help="share pages and fragments between the workers in this Redis (as with several "
        "hosts, CACHE_URL); without it each worker keeps its own",
    )
    args = parser.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    if unknown := set(modes) - set(MODES):
        parser.error(f"unknown mode(s): {', '.join(sorted(unknown))}")
    if shutil.which("wrk") is None and not args.profile:
        sys.exit("wrk is needed: apt-get install -y wrk")
    WORKDIR.mkdir(exist_ok=True)
    url = server_url().set(database=DATABASE).render_as_string(hide_password=False)
    if not args.reuse:
        url = create_database()
        seed(url, args.n)
    cookie = buyer_cookie(url) if args.signed_in or "signed-in" in modes else ""
    if args.profile:
        profile(url, args.profile, args.repeat, cookie if args.signed_in else "")
        return
    paths = sample_paths(url)
    workers = 2 * (os.cpu_count() or 1)
    rows = []
    extra_env = {"MARKETPLACE_CACHE_URL": args.cache_url} if args.cache_url else {}
    if args.cache_url:
        import redis

        client = redis.Redis.from_url(args.cache_url)
        for name in client.scan_iter(match="marketplace:pages:*"):
            client.delete(name)  # nothing left from an earlier run
    with gunicorn(
        url, WORKDIR, port=18_765, workers=workers, threads=4, extra_env=extra_env
    ) as base:
        if cookie:
            check_signed_in(base, cookie)
        for mode in modes:
            mode_cookie = cookie if mode == "signed-in" else ""
            for page, page_paths in paths.items():
                if page == "search-varied":
                    continue  # the row of searches nobody asked before
                # Warm every worker on every address (each keeps its own cached fragments
                # unless --cache-url shares them): about ten requests per address.
                seconds = max(2, min(10, len(page_paths) // 8))
                drive(base, page_paths, workers * 2, seconds, mode_cookie)
            for clients in (int(c) for c in args.clients.split(",")):
                results = {
                    page: drive(base, p, clients, args.seconds, mode_cookie)
                    for page, p in paths.items()
                }
                ceiling = results["healthz"]["rps"]
                for page, r in results.items():
                    rows.append((mode, page, clients, r, r["rps"] / ceiling if ceiling else 0.0))
    shared = f"pages and fragments in {args.cache_url}" if args.cache_url else "per-worker caches"
    print(
        f"\n{args.n} solutions, gunicorn {workers} workers x 4 threads (gthread), {shared}, "
        f"wrk {args.seconds} s per cell, on {os.cpu_count()} cores shared with wrk\n"
    )
    print(
        f"{'mode':<10} {'page':<13} {'clients':>7} {'req/s':>8} {'p50 ms':>7} {'p95 ms':>7} "
        f"{'p99 ms':>7} {'of healthz':>10} {'errors':>6}"
    )
    for mode, page, clients, r, ratio in rows:
        print(
            f"{mode:<10} {page:<13} {clients:>7} {r['rps']:>8.1f} {r['p50'] / 1000:>7.1f} "
            f"{r['p95'] / 1000:>7.1f} {r['p99'] / 1000:>7.1f} {ratio:>10.0%} "
            f"{r['errors'] + r['non2xx']:>6}"
        )
    for mode in modes:
        cell = {(page, c): (r, ratio) for m, page, c, r, ratio in rows if m == mode}
        if ("search", 32) not in cell:
            continue
        search, _ = cell["search", 32]
        home, _ = cell["home", 32]
        solution = min(ratio for (page, _c), (_r, ratio) in cell.items() if page == "solution")
        checks = [
            ("search >= 150 req/s", search["rps"] >= 150),
            ("search p95 <= 150 ms", search["p95"] <= 150_000),
            ("home >= 150 req/s", home["rps"] >= 150),
            ("solution >= 30% of /healthz", solution >= 0.3),
        ]
        print(
            f"\n{mode}, 32 clients: search {search['rps']:.0f} req/s p95 "
            f"{search['p95'] / 1000:.0f} ms; home {home['rps']:.0f} req/s; solution page "
            f"{solution:.0%} of /healthz at worst"
        )
        print("  " + "; ".join(f"{name}: {'met' if ok else 'NOT met'}" for name, ok in checks))


if __name__ == "__main__":
    os.chdir(ROOT)
    main()
