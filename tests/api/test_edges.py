"""What the schema-driven fuzzing does not reach by chance: dates at the very edge of the
calendar in every date and date-time field of every documented request body, and a broken
multipart body posted to every route that takes a POST. No answer is a 500; an API refusal
is in the error shape."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest
import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.generation.modes import GenerationMode

from tests.api.test_fuzz import api_schema, role_headers  # noqa: F401  (fixtures)

EDGE_DATETIMES = (
    "0001-01-01T00:00:00+01:00",  # before year 1 once in UTC
    "9999-12-31T23:59:59-01:00",  # after year 9999 once in UTC
    "0001-01-01T00:00:00+00:00",
    "9999-12-31T23:59:59+00:00",
)
EDGE_DATES = ("0001-01-01", "9999-12-31")
DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT")
DATE = re.compile(r"^\d{4}-\d\d-\d\d$")

MALFORMED_MULTIPART = (
    b'--XyZ\r\nContent-Disposition: form-data; name="a\\"\r\n\r\nvalue\r\n--XyZ--\r\n'
)


def with_edges(value: Any, edge_datetime: str, edge_date: str) -> tuple[Any, int]:
    """``value`` with every date-time string replaced by ``edge_datetime`` and every date
    by ``edge_date``; also how many were replaced."""
    if isinstance(value, dict):
        out, count = {}, 0
        for key, item in value.items():
            out[key], n = with_edges(item, edge_datetime, edge_date)
            count += n
        return out, count
    if isinstance(value, list):
        pairs = [with_edges(item, edge_datetime, edge_date) for item in value]
        return [p[0] for p in pairs], sum(p[1] for p in pairs)
    if isinstance(value, str) and DATETIME.match(value):
        return edge_datetime, 1
    if isinstance(value, str) and DATE.match(value):
        return edge_date, 1
    return value, 0


def is_error_shape(response) -> bool:
    body = response.get_json(silent=True) or {}
    return {"code", "message"} <= set(body.get("error") or {})


def test_edge_dates_in_every_request_body_are_refused_not_a_500(
    api_schema: schemathesis.schemas.BaseSchema,  # noqa: F811
    role_headers: dict[str, dict[str, str]],  # noqa: F811
) -> None:
    operations = [
        result.ok()
        for result in api_schema.get_all_operations()
        if result.ok().method.upper() in ("POST", "PUT", "PATCH")
    ]
    failures: list[str] = []
    reached: set[str] = set()  # operations that got a body with dates in it
    for operation in operations:

        @given(
            case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
            edge=st.sampled_from(EDGE_DATETIMES),
            edge_date=st.sampled_from(EDGE_DATES),
        )
        @settings(
            max_examples=15,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def exercise(case, edge: str, edge_date: str) -> None:
            if not isinstance(case.body, dict | list):
                return
            case.body, replaced = with_edges(case.body, edge, edge_date)
            if not replaced:
                return
            reached.add(case.operation.label)
            for role in sorted(role_headers):  # the one role the endpoint serves among them
                response = case.call(headers=role_headers[role])
                assert response.status_code < 500, (role, case.body, response.text[:500])
                if response.status_code >= 400:
                    assert "error" in response.json(), response.text[:500]

        try:
            exercise()
        except Exception as error:  # collect them all, then fail once with the list
            failures.append(f"{operation.label}: {str(error)[:1500]}")
    # Programs, settlements and outcome reports at least.
    assert len(reached) >= 3, reached
    assert not failures, "\n\n".join(failures)


def _example_path(rule: str) -> str:
    return re.sub(r"<(?:(\w+):)?\w+>", lambda m: "1" if m.group(1) == "int" else "x", rule)


def test_a_broken_multipart_body_is_refused_by_every_post_route(
    app: Flask,
    client: FlaskClient,
    role_headers: dict[str, dict[str, str]],  # noqa: F811
) -> None:
    paths = sorted(
        {_example_path(rule.rule) for rule in app.url_map.iter_rules() if "POST" in rule.methods}
    )
    assert len(paths) > 50
    failures = []
    for path in paths:
        headers = role_headers["vendor"] if path.startswith("/api/") else {}
        response = client.post(
            path,
            data=MALFORMED_MULTIPART,
            content_type="multipart/form-data; boundary=XyZ",
            headers=headers,
        )
        if response.status_code >= 500:
            failures.append(f"{path}: {response.status_code}")
        elif (
            path.startswith("/api/")
            and response.status_code >= 400
            and not is_error_shape(response)
        ):
            failures.append(f"{path}: {response.status_code} not in the error shape")
    assert not failures, failures


@pytest.mark.parametrize("edge", EDGE_DATETIMES)
def test_edge_datetimes_parse_as_aware_datetimes_in_python(edge: str) -> None:
    # The values are well-formed ISO 8601: only their conversion to UTC overflows, which is
    # what the services must catch.
    assert datetime.fromisoformat(edge).tzinfo is not None
