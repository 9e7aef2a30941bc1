"""What the real ``stripe`` SDK (16.x) can and cannot do against localstripe (1.15.10).

Each test pins one fact the billing code relies on, including where localstripe differs from
the real Stripe, so that an upgrade of either side that changes a fact fails here first.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import stripe

from tests.stripe_server import (
    HOST,
    PUBLISHABLE_KEY,
    SECRET_KEY,
    LocalStripe,
    LocalStripeError,
    http_request,
    register_webhook,
)

WEBHOOK_SECRET = "whsec_test_harness"
VISA = "4242424242424242"
DECLINED_ON_ATTACH = "4000000000000002"  # generic decline: localstripe refuses it when saved
DECLINED_ON_CHARGE = "4000000000000341"  # attaches fine, every charge is declined
THREE_D_SECURE = ("4000002760003184", "4000000000003220", "4000002500003155")
THREE_D_SECURE_THEN_DECLINED = "4000008260003178"


# -- fixtures --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[LocalStripe]:
    with LocalStripe() as running:
        yield running


@pytest.fixture(scope="module")
def client(server: LocalStripe) -> stripe.StripeClient:
    # No global state: the API base goes in base_addresses, not in stripe.api_base.
    return stripe.StripeClient(SECRET_KEY, base_addresses={"api": server.api_base})


@dataclass
class Delivery:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass
class WebhookSink:
    """A live HTTP endpoint that records what localstripe POSTs to it."""

    deliveries: list[Delivery] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    httpd: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.httpd is not None
        return f"http://{HOST}:{self.httpd.server_port}/stripe/webhook"

    def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 10.0
    ) -> Delivery:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for delivery in self.deliveries:
                    if predicate(delivery.event):
                        return delivery
            time.sleep(0.05)
        raise AssertionError(f"no matching webhook within {timeout} s")

    def events_about(self, object_id: str) -> list[str]:
        with self.lock:
            return [
                d.event["type"]
                for d in self.deliveries
                if d.event["data"]["object"].get("id") == object_id
            ]


def start_sink() -> WebhookSink:
    sink = WebhookSink()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with sink.lock:
                sink.deliveries.append(Delivery(self.path, dict(self.headers.items()), body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    sink.httpd = ThreadingHTTPServer((HOST, 0), Handler)
    sink.httpd.daemon_threads = True
    threading.Thread(target=sink.httpd.serve_forever, args=(0.05,), daemon=True).start()
    return sink


def stop_sink(sink: WebhookSink) -> None:
    assert sink.httpd is not None
    sink.httpd.shutdown()
    sink.httpd.server_close()


@pytest.fixture(scope="module")
def webhooks(server: LocalStripe) -> Iterator[WebhookSink]:
    sink = start_sink()
    register_webhook(server.api_base, sink.url, WEBHOOK_SECRET)
    try:
        yield sink
    finally:
        stop_sink(sink)


@pytest.fixture
def customer(client: stripe.StripeClient) -> stripe.Customer:
    return client.v1.customers.create({"name": "苏州精工机械有限公司"})


def new_card(client: stripe.StripeClient, number: str) -> stripe.PaymentMethod:
    """A card PaymentMethod made from a raw test number (the real Stripe forbids this)."""
    return client.v1.payment_methods.create(
        {
            "type": "card",
            "card": {"number": number, "exp_month": 12, "exp_year": 2030, "cvc": "123"},
        }
    )


def saved_card(
    client: stripe.StripeClient, customer: stripe.Customer, number: str = VISA
) -> stripe.PaymentMethod:
    """The recipe that works on both localstripe and Stripe: SetupIntent, attach, default."""
    card = new_card(client, number)
    setup = client.v1.setup_intents.create({"customer": customer.id, "usage": "off_session"})
    setup = client.v1.setup_intents.confirm(setup.id, {"payment_method": card.id})
    assert setup.status == "succeeded"
    if client.v1.payment_methods.retrieve(card.id).customer != customer.id:
        card = client.v1.payment_methods.attach(card.id, {"customer": customer.id})
    client.v1.customers.update(
        customer.id, {"invoice_settings": {"default_payment_method": card.id}}
    )
    return card


def pay_off_session(
    client: stripe.StripeClient,
    customer: stripe.Customer,
    card: stripe.PaymentMethod,
    amount: int = 12_345,
    **extra: Any,
) -> stripe.PaymentIntent:
    return client.v1.payment_intents.create(
        {
            "amount": amount,
            "currency": "cny",
            "customer": customer.id,
            "payment_method": card.id,
            "confirm": True,
            "off_session": True,
            **extra,
        }
    )


def authenticate(
    client: stripe.StripeClient, intent: stripe.PaymentIntent, success: bool
) -> stripe.PaymentIntent:
    """Finish 3-D Secure server-side, as localstripe's fake Stripe.js does in the browser."""
    response = client.raw_request(
        "post",
        f"/v1/payment_intents/{intent.id}/_authenticate",
        client_secret=intent.client_secret,
        success="true" if success else "false",
    )
    return client.deserialize(response, api_mode="V1")


# -- the server itself -----------------------------------------------------------------


def test_server_listens_on_loopback_and_serves_fake_stripe_js(server: LocalStripe) -> None:
    assert server.api_base == f"http://127.0.0.1:{server.port}"
    assert server.js_url == f"{server.api_base}/js.stripe.com/v3/"
    assert server.startup_seconds is not None and server.startup_seconds < 10
    status, body = http_request(server.api_base, "GET", "/js.stripe.com/v3/")
    assert status == 200
    assert b"confirmCardPayment" in body and b"confirmCardSetup" in body
    status, _ = http_request(server.api_base, "GET", "/js.stripe.com/v3")
    assert status == 404  # the trailing slash is part of the path


def test_a_second_server_starts_flushes_and_stops_cleanly() -> None:
    with LocalStripe() as other:
        process = other.process
        assert process is not None
        other_client = stripe.StripeClient(SECRET_KEY, base_addresses={"api": other.api_base})
        created = other_client.v1.customers.create({"name": "flushed"})
        other.flush()
        with pytest.raises(stripe.InvalidRequestError) as error:
            other_client.v1.customers.retrieve(created.id)
        assert error.value.http_status == 404
        assert "POST /v1/customers" in other.log_text()
    assert process.returncode == 0  # SIGTERM -> aiohttp exits cleanly
    assert other.process is None and other.log_path is None


def test_a_server_that_dies_at_start_is_reported_with_its_output() -> None:
    script = "import sys; print('boom', flush=True); sys.exit(3)"
    broken = LocalStripe(command=[sys.executable, "-c", script], attempts=2)
    with pytest.raises(LocalStripeError, match=r"exited with 3(.|\n)*boom"):
        broken.start()
    assert broken.process is None and broken.log_path is None


def test_a_publishable_or_missing_key_is_refused(server: LocalStripe) -> None:
    public = stripe.StripeClient(PUBLISHABLE_KEY, base_addresses={"api": server.api_base})
    with pytest.raises(stripe.AuthenticationError) as error:
        public.v1.customers.create({"name": "x"})
    assert error.value.http_status == 401


def test_the_global_sdk_configuration_works_too(
    server: LocalStripe, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stripe, "api_key", SECRET_KEY)
    monkeypatch.setattr(stripe, "api_base", server.api_base)
    created = stripe.Customer.create(name="global")
    assert stripe.Customer.retrieve(created.id).name == "global"


def test_idempotency_keys_are_ignored(client: stripe.StripeClient) -> None:
    first = client.v1.customers.create({"name": "idem"}, {"idempotency_key": "same-key"})
    second = client.v1.customers.create({"name": "idem"}, {"idempotency_key": "same-key"})
    assert first.id != second.id  # the real Stripe would return the first customer again


# -- customers, cards, SetupIntents ----------------------------------------------------


def test_create_customer(client: stripe.StripeClient) -> None:
    created = client.v1.customers.create(
        {"name": "苏州精工机械有限公司", "email": "buyer@example.com", "metadata": {"org_id": "42"}}
    )
    assert created.id.startswith("cus_")
    fetched = client.v1.customers.retrieve(created.id)
    assert fetched.name == "苏州精工机械有限公司"
    assert fetched.email == "buyer@example.com"
    assert fetched.metadata.to_dict() == {"org_id": "42"}
    assert fetched.invoice_settings.default_payment_method is None
    assert fetched.currency == "eur"  # localstripe's arbitrary default, meaningless


def test_card_payment_method_from_a_raw_test_number(
    client: stripe.StripeClient, customer: stripe.Customer
) -> None:
    card = new_card(client, VISA)
    assert card.id.startswith("pm_")
    assert (card.type, card.card.brand, card.card.last4) == ("card", "visa", "4242")
    assert card.customer is None
    attached = client.v1.payment_methods.attach(card.id, {"customer": customer.id})
    assert attached.customer == customer.id
    listed = client.v1.payment_methods.list({"customer": customer.id, "type": "card"})
    assert [m.id for m in listed.data] == [card.id]
    with pytest.raises(stripe.InvalidRequestError):  # type= is mandatory on localstripe
        client.v1.payment_methods.list({"customer": customer.id})


def test_setup_intent_confirmed_with_a_payment_method(
    client: stripe.StripeClient, customer: stripe.Customer
) -> None:
    card = new_card(client, VISA)
    setup = client.v1.setup_intents.create({"customer": customer.id, "usage": "off_session"})
    assert setup.status == "requires_payment_method"
    assert setup.client_secret.startswith(f"{setup.id}_secret_")
    setup = client.v1.setup_intents.confirm(setup.id, {"payment_method": card.id})
    assert (setup.status, setup.payment_method) == ("succeeded", card.id)
    # Unlike Stripe, a succeeded SetupIntent does not attach the card to its customer:
    assert client.v1.payment_methods.retrieve(card.id).customer is None
    with pytest.raises(stripe.InvalidRequestError):  # nor can it be created already confirmed
        client.v1.setup_intents.create(
            {"customer": customer.id, "payment_method": card.id, "confirm": True}
        )
    saved = saved_card(client, customer)
    assert client.v1.payment_methods.retrieve(saved.id).customer == customer.id
    refreshed = client.v1.customers.retrieve(customer.id)
    assert refreshed.invoice_settings.default_payment_method == saved.id


def test_setup_intent_confirmed_as_the_fake_stripe_js_does(
    server: LocalStripe, client: stripe.StripeClient, customer: stripe.Customer
) -> None:
    """The browser posts the card with the publishable key; no secret key needed."""
    setup = client.v1.setup_intents.create({"customer": customer.id})
    body = {
        "key": PUBLISHABLE_KEY,
        "use_stripe_sdk": True,
        "client_secret": setup.client_secret,
        "payment_method_data": {
            "type": "card",
            "card": {"number": VISA, "exp_month": "12", "exp_year": "2030", "cvc": "123"},
            "billing_details": {"address": {"postal_code": "215000"}},
        },
    }
    status, raw = http_request(
        server.api_base,
        "POST",
        f"/v1/setup_intents/{setup.id}/confirm",
        json.dumps(body).encode(),
        {"Content-Type": "application/json"},
    )
    assert status == 200, raw
    confirmed = client.v1.setup_intents.retrieve(setup.id)
    assert confirmed.status == "succeeded"
    assert confirmed.payment_method == json.loads(raw)["payment_method"]
    assert client.v1.payment_methods.retrieve(confirmed.payment_method).customer is None


# -- off-session payments --------------------------------------------------------------


def test_off_session_payment_succeeds_in_cny_fen(
    client: stripe.StripeClient, customer: stripe.Customer
) -> None:
    card = saved_card(client, customer)
    intent = pay_off_session(client, customer, card, 12_345, metadata={"invoice": "INV-1"})
    assert intent.id.startswith("pi_")
    assert (intent.status, intent.amount, intent.currency) == ("succeeded", 12_345, "cny")
    assert intent.metadata.to_dict() == {"invoice": "INV-1"}
    # latest_charge comes expanded (a Charge), not as an id string as on the real Stripe:
    charge = intent.latest_charge
    assert isinstance(charge, stripe.Charge)
    assert (charge.status, charge.paid, charge.amount, charge.currency) == (
        "succeeded",
        True,
        12_345,
        "cny",
    )
    assert charge.payment_intent == intent.id
    assert "amount_received" not in intent  # not implemented by localstripe


def test_currency_and_amount_are_barely_checked(
    client: stripe.StripeClient, customer: stripe.Customer
) -> None:
    card = saved_card(client, customer)
    assert pay_off_session(client, customer, card, 1).status == "succeeded"  # no minimum
    assert pay_off_session(client, customer, card, 1, currency="CNY").currency == "CNY"
    assert pay_off_session(client, customer, card, 1, currency="xyz").status == "succeeded"
    for bad_amount in (0, 12.5):
        with pytest.raises(stripe.InvalidRequestError):
            pay_off_session(client, customer, card, bad_amount)  # type: ignore[arg-type]


def test_payment_intent_parameters_localstripe_rejects(
    client: stripe.StripeClient, customer: stripe.Customer
) -> None:
    card = saved_card(client, customer)
    for extra in (
        {"description": "Invoice INV-1"},
        {"receipt_email": "buyer@example.com"},
        {"statement_descriptor_suffix": "INV1"},
        {"setup_future_usage": "off_session"},
        {"error_on_requires_action": True},
        {"return_url": "http://127.0.0.1/return"},
        {"automatic_payment_methods": {"enabled": True}},
    ):
        with pytest.raises(stripe.InvalidRequestError, match="Unexpected"):
            pay_off_session(client, customer, card, **extra)
    # No payment_method, even with a default one on the customer: a 500 from localstripe.
    with pytest.raises(stripe.APIError) as error:
        client.v1.payment_intents.create(
            {
                "amount": 100,
                "currency": "cny",
                "customer": customer.id,
                "confirm": True,
                "off_session": True,
            }
        )
    assert error.value.http_status == 500
    with pytest.raises(stripe.InvalidRequestError, match="Unexpected customer"):
        client.v1.payment_intents.list({"customer": customer.id})


def test_created_then_confirmed_separately(
    client: stripe.StripeClient, customer: stripe.Customer
) -> None:
    card = saved_card(client, customer)
    intent = client.v1.payment_intents.create(
        {"amount": 500, "currency": "cny", "customer": customer.id, "payment_method": card.id}
    )
    assert intent.status == "requires_confirmation"
    with pytest.raises(stripe.InvalidRequestError, match="Unexpected off_session"):
        client.v1.payment_intents.confirm(intent.id, {"off_session": True})
    with pytest.raises(stripe.APIError, match="Not implemented"):
        client.v1.payment_intents.confirm(intent.id, {"payment_method": card.id})
    assert client.v1.payment_intents.confirm(intent.id).status == "succeeded"


# -- declines --------------------------------------------------------------------------


def test_card_0002_is_declined_when_saved(
    client: stripe.StripeClient, customer: stripe.Customer
) -> None:
    card = new_card(client, DECLINED_ON_ATTACH)
    setup = client.v1.setup_intents.create({"customer": customer.id})
    with pytest.raises(stripe.CardError) as error:
        client.v1.setup_intents.confirm(setup.id, {"payment_method": card.id})
    assert error.value.http_status == 402
    assert error.value.code == "card_declined"
    assert error.value.user_message == "Your card was declined."
    assert error.value.error.decline_code is None  # the real Stripe says "generic_decline"
    assert error.value.error.type == "invalid_request_error"  # the real one: "card_error"
    assert client.v1.setup_intents.retrieve(setup.id).status == "canceled"
    with pytest.raises(stripe.CardError) as error:
        client.v1.payment_methods.attach(card.id, {"customer": customer.id})
    assert error.value.code == "card_declined"


def test_card_0002_is_not_declined_when_charged_without_being_saved(
    client: stripe.StripeClient, customer: stripe.Customer
) -> None:
    """A localstripe gap: only saving 0002 fails; use 0341 for a decline at charge time."""
    card = new_card(client, DECLINED_ON_ATTACH)
    assert pay_off_session(client, customer, card).status == "succeeded"


def test_charge_decline_raises_card_error_and_leaves_requires_payment_method(
    client: stripe.StripeClient, customer: stripe.Customer, webhooks: WebhookSink
) -> None:
    card = saved_card(client, customer, DECLINED_ON_CHARGE)
    with pytest.raises(stripe.CardError) as error:
        pay_off_session(client, customer, card)
    assert error.value.http_status == 402
    assert error.value.code == "card_declined"
    assert error.value.error.decline_code is None
    assert error.value.error.charge.startswith("ch_")
    assert error.value.error.payment_intent is None  # so create first, then confirm:

    intent = client.v1.payment_intents.create(
        {"amount": 800, "currency": "cny", "customer": customer.id, "payment_method": card.id}
    )
    with pytest.raises(stripe.CardError):
        client.v1.payment_intents.confirm(intent.id)
    intent = client.v1.payment_intents.retrieve(intent.id)
    assert intent.status == "requires_payment_method"
    assert intent.last_payment_error.code == "card_declined"
    assert intent.last_payment_error.message == "Your card was declined."
    assert intent.latest_charge.status == "failed"
    # A declined PaymentIntent cannot be retried on localstripe, even with another card:
    other = saved_card(client, customer)
    client.v1.payment_intents.update(intent.id, {"payment_method": other.id})
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.payment_intents.confirm(intent.id)
    delivery = webhooks.wait_for(
        lambda e: (
            e["type"] == "payment_intent.payment_failed" and e["data"]["object"]["id"] == intent.id
        )
    )
    event = stripe.Webhook.construct_event(
        delivery.body, delivery.headers["Stripe-Signature"], WEBHOOK_SECRET
    )
    assert event.data.object.last_payment_error.code == "card_declined"


# -- 3-D Secure ------------------------------------------------------------------------


@pytest.mark.parametrize("number", THREE_D_SECURE)
def test_three_d_secure_requires_action_then_authenticates(
    client: stripe.StripeClient, customer: stripe.Customer, number: str
) -> None:
    card = new_card(client, number)
    client.v1.payment_methods.attach(card.id, {"customer": customer.id})
    # off_session=True is ignored: the real Stripe would raise CardError
    # (code "authentication_required") for 3184 and 3220 instead.
    intent = pay_off_session(client, customer, card)
    assert intent.status == "requires_action"
    assert intent.next_action.type == "use_stripe_sdk"
    assert intent.latest_charge is None
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.payment_intents.confirm(intent.id)
    done = authenticate(client, intent, success=True)
    assert isinstance(done, stripe.PaymentIntent)
    assert done.status == "succeeded"
    assert client.v1.payment_intents.retrieve(intent.id).latest_charge.amount == 12_345


def test_three_d_secure_authentication_failure(
    client: stripe.StripeClient, customer: stripe.Customer
) -> None:
    card = new_card(client, THREE_D_SECURE[0])
    intent = pay_off_session(client, customer, card)
    failed = authenticate(client, intent, success=False)
    assert failed.status == "requires_payment_method"
    assert failed.payment_method is None
    assert failed.last_payment_error.code == "payment_intent_authentication_failure"
    failures = client.v1.events.list({"type": "payment_intent.payment_failed", "limit": 100})
    # A failed authentication emits no payment_intent.payment_failed event:
    assert intent.id not in {e.data.object.id for e in failures.auto_paging_iter()}


def test_three_d_secure_authenticated_as_the_fake_stripe_js_does(
    server: LocalStripe, client: stripe.StripeClient, customer: stripe.Customer
) -> None:
    """confirmCardPayment posts ?success=true with the publishable key and client secret."""
    card = new_card(client, THREE_D_SECURE[1])
    intent = pay_off_session(client, customer, card)
    path = f"/v1/payment_intents/{intent.id}/_authenticate?success=true"
    wrong = {"key": PUBLISHABLE_KEY, "client_secret": f"{intent.id}_secret_wrong"}
    headers = {"Content-Type": "application/json"}
    status, _ = http_request(server.api_base, "POST", path, json.dumps(wrong).encode(), headers)
    assert status == 401
    right = {"key": PUBLISHABLE_KEY, "client_secret": intent.client_secret}
    status, raw = http_request(server.api_base, "POST", path, json.dumps(right).encode(), headers)
    assert status == 200
    assert json.loads(raw)["status"] == "succeeded"


def test_three_d_secure_then_declined(
    client: stripe.StripeClient, customer: stripe.Customer
) -> None:
    card = new_card(client, THREE_D_SECURE_THEN_DECLINED)
    intent = pay_off_session(client, customer, card)
    assert intent.status == "requires_action"
    with pytest.raises(stripe.CardError) as error:
        authenticate(client, intent, success=True)
    assert error.value.code == "card_declined"
    assert client.v1.payment_intents.retrieve(intent.id).status == "requires_payment_method"


def test_three_d_secure_setup_intent(
    client: stripe.StripeClient, customer: stripe.Customer
) -> None:
    card = new_card(client, THREE_D_SECURE[0])
    setup = client.v1.setup_intents.create({"customer": customer.id})
    setup = client.v1.setup_intents.confirm(setup.id, {"payment_method": card.id})
    assert setup.status == "requires_action"
    assert setup.next_action.type == "use_stripe_sdk"
    # Confirming again with nothing completes it (the fake Stripe.js's "Complete" button);
    # cancelling is its "Fail authentication" button.
    assert client.v1.setup_intents.confirm(setup.id).status == "succeeded"
    other = client.v1.setup_intents.create({"customer": customer.id})
    client.v1.setup_intents.confirm(other.id, {"payment_method": card.id})
    assert client.v1.setup_intents.cancel(other.id).status == "canceled"


# -- refunds ---------------------------------------------------------------------------


def test_partial_then_full_refund(client: stripe.StripeClient, customer: stripe.Customer) -> None:
    card = saved_card(client, customer)
    intent = pay_off_session(client, customer, card, 10_000)
    partial = client.v1.refunds.create(
        {"payment_intent": intent.id, "amount": 2_550, "metadata": {"refund": "R-1"}}
    )
    assert partial.id.startswith("re_")
    assert (partial.status, partial.amount, partial.currency) == ("succeeded", 2_550, "cny")
    assert (partial.payment_intent, partial.charge) == (intent.id, intent.latest_charge.id)
    charge = client.v1.charges.retrieve(intent.latest_charge.id)
    assert (charge.amount_refunded, charge.refunded) == (2_550, False)
    assert client.v1.payment_intents.retrieve(intent.id).status == "succeeded"

    rest = client.v1.refunds.create({"payment_intent": intent.id, "amount": 7_450})
    assert rest.amount == 7_450
    charge = client.v1.charges.retrieve(intent.latest_charge.id)
    assert (charge.amount_refunded, charge.refunded) == (10_000, True)
    listed = client.v1.refunds.list({"payment_intent": intent.id})
    assert sorted(r.amount for r in listed.data) == [2_550, 7_450]

    full = pay_off_session(client, customer, card, 3_000)
    refund = client.v1.refunds.create({"payment_intent": full.id})
    assert refund.amount == 3_000


def test_refund_quirks(client: stripe.StripeClient, customer: stripe.Customer) -> None:
    card = saved_card(client, customer)
    intent = pay_off_session(client, customer, card, 10_000)
    client.v1.refunds.create({"payment_intent": intent.id, "amount": 4_000})
    # Without an amount localstripe refunds the whole charge again, not what is left:
    assert client.v1.refunds.create({"payment_intent": intent.id}).amount == 10_000
    # and it accepts refunding more than was paid:
    client.v1.refunds.create({"payment_intent": intent.id, "amount": 99_999})
    assert client.v1.charges.retrieve(intent.latest_charge.id).amount_refunded == 113_999
    with pytest.raises(stripe.InvalidRequestError, match="Unexpected reason"):
        client.v1.refunds.create(
            {"payment_intent": intent.id, "amount": 1, "reason": "requested_by_customer"}
        )
    declined = client.v1.payment_intents.create(
        {
            "amount": 100,
            "currency": "cny",
            "customer": customer.id,
            "payment_method": new_card(client, DECLINED_ON_CHARGE).id,
        }
    )
    with pytest.raises(stripe.CardError):
        client.v1.payment_intents.confirm(declined.id)
    with pytest.raises(stripe.InvalidRequestError, match="Cannot refund a failed payment"):
        client.v1.refunds.create({"payment_intent": declined.id})


# -- webhooks --------------------------------------------------------------------------


def test_signed_webhook_for_a_successful_payment(
    client: stripe.StripeClient, customer: stripe.Customer, webhooks: WebhookSink
) -> None:
    card = saved_card(client, customer)
    intent = pay_off_session(client, customer, card, 4_200, metadata={"invoice": "INV-9"})
    delivery = webhooks.wait_for(
        lambda e: e["type"] == "payment_intent.succeeded" and e["data"]["object"]["id"] == intent.id
    )
    assert delivery.path == "/stripe/webhook"
    assert delivery.headers["Content-Type"] == "application/json; charset=utf-8"
    signature = delivery.headers["Stripe-Signature"]
    assert signature.startswith("t=") and ",v1=" in signature

    event = stripe.Webhook.construct_event(delivery.body, signature, WEBHOOK_SECRET)
    assert isinstance(event, stripe.Event)
    assert event.id.startswith("evt_")
    assert event.type == "payment_intent.succeeded"
    assert event.api_version == "2017-08-15"  # whatever the SDK's version
    payment = event.data.object
    assert isinstance(payment, stripe.PaymentIntent)
    assert (payment.id, payment.status, payment.amount) == (intent.id, "succeeded", 4_200)
    assert payment.metadata.invoice == "INV-9"
    assert client.construct_event(delivery.body, signature, WEBHOOK_SECRET).id == event.id
    # The same event is in the Events API:
    assert client.v1.events.retrieve(event.id).type == "payment_intent.succeeded"

    tampered = delivery.body.replace(b'"amount": 4200', b'"amount": 1')
    assert tampered != delivery.body
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(tampered, signature, WEBHOOK_SECRET)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(delivery.body, signature, "whsec_wrong")


def test_which_events_localstripe_emits(
    client: stripe.StripeClient, customer: stripe.Customer, webhooks: WebhookSink
) -> None:
    card = saved_card(client, customer)
    intent = pay_off_session(client, customer, card, 900)
    client.v1.refunds.create({"payment_intent": intent.id, "amount": 900})
    webhooks.wait_for(
        lambda e: e["type"] == "payment_intent.succeeded" and e["data"]["object"]["id"] == intent.id
    )
    types = {e.type for e in client.v1.events.list({"limit": 100}).auto_paging_iter()}
    assert {"customer.created", "customer.updated", "payment_intent.succeeded"} <= types
    never = {
        "charge.succeeded",
        "charge.failed",
        "charge.refunded",
        "refund.created",
        "setup_intent.succeeded",
        "payment_method.attached",
        "payment_intent.requires_action",
        "payment_intent.created",
    }
    assert not types & never
    assert webhooks.events_about(intent.id) == ["payment_intent.succeeded"]


def test_webhook_filtered_by_event_type(
    server: LocalStripe, client: stripe.StripeClient, customer: stripe.Customer
) -> None:
    sink = start_sink()
    try:
        register_webhook(
            server.api_base,
            sink.url,
            "whsec_filtered",
            name="filtered",
            events=["payment_intent.payment_failed"],
        )
        good = pay_off_session(client, customer, saved_card(client, customer), 100)
        bad = client.v1.payment_intents.create(
            {
                "amount": 100,
                "currency": "cny",
                "customer": customer.id,
                "payment_method": new_card(client, DECLINED_ON_CHARGE).id,
            }
        )
        with pytest.raises(stripe.CardError):
            client.v1.payment_intents.confirm(bad.id)
        delivery = sink.wait_for(lambda e: e["data"]["object"]["id"] == bad.id)
        stripe.Webhook.construct_event(
            delivery.body, delivery.headers["Stripe-Signature"], "whsec_filtered"
        )
        assert sink.events_about(good.id) == []
        assert {d.event["type"] for d in sink.deliveries} == {"payment_intent.payment_failed"}
    finally:
        # There is no route to remove a webhook: an empty filter silences it.
        register_webhook(server.api_base, sink.url, "whsec_filtered", name="filtered", events=[])
        stop_sink(sink)
