"""Journey 2, the vendor, in English: register, be verified by the operator, list a
solution with a pay-for-results plan, submit it, have it published, agree the baseline
with a buyer, report a result, see the buyer dispute it and the operator decide, and find
it invoiced after the billing run."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from billing.models import Contract, ContractStatus, Invoice
from billing.outcomes.models import OutcomeReport, ReportStatus
from catalog.models import Solution
from marketplace.db import utcnow
from marketplace.models import Organization
from tests.factories import make_uscc

EMAIL = "sales@qiantang-vision.example"
USCC = make_uscc("330106", 960)
ORG = "杭州钱塘视觉科技有限公司"
SLUG = "qiantang-defect-rate-outcome"


def choose(form, name: str, value: str) -> None:
    """Pick a radio drawn as a button (Bootstrap's btn-check): click its label."""
    radio = form.locator(f"input[name={name}][value={value}]")
    form.locator(f"label[for={radio.get_attribute('id')}]").click()
    assert radio.is_checked()


def english(person) -> None:
    person.go("/")
    person.use_language()


def test_a_vendor_lists_an_outcome_plan_and_gets_a_disputed_result_invoiced(site, journey) -> None:
    vendor = journey(locale="en")
    page = vendor.page
    english(vendor)
    vendor.register(
        kind="vendor",
        person="Chen Hao",
        email=EMAIL,
        password="Qiantang-2026-e2e",
        organization=ORG,
        uscc=USCC,
        region="330106",
        representative="陈浩",
        address="浙江省杭州市西湖区文三路 960 号",
        phone="0571-88960960",
    )
    assert "Sign in" not in page.inner_text("nav")
    org_id = site.scalar(sa.select(Organization.id).where(Organization.uscc == USCC))

    operator = journey(locale="en")
    operator.sign_in("operator@demo.local")
    english(operator)
    operator.go(f"/console/organizations/{org_id}")
    operator.page.fill("textarea[name=note]", "Business licence checked.")
    operator.submit("button[name=decision][value=verify]")
    operator.shot("vendor-verified")

    # The listing and its pay-for-results plan.
    vendor.go("/vendor/solutions/new")
    page.fill("input[name=name]", "注塑件缺陷率效果付费质检")
    page.fill("input[name=slug]", SLUG)
    page.fill(
        "textarea[name=summary]", "AI 视觉检测注塑件外观缺陷，按缺陷率下降付费，没有改善不收费。"
    )
    page.fill("input[name=name_en]", "Injection Defect Rate, Pay for Results")
    page.fill(
        "textarea[name=summary_en]", "AI visual inspection; you pay only for a lower defect rate."
    )
    page.fill("textarea[name=description]", "## 方案\n\n工位相机加边缘盒子，按月统计缺陷率。")
    page.select_option("select[name=industries]", ["C29"])
    page.check("input[name=scenarios][value='pm.quality']")
    page.check("input[name=delivery][value=edge]")
    page.fill("input[name=deploy_days]", "10")
    vendor.shot("listing")
    vendor.submit("main form button[type=submit]")
    plan_form = page.locator("form", has=page.locator("input[name=kpi_name]"))
    plan_form.locator("input[name=name]").fill("按缺陷率下降付费")
    plan_form.locator("input[name=name_en]").fill("Pay per point of defect rate saved")
    choose(plan_form, "billing_model", "outcome")
    plan_form.locator("input[name=kpi_name]").fill("外观缺陷率")
    plan_form.locator("input[name=kpi_unit]").fill("%")
    choose(plan_form, "direction", "decrease")
    choose(plan_form, "outcome_pricing", "price")
    plan_form.locator("input[name=price_per_unit_yuan]").fill("5000")  # ¥5,000 per point
    plan_form.locator("input[name=cap]").fill("20000")
    plan_form.locator("input[name=verification_days]").fill("7")
    vendor.shot("outcome-plan")
    with page.expect_navigation():
        plan_form.locator("button[type=submit]").click()
    solution_id = site.scalar(sa.select(Solution.id).where(Solution.slug == SLUG))
    vendor.go(f"/vendor/solutions/{solution_id}")
    with page.expect_navigation():
        page.click(f"form[action$='/vendor/solutions/{solution_id}/submit'] button")
    vendor.shot("submitted")

    operator.go(f"/console/listings/{solution_id}")
    operator.submit(f"form[action$='/console/listings/{solution_id}/approve'] button")
    operator.shot("published")

    # A buyer starts it with a baseline; the vendor agrees.
    buyer = journey(locale="en")
    buyer.sign_in("buyer@demo.local")
    english(buyer)
    buyer.go(f"/solutions/{SLUG}")
    with buyer.page.expect_navigation():
        buyer.page.click("[data-start-plan] a[href*='/start']")
    buyer.page.fill("input[name=baseline]", "3.2")
    buyer.page.fill("textarea[name=baseline_note]", "Average of the last six months' QC records.")
    buyer.page.check("input[name=accept_agreement]")
    buyer.submit("main form button[type=submit]")
    contract_id = site.scalar(sa.select(Contract.id).join(Solution).where(Solution.slug == SLUG))
    vendor.go(f"/billing/contracts/{contract_id}")
    vendor.submit("[data-accept-baseline]")
    assert "data-baseline-agreed" in page.content()
    vendor.shot("baseline-agreed")

    # Time travel: the first month is over (the contract started 40 days ago).
    with site.engine.begin() as connection:
        start = utcnow() - timedelta(days=40)
        connection.execute(
            sa.update(Contract)
            .where(Contract.id == contract_id)
            .values(anchor_at=start, current_period_start=start)
        )

    vendor.go(f"/billing/contracts/{contract_id}")
    page.fill("#report input[name=measured]", "2.1")
    page.fill("#report textarea[name=note]", "QC line records attached.")
    vendor.submit("#report button[type=submit]")
    vendor.shot("reported")
    report_id = site.scalar(
        sa.select(OutcomeReport.id).where(OutcomeReport.contract_id == contract_id)
    )

    buyer.go(f"/billing/contracts/{contract_id}")
    buyer.shot("buyer-sees-report")
    buyer.page.click(f"[data-report='{report_id}'] ~ tr summary, tr.report-details summary")
    buyer.page.fill(
        f"#reason-{report_id}", "Two new moulds went live this month; not all of it is yours."
    )
    buyer.submit("[data-dispute-result]")
    assert (
        site.scalar(sa.select(OutcomeReport.status).where(OutcomeReport.id == report_id))
        is ReportStatus.DISPUTED
    )

    operator.go("/billing/console/outcomes")
    card = operator.page.locator(f"article[data-report='{report_id}']")
    card.locator("input[value=adjust]").check()
    card.locator("input[name=adjusted]").fill("2.6")
    card.locator("textarea[name=note]").fill("Half of the improvement came from the new moulds.")
    with operator.page.expect_navigation():
        card.locator("[data-resolve]").click()
    operator.shot("resolved")

    site.cli("billing", "run", "--as-of", utcnow().isoformat())
    invoice_id = site.scalar(
        sa.select(OutcomeReport.invoice_id).where(OutcomeReport.id == report_id)
    )
    assert invoice_id is not None
    total = site.scalar(sa.select(Invoice.total_fen).where(Invoice.id == invoice_id))
    assert total == 300_000  # (3.2 - 2.6) points x ¥5,000
    vendor.go(f"/billing/contracts/{contract_id}")
    assert "Half of the improvement came from the new moulds." in vendor.text()
    vendor.shot("invoiced")
    status = site.scalar(sa.select(Contract.status).where(Contract.id == contract_id))
    assert status is ContractStatus.ACTIVE
