"""The JSON API plumbing: tokens, the error shape, the OpenAPI document."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from marketplace.models import OrgKind, Role
from tests.factories import add_member, create_org, create_token, create_user


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_error_shape(response, status: int, code: str) -> dict:
    assert response.status_code == status
    assert response.is_json
    error = response.get_json()["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["fields"], dict)
    return error


def test_me_answers_who_the_token_acts_as(client: FlaskClient, session: Session) -> None:
    user = create_user(session, email="api@example.com")
    org = create_org(session, OrgKind.VENDOR, owner=user)
    token = create_token(session, user, org)
    body = client.get("/api/v1/me", headers=bearer(token)).get_json()
    assert body["user"]["email"] == "api@example.com"
    assert body["organization"] == {
        "id": org.id,
        "kind": "vendor",
        "name": org.name,
        "uscc": org.uscc,
        "region_code": "310115",
        "industry_code": None,
        "size_class": None,
        "verified": False,
    }
    assert body["role"] == "owner"
    assert token.startswith(body["token_prefix"])


def test_token_acts_in_its_own_organization(client: FlaskClient, session: Session) -> None:
    user = create_user(session)
    create_org(session, owner=user)
    second = create_org(session, OrgKind.VENDOR, owner=user)
    token = create_token(session, user, second)
    assert (
        client.get("/api/v1/me", headers=bearer(token)).get_json()["organization"]["id"]
        == second.id
    )


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer "}, {"Authorization": "Basic abc"}, bearer("mkt_not-a-token")],
)
def test_401_shape(client: FlaskClient, headers: dict[str, str]) -> None:
    response = client.get("/api/v1/me", headers=headers)
    assert_error_shape(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_revoked_token_is_refused(client: FlaskClient, session: Session) -> None:
    user = create_user(session)
    org = create_org(session, owner=user)
    token = create_token(session, user, org)
    from tests.factories import login

    login(client, user)
    page = client.get("/tokens").get_data(as_text=True)
    token_id = page.split("/tokens/")[1].split("/revoke")[0]
    client.post(f"/tokens/{token_id}/revoke")
    assert_error_shape(client.get("/api/v1/me", headers=bearer(token)), 401, "unauthorized")


def test_404_shape(client: FlaskClient) -> None:
    assert_error_shape(client.get("/api/v1/no-such-thing"), 404, "not_found")
    assert_error_shape(client.get("/api/v1/regions?parent=999999"), 404, "not_found")


def test_422_shape_names_the_field(client: FlaskClient) -> None:
    error = assert_error_shape(client.get("/api/v1/regions?parent=31x"), 422, "validation_failed")
    assert "parent" in error["fields"]


def test_403_for_the_wrong_kind_of_organization(client: FlaskClient, session: Session) -> None:
    user = create_user(session)
    org = create_org(session, owner=user)  # an SME may not verify the audit chain
    assert_error_shape(
        client.get("/api/v1/audit/verify", headers=bearer(create_token(session, user, org))),
        403,
        "forbidden",
    )


def test_regions_and_industries(client: FlaskClient) -> None:
    provinces = client.get("/api/v1/regions").get_json()
    assert {"code": "310000", "name": "上海市", "level": 1, "leaf": False} in provinces
    pudong = client.get("/api/v1/regions?parent=310100").get_json()
    assert any(r["code"] == "310115" and r["leaf"] for r in pudong)
    industries = client.get("/api/v1/industries").get_json()
    assert len(industries) == 41 and industries[0]["code"] == "B06"


def test_error_messages_follow_accept_language(client: FlaskClient) -> None:
    zh = client.get("/api/v1/me").get_json()["error"]["message"]
    en = client.get("/api/v1/me", headers={"Accept-Language": "en"}).get_json()["error"]["message"]
    assert "Authorization: Bearer" in en
    assert zh != en


def test_openapi_document_is_generated(client: FlaskClient) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    me = spec["paths"]["/api/v1/me"]["get"]
    assert me["security"] == [{"bearerAuth": []}]
    assert "401" in me["responses"]
    assert "422" in spec["paths"]["/api/v1/regions"]["get"]["responses"]
    assert "Error" in spec["components"]["schemas"]


def test_member_of_one_org_cannot_see_anothers_tokens(
    client: FlaskClient, session: Session
) -> None:
    from tests.factories import login

    owner = create_user(session)
    org = create_org(session, owner=owner)
    create_token(session, owner, org)
    stranger_org = create_org(session)
    stranger = add_member(session, stranger_org, Role.OWNER)
    login(client, stranger)
    page = client.get("/tokens").get_data(as_text=True)
    assert owner.name not in page
    member = add_member(session, org, Role.MEMBER)
    client.post("/logout")
    login(client, member)
    page = client.get("/tokens").get_data(as_text=True)
    assert "mkt_" not in page  # members see only their own tokens
