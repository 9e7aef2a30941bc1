"""The SME solution marketplace: the platform package and the application factory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"

# Every module that defines tables; Alembic and the tests load them all.
MODEL_MODULES = (
    "marketplace.models",
    "marketplace.audit",
    "marketplace.throttle",
    "marketplace.checkpoints",
    "marketplace.outbox",
    "marketplace.worker",
    "marketplace.webhook_models",
    "catalog.models",
    "catalog.search_log",
    "catalog.search_thesaurus",
    "catalog.inquiry_models",
    "vouchers.models",
    "vouchers.evidence_models",
    "vouchers.notice_models",
    "billing.models",
    "billing.ledger_models",
    "billing.payment_models",
    "billing.outcomes.models",
    "billing.attempt_models",
    "billing.error_models",
    "billing.credit_models",
    "billing.fulfillment_models",
    "billing.payment_link_models",
    "billing.fapiao_models",
    "billing.bank_statement_models",
    "marketplace.licences",
    "vouchers.rules_models",
    "billing.delivery_models",
)


def load_models() -> None:
    import importlib

    for name in MODEL_MODULES:
        importlib.import_module(name)


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the application: defaults, then ``instance/config.py``, then the environment,
    then ``config`` (tests pass their settings here)."""
    from marketplace import config as config_module
    from marketplace.db import RowIdConverter

    app = Flask(
        __name__,
        instance_relative_config=True,
        template_folder=str(TEMPLATES),
        static_folder="static",
    )
    app.config.from_object(config_module.Defaults)
    app.config.from_pyfile("config.py", silent=True)
    app.config.update(config_module.from_environment())
    app.config.update(config or {})
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    if app.config["SECRET_KEY"] == config_module.Defaults.SECRET_KEY and not app.testing:
        app.config["SECRET_KEY"] = config_module.instance_secret(app.instance_path)
    if not app.config.get("DATABASE_URL"):
        app.config["DATABASE_URL"] = config_module.default_sqlite_url(app.instance_path)
    if app.config["SESSION_COOKIE_SECURE"] is None:
        app.config["SESSION_COOKIE_SECURE"] = not (app.debug or app.testing)
    app.config["REMEMBER_COOKIE_SECURE"] = app.config["SESSION_COOKIE_SECURE"]
    app.config.setdefault("BOOTSTRAP_SERVE_LOCAL", True)
    app.config["BOOTSTRAP_SERVE_LOCAL"] = True
    app.config.setdefault(
        "BABEL_TRANSLATION_DIRECTORIES", str(ROOT / "marketplace" / "translations")
    )

    _stripe_origins(app)
    if app.config["PROXY_COUNT"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        count = app.config["PROXY_COUNT"]
        # Flask's documented way to wrap the WSGI app, which mypy takes for replacing a method.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=count, x_proto=count, x_host=count
        )
    app.url_map.converters["int"] = RowIdConverter  # before any route is added
    load_models()
    _init_extensions(app)
    _register_packages(app)
    return app


def _stripe_origins(app: Flask) -> None:
    """Stripe.js is the one script a page may load from elsewhere (card numbers never touch
    our server); allow its origin, and the API it talks to, in the CSP."""
    from urllib.parse import urlsplit

    if not app.config.get("STRIPE_PUBLISHABLE_KEY"):
        return
    js = urlsplit(app.config["STRIPE_JS_URL"])
    js_origin = f"{js.scheme}://{js.netloc}"
    api_origin = "https://api.stripe.com"
    if app.config.get("STRIPE_API_BASE"):
        base = urlsplit(app.config["STRIPE_API_BASE"])
        api_origin = f"{base.scheme}://{base.netloc}"
    app.config.setdefault("CSP_EXTRA_SCRIPT_SRC", (js_origin,))
    app.config.setdefault("CSP_EXTRA_CONNECT_SRC", tuple({js_origin, api_origin}))
    app.config.setdefault("CSP_EXTRA_FRAME_SRC", (js_origin, "https://hooks.stripe.com"))


def _init_extensions(app: Flask) -> None:
    from marketplace import auth, i18n, security, throttle
    from marketplace.extensions import babel, bootstrap, csrf, db, limiter, login_manager
    from marketplace.jsonapi import Api, init_spec

    db.init_app(app)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=i18n.select_locale)
    babel.domain_instance = i18n.CatalogDomain()
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = None  # the login page explains itself
    login_manager.session_protection = "strong"
    auth.init_app(app)  # server-side sessions; no-store for signed-in answers
    throttle.init_app(app)  # the lock-out's store; registers database:// for limits
    limiter.init_app(app)
    bootstrap.init_app(app)
    # One Api (and OpenAPI spec) per app: tests build many apps in one process.
    app.extensions["marketplace.api"] = api = Api(app)
    init_spec(api)
    security.init_app(app)


def _register_jobs(app: Flask) -> None:
    """Outbox handlers and the worker's schedule, per package (marketplace/outbox.py)."""
    from billing import jobs as billing_jobs
    from catalog import jobs as catalog_jobs
    from marketplace import jobs as marketplace_jobs
    from vouchers import jobs as vouchers_jobs

    marketplace_jobs.install(app)
    catalog_jobs.install(app)
    vouchers_jobs.install(app)
    billing_jobs.install(app)
    _register_todo(app)
    _register_audit_words(app)


def _register_audit_words(app: Flask) -> None:
    """Each package's audit event names (marketplace/audit_words.py knows its own)."""
    from billing import audit_words as billing_audit_words
    from catalog import audit_words as catalog_audit_words
    from vouchers import audit_words as vouchers_audit_words

    catalog_audit_words.install(app)
    vouchers_audit_words.install(app)
    billing_audit_words.install(app)


def _register_todo(app: Flask) -> None:
    """Each package's items on the dashboards' to-do lists (marketplace/todo.py)."""
    from billing import todo as billing_todo
    from catalog import todo as catalog_todo
    from marketplace import todo
    from vouchers import todo as vouchers_todo

    todo.install(app)
    catalog_todo.install(app)
    vouchers_todo.install(app)
    billing_todo.install(app)


def _register_packages(app: Flask) -> None:
    """The one place that knows every package: blueprints, API blueprints, CLI groups."""
    from billing import api as billing_api
    from billing import cli as billing_cli
    from billing import (
        delivery_api,
        fapiao_api,
        integration_api,
        operator_api,
        run_errors_api,
        voucher_payments,
    )
    from billing import notify as billing_notify
    from billing import signals as billing_signals
    from billing import views as billing_views
    from billing import webhooks as billing_webhooks
    from billing.outcomes import api as outcome_api
    from billing.payments import card_payments as billing_card_payments
    from billing.payments import gateway as billing_gateway
    from catalog import api as catalog_api
    from catalog import cli as catalog_cli
    from catalog import indexing as catalog_indexing
    from catalog import inquiry_api, listing_api
    from catalog import signals as catalog_signals
    from catalog.views import inquiries, review, storefront, thesaurus, vendor
    from marketplace import api as marketplace_api
    from marketplace import (
        cli,
        jobs_api,
        templating,
        vendors_api,
        webhooks,
        webhooks_api,
    )
    from marketplace.extensions import csrf
    from marketplace.pagecache import FragmentCache, PageCache
    from marketplace.views import accounts, console, licences, sessions, site
    from marketplace.views import audit as audit_views
    from marketplace.views import jobs as jobs_views
    from marketplace.views import webhooks as webhook_views
    from vouchers import api as vouchers_api
    from vouchers import officer_api, rules_api
    from vouchers import signals as vouchers_signals
    from vouchers import views as vouchers_views

    api = app.extensions["marketplace.api"]
    templating.init_app(app)
    catalog_indexing.install(app)
    if app.config["PAGE_CACHE_SECONDS"] > 0:
        pages = PageCache.from_config(app.config)
        pages.install(app)
        app.extensions["marketplace.fragments"] = FragmentCache.from_config(app.config)
        for endpoint in storefront.CACHEABLE:
            # The search log position and the search vocabulary's version: the same key on
            # every host for the same content.
            pages.cache(endpoint, catalog_indexing.page_version)
    for blueprint in (
        site.bp,
        accounts.bp,
        sessions.bp,
        console.bp,
        licences.bp,
        audit_views.bp,
        jobs_views.bp,
        webhook_views.bp,
        storefront.bp,
        vendor.bp,
        vendor.media,
        inquiries.bp,
        review.bp,
        thesaurus.bp,
        billing_views.bp,
        vouchers_views.bp,
    ):
        app.register_blueprint(blueprint)
    for api_blueprint in (
        marketplace_api.blp,
        jobs_api.blp,
        catalog_api.blp,
        listing_api.blp,
        inquiry_api.blp,
        billing_api.blp,
        outcome_api.blp,
        fapiao_api.blp,
        run_errors_api.blp,
        integration_api.blp,
        webhooks_api.blp,
        operator_api.blp,
        vendors_api.blp,
        officer_api.blp,
        rules_api.blp,
        delivery_api.blp,
        vouchers_api.blp,
    ):
        csrf.exempt(api_blueprint)  # bearer tokens, never cookies
        api.register_blueprint(api_blueprint)
    cli.init_app(app)
    _register_jobs(app)
    # The demo (the `demo` command, its loaders, services and finishers) lives in devtools/,
    # which no domain package imports: this is the one registration point.
    from devtools.demo import register as register_demo

    register_demo(app)
    app.cli.add_command(catalog_cli.catalog_group)
    app.cli.add_command(billing_cli.billing_group)
    app.register_blueprint(billing_webhooks.bp)
    billing_gateway.check_timeouts(app.config)  # Stripe answers before gunicorn kills
    app.extensions["billing.charge"] = billing_card_payments.charge_for_billing_run(app)
    # vouchers cannot import billing; billing books the ledger of a paid settlement.
    vouchers_signals.settlement_paid.connect(voucher_payments.on_settlement_paid)
    # billing's money code cannot import voucher_payments (built on it); vouchers go back.
    billing_signals.invoice_money_returned.connect(voucher_payments.on_invoice_money_returned)
    # marketplace cannot import billing; billing notifies the vendor of a disabled webhook.
    webhooks.endpoint_disabled.connect(billing_notify.webhook_endpoint_disabled)
    # catalog cannot import billing; billing notifies the other side of an inquiry.
    catalog_signals.inquiry_message_posted.connect(billing_notify.inquiry_message_posted)
    catalog_signals.inquiry_read.connect(billing_notify.inquiry_read)
