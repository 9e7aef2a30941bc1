"""The officer sees the fapiao status on the settlements tab of a program that settles only
invoiced redemptions: a redemption whose invoice has no fapiao is listed as held back with
that reason, a batch drafted meanwhile says it held it back and why, and once the vendor
issues the fapiao the redemption is no longer waiting."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from billing import fapiao as fapiao_rules
from billing.fapiao_models import FapiaoType
from tests.factories import login
from tests.vouchers.factories import T0, create_program, officer_of, sme_actor, vendor_actor
from tests.vouchers.test_stacking_cofunding import PDF, draft_batch, paid_invoice
from vouchers import settlement_conditions


def test_the_settlements_tab_shows_a_redemption_held_back_for_its_fapiao(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    program = create_program(session)
    officer = officer_of(session, program)
    buyer, vendor = sme_actor(session), vendor_actor(session)
    with app.app_context():
        settlement_conditions.set_conditions(
            session, program, actor=officer, require_fapiao=True, require_acceptance=False,
            min_days_used=None, now=T0,
        )  # fmt: skip
        invoiced = paid_invoice(session, program, buyer, vendor, 6_000)
        missing = paid_invoice(session, program, buyer, vendor, 4_000)
        found = fapiao_rules.request(
            session, invoiced, actor=buyer, type_=FapiaoType.NORMAL, now=T0
        )
        fapiao_rules.record_issued(
            session, found, actor=vendor, number="26312000000012345678", issued_on=T0.date(),
            amount_fen=invoiced.total_fen, data=PDF, filename="f.pdf",
            upload_folder=Path(app.config["UPLOAD_FOLDER"]), now=T0,
        )  # fmt: skip
        draft_batch(session, program, officer, vendor)
    officer.user.locale = "en"
    session.flush()
    login(client, officer.user)

    tab = client.get(f"/vouchers/programs/{program.id}/settlements").get_data(as_text=True)
    assert "data-held-back-redemption" in tab and "data-batch-held-back" in tab
    assert tab.count("The fapiao is not issued yet") == 2  # waiting now, and in the batch
    assert "¥20.00" in tab  # the held-back redemption: 50% of ¥40

    with app.app_context():
        later = fapiao_rules.request(session, missing, actor=buyer, type_=FapiaoType.NORMAL, now=T0)
        fapiao_rules.record_issued(
            session, later, actor=vendor, number="26312000000012345679", issued_on=T0.date(),
            amount_fen=missing.total_fen, data=PDF, filename="g.pdf",
            upload_folder=Path(app.config["UPLOAD_FOLDER"]), now=T0,
        )  # fmt: skip
    session.flush()
    tab = client.get(f"/vouchers/programs/{program.id}/settlements").get_data(as_text=True)
    assert "data-held-back-redemption" not in tab
    assert tab.count("The fapiao is not issued yet") == 1  # only the batch's record remains
