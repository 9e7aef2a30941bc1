"""Schemathesis against /api/v1/openapi.json, authenticated as each kind of organization
and anonymously (a role drawn per example), with valid and with invalid requests: no answer is a 500, and every
answer matches the document (status code, content type, body schema). A bounded number of examples per operation runs in CI; set
API_FUZZ_EXAMPLES for a longer run (``API_FUZZ_EXAMPLES=300 pytest tests/api``)."""

from __future__ import annotations

import itertools
import os

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.orm import Session

from tests.billing.factories import buyer_actor
from tests.catalog.factories import operator_actor, vendor_actor
from tests.factories import create_token
from tests.vouchers.factories import officer_actor

EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "15"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def api_schema(app: Flask) -> schemathesis.schemas.BaseSchema:
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


@pytest.fixture
def role_headers(session: Session) -> dict[str, dict[str, str]]:
    """A bearer token per kind of organization, and none."""
    headers: dict[str, dict[str, str]] = {"anonymous": {}}
    for role, actor in {
        "sme": buyer_actor(session),
        "vendor": vendor_actor(session),
        "government": officer_actor(session),
        "operator": operator_actor(session),
    }.items():
        token = create_token(session, actor.user, actor.organization)
        headers[role] = {"Authorization": f"Bearer {token}"}
    session.commit()
    return headers


def test_every_answer_matches_the_document(
    api_schema: schemathesis.schemas.BaseSchema, role_headers: dict[str, dict[str, str]]
) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 20  # every endpoint of DESIGN.md section 6 is documented
    failures = []
    for operation, mode in itertools.product(operations, GenerationMode):

        @given(
            case=operation.as_strategy(generation_mode=mode),
            role=st.sampled_from(sorted(role_headers)),
        )
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def exercise(case, role: str) -> None:
            case.call_and_validate(headers=role_headers[role], checks=CHECKS)

        try:
            exercise()
        except Unsatisfiable:  # no invalid request exists (an operation without inputs)
            assert mode is GenerationMode.NEGATIVE, operation.label
        except Exception as error:  # collect them all, then fail once with the list
            failures.append(f"{operation.label} ({mode.value}): {str(error)[:1500]}")
    assert not failures, "\n\n".join(failures)
