"""Every JSON API route is in the generated OpenAPI document (and so in the fuzzing of
tests/api/test_fuzz.py, which walks the document): a route added to a blueprint but not
described with flask-smorest would be neither documented nor fuzzed."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient

NOT_OPERATIONS = {"/api/v1/openapi.json"}  # the document itself


def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule)


def test_every_api_route_and_method_is_documented(app: Flask, client: FlaskClient) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    documented = {
        (path, method.upper())
        for path, operations in spec["paths"].items()
        for method in operations
        if method in {"get", "post", "put", "patch", "delete"}
    }
    routed = {
        (_openapi_path(rule.rule), method)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/") and rule.rule not in NOT_OPERATIONS
        for method in rule.methods or ()
        if method not in {"HEAD", "OPTIONS"}
    }
    assert routed, "no API routes found"
    missing = sorted(routed - documented)
    assert not missing, f"routes missing from /api/v1/openapi.json: {missing}"


def test_the_integration_endpoints_of_issue_14_are_documented(client: FlaskClient) -> None:
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path, method in [
        ("/api/v1/webhook-endpoints", "post"),
        ("/api/v1/webhook-endpoints/{endpoint_id}/rotate", "post"),
        ("/api/v1/webhook-endpoints/{endpoint_id}/deliveries", "get"),
        ("/api/v1/webhook-deliveries/{delivery_id}/redeliver", "post"),
        ("/api/v1/fulfillment/resolve", "post"),
        ("/api/v1/entitlements", "get"),
        ("/api/v1/listings", "post"),
        ("/api/v1/listings/{solution_id}/submit", "post"),
        ("/api/v1/listings/{solution_id}/withdraw", "post"),
        ("/api/v1/listings/{solution_id}/fulfillment-url", "put"),
    ]:
        assert method in paths.get(path, {}), (path, method)
    sync = {p["name"] for p in paths["/api/v1/solutions"]["get"]["parameters"]}
    assert "updated_since" in sync
    assert "304" in paths["/api/v1/solutions"]["get"]["responses"]
