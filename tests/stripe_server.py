"""The localstripe process helpers, shared with ``marketplace demo`` (see billing/)."""

from devtools.localstripe import (  # noqa: F401 - re-exported for the tests
    HOST,
    PUBLISHABLE_KEY,
    SECRET_KEY,
    LocalStripe,
    LocalStripeError,
    flush_data,
    free_port,
    http_request,
    register_webhook,
)
