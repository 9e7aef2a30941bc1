"""The rules through the JSON API (stacking, settlement conditions, co-funders, a
co-funder reading its share) and the buyer's acceptance of delivery by API and page."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from billing import delivery
from tests.factories import create_token, csrf_token, login
from tests.vouchers.factories import (
    contract_between,
    create_program,
    officer_actor,
    officer_of,
    sme_actor,
    vendor_actor,
)
from vouchers import cofunding, stacking


def bearer(session: Session, actor) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_token(session, actor.user, actor.organization)}"}


def test_rules_by_api(client: FlaskClient, session: Session) -> None:
    city = create_program(session, name="上海市上云券", region_prefix="31")
    district = create_program(session, name="浦东新区上云券")
    officer = officer_of(session, city)
    headers = bearer(session, officer)
    base = f"/api/v1/voucher-programs/{city.id}"

    answer = client.put(
        f"{base}/stacking",
        json={"partner_program_ids": [district.id], "combined_cap_bp": 20_000},
        headers=headers,
    )
    assert answer.status_code == 422 and "combined_cap_bp" in answer.json["error"]["fields"]
    assert stacking.rule_of(session, city) is None
    answer = client.put(
        f"{base}/stacking",
        json={"partner_program_ids": [district.id], "combined_cap_bp": 7000},
        headers=headers,
    )
    assert answer.status_code == 200
    assert answer.json["stacking"] == {
        "partner_program_ids": [district.id],
        "combined_cap_bp": 7000,
    }

    answer = client.put(
        f"{base}/settlement-conditions",
        json={"require_fapiao": True, "min_days_used": 30},
        headers=headers,
    )
    assert answer.status_code == 200
    assert answer.json["settlement_conditions"] == {
        "require_fapiao": True, "require_acceptance": False, "min_days_used": 30,
    }  # fmt: skip
    answer = client.put(f"{base}/funders", json={"funders": []}, headers=headers)
    assert answer.status_code == 409  # published: the funders are fixed

    outsider = officer_actor(session)
    assert client.get(f"{base}/rules", headers=bearer(session, outsider)).status_code == 404
    assert (
        client.put(
            f"{base}/stacking",
            json={"partner_program_ids": [], "combined_cap_bp": None},
            headers=bearer(session, outsider),
        ).status_code
        == 404
    )
    assert stacking.rule_of(session, city).combined_cap_bp == 7000


def test_cofunders_by_api_and_the_cofunder_reads_its_share(
    client: FlaskClient, session: Session
) -> None:
    city = officer_actor(session)
    district = officer_actor(session)
    program = create_program(session, city, publish=False)
    base = f"/api/v1/voucher-programs/{program.id}"
    answer = client.put(
        f"{base}/funders",
        json={
            "funders": [
                {"organization_id": city.organization.id, "weight": 1},
                {"organization_id": district.organization.id, "weight": 1},
            ]
        },
        headers=bearer(session, city),
    )
    assert answer.status_code == 200
    assert [f["weight"] for f in answer.json["funders"]] == [1, 1]
    assert len(cofunding.funders_of(session, program)) == 2
    read = client.get(f"{base}/rules", headers=bearer(session, district))
    assert read.status_code == 200 and read.json["funders"][1]["organization_id"] == (
        district.organization.id
    )
    answer = client.put(
        f"{base}/funders",
        json={"funders": [{"organization_id": city.organization.id, "weight": "x"}]},
        headers=bearer(session, city),
    )
    assert answer.status_code == 422


def test_the_buyer_accepts_delivery_by_api_and_on_the_contract_page(
    client: FlaskClient, session: Session
) -> None:
    buyer, vendor = sme_actor(session), vendor_actor(session)
    contract = contract_between(session, buyer, vendor)
    path = f"/api/v1/contracts/{contract.id}/accept-delivery"
    assert client.post(path, json={}, headers=bearer(session, vendor)).status_code == 403
    answer = client.post(path, json={"note": "验收合格"}, headers=bearer(session, buyer))
    assert answer.status_code == 200 and answer.json["note"] == "验收合格"
    assert client.post(path, json={}, headers=bearer(session, buyer)).status_code == 409
    assert delivery.acceptance_of(session, contract) is not None

    other = contract_between(session, buyer, vendor_actor(session))
    login(client, buyer.user)
    page = client.get(f"/billing/contracts/{other.id}").get_data(as_text=True)
    assert "data-accept-delivery" in page
    token = csrf_token(client, f"/billing/contracts/{other.id}")
    answer = client.post(
        f"/billing/contracts/{other.id}/accept-delivery",
        data={"csrf_token": token, "note": "上线运行正常"},
    )
    assert answer.status_code == 302
    page = client.get(f"/billing/contracts/{other.id}").get_data(as_text=True)
    assert "data-delivery-accepted" in page and "上线运行正常" in page
