"""The check every API answer goes through (tests/api/shapes.py): it catches an undeclared
field, a missing one, a wrong type, a null not declared nullable, a state outside its enum
and a time without its offset; and it is installed on the test app, so each API test checks
the answers it gets against the schema the route declares."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask, request_finished
from flask.testing import FlaskClient

from tests.api.shapes import ShapeMismatch, check, declared_schema, spec_of

SPEC: dict[str, Any] = {
    "components": {
        "schemas": {
            "Line": {
                "type": "object",
                "properties": {"amount_fen": {"type": "integer"}},
                "required": ["amount_fen"],
            },
            "Invoice": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "status": {"type": "string", "enum": ["open", "paid"]},
                    "paid_at": {"type": "string", "format": "date-time", "nullable": True},
                    "due_on": {"type": "string", "format": "date"},
                    "lines": {"type": "array", "items": {"$ref": "#/components/schemas/Line"}},
                    "details": {"type": "object", "additionalProperties": {}},
                },
                "required": ["id", "status", "paid_at"],
            },
        }
    }
}
INVOICE = {"$ref": "#/components/schemas/Invoice"}
GOOD = {
    "id": 7,
    "status": "paid",
    "paid_at": "2026-05-01T08:00:00+00:00",
    "due_on": "2026-05-31",
    "lines": [{"amount_fen": 100}],
    "details": {"anything": [1, "two"]},
}


def test_an_answer_that_fits_its_schema_passes() -> None:
    check(SPEC, INVOICE, GOOD)
    check(SPEC, INVOICE, {**GOOD, "paid_at": None})


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"surprise": 1}, "'surprise' is not declared"),
        ({"id": "7"}, "not of the declared type integer"),
        ({"id": True}, "is a boolean"),
        ({"status": "lost"}, "not one of"),
        ({"status": None}, "does not allow null"),
        ({"paid_at": "2026-05-01T08:00:00"}, "has no offset"),
        ({"paid_at": "yesterday"}, "not an ISO 8601 time"),
        ({"due_on": "31/05/2026"}, "not a YYYY-MM-DD day"),
        ({"lines": [{"amount_fen": 1.5}]}, "$.lines[0].amount_fen"),
    ],
)
def test_a_mismatch_is_named(change: dict[str, Any], complaint: str) -> None:
    with pytest.raises(ShapeMismatch) as caught:
        check(SPEC, INVOICE, {**GOOD, **change})
    assert complaint in str(caught.value)


def test_a_missing_required_field_is_named() -> None:
    body = {key: value for key, value in GOOD.items() if key != "status"}
    with pytest.raises(ShapeMismatch) as caught:
        check(SPEC, INVOICE, body)
    assert "'status' is missing" in str(caught.value)


def test_the_test_app_checks_every_answer(app: Flask, client: FlaskClient) -> None:
    assert request_finished.has_receivers_for(app)
    spec = spec_of(app)
    schema = declared_schema(spec, "/api/v1/solutions", "GET", 200)
    assert schema is not None
    body = client.get("/api/v1/solutions").get_json()
    check(spec, schema, body)  # what the hook did for this request, done again in view
    with pytest.raises(ShapeMismatch):
        check(spec, schema, {**body, "undeclared": True})


def test_the_document_declares_times_with_their_offset_and_money_as_integers(app: Flask) -> None:
    spec = spec_of(app)
    invoice = spec["components"]["schemas"]["InvoiceOut"]["properties"]
    assert invoice["issued_at"]["format"] == "date-time"
    assert invoice["amount_due_fen"]["type"] == "integer"
    assert invoice["status"]["enum"] == ["draft", "open", "paid", "void", "uncollectible"]
    contract = spec["components"]["schemas"]["ContractOut"]["properties"]
    assert contract["current_period_start"]["format"] == "date-time"
