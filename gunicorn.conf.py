"""gunicorn's settings for ``gunicorn wsgi:app`` run from the project folder (gunicorn reads
this file from its working directory). The worker timeout is the app's setting, which
billing.payments.check_timeouts keeps above every Stripe call of a request."""

from marketplace.config import worker_timeout
from marketplace.throttle import gunicorn_post_worker_init

timeout = worker_timeout()
# Several workers must count rate limits in a shared store, not each in its own memory.
post_worker_init = gunicorn_post_worker_init
