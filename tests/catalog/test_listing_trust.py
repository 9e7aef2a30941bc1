"""FAQ, support channels and hours, SLA and deployment steps: one validator for the console,
the vendor API and the import; shown on the solution page (escaped) and in the API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from catalog.models import Solution
from catalog.validation import parse_solution
from marketplace.errors import DomainError
from tests.catalog.factories import operator_actor, payload, publish_solution, vendor_actor
from tests.factories import create_token

TRUST: dict[str, Any] = {
    "faq": [
        {"question": "需要采购相机吗？", "answer": "不需要，可使用现有工业相机。"},
        {"question": "<script>alert(1)</script>", "answer": "数据存<b>本地</b>"},
    ],
    "support": {
        "phone": "400-820-1234",
        "email": "support@example.cn",
        "wechat": "qc-helper",
        "hours": "工作日 9:00-18:00",
    },
    "sla": {"availability_bp": 9990, "response_hours": 4},
    "deploy_steps": ["远程评估产线", "安装相机与边缘盒", "标注样本并训练", "上线验收"],
}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_api_takes_and_gives_back_the_trust_fields(
    client: FlaskClient, session: Session
) -> None:
    vendor = vendor_actor(session)
    operator = operator_actor(session)
    token = create_token(session, vendor.user, vendor.organization)
    operator_token = create_token(session, operator.user, operator.organization)
    session.commit()
    created = client.post(
        "/api/v1/listings", json={**payload(slug="trusted-qc"), **TRUST}, headers=bearer(token)
    )
    assert created.status_code == 201, created.get_json()
    current = created.get_json()["current"]
    assert {key: current[key] for key in TRUST} == TRUST
    listing_id = created.get_json()["id"]
    assert (
        client.post(f"/api/v1/listings/{listing_id}/submit", headers=bearer(token)).status_code
        == 200
    )
    approved = client.post(f"/api/v1/listings/{listing_id}/approve", headers=bearer(operator_token))
    assert approved.status_code == 200, approved.get_json()
    detail = client.get("/api/v1/solutions/trusted-qc").get_json()
    assert {key: detail[key] for key in TRUST} == TRUST


def test_the_api_names_the_bad_trust_field(client: FlaskClient, session: Session) -> None:
    vendor = vendor_actor(session)
    token = create_token(session, vendor.user, vendor.organization)
    session.commit()
    bad = {**payload(), **TRUST, "sla": {"availability_bp": 12_000}}
    answer = client.post("/api/v1/listings", json=bad, headers=bearer(token))
    assert answer.status_code == 422
    assert set(answer.get_json()["error"]["fields"]) == {"sla.availability_bp"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"faq": [{"question": "", "answer": "x"}]}, "faq[0].question"),
        ({"faq": [{"question": "q", "answer": "a"}] * 13}, "faq"),
        ({"support": {"email": "not-an-address"}}, "support.email"),
        ({"support": "phone"}, "support"),
        ({"sla": {"response_hours": 0}}, "sla.response_hours"),
        ({"deploy_steps": ["ok", ""]}, "deploy_steps[1]"),
        ({"deploy_steps": ["x" * 201]}, "deploy_steps[0]"),
    ],
)
def test_the_shared_validator_refuses_bad_trust_fields(change: dict[str, Any], field: str) -> None:
    with pytest.raises(DomainError) as refused:
        parse_solution({**payload(), **change})
    assert refused.value.field == field


def test_the_import_keeps_the_trust_fields(
    app: Flask, client: FlaskClient, session: Session, tmp_path: Path
) -> None:
    vendor = vendor_actor(session)
    operator_actor(session)
    path = tmp_path / "s.jsonl"
    path.write_text(json.dumps({**payload(slug="imported-trust"), **TRUST}, ensure_ascii=False))
    result = app.test_cli_runner().invoke(
        args=["catalog", "import", str(path), "--vendor", vendor.organization.uscc, "--publish"]
    )
    assert result.exit_code == 0, result.output
    detail = client.get("/api/v1/solutions/imported-trust").get_json()
    assert {key: detail[key] for key in TRUST} == TRUST


def test_the_solution_page_shows_them_escaped(client: FlaskClient, session: Session) -> None:
    solution = publish_solution(session, **TRUST)
    page = client.get(f"/solutions/{solution.slug}").get_data(as_text=True)
    assert "需要采购相机吗？" in page and "不需要，可使用现有工业相机。" in page
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "数据存&lt;b&gt;本地&lt;/b&gt;" in page
    for shown in ("400-820-1234", "support@example.cn", "qc-helper", "工作日 9:00-18:00", "99.9%"):
        assert shown in page
    steps = [page.index(step) for step in TRUST["deploy_steps"]]
    assert steps == sorted(steps)


def test_the_console_round_trips_the_trust_fields(app: Flask, session: Session) -> None:
    from tests.catalog.test_vendor_console import field_errors, listing_form, signed_in

    vendor = vendor_actor(session)
    client = signed_in(app, vendor)
    form = listing_form(
        slug="console-trust",
        **{
            "faq-0-question": TRUST["faq"][0]["question"],
            "faq-0-answer": TRUST["faq"][0]["answer"],
            "faq-1-question": "",
            "faq-1-answer": "",
            "support_phone": "400-820-1234",
            "support_email": "support@example.cn",
            "support_wechat": "qc-helper",
            "support_hours": "工作日 9:00-18:00",
            "sla_availability": "99.9",
            "sla_response_hours": "4",
            "deploy_steps": "远程评估产线\n\n安装相机与边缘盒\n",
        },
    )
    response = client.post("/vendor/solutions/new", data=form)
    assert response.status_code == 302, field_errors(response.get_data(as_text=True))
    solution = session.scalar(sa.select(Solution).where(Solution.slug == "console-trust"))
    revision = solution.current
    assert revision.faq == TRUST["faq"][:1]
    assert revision.support == TRUST["support"]
    assert revision.sla == TRUST["sla"]
    assert revision.deploy_steps == ["远程评估产线", "安装相机与边缘盒"]

    page = client.get(f"/vendor/solutions/{solution.id}/edit").get_data(as_text=True)
    for shown in ('value="99.9"', 'value="4"', 'value="qc-helper"', "需要采购相机吗？"):
        assert shown in page

    for name, value in (("sla_availability", "50"), ("support_email", "nobody")):
        response = client.post(f"/vendor/solutions/{solution.id}/edit", data={**form, name: value})
        assert response.status_code == 200
        assert name in field_errors(response.get_data(as_text=True))
    session.expire_all()
    assert solution.current.sla == TRUST["sla"]
