"""gunicorn's settings for ``gunicorn wsgi:app`` run from the project folder (gunicorn reads
this file from its working directory). The worker timeout is the app's setting, which
billing.payments.gateway.check_timeouts keeps above every Stripe call of a request."""

from typing import Any

from catalog.search import analysis
from marketplace.config import worker_timeout
from marketplace.throttle import gunicorn_post_worker_init

timeout = worker_timeout()


def post_worker_init(worker: Any) -> None:
    # Several workers must count rate limits in a shared store, not each in its own memory.
    gunicorn_post_worker_init(worker)
    # jieba's dictionary and the OpenCC tables, before the worker's first search needs them.
    analysis.warm()
