"""Real-browser journeys: the demo data in a database of its own, the app served by
gunicorn on loopback with localstripe for cards, driven by Playwright in Debian's
Chromium (``executable_path``; nothing is downloaded).

Each journey saves screenshots of its key pages under tests/e2e/artifacts/<test>/ (git
ignores the folder); a failing journey also leaves the page's screenshot and HTML there.
"""

from __future__ import annotations

import itertools
import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from devtools.demo.platform import DEMO_PASSWORD, load_demo
from devtools.localstripe import PUBLISHABLE_KEY, SECRET_KEY, LocalStripe, free_port
from marketplace import create_app, migrate
from marketplace.db import make_engine

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
POSTGRES_URL = os.environ.get("DATABASE_URL")

playwright_api = pytest.importorskip("playwright.sync_api")


@dataclass
class Site:
    """The running marketplace: its address, database and the environment its processes
    share (for ``marketplace billing run`` and for reading the database in assertions)."""

    url: str
    database_url: str
    env: dict[str, str]
    stripe: LocalStripe
    engine: sa.Engine = field(init=False)

    def __post_init__(self) -> None:
        self.engine = make_engine(self.database_url)

    def cli(self, *args: str) -> str:
        """Run the ``marketplace`` command line against the site's database."""
        done = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def worker_job_at(self, job: str, when: datetime) -> None:
        """Run one of the worker's scheduled jobs as of ``when``, as the worker would
        once that time has come (the journeys do not wait out a 公示 period)."""
        module, name = job.rsplit(".", 1)
        code = (
            "from datetime import datetime\n"
            "from wsgi import app\n"
            f"from {module} import {name}\n"
            "with app.app_context():\n"
            f"    print({name}(app, datetime.fromisoformat({when.isoformat()!r})))\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", code],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout + done.stderr

    def scalar(self, statement: Any) -> Any:
        with self.engine.connect() as connection:
            return connection.execute(statement).scalar()


def _database(tmp: Path) -> tuple[str, Any]:
    if not POSTGRES_URL:
        return f"sqlite:///{tmp / 'e2e.db'}", None
    base = sa.make_url(make_engine(POSTGRES_URL).url)
    name = f"{base.database}_e2e_{os.getpid()}"
    admin = make_engine(base.render_as_string(hide_password=False)).execution_options(
        isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = base.set(database=name).render_as_string(hide_password=False)

    def drop() -> None:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()

    return url, drop


def _wait_until_up(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError("the site did not come up")


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    tmp = tmp_path_factory.mktemp("e2e")
    database_url, drop = _database(tmp)
    engine = make_engine(database_url)
    migrate.upgrade(engine)
    engine.dispose()
    stripe = LocalStripe().start()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    webhook_secret = "whsec_" + secrets.token_hex(16)
    stripe.register_webhook(f"{url}/billing/webhooks/stripe", webhook_secret, name="e2e")
    env = {
        **os.environ,
        "MARKETPLACE_DATABASE_URL": database_url,
        "MARKETPLACE_SECRET_KEY": secrets.token_hex(16),
        "MARKETPLACE_SEARCH_INDEX_DIR": str(tmp / "index"),
        "MARKETPLACE_UPLOAD_FOLDER": str(tmp / "uploads"),
        "MARKETPLACE_SESSION_COOKIE_SECURE": "false",
        # Every journey signs in from 127.0.0.1, now counted once for both workers.
        "MARKETPLACE_LOGIN_RATE_LIMIT": "100 per minute",
        "MARKETPLACE_STRIPE_SECRET_KEY": SECRET_KEY,
        "MARKETPLACE_STRIPE_PUBLISHABLE_KEY": PUBLISHABLE_KEY,
        "MARKETPLACE_STRIPE_API_BASE": stripe.api_base,
        "MARKETPLACE_STRIPE_JS_URL": stripe.js_url,
        "MARKETPLACE_STRIPE_WEBHOOK_SECRET": webhook_secret,
    }
    env.pop("DATABASE_URL", None)
    app = create_app(
        {
            "DATABASE_URL": database_url,
            "SEARCH_INDEX_DIR": env["MARKETPLACE_SEARCH_INDEX_DIR"],
            "UPLOAD_FOLDER": env["MARKETPLACE_UPLOAD_FOLDER"],
        }
    )
    with app.app_context():
        load_demo(app)
    app.extensions["marketplace.db"].engine.dispose()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            "2",
            "--worker-class",
            "gthread",
            "--threads",
            "4",
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "wsgi:app",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        _wait_until_up(url, server)
        site = Site(url, database_url, env, stripe)
        yield site
        site.engine.dispose()
    finally:
        server.terminate()
        server.wait(timeout=30)
        stripe.stop()
        if drop:
            drop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        yield browser
        browser.close()


class Journey:
    """One person's browser (its own cookies), with the screenshots of the journey."""

    def __init__(
        self, browser: Any, site: Site, folder: Path, counter: Any, locale: str = "zh-CN"
    ) -> None:
        self.site = site
        self.folder = folder
        self.counter = counter  # shared by the test's browsers: screenshots in journey order
        self.locale = locale
        self.context = browser.new_context(
            viewport={"width": 1280, "height": 900}, locale=locale, base_url=site.url
        )
        self.context.set_default_timeout(15_000)
        self.page = self.context.new_page()
        self.closed = False

    def go(self, path: str) -> Any:
        response = self.page.goto(path)
        assert response is not None and response.status < 400, f"{path}: {response.status}"
        return response

    def shot(self, name: str) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        number = next(self.counter)
        self.page.screenshot(path=self.folder / f"{number:02d}-{name}.png", full_page=True)

    def sign_in(self, email: str, password: str = DEMO_PASSWORD) -> None:
        self.go("/login")
        self.page.fill("input[name=email]", email)
        self.page.fill("input[name=password]", password)
        self.page.click("main form button[type=submit]")
        self.page.wait_for_url("**/dashboard")
        self.use_language()

    def use_language(self) -> None:
        """Switch the site to the journey's language (a person's choice is remembered on
        the account, so another test may have left it in the other one)."""
        lang = "en" if self.locale.startswith("en") else "zh_CN"
        switch = self.page.locator(f"button[name=lang][value={lang}]")
        if switch.count():
            with self.page.expect_navigation():
                switch.click()

    def register(
        self,
        *,
        kind: str,
        person: str,
        email: str,
        password: str,
        organization: str,
        uscc: str,
        region: str,
        representative: str,
        address: str,
        phone: str,
        industry: str | None = None,
        employees: str | None = None,
        revenue: str | None = None,
    ) -> None:
        """Fill the registration form as a person would (the region through the picker's
        three lists) and submit it."""
        page = self.page
        self.go("/register")
        page.fill("input[name=name]", person)
        page.fill("input[name=email]", email)
        page.fill("input[name=password]", password)
        page.fill("input[name=confirm]", password)
        page.check(f"input[name=kind][value={kind}]")
        page.fill("input[name=org_name]", organization)
        page.fill("input[name=uscc]", uscc)
        page.select_option("#region-picker-1-province", region[:2] + "0000")
        page.select_option("#region-picker-1-city", region[:4] + "00")
        page.select_option("#region-picker-1-district", region)
        page.fill("input[name=legal_representative]", representative)
        page.fill("input[name=address]", address)
        page.fill("input[name=contact_phone]", phone)
        page.fill("input[name=contact_email]", email)
        if industry:
            page.select_option("select[name=industry_code]", industry)
        if employees:
            page.fill("input[name=employees]", employees)
        if revenue:
            page.fill("input[name=annual_revenue]", revenue)
        self.shot("register")
        self.submit("main form button[type=submit]")

    def sign_out(self) -> None:
        self.context.clear_cookies()

    def submit(self, selector: str) -> None:
        """Click a submit button and wait for the page it leads to."""
        with self.page.expect_navigation():
            self.page.click(selector)

    def text(self) -> str:
        return self.page.inner_text("main")

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.context.close()


@pytest.fixture
def journey(browser: Any, site: Site, request: pytest.FixtureRequest) -> Iterator[Any]:
    """``journey(locale="zh-CN")`` opens a browser for one person of the test."""
    opened: list[Journey] = []
    folder = ARTIFACTS / request.node.name
    counter = itertools.count(1)

    def open_journey(locale: str = "zh-CN") -> Journey:
        opened.append(Journey(browser, site, folder, counter, locale))
        return opened[-1]

    if folder.exists():
        shutil.rmtree(folder)
    yield open_journey
    failed = getattr(request.node, "rep_call", None)
    for index, person in enumerate(opened):
        if failed is not None and failed.failed and not person.closed:
            folder.mkdir(parents=True, exist_ok=True)
            person.page.screenshot(path=folder / f"failure-{index}.png", full_page=True)
            (folder / f"failure-{index}.html").write_text(person.page.content(), encoding="utf-8")
        person.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]
    return report
