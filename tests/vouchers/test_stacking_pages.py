"""The demo's Pudong programs show a district program stacked with a city program, a
co-funded program with its settlement split, and a held-back redemption; the officer's
rules page saves a stacking rule and refuses a bad one."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from devtools.demo import stacking as stacking_demo
from devtools.demo.platform import DEMO_PASSWORD
from tests.factories import csrf_token
from tests.marketplace.test_cli import load_demo_into
from vouchers import cofunding, settlement_conditions, stacking
from vouchers.models import Program, Redemption, RedemptionStatus, Settlement


def sign_in(client: FlaskClient, email: str) -> None:
    client.post("/login", data={"email": email, "password": DEMO_PASSWORD})


def test_the_demo_shows_stacking_cofunding_and_a_held_back_redemption(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    load_demo_into(app, session)
    city = session.scalar(sa.select(Program).where(Program.name == stacking_demo.CITY_PROGRAM))
    cofunded = session.scalar(
        sa.select(Program).where(Program.name == stacking_demo.COFUNDED_PROGRAM)
    )
    assert city is not None and cofunded is not None
    city_rows = session.scalars(
        sa.select(Redemption).where(
            Redemption.program_id == city.id, Redemption.status == RedemptionStatus.ACTIVE
        )
    ).all()
    assert len(city_rows) == 1
    invoice_id = city_rows[0].invoice_id
    on_invoice = stacking.stacked_programs(session, [invoice_id])[invoice_id]
    assert len(on_invoice) == 2 and city in on_invoice
    paid = session.scalar(
        sa.select(sa.func.sum(Redemption.amount_fen)).where(
            Redemption.invoice_id == invoice_id, Redemption.status == RedemptionStatus.ACTIVE
        )
    )
    eligible = city_rows[0].eligible_fen
    assert paid <= eligible * 7000 // 10000 + 1

    batch = session.scalar(sa.select(Settlement).where(Settlement.program_id == cofunded.id))
    shares = cofunding.settlement_shares(session, batch)
    assert len(shares) == 2 and sum(shares.values()) == batch.total_fen
    assert max(shares.values()) - min(shares.values()) <= 1
    waiting = settlement_conditions.waiting(session, cofunded, now=batch.created_at)
    assert [why for _r, why in waiting] == [["not_accepted"]]

    from vouchers import exports

    sheet = exports.to_csv(exports.settlements_sheet(session, cofunded)).decode("utf-8-sig")
    assert "出资方分摊" in sheet and "上海市经济和信息化委员会" in sheet and "买方尚未验收" in sheet

    sign_in(client, "officer@demo.local")
    page = client.get(f"/vouchers/programs/{cofunded.id}/settlements").get_data(as_text=True)
    assert "data-held-back-redemption" in page and "data-funder-share" in page
    assert "data-batch-held-back" in page
    pudong_cloud = next(p for p in on_invoice if p.id != city.id)
    page = client.get(f"/vouchers/programs/{pudong_cloud.id}/redemptions").get_data(as_text=True)
    assert "data-stacked-with" in page and city.name in page
    page = client.get(f"/vouchers/programs/{pudong_cloud.id}/rules").get_data(as_text=True)
    assert f'data-partner="{city.id}"' in page and "70%" in page

    client.post("/logout")
    sign_in(client, "city@demo.local")
    page = client.get("/vouchers/cofunded").get_data(as_text=True)
    assert f'data-cofunded-program="{cofunded.id}"' in page and "data-my-settled" in page
    assert client.get(f"/vouchers/programs/{cofunded.id}/rules").status_code == 404


def test_the_rules_page_saves_a_rule_and_refuses_a_bad_cap(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    load_demo_into(app, session)
    city = session.scalar(sa.select(Program).where(Program.name == stacking_demo.CITY_PROGRAM))
    sign_in(client, "city@demo.local")
    path = f"/vouchers/programs/{city.id}/rules"
    token = csrf_token(client, path)
    answer = client.post(f"{path}/stacking", data={"csrf_token": token, "combined_cap": "150"})
    assert answer.status_code == 422
    assert stacking.rule_of(session, city).combined_cap_bp == 7000
    answer = client.post(f"{path}/stacking", data={"csrf_token": token, "combined_cap": "60"})
    assert answer.status_code == 302
    session.expire_all()
    assert stacking.rule_of(session, city).combined_cap_bp == 6000
    assert stacking.rule_of(session, city).partner_program_ids == []
