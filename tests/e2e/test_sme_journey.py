"""Journey 1, the SME owner, in Chinese: register with a USCC, search 质检, filter by
industry, compare two solutions, start pay-after-use, apply for the cloud voucher (the
officer approves), the vendor pushes usage through the API, the billing run invoices it,
and the invoice is paid with the voucher plus a newly saved card: paid, voucher reduced."""

from __future__ import annotations

import io
import json
import urllib.request
from datetime import timedelta

import sqlalchemy as sa
from PIL import Image

from billing.models import Contract, Invoice, InvoiceStatus
from marketplace.db import utcnow
from marketplace.models import Organization
from tests.factories import make_uscc
from vouchers.models import Application, Program, Voucher
from vouchers.notice_models import Notice

EMAIL = "owner@pujiang-textile.example"
USCC = make_uscc("310115", 950)
ORG = "上海浦江纺织科技有限公司"
SOLUTION = "yunzhi-fabric-defect-inspection"
# The smallest files the document check accepts as what they claim to be.
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def _png() -> bytes:
    """A photo of the licence, as a phone would send it (a real PNG)."""
    out = io.BytesIO()
    Image.new("RGB", (32, 20), (200, 40, 40)).save(out, format="PNG")
    return out.getvalue()


def test_an_sme_finds_starts_and_pays_with_a_voucher(site, journey) -> None:
    sme = journey()
    page = sme.page
    sme.register(
        kind="sme",
        person="王建华",
        email=EMAIL,
        password="Pujiang-2026-e2e",
        organization=ORG,
        uscc=USCC,
        region="310115",
        representative="王建华",
        address="上海市浦东新区川沙路 950 号",
        phone="021-58950950",
        industry="C17",
        employees="60",
        revenue="25000000",
    )
    assert site.scalar(sa.select(Organization.id).where(Organization.uscc == USCC))

    # Find: search 质检, narrow to the textile industry, compare two results.
    sme.go("/search?q=质检")
    sme.shot("search")
    # 质检 also finds other industries' listings (its synonyms), so textiles may sit
    # under "N more", as a person would find it.
    textiles = page.locator("[data-facet=industry] a[href*='industry=C17']")
    if not textiles.is_visible():
        page.locator("[data-facet=industry] .facet-more summary").click()
    with page.expect_navigation():
        textiles.click()
    assert "布匹瑕疵" in sme.text()
    boxes = page.locator("input[data-compare-slug]")
    assert boxes.count() >= 2
    boxes.nth(0).check()
    boxes.nth(1).check()
    with page.expect_navigation():
        page.click("[data-compare-go]")
    sme.shot("compare")
    assert page.locator("[data-compare-remove]").count() == 2

    # Start pay-after-use on the fabric inspection system.
    sme.go(f"/solutions/{SOLUTION}")
    usage = page.locator("[data-start-plan]", has_text="按验布米数计费")
    sme.shot("solution")
    usage.locator("[data-accept-agreement]").check()  # the service agreement, version 1
    with page.expect_navigation():
        usage.locator("button[type=submit]").click()
    assert "/next-steps" in page.url
    sme.shot("next-steps")
    org_id = site.scalar(sa.select(Organization.id).where(Organization.uscc == USCC))
    contract_id = site.scalar(sa.select(Contract.id).where(Contract.buyer_id == org_id))
    assert contract_id is not None

    # Apply for Pudong's cloud voucher.
    cloud = site.scalar(sa.select(Program.id).where(Program.name.like("%上云券%")))
    sme.go(f"/vouchers/p/{cloud}")
    page.fill("[data-apply-form] input[name=requested]", "5000")
    # Every document the program asks for: the licence as a photo, the others as PDFs.
    files = page.locator("[data-apply-form] input[type=file]")
    assert files.count() == 3
    for n in range(files.count()):
        image = n == 0
        files.nth(n).set_input_files(
            files=[
                {
                    "name": "licence.png" if image else f"document-{n}.pdf",
                    "mimeType": "image/png" if image else "application/pdf",
                    "buffer": _png() if image else PDF,
                }
            ]
        )
    sme.submit("[data-apply-form] button[type=submit]")
    sme.shot("applied")
    assert site.scalar(
        sa.select(Application.id).where(
            Application.program_id == cloud, Application.applicant_org_id == org_id
        )
    ), sme.text()

    officer = journey()
    officer.sign_in("officer@demo.local")
    officer.go(f"/vouchers/programs/{cloud}")
    row = officer.page.locator("[data-application-row]", has_text=ORG)
    # The officer ticks off each uploaded document on the checklist before approving.
    ticks = row.locator("[data-checklist] input[type=checkbox]")
    assert ticks.count() == 3
    for n in range(ticks.count()):
        ticks.nth(n).check()
    with officer.page.expect_navigation():
        row.locator("[data-approve-form] button").click()
    officer.shot("approved")
    officer.close()

    # Approval puts the voucher on public notice (公示); when the notice ends without an
    # upheld objection, the worker issues it.
    application_id = site.scalar(
        sa.select(Application.id).where(
            Application.program_id == cloud, Application.applicant_org_id == org_id
        )
    )
    ends_at = site.scalar(sa.select(Notice.ends_at).where(Notice.application_id == application_id))
    assert ends_at is not None
    assert site.scalar(sa.select(Voucher.id).where(Voucher.holder_org_id == org_id)) is None
    site.worker_job_at("vouchers.jobs.issue_after_notices", ends_at)
    assert site.scalar(sa.select(Voucher.id).where(Voucher.holder_org_id == org_id))

    # The vendor reports usage through the API; the billing run closes the period.
    vendor_uscc = site.scalar(sa.select(Organization.uscc).where(Organization.name.like("%云织%")))
    token = (
        site.cli(
            "token", "create", "--email", "vendor@demo.local", "--org", vendor_uscc, "--name", "e2e"
        )
        .strip()
        .splitlines()[-1]
    )
    now = utcnow()
    events = [
        {
            "id": f"e2e-meters-{n}",
            "contract_id": contract_id,
            "meter": "inspected_meters",
            "quantity": "12000",
            "occurred_at": (now + timedelta(seconds=n)).isoformat(),
        }
        for n in range(3)
    ]
    request = urllib.request.Request(
        f"{site.url}/api/v1/usage-events",
        data=json.dumps({"events": events}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request) as response:
        answer = json.load(response)
        assert answer["accepted"] == 3, answer
    period_end = site.scalar(
        sa.select(Contract.current_period_end).where(Contract.id == contract_id)
    )
    site.cli("billing", "run", "--as-of", (period_end + timedelta(minutes=1)).isoformat())
    invoice_id = site.scalar(
        sa.select(Invoice.id).where(Invoice.contract_id == contract_id, Invoice.reason == "usage")
    )
    assert invoice_id is not None

    # Pay: the voucher first, then the rest with a card saved on the way.
    sme.go(f"/billing/invoices/{invoice_id}/pay")
    sme.shot("pay")
    sme.submit("[data-apply-vouchers]")
    voucher_fen = site.scalar(sa.select(Invoice.voucher_fen).where(Invoice.id == invoice_id))
    assert voucher_fen > 0
    sme.submit("[data-save-card]")
    page.wait_for_selector("[data-card-element] input[placeholder=number]")
    page.fill("[data-card-element] input[placeholder=number]", "4242424242424242")
    page.fill("[data-card-element] input[placeholder=exp_month]", "12")
    page.fill("[data-card-element] input[placeholder=exp_year]", "30")
    page.fill("[data-card-element] input[placeholder=cvc]", "123")
    page.fill("[data-card-element] input[placeholder=postal_code]", "200120")
    sme.shot("card")
    page.click("[data-card-setup-submit]")
    page.wait_for_url(f"**/billing/invoices/{invoice_id}/pay")
    sme.submit("[data-pay-now]")
    sme.shot("paid")
    assert (
        site.scalar(sa.select(Invoice.status).where(Invoice.id == invoice_id)) is InvoiceStatus.PAID
    )
    sme.go("/vouchers/wallet")
    with site.engine.connect() as connection:
        voucher = connection.execute(
            sa.select(Voucher.face_fen, Voucher.balance_fen).where(Voucher.holder_org_id == org_id)
        ).one()
    assert voucher.balance_fen == voucher.face_fen - voucher_fen
    sme.shot("wallet")
