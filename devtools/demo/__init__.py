"""The demo: what ``marketplace demo`` loads, by package, and the command itself.

``register`` is the one place the app factory (``marketplace.create_app``) reaches into
devtools: it adds the ``demo`` CLI command and lists the demo's loaders, services and
finishers in ``app.extensions`` (read by ``devtools.demo.platform.load_demo``)."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    from devtools.demo import (
        bank_statements,
        billing,
        catalog,
        effect,
        fapiao,
        inquiries,
        licences,
        stacking,
        vouchers,
        webhooks,
    )
    from devtools.demo.platform import demo_command, load_platform_demo
    from marketplace import worker

    app.cli.add_command(demo_command)
    app.extensions["marketplace.demo_loaders"] = [
        load_platform_demo,
        webhooks.load,  # before the others: their listings and contracts are events
        catalog.load,
        webhooks.load_signup_page,  # the demo vendor's listings name its sign-up page
        billing.load,
        billing.load_outcomes,
        fapiao.load,  # after the demo buyer's invoices are paid
        vouchers.load,
        stacking.load,
        bank_statements.load,
        licences.load,
        inquiries.load,
        effect.load,  # after the voucher demo: a compute voucher pays for results
    ]
    app.extensions["marketplace.demo_services"] = [
        billing.start_local_stripe,
        webhooks.start_receiver,
        worker.start_demo_worker,  # after Stripe: the worker inherits its environment
    ]
    app.extensions["marketplace.demo_finishers"] = [catalog.rebuild_index]
