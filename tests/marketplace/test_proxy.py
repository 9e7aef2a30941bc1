"""Behind a proxy (PROXY_COUNT), the client's own address is what per-client limits count."""

from __future__ import annotations

from flask import request

from marketplace import create_app


def _remote_addr(config: dict[str, object], headers: dict[str, str]) -> str:
    app = create_app(config)

    @app.get("/_test/addr")
    def addr() -> str:
        return request.remote_addr or ""

    answer = app.test_client().get(
        "/_test/addr", headers=headers, environ_base={"REMOTE_ADDR": "10.0.0.2"}
    )
    app.extensions["marketplace.db"].engine.dispose()
    return answer.get_data(as_text=True)


def test_the_forwarded_address_counts_only_behind_a_configured_proxy(
    config: dict[str, object],
) -> None:
    forwarded = {"X-Forwarded-For": "203.0.113.7"}
    assert _remote_addr(dict(config), forwarded) == "10.0.0.2"  # nobody trusted: spoofable
    assert _remote_addr({**config, "PROXY_COUNT": 1}, forwarded) == "203.0.113.7"
