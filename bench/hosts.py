"""Scale-out benchmark: two app hosts on one PostgreSQL, each with its own search index.

    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test_w2 python bench/hosts.py

Seeds ``--catalog`` published listings and ``--publishes`` listings waiting for review in
the database ``<db>_bench``, builds each host's index with ``catalog reindex`` and starts
two gunicorn hosts (``--workers`` each) on loopback. Then:

1. follow time: the operator approves a listing through host A's console page; the clock
   starts when A has answered (the change is committed) and stops when host B's search API
   lists it (polled every 10 ms). Median and p95 over the publishes.
2. search throughput: ``--clients`` threads of a Python client (http.client, keep-alive;
   wrk is not used) send search API requests with rotating queries for ``--seconds``:
   first all to host A alone, then round-robin over A and B. Requests per second and p95
   latency.

Both hosts share the machine's cores, so (2) shows the cost of running two hosts on one
machine, not what two machines give.
"""

from __future__ import annotations

import argparse
import http.client
import http.cookiejar
import itertools
import json
import re
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import bench_database, gunicorn, percentile
from catalog import indexing, services
from marketplace import create_app
from marketplace.db import make_engine
from tests.catalog.factories import create_solution, operator_actor, publish_solution, vendor_actor
from tests.factories import PASSWORD
from tests.stripe_server import free_port

QUERIES = ["质检", "排产", "能耗", "zhijian", "MES", "scheduling", "设备", "云", "", "视觉"]


def seed(url: str, catalog: int, publishes: int) -> tuple[str, list[tuple[int, str]]]:
    from sqlalchemy.orm import Session

    engine = make_engine(url)
    with Session(engine) as session:
        operator = operator_actor(session)
        vendor = vendor_actor(session)
        for n in range(catalog):
            publish_solution(session, vendor, operator, name=f"基准目录{n}号智能质检")
            if n % 100 == 99:
                session.commit()
        waiting = []
        for n in range(publishes):
            solution = create_solution(session, vendor, name=f"基准发布{n}号排产助手")
            services.submit(session, solution, actor=vendor)
            waiting.append(solution)
        session.commit()
        result = operator.user.email, [(s.id, s.slug) for s in waiting]
    engine.dispose()
    return result


def reindex(url: str, workdir: Path) -> None:
    app = create_app(
        {"DATABASE_URL": url, "SECRET_KEY": "bench", "SEARCH_INDEX_DIR": str(workdir / "index")}
    )
    with app.app_context():
        session = app.extensions["marketplace.db"].sessions()
        indexing.reindex(session, indexing.search_index(app))
        session.commit()
        session.close()
    app.extensions["marketplace.db"].engine.dispose()


class Operator:
    def __init__(self, base: str, email: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
        self.post(
            "/login", {"csrf_token": self.csrf("/login"), "email": email, "password": PASSWORD}
        )

    def csrf(self, path: str) -> str:
        page = self.opener.open(self.base + path, timeout=30).read().decode()
        match = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page)
        assert match, f"no CSRF token on {path}"
        return match.group(1)

    def post(self, path: str, form: dict[str, str]) -> None:
        data = urllib.parse.urlencode(form).encode()
        self.opener.open(self.base + path, data=data, timeout=30).read()


def listed(connection: http.client.HTTPConnection, slug: str) -> bool:
    connection.request("GET", "/api/v1/solutions?sort=newest&per_page=5")
    answer = connection.getresponse()
    body = json.loads(answer.read())
    return any(item["slug"] == slug for item in body.get("items", []))


def follow_times(a: str, b: str, email: str, waiting: list[tuple[int, str]]) -> list[float]:
    operator = Operator(a, email)
    port = urllib.parse.urlsplit(b).port
    reader = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    times = []
    for solution_id, slug in waiting:
        path = f"/console/listings/{solution_id}"
        operator.post(f"{path}/approve", {"csrf_token": operator.csrf(path)})
        started = time.perf_counter()
        while not listed(reader, slug):
            if time.perf_counter() - started > 30:
                raise RuntimeError(f"host B never found {slug}")
            time.sleep(0.01)
        times.append(time.perf_counter() - started)
    reader.close()
    return times


def throughput(bases: list[str], clients: int, seconds: float) -> tuple[float, float]:
    """Requests per second and p95 latency of search API calls spread round-robin."""
    stop = time.perf_counter() + seconds
    latencies: list[float] = []
    lock = threading.Lock()
    turn = itertools.count()

    def client(number: int) -> None:
        connections = {
            base: http.client.HTTPConnection("127.0.0.1", urllib.parse.urlsplit(base).port)
            for base in bases
        }
        mine: list[float] = []
        for n in itertools.count(number):
            if time.perf_counter() >= stop:
                break
            base = bases[next(turn) % len(bases)]
            q = urllib.parse.quote(QUERIES[n % len(QUERIES)])
            started = time.perf_counter()
            connections[base].request("GET", f"/api/v1/solutions?q={q}&per_page=20")
            answer = connections[base].getresponse()
            answer.read()
            assert answer.status == 200, answer.status
            mine.append(time.perf_counter() - started)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(latencies) / (time.perf_counter() - started), percentile(latencies, 95)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--catalog", type=int, default=500)
    parser.add_argument("--publishes", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=15.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        url = bench_database("postgresql", workdir)
        email, waiting = seed(url, args.catalog, args.publishes)
        env = {"MARKETPLACE_SESSION_COOKIE_SECURE": "false"}
        dirs = {name: workdir / name for name in "ab"}
        for folder in dirs.values():
            folder.mkdir()
            reindex(url, folder)
        with (
            gunicorn(url, dirs["a"], port=free_port(), workers=args.workers, extra_env=env) as a,
            gunicorn(url, dirs["b"], port=free_port(), workers=args.workers, extra_env=env) as b,
        ):
            times = follow_times(a, b, email, waiting)
            print(
                f"follow time A -> B over {len(times)} publishes: "
                f"median {statistics.median(times) * 1000:.0f} ms, "
                f"p95 {percentile(times, 95) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms"
            )
            for label, bases in (("one host", [a]), ("two hosts", [a, b])):
                rate, p95 = throughput(bases, args.clients, args.seconds)
                print(
                    f"search API, {label} ({args.workers} workers each, {args.clients} "
                    f"clients): {rate:.0f} requests/s, p95 {p95 * 1000:.0f} ms"
                )


if __name__ == "__main__":
    main()
