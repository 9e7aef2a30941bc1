"""Journey 3, the government officer: create and publish a program, approve and reject
applications, see a redemption, review an anomaly, create, approve and pay a settlement,
download the XLSX export and verify the audit chain, in a real browser."""

from __future__ import annotations

import io
from datetime import timedelta

import openpyxl
import sqlalchemy as sa

from marketplace.db import utcnow
from vouchers.models import Program, Settlement, SettlementStatus

PROGRAM = "浦东新区 2027 年度工业软件上云券（端到端测试）"


def test_an_officer_runs_a_program_from_creation_to_a_paid_settlement(site, journey) -> None:
    officer = journey()
    officer.sign_in("officer@demo.local")
    officer.go("/vouchers/programs/new")
    page = officer.page
    page.fill("input[name=name]", PROGRAM)
    page.check("input[name=kind][value=cloud]")
    # The region is picked, province -> city -> district, as at registration.
    page.select_option("select[data-region-level=province]", "310000")
    page.select_option("select[data-region-level=city]", "310100")
    page.select_option("select[data-region-level=district]", "310115")
    page.fill("input[name=budget]", "300000")
    page.fill("input[name=ratio]", "40")
    page.fill("input[name=annual_cap]", "10000")
    for box in page.locator("input[name=size_classes]").all():
        box.check()
    today = utcnow().date()
    page.fill("input[name=opens_on]", (today - timedelta(days=1)).isoformat())
    page.fill("input[name=closes_on]", (today + timedelta(days=60)).isoformat())
    page.fill("input[name=validity_days]", "180")
    officer.shot("new-program")
    officer.submit("main form button[type=submit]")
    program_id = site.scalar(sa.select(Program.id).where(Program.name == PROGRAM))
    assert program_id is not None
    officer.submit("[data-action=publish]")
    assert "¥300,000.00" in officer.text()  # the budget, stated before it is confirmed
    officer.submit("[data-confirm-step] button[type=submit]")
    assert "已发布" in officer.text()
    assert "上海市 浦东新区" in officer.text()  # the region by name
    officer.shot("published")

    # Two Pudong enterprises apply on the public page.
    for email, amount in (("buyer@demo.local", "5000"), ("sme902@demo.local", "8000")):
        sme = journey()
        sme.sign_in(email)
        sme.go(f"/vouchers/p/{program_id}")
        sme.page.fill("[data-apply-form] input[name=requested]", amount)
        sme.submit("[data-apply-form] button[type=submit]")
        assert "申请已提交" in sme.text()
        sme.close()

    officer.go(f"/vouchers/programs/{program_id}")
    assert "上海恒丰精密零件有限公司" in officer.text()
    officer.shot("applications")
    rows = page.locator("[data-application-row]")
    assert rows.count() == 2
    恒丰 = page.locator("[data-application-row]", has_text="恒丰")
    恒丰.locator("input[name=amount]").fill("4000")  # approved for less
    with page.expect_navigation():
        恒丰.locator("[data-approve-form] button").click()
    金桥 = page.locator("[data-application-row]", has_text="金桥")
    金桥.locator("summary").click()
    金桥.locator("textarea[name=reason]").fill("近三年有欠税记录，暂不支持。")
    with page.expect_navigation():
        金桥.locator("[data-reject-form] button").click()
    assert page.locator("[data-approve-form]").count() == 0  # none waiting
    officer.shot("decided")

    # The buyer pays its open invoice with the new voucher (and its older one, if usable).
    buyer = journey()
    buyer.sign_in("buyer@demo.local")
    buyer.go("/billing/invoices?status=open")
    pay_links = buyer.page.locator("a[href$='/pay']")
    paid_with_voucher = False
    for index in range(pay_links.count()):
        buyer.go(pay_links.nth(index).get_attribute("href"))
        ours = buyer.page.locator("li[data-voucher]", has_text=PROGRAM)
        if buyer.page.locator("[data-apply-vouchers]").count() and ours.count():
            # Pay with the new program's voucher: the demo's older Pudong voucher may not
            # share an invoice with it (stacking rules), so the buyer picks this one.
            for box in buyer.page.locator("input[name=vouchers]").all():
                if box.is_enabled():
                    box.uncheck()
            ours.locator("input[name=vouchers]").check()
            buyer.shot("pay-with-voucher")
            buyer.submit("[data-apply-vouchers]")
            paid_with_voucher = True
            break
        buyer.go("/billing/invoices?status=open")
    assert paid_with_voucher, "an open invoice the voucher can pay"
    buyer.close()

    officer.go(f"/vouchers/programs/{program_id}/redemptions")
    assert "上海恒丰精密零件有限公司" in officer.text()
    officer.shot("redemptions")

    # An anomaly of the demo's compute program: reviewed and cleared.
    compute_id = site.scalar(sa.select(Program.id).where(Program.name.like("%算力券%")))
    officer.go(f"/vouchers/programs/{compute_id}/anomalies")
    review = page.locator("[data-review-form]").first
    review.locator("input[value=confirmed]").check()
    review.locator("textarea[name=note]").fill("已电话核实：作废后未重新开票，券额已退回预算。")
    with page.expect_navigation():
        review.locator("button[type=submit]").click()
    assert "核查结论已记录" in officer.text()
    officer.shot("anomaly-reviewed")

    # Settlement: create for the vendor, approve, record the bank payment.
    officer.go(f"/vouchers/programs/{program_id}/settlements")
    form = page.locator("[data-settlement-form]")
    form.locator("input[name=period_start]").fill((today - timedelta(days=1)).isoformat())
    form.locator("input[name=period_end]").fill((today + timedelta(days=1)).isoformat())
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    officer.shot("settlement-draft")
    with page.expect_navigation():
        page.locator("[data-settlement-row] form button").first.click()
    officer.shot("settlement-confirm")  # the batch's total, confirmed before approval
    with page.expect_navigation():
        page.locator("[data-confirm-step] button[type=submit]").click()
    row = page.locator("[data-settlement-row]").first
    row.locator("input[name=bank_reference]").fill("浦东财政-E2E-0001")
    with page.expect_navigation():
        row.locator("button[type=submit]").click()
    officer.shot("settlement-paid")
    assert (
        site.scalar(sa.select(Settlement.status).where(Settlement.program_id == program_id))
        is SettlementStatus.PAID
    )

    # The XLSX export opens with Chinese headers and amounts in yuan.
    with page.expect_download() as download:
        page.goto(f"/vouchers/programs/{program_id}/redemptions")
        page.click("a[href$='redemptions.xlsx']")
    workbook = openpyxl.load_workbook(io.BytesIO(download.value.path().read_bytes()))
    sheet = workbook.active
    headers = [cell.value for cell in sheet[1]]
    assert any("企业" in str(h) for h in headers) and any("元" in str(h) for h in headers)
    assert sheet.max_row >= 2

    officer.go("/vouchers/audit")
    assert "链条完整" in officer.text()
    officer.shot("audit")
