"""Who may read and who may change what: every route of the app (from ``url_map``, so a new
route without an expectation fails this test) against nine people, with the objects of one
organization of each kind in the URL.

The people: anonymous; an SME's owner and member; a vendor's member; a government
officer; the platform operator; and the owner or member of *another* organization of the
same kind (who must not reach the first one's contract, invoice, evidence, voucher,
application, settlement, token or export). Deny unless allowed: a person not listed for a
route must get 401, 403 or 404 (or, anonymous on a page, the login page); a person listed
must get through (any answer but those). Pages are requested with the person's session,
the JSON API with the person's bearer token. CSRF is off so that the answer is the
authorization's, and each request runs in a savepoint that is rolled back, so no request
changes what the next one sees.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from flask import Flask, url_for
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage

from billing import (
    bank_statements,
    fapiao,
    fapiao_models,
    fulfillment,
    payment_links,
    voucher_payments,
)
from billing.outcomes import baselines, evidence, reporting
from billing.payment_link_models import PaymentLink
from billing.payments import bank_transfers, refunds
from catalog import inquiries, screenshots
from catalog.models import Screenshot, VoucherKind
from devtools.demo.bank_statements import statement_csv
from marketplace import (
    checkpoints,
    licences,
    memberships,
    outbox,
    services,
    user_sessions,
    webhooks,
)
from marketplace.dates import CHINA
from marketplace.db import utcnow
from marketplace.jsonapi import Actor
from marketplace.models import Membership, OrgKind, Role
from marketplace.sizeclass import SizeClass
from marketplace.urls import UrlPolicy
from tests.audit_helpers import audit_setup
from tests.billing.factories import T0, start_contract
from tests.billing.test_outcomes import png_bytes
from tests.catalog.factories import OUTCOME, USAGE, create_solution, publish_solution
from tests.factories import actor_for, add_member, create_org, create_token, create_user, login
from tests.vouchers.factories import contract_between, invoice_for, officer_actor, sme_actor
from tests.vouchers.factories import vendor_actor as unrelated_vendor
from vouchers import anomalies, applications, flags, notice, programs, settlements
from vouchers import evidence as voucher_evidence
from vouchers.evidence import DocumentSpec, Upload
from vouchers.models import Anomaly

ANON, SO, SM, V, G, P, SB, VW, GB = [
    "anon",
    "sme_owner",
    "sme_member",
    "vendor",
    "officer",
    "operator",
    "other_sme",
    "other_vendor",
    "other_officer",
]
PEOPLE = [ANON, SO, SM, V, G, P, SB, VW, GB]
MATRIX_AUDIT_KEY = "bWF0cml4LWF1ZGl0LWtleS0zMi1ieXRlcy1sb25nISE="  # a 32-byte Ed25519 seed
EVERYONE = " ".join(PEOPLE)
SIGNED_IN = " ".join(PEOPLE[1:])
SMES = f"{SO} {SM} {SB}"
VENDORS = f"{V} {VW}"
OFFICERS = f"{G} {GB}"
BUYER = f"{SO} {SM}"  # of the contract, invoice, report, application, voucher in the URL
PARTIES = f"{SO} {SM} {V}"  # both sides of the contract in the URL

# (method, endpoint) -> who gets through. The objects in URLs belong to the SME, the vendor
# and the government of the first column; the "other" people are of the same kinds.
EXPECTED: dict[tuple[str, str], str] = {
    # --- public pages and files
    ("GET", "storefront.home"): EVERYONE,
    ("GET", "storefront.search"): EVERYONE,
    ("GET", "storefront.solution"): EVERYONE,
    ("GET", "storefront.estimate_json"): EVERYONE,
    ("GET", "storefront.industry"): EVERYONE,
    ("GET", "storefront.scenario"): EVERYONE,
    ("GET", "storefront.compare"): EVERYONE,
    ("GET", "site.healthz"): EVERYONE,
    ("GET", "site.favicon"): EVERYONE,
    ("GET", "site.regions_json"): EVERYONE,
    ("POST", "site.set_language"): EVERYONE,
    ("GET", "static"): EVERYONE,
    ("GET", "bootstrap.static"): EVERYONE,
    ("GET", "media.screenshot"): f"{V} {P}",  # of a draft: its vendor and the operator
    ("GET", "vouchers.program_index"): EVERYONE,
    ("GET", "vouchers.public_program"): EVERYONE,
    ("POST", "stripe_webhooks.stripe_webhook"): EVERYONE,  # its signature decides (400)
    # --- accounts
    ("GET", "accounts.login"): EVERYONE,
    ("POST", "accounts.login"): EVERYONE,
    ("POST", "accounts.logout"): EVERYONE,
    ("GET", "accounts.register"): EVERYONE,
    ("POST", "accounts.register"): EVERYONE,
    ("GET", "accounts.accept_invitation"): EVERYONE,
    # Only the invited address accepts: nobody signed in here has it (a visitor registers).
    ("POST", "accounts.accept_invitation"): ANON,
    ("GET", "accounts.dashboard"): SIGNED_IN,
    ("GET", "accounts.organization"): SIGNED_IN,
    ("GET", "accounts.new_organization"): SIGNED_IN,
    ("POST", "accounts.new_organization"): SIGNED_IN,
    ("GET", "accounts.members"): SIGNED_IN,
    # The business licence: owners and administrators upload their own organization's; the
    # SME's (in the URL) is opened by its members and the operator.
    ("POST", "licences.upload"): f"{SO} {G} {P} {SB} {VW} {GB}",
    ("GET", "licences.file"): f"{SO} {SM} {P}",
    # Inviting into one's own organization: owners and administrators, not members.
    ("POST", "accounts.members"): f"{SO} {G} {P} {SB} {VW} {GB}",
    ("POST", "accounts.revoke_invitation"): SO,
    ("POST", "accounts.change_role"): SO,
    ("POST", "accounts.remove_member"): SO,  # owners only
    ("GET", "accounts.tokens"): SIGNED_IN,
    ("POST", "accounts.tokens"): SIGNED_IN,
    ("POST", "accounts.revoke_token"): SO,  # the SME owner's own token
    ("POST", "accounts.switch_organization"): BUYER,  # into the SME: its members only
    ("GET", "sessions.index"): SIGNED_IN,
    ("POST", "sessions.end"): SO,  # a session of the SME owner's
    ("POST", "sessions.end_all"): SIGNED_IN,
    ("GET", "sessions.change_password"): SIGNED_IN,
    ("POST", "sessions.change_password"): SIGNED_IN,
    # --- the operator's console
    ("GET", "console.index"): P,
    ("GET", "console.audit_log"): P,
    ("GET", "audit.download_checkpoint"): f"{OFFICERS} {P}",
    ("GET", "console.organizations"): P,
    ("GET", "console.organization"): P,
    ("POST", "console.organization"): P,
    ("GET", "console.vendors"): P,
    ("GET", "jobs_console.jobs"): P,
    ("POST", "jobs_console.retry"): P,
    ("GET", "review.queue"): P,
    ("GET", "review.listings"): P,
    ("GET", "review.review"): P,
    ("GET", "review.preview"): f"{V} {P}",  # as buyers will see it: its vendor too
    ("POST", "review.approve"): P,
    ("POST", "review.reject"): P,
    ("POST", "review.delist"): P,
    ("POST", "review.relist"): P,
    ("GET", "thesaurus.index"): P,
    ("GET", "thesaurus.new"): P,
    ("POST", "thesaurus.new"): P,
    ("GET", "thesaurus.edit"): P,
    ("POST", "thesaurus.edit"): P,
    ("POST", "thesaurus.toggle"): P,
    # --- the vendor's listings (the draft in the URL is the vendor's)
    ("GET", "vendor_console.solutions"): VENDORS,
    ("GET", "vendor_console.new_solution"): VENDORS,
    ("POST", "vendor_console.new_solution"): VENDORS,
    ("POST", "vendor_console.preview_markdown"): VENDORS,
    ("GET", "vendor_console.solution"): V,
    ("GET", "vendor_console.edit_solution"): V,
    ("POST", "vendor_console.edit_solution"): V,
    ("GET", "vendor_console.plans"): V,
    ("POST", "vendor_console.plans"): V,
    ("GET", "vendor_console.edit_plan"): V,
    ("POST", "vendor_console.edit_plan"): V,
    ("POST", "vendor_console.delete_plan"): V,
    ("POST", "vendor_console.move_plan"): V,
    ("POST", "vendor_console.upload_screenshot"): V,
    ("POST", "vendor_console.delete_screenshot"): V,
    ("POST", "vendor_console.set_fulfillment_url"): V,
    ("POST", "vendor_console.submit"): V,
    ("POST", "vendor_console.withdraw"): V,
    ("POST", "vendor_console.delist"): V,
    # --- billing pages
    ("GET", "billing.contracts"): f"{SMES} {VENDORS}",
    ("GET", "billing.contract"): PARTIES,
    ("POST", "billing.propose_baseline"): PARTIES,
    ("POST", "billing.accept_baseline"): PARTIES,
    ("GET", "billing.cancel"): BUYER,
    ("POST", "billing.cancel"): BUYER,
    ("GET", "billing.change_plan"): BUYER,
    ("POST", "billing.change_plan"): BUYER,
    ("POST", "billing.spend_cap"): BUYER,
    ("POST", "billing.accept_delivery"): BUYER,
    ("POST", "billing.report_result"): V,
    ("POST", "billing.confirm_result"): BUYER,
    ("POST", "billing.dispute_result"): BUYER,
    ("GET", "billing.evidence_file"): f"{PARTIES} {P}",
    ("GET", "billing.invoices"): f"{SMES} {VENDORS}",
    ("GET", "billing.invoice"): f"{PARTIES} {P}",  # the operator is sent to its console
    ("GET", "billing.pay"): BUYER,
    ("GET", "billing.invoice_pdf"): PARTIES,
    ("GET", "billing.statement_pdf"): BUYER,  # the URL names the vendor: the buyer's side
    ("POST", "billing.create_payment_link"): BUYER,
    ("POST", "billing.revoke_payment_link"): BUYER,
    ("GET", "billing.shared_invoice"): EVERYONE,  # the signed token is the permission
    ("POST", "billing.pay_by_card"): BUYER,
    ("POST", "billing.finish_card_payment"): BUYER,
    ("POST", "billing.pay_with_vouchers"): BUYER,
    ("GET", "billing.card"): SMES,
    ("POST", "billing.card"): SMES,
    ("GET", "billing.start_plan"): SMES,
    ("POST", "billing.start_plan"): SMES,
    ("GET", "billing.agreement"): EVERYONE,  # the service agreement of a published solution
    ("GET", "billing.contract_agreement"): PARTIES,  # the version the buyer accepted
    ("GET", "billing.next_steps"): BUYER,
    ("GET", "billing.rate"): BUYER,  # buyers who paid for the solution
    ("POST", "billing.rate"): BUYER,
    ("GET", "billing.payable"): VENDORS,
    ("GET", "billing.notifications"): SIGNED_IN,  # each organization's own
    ("POST", "billing.mark_notifications_read"): SIGNED_IN,
    ("GET", "billing.console"): P,
    ("GET", "billing.console_invoice"): P,
    ("POST", "billing.record_transfer"): P,
    ("POST", "billing.void"): P,
    ("POST", "billing.refund"): P,
    ("GET", "billing.ledger_page"): P,
    ("GET", "billing.commission"): P,
    ("GET", "billing.billing_errors"): P,
    ("GET", "billing.overdue_invoices"): P,
    ("GET", "billing.bank_statements_page"): P,
    ("POST", "billing.import_bank_statement"): P,
    ("GET", "billing.bank_statement"): P,
    ("GET", "billing.bank_queue"): P,
    ("POST", "billing.match_bank_line"): P,
    ("POST", "billing.dismiss_bank_line"): P,
    ("GET", "billing.outcome_queue"): P,
    ("POST", "billing.resolve_result"): P,
    ("POST", "billing.correct_result"): P,
    # --- voucher pages
    ("POST", "vouchers.apply"): SMES,
    ("GET", "vouchers.wallet_page"): SMES,
    ("GET", "vouchers.application"): BUYER,
    ("POST", "vouchers.withdraw"): BUYER,
    ("GET", "vouchers.vendor_settlements"): VENDORS,
    ("GET", "vouchers.programs_list"): OFFICERS,
    ("GET", "vouchers.new_program"): OFFICERS,
    ("POST", "vouchers.new_program"): OFFICERS,
    ("GET", "vouchers.audit_chain"): OFFICERS,
    ("GET", "vouchers.audit_export"): OFFICERS,
    ("GET", "vouchers.flag_list"): OFFICERS,
    ("POST", "vouchers.flag_organization"): OFFICERS,
    ("POST", "vouchers.clear_flag"): G,
    ("GET", "vouchers.program_console"): G,
    ("GET", "vouchers.program_vouchers"): G,
    ("GET", "vouchers.program_redemptions"): G,
    ("GET", "vouchers.program_settlements"): G,
    ("POST", "vouchers.create_settlement"): G,
    ("GET", "vouchers.program_anomalies"): G,
    ("POST", "vouchers.scan_anomalies"): G,
    ("GET", "vouchers.program_effect"): G,
    ("GET", "vouchers.effect_export"): G,
    ("GET", "vouchers.export"): G,
    ("GET", "vouchers.edit_program"): G,
    ("POST", "vouchers.edit_program"): G,
    ("POST", "vouchers.publish_program"): G,
    ("POST", "vouchers.close_program"): G,
    ("POST", "vouchers.approve_application"): G,
    ("POST", "vouchers.reject_application"): G,
    ("POST", "vouchers.revoke_voucher"): G,
    ("POST", "vouchers.review_anomaly"): G,
    ("POST", "vouchers.approve_settlement"): G,
    ("POST", "vouchers.mark_settlement_paid"): G,
    ("GET", "vouchers.program_rules"): G,
    ("POST", "vouchers.save_stacking"): G,
    ("POST", "vouchers.save_conditions"): G,
    ("POST", "vouchers.save_funders"): G,
    ("GET", "vouchers.cofunded_programs"): OFFICERS,
    ("GET", "vouchers.public_notices"): EVERYONE,
    ("GET", "vouchers.object_to_notice"): SIGNED_IN,
    ("POST", "vouchers.object_to_notice"): SIGNED_IN,
    ("GET", "vouchers.program_notices"): G,
    ("POST", "vouchers.decide_objection"): G,
    # An application's documents: the applicant and the program's officers.
    ("GET", "vouchers.download_document"): f"{BUYER} {G}",
    # --- the JSON API (bearer tokens)
    ("GET", "api-docs.openapi_json"): EVERYONE,
    ("GET", "platform_api.me"): SIGNED_IN,
    ("GET", "platform_api.regions"): EVERYONE,
    ("GET", "platform_api.industries"): EVERYONE,
    ("GET", "platform_api.verify_audit"): f"{OFFICERS} {P}",
    ("GET", "platform_api.audit_checkpoints"): f"{OFFICERS} {P}",
    ("GET", "billing_errors_api.list_billing_errors"): P,
    ("GET", "jobs_api.list_jobs"): P,
    ("POST", "jobs_api.retry_job"): P,
    ("GET", "catalog_api.search_solutions"): EVERYONE,
    ("GET", "catalog_api.solution_detail"): EVERYONE,
    ("POST", "billing_api.create_contract"): SMES,
    ("GET", "billing_api.list_contracts"): f"{SMES} {VENDORS}",
    ("GET", "billing_api.get_contract"): PARTIES,
    ("POST", "billing_api.cancel_contract"): BUYER,
    ("POST", "delivery_api.accept_delivery"): BUYER,
    ("POST", "billing_api.change_plan"): BUYER,
    ("GET", "billing_api.contract_usage"): PARTIES,
    ("POST", "billing_api.post_usage_events"): VENDORS,
    ("GET", "billing_api.list_invoices"): f"{SMES} {VENDORS}",
    ("GET", "billing_api.get_invoice"): PARTIES,
    ("GET", "billing_api.credit_balances"): f"{SMES} {VENDORS}",  # each organization's own
    ("POST", "billing_api.pay_invoice"): BUYER,
    ("POST", "outcome_api.confirm_baseline"): V,
    ("POST", "outcome_api.create_report"): V,  # the contract in the body is the vendor's
    ("POST", "outcome_api.confirm_report"): BUYER,
    ("POST", "outcome_api.dispute_report"): BUYER,
    ("POST", "outcome_api.upload_evidence"): V,
    ("POST", "outcome_api.resolve_report"): P,
    # --- fapiao: the invoice in the URL is paid with a voucher of the officer's program
    ("GET", "fapiao_api.get_profile"): SIGNED_IN,
    ("PUT", "fapiao_api.put_profile"): f"{SO} {G} {P} {SB} {VW} {GB}",  # owners and admins
    ("POST", "fapiao_api.request_fapiao"): BUYER,
    ("GET", "fapiao_api.get_invoice_fapiao"): f"{PARTIES} {G} {P}",
    ("POST", "fapiao_api.issue"): V,
    ("POST", "fapiao_api.red_letter"): V,
    ("GET", "fapiao_api.download"): f"{PARTIES} {G} {P}",
    ("GET", "fapiao_api.download_red"): f"{PARTIES} {G} {P}",
    ("GET", "billing.fapiao_details"): SIGNED_IN,
    ("POST", "billing.fapiao_details"): f"{SO} {G} {P} {SB} {VW} {GB}",
    ("POST", "billing.request_fapiao"): BUYER,
    ("GET", "billing.fapiao_requests"): VENDORS,
    ("POST", "billing.issue_fapiao"): V,
    ("POST", "billing.red_letter_fapiao"): V,
    ("GET", "billing.fapiao_file"): f"{PARTIES} {G} {P}",
    ("GET", "vouchers_api.list_programs"): EVERYONE,
    ("POST", "vouchers_api.create_program"): OFFICERS,
    ("POST", "vouchers_api.apply"): SMES,
    ("POST", "vouchers_api.approve"): G,
    ("POST", "vouchers_api.reject"): G,
    ("GET", "vouchers_api.list_vouchers"): SMES,
    ("GET", "vouchers_api.list_redemptions"): G,
    ("GET", "vouchers_api.program_stats"): G,
    ("GET", "vouchers_api.list_anomalies"): G,
    ("POST", "vouchers_api.create_settlement"): G,
    ("POST", "vouchers_api.approve_settlement"): G,
    ("POST", "vouchers_api.mark_paid"): G,
    # --- vendor integration, listings, operator and officer actions by API (issue 14)
    ("POST", "billing.fulfillment_handoff"): BUYER,
    ("POST", "integration_api.resolve_token"): V,  # the token of the vendor's contract
    ("GET", "integration_api.entitlements"): V,  # its own customers only
    ("GET", "listings_api.list_listings"): VENDORS,
    ("POST", "listings_api.create_listing"): VENDORS,
    ("GET", "listings_api.get_listing"): f"{V} {P}",
    ("PUT", "listings_api.update_listing"): V,
    ("PUT", "listings_api.replace_plans"): V,
    ("PUT", "listings_api.set_fulfillment_url"): V,
    ("POST", "listings_api.add_screenshot"): V,
    ("DELETE", "listings_api.delete_screenshot"): V,
    ("POST", "listings_api.submit_listing"): V,
    ("POST", "listings_api.withdraw_listing"): V,
    ("POST", "listings_api.approve_listing"): P,
    ("POST", "listings_api.reject_listing"): P,
    ("POST", "operator_api.record_transfer"): P,
    ("POST", "operator_api.refund_payment"): P,
    ("POST", "operator_api.void_invoice"): P,
    ("GET", "operator_api.list_reports"): P,
    ("POST", "operator_api.correct_report"): P,
    ("GET", "operator_api.ledger_balances"): P,
    ("GET", "operator_api.trial_balance"): P,
    ("POST", "operator_api.import_bank_statement"): P,
    ("POST", "vendors_api.review_vendor"): P,
    ("GET", "officer_api.program_detail"): G,
    ("POST", "officer_api.scan_anomalies"): G,
    ("POST", "officer_api.review_anomaly"): G,
    ("GET", "voucher_rules_api.get_rules"): G,
    ("PUT", "voucher_rules_api.put_stacking"): G,
    ("PUT", "voucher_rules_api.put_conditions"): G,
    ("PUT", "voucher_rules_api.put_funders"): G,
    # --- vendor webhooks: the endpoint and delivery in the URL are the vendor's
    ("GET", "webhooks_api.list_endpoints"): VENDORS,
    ("POST", "webhooks_api.create_endpoint"): VENDORS,
    ("GET", "webhooks_api.get_endpoint"): V,
    ("PATCH", "webhooks_api.update_endpoint"): V,
    ("DELETE", "webhooks_api.delete_endpoint"): V,
    ("POST", "webhooks_api.rotate_secret"): V,
    ("GET", "webhooks_api.list_deliveries"): V,
    ("POST", "webhooks_api.redeliver"): V,
    ("GET", "vendor_webhooks.endpoints"): VENDORS,
    ("POST", "vendor_webhooks.endpoints"): VENDORS,
    ("GET", "vendor_webhooks.endpoint"): V,
    ("POST", "vendor_webhooks.rotate"): V,
    ("POST", "vendor_webhooks.enable"): V,
    ("POST", "vendor_webhooks.disable"): V,
    ("POST", "vendor_webhooks.delete"): V,
    ("POST", "vendor_webhooks.redeliver"): V,
    # --- inquiries (咨询服务商): the SME's question about the vendor's solution
    ("GET", "inquiries.ask"): SMES,
    ("POST", "inquiries.ask"): SMES,
    ("GET", "inquiries.buyer_threads"): SMES,
    ("GET", "inquiries.buyer_thread"): BUYER,
    ("POST", "inquiries.buyer_reply"): BUYER,
    ("GET", "inquiries.inbox"): VENDORS,
    ("GET", "inquiries.vendor_thread"): V,
    ("POST", "inquiries.vendor_reply"): V,
    ("POST", "inquiries.close"): V,
    ("GET", "inquiries_api.list_inquiries"): VENDORS,
    ("GET", "inquiries_api.get_inquiry"): V,
    ("POST", "inquiries_api.reply"): V,
}


@dataclass
class World:
    people: dict[str, Actor | None]
    tokens: dict[str, str]
    params: dict[str, Any]


def _world(session: Session, upload_folder: Any) -> World:
    now = utcnow()
    sme = sme_actor(session)
    member = actor_for(
        session, add_member(session, sme.organization, Role.MEMBER), sme.organization
    )
    vendor_owner = unrelated_vendor(session)
    vendor = actor_for(
        session,
        add_member(session, vendor_owner.organization, Role.MEMBER),
        vendor_owner.organization,
    )
    officer = officer_actor(session)
    operator_owner = create_user(session)
    operator = actor_for(
        session, operator_owner, create_org(session, OrgKind.PLATFORM, owner=operator_owner)
    )
    people: dict[str, Actor | None] = {
        ANON: None,
        SO: sme,
        SM: member,
        V: vendor,
        G: officer,
        P: operator,
        SB: sme_actor(session),
        VW: unrelated_vendor(session),
        GB: officer_actor(session),
    }
    # The vendor's published solution, a usage contract with a paid and an open invoice.
    solution = publish_solution(
        session, vendor_owner, operator, voucher_kinds=["cloud"], plans=[USAGE, OUTCOME]
    )
    usage_plan, outcome_plan = solution.published.plans
    contract = start_contract(session, plan=usage_plan, buyer=sme, now=now - timedelta(days=3))
    paid = invoice_for(session, contract, 10_000)
    bank_transfers.record_bank_transfer(
        session, paid, amount_fen=10_000, reference="M-1", actor=operator, now=now
    )
    invoice = invoice_for(session, contract, 20_000)
    payment = bank_transfers.record_bank_transfer(
        session, invoice, amount_fen=5_000, reference="M-2", actor=operator, now=now
    )
    # A payment link the buyer made (its token is signed with the app's key in the test).
    link, _token = payment_links.create(session, invoice, actor=sme, now=now, secret_key="-")
    # A pay-for-results contract with a reported result and its evidence file.
    outcome = start_contract(session, plan=outcome_plan, buyer=sme, baseline=Decimal(42_000))
    baselines.accept_baseline(session, outcome, actor=vendor, now=T0)
    report = reporting.report(
        session,
        outcome,
        actor=vendor,
        period_start=T0,
        period_end=T0 + timedelta(days=31),
        measured=Decimal(40_000),
        now=now,
    )
    evidence.attach(
        report, actor=vendor, data=png_bytes(), filename="meter.png", upload_folder=upload_folder
    )
    # The sign-up handoff: a token for the vendor's contract, exchanged by the vendor only.
    solution.fulfillment_url = "https://vendor.example/signup"
    handoff = fulfillment.issue(session, contract, actor=sme, now=now, minutes=15)
    handoff_token = parse_qs(urlsplit(handoff).query)[fulfillment.TOKEN_PARAMETER][0]
    # The SME's question about the solution, waiting for the vendor.
    inquiry = inquiries.ask(
        session, solution, actor=sme, subject="", body="能对接 ERP 吗？", now=now
    )
    # A draft of the vendor with a plan and a screenshot.
    draft = create_solution(session, vendor_owner)
    shot = screenshots.add_screenshot(
        session,
        draft,
        vendor_owner,
        FileStorage(io.BytesIO(png_bytes()), filename="screen.png", content_type="image/png"),
        upload_folder,
    )
    # A second screenshot for the API's delete, which removes the file after commit (the
    # savepoint's rollback brings back the row, not the file the media route then serves).
    api_shot = screenshots.add_screenshot(
        session,
        draft,
        vendor_owner,
        FileStorage(io.BytesIO(png_bytes()), filename="api.png", content_type="image/png"),
        upload_folder,
    )
    # The officer's program: the SME's application and voucher, a redemption on an
    # invoice of another contract, a settlement, an anomaly and a flag.
    program = programs.create_program(
        session,
        actor=officer,
        terms=programs.ProgramTerms(
            name="矩阵测试上云券",
            kind=VoucherKind.CLOUD,
            region_prefix="31",
            budget_fen=10_000_000,
            ratio_bp=5000,
            annual_cap_fen=1_000_000,
            size_classes=list(SizeClass),
            opens_at=now - timedelta(days=1),
            closes_at=now + timedelta(days=30),
            validity_days=90,
        ),
    )
    programs.publish_program(
        session, program, actor=officer, now=now, confirm_fen=program.budget_fen
    )
    voucher = applications.approve(
        session,
        applications.apply(session, program, actor=sme, requested_fen=100_000, now=now),
        actor=officer,
        now=now,
    )
    waiting = applications.apply(session, program, actor=people[SB], requested_fen=50_000, now=now)
    # A program with a required document and 公示: the SME's approval on notice, objected to.
    noticed = programs.create_program(
        session,
        actor=officer,
        terms=programs.ProgramTerms(
            name="矩阵测试公示券",
            kind=VoucherKind.CLOUD,
            region_prefix="31",
            budget_fen=10_000_000,
            ratio_bp=5000,
            annual_cap_fen=1_000_000,
            size_classes=list(SizeClass),
            opens_at=now - timedelta(days=1),
            closes_at=now + timedelta(days=30),
            validity_days=90,
            notice_days=5,
            required_documents=[DocumentSpec("营业执照")],
        ),
    )
    programs.publish_program(
        session, noticed, actor=officer, now=now, confirm_fen=noticed.budget_fen
    )
    (licence_required,) = voucher_evidence.required_documents(session, noticed.id)
    on_notice = applications.apply(
        session,
        noticed,
        actor=sme,
        requested_fen=30_000,
        now=now,
        documents={licence_required.id: Upload("licence.png", png_bytes())},
        upload_folder=upload_folder,
    )
    (licence_document,) = voucher_evidence.documents_of(session, on_notice.id)
    applications.approve(
        session, on_notice, actor=officer, now=now, checked_documents=[licence_document.id]
    )
    public_notice = notice.notice_of(session, on_notice.id)
    assert public_notice is not None
    objection = notice.object_to(
        session, public_notice, actor=people[SB], contact="13800000000", reason="矩阵", now=now
    )
    spent = invoice_for(session, contract_between(session, sme, vendor_owner), 4_000)
    voucher_payments.apply(session, spent, codes=[voucher.code], actor=sme, now=now)
    batch = settlements.create_settlement(
        session,
        program,
        actor=officer,
        vendor_id=vendor.organization.id,
        period_start=now - timedelta(days=1),
        period_end=now + timedelta(days=1),
        now=now,
    )
    anomalies.scan(session, program, now=now, usage_check=lambda session, ids: set(ids))
    anomaly_id = session.scalar(sa.select(Anomaly.id).where(Anomaly.program_id == program.id))
    # The voucher-paid invoice's fapiao: issued, then reversed by a red-letter fapiao after a refund.
    rest = bank_transfers.record_bank_transfer(
        session, spent, amount_fen=2_000, reference="M-FP", actor=operator, now=now
    )
    issued_fapiao = fapiao.request(
        session, spent, actor=sme, type_=fapiao_models.FapiaoType.NORMAL, now=now
    )
    fapiao_file = {"data": b"%PDF-1.7\n%%EOF\n", "filename": "f.pdf", "now": now}
    fapiao.record_issued(
        session,
        issued_fapiao,
        actor=vendor,
        number="26312000000000000001",
        issued_on=now.date(),
        amount_fen=spent.total_fen,
        upload_folder=upload_folder,
        **fapiao_file,
    )
    # A part only: refunding all the buyer paid would reverse the voucher and drop the
    # draft settlement the officer's routes are tried on.
    refunds.refund(session, None, rest, amount_fen=1_000, reason="退款", actor=operator, now=now)
    fapiao.record_red_letter(
        session,
        issued_fapiao,
        actor=vendor,
        number="26312000000000000002",
        issued_on=now.date(),
        upload_folder=upload_folder,
        **fapiao_file,
    )
    flag = flags.flag(session, people[VW].organization, actor=officer, reason="虚开发票", now=now)
    # A bank statement with a credit waiting in the queue, and the SME's business licence.
    statement = bank_statements.import_statement(
        session,
        data=statement_csv([("2026-12-01", "MX-1", "某公司", "62", "1.00", "", "无附言")]),
        filename="matrix.csv",
        actor=operator,
        now=now,
    )
    licences.upload(
        session,
        sme.organization,
        actor=sme,
        data=png_bytes(),
        filename="licence.png",
        upload_folder=upload_folder,
        now=now,
    )
    invitation, secret = memberships.invite(
        session, actor=sme, email="new@matrix.example", role=Role.MEMBER
    )
    other_device, _secret = user_sessions.start(
        session, sme.user, remember=True, now=now, user_agent="Firefox", ip_address="10.0.0.9"
    )
    token, _secret = services.create_token(
        session, user=sme.user, organization=sme.organization, name="matrix"
    )
    membership_id = session.scalar(
        sa.select(Membership.id).where(
            Membership.user_id == member.user.id, Membership.organization_id == sme.organization.id
        )
    )
    tokens = {
        role: create_token(session, actor.user, actor.organization)
        for role, actor in people.items()
        if actor is not None
    }
    assert anomaly_id is not None
    failed_job_id = outbox.enqueue(session, "mail", {"to": "x@example.com"})
    session.execute(
        sa.update(outbox.OutboxJob)
        .where(outbox.OutboxJob.id == failed_job_id)
        .values(status=outbox.JobStatus.FAILED)
    )
    checkpoint = checkpoints.create(
        session, audit_setup(upload_folder / "checkpoints", MATRIX_AUDIT_KEY), now=now
    )
    assert checkpoint is not None
    params = {
        "sequence": checkpoint.sequence,
        "slug": solution.slug,
        "code": "C34",
        "filename": "css/site.css",
        "name": session.get(Screenshot, shot.id).stored_name,
        "secret": secret,
        "invitation_id": invitation.id,
        "membership_id": membership_id,
        "session_id": other_device.id,
        "token_id": token.id,
        "org_id": sme.organization.id,
        "solution_id": draft.id,
        "index": 0,
        "screenshot_id": shot.id,
        "contract_id": contract.id,
        "invoice_id": invoice.id,
        "payment_id": payment.id,
        "plan_id": usage_plan.id,
        "report_id": report.id,
        "program_id": program.id,
        "application_id": waiting.id,
        "voucher_id": voucher.id,
        "settlement_id": batch.id,
        "anomaly_id": anomaly_id,
        "flag_id": flag.id,
        "fapiao_id": issued_fapiao.id,
        "statement_id": statement.statement.id,
        "line_id": statement.lines[0].id,
        "inquiry_id": inquiry.id,
        "notice_id": public_notice.id,
        "objection_id": objection.id,
        "document_id": licence_document.id,
        "link_id": link.id,
        "which": "file",
        "job_id": failed_job_id,
        "what": "redemptions",
        "fmt": "xlsx",
    }
    # Routes whose object is another one of the same kind.
    # Well-formed bodies, so that what answers is the authorization, not the validation.
    later = (now + timedelta(days=1)).isoformat()
    params["bodies"] = {
        "billing_api.create_contract": {"plan_id": usage_plan.id},
        "billing_api.change_plan": {"plan_id": usage_plan.id},
        "billing_api.cancel_contract": {"at_period_end": True},
        "voucher_rules_api.put_stacking": {"partner_program_ids": [], "combined_cap_bp": 9000},
        "voucher_rules_api.put_funders": {"funders": []},
        "billing_api.post_usage_events": {"events": []},
        "billing_api.pay_invoice": {"method": "bank_transfer"},
        "outcome_api.create_report": {
            "contract_id": outcome.id,
            "period_start": (T0 + timedelta(days=31)).isoformat(),
            "period_end": (T0 + timedelta(days=62)).isoformat(),
            "measured": "39000",
        },
        "outcome_api.dispute_report": {"reason": "数据不对"},
        "outcome_api.resolve_report": {"decision": "accept", "note": "已核实"},
        "vouchers_api.apply": {"requested_fen": 10_000},
        "vouchers_api.approve": {},
        "vouchers_api.reject": {"reason": "材料不全"},
        "vouchers.object_to_notice": {"contact": "13900000000", "reason": "矩阵异议"},
        "vouchers.decide_objection": {"decision": "dismiss", "note": "矩阵核实"},
        "vouchers_api.create_settlement": {
            "vendor_id": vendor.organization.id,
            "period_start": (now - timedelta(days=1)).isoformat(),
            "period_end": later,
        },
        "vouchers_api.mark_paid": {"bank_reference": "GOV-1"},
        "billing.rate": {"stars": "5", "comment": "好用"},
        "integration_api.resolve_token": {"token": handoff_token},
        "listings_api.replace_plans": {"plans": []},
        "listings_api.set_fulfillment_url": {"fulfillment_url": ""},
        "listings_api.reject_listing": {"note": "请补充"},
        "operator_api.record_transfer": {"amount_fen": 100, "reference": "M-9"},
        "operator_api.refund_payment": {"amount_fen": 100, "reason": "退款"},
        "operator_api.void_invoice": {"note": "重复"},
        "operator_api.correct_report": {"corrected": "41000"},
        "vendors_api.review_vendor": {"decision": "verify"},
        "officer_api.review_anomaly": {"status": "cleared", "note": "已核实"},
        "webhooks_api.create_endpoint": {
            "url": "https://93.184.216.34/hooks",
            "event_types": ["invoice.paid"],
        },
        "webhooks_api.update_endpoint": {"enabled": True},
        "fapiao_api.put_profile": {"title": "矩阵", "tax_id": sme.organization.uscc},
        "billing.fapiao_details": {"title": "矩阵", "tax_id": sme.organization.uscc},
        "fapiao_api.request_fapiao": {"type": "normal"},
        "billing.match_bank_line": {"invoice": invoice.number},
        "billing.dismiss_bank_line": {"note": "矩阵"},
        "inquiries.ask": {"body": "矩阵提问"},
        "inquiries.buyer_reply": {"body": "矩阵追问"},
        "inquiries.vendor_reply": {"body": "矩阵回复"},
        "inquiries_api.reply": {"body": "矩阵回复"},
    }
    params["files"] = {
        "billing.import_bank_statement": "file",
        "operator_api.import_bank_statement": "file",
        "licences.upload": "licence",
        "outcome_api.upload_evidence": "file",
        "listings_api.add_screenshot": "file",
        "fapiao_api.issue": "file",
        "fapiao_api.red_letter": "file",
    }
    params["query"] = {
        "thesaurus.edit": "?key=%E8%B4%A8%E6%A3%80",  # 质检, a packaged synonym set
        "storefront.estimate_json": f"?plan={usage_plan.id}&quantity=100",
        "integration_api.entitlements": f"?contract_id={contract.id}",
    }
    params["overrides"] = {
        "thesaurus.new": {"kind": "synonyms"},
        "thesaurus.edit": {"kind": "synonyms"},
        "thesaurus.toggle": {"kind": "synonyms"},
        "vouchers.application": {"application_id": voucher.application_id},
        "vouchers.withdraw": {"application_id": voucher.application_id},
        "billing.propose_baseline": {"contract_id": outcome.id},
        "billing.accept_baseline": {"contract_id": outcome.id},
        "billing.report_result": {"contract_id": outcome.id},
        "outcome_api.confirm_baseline": {"contract_id": outcome.id},
        "fapiao_api.request_fapiao": {"invoice_id": spent.id},
        "fapiao_api.get_invoice_fapiao": {"invoice_id": spent.id},
        "billing.request_fapiao": {"invoice_id": spent.id},
        "billing.statement_pdf": {
            "other_id": vendor.organization.id,
            "year": invoice.issued_at.astimezone(CHINA).year,
            "month": invoice.issued_at.astimezone(CHINA).month,
        },
        "billing.rate": {"slug": solution.slug},
        "review.review": {"solution_id": solution.id},
        "review.preview": {"solution_id": solution.id},
        "review.approve": {"solution_id": draft.id},
        "review.reject": {"solution_id": draft.id},
        "review.delist": {"solution_id": solution.id},
        "review.relist": {"solution_id": solution.id},
        "console.organization": {"org_id": vendor.organization.id},
        "vendors_api.review_vendor": {"org_id": vendor.organization.id},
        "listings_api.delete_screenshot": {"screenshot_id": api_shot.id},
        "storefront.scenario": {"code": "pm.quality"},
        "bootstrap.static": {"filename": "css/bootstrap.min.css"},
    }
    return World(people, tokens, params)


def _webhook_endpoint(session: Session, vendor: Actor, params: dict[str, Any]) -> None:
    """The vendor's webhook endpoint with one delivery of an event."""
    now = utcnow()
    endpoint, _secret = webhooks.create_endpoint(
        session,
        organization_id=vendor.organization.id,
        user_id=vendor.user.id,
        url="https://93.184.216.34/hooks",
        event_types=["invoice.paid"],
        policy=UrlPolicy(),
        now=now,
    )
    webhooks.emit(session, vendor.organization.id, "invoice.paid", {}, key="matrix", now=now)
    session.refresh(endpoint)
    params["endpoint_id"] = endpoint.id
    params["delivery_id"] = endpoint.deliveries[0].id


def _url(app: Flask, rule: Any, params: dict[str, Any]) -> str:
    values = {**params, **params["overrides"].get(rule.endpoint, {})}
    arguments = {name: values[name] for name in rule.arguments}
    with app.test_request_context():
        url = url_for(rule.endpoint, **arguments, _external=False)
    return url + params["query"].get(rule.endpoint, "")


def _denied(response: Any, api: bool) -> bool:
    if response.status_code in (401, 403, 404):
        return True
    location = response.headers.get("Location", "")
    return not api and response.status_code in (302, 303) and "/login" in location


@pytest.fixture
def config(config: dict[str, object], tmp_path: Any) -> dict[str, object]:
    config["UPLOAD_FOLDER"] = str(tmp_path / "uploads")
    config["RATELIMIT_ENABLED"] = False
    # Card pages exist once a Stripe key is set; the card service itself is unreachable.
    config["STRIPE_SECRET_KEY"] = "sk_test_matrix"
    config["STRIPE_PUBLISHABLE_KEY"] = "pk_test_matrix"
    config["STRIPE_API_BASE"] = "http://127.0.0.1:9"
    config["STRIPE_WEBHOOK_SECRET"] = "whsec_matrix"
    config["AUDIT_SIGNING_KEY"] = MATRIX_AUDIT_KEY
    return config


def test_every_route_lets_in_exactly_whom_it_should(
    app: Flask, session: Session, tmp_path: Any
) -> None:
    rules = [
        (method, rule)
        for rule in app.url_map.iter_rules()
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
    ]
    missing = sorted(f"{m} {r.endpoint}" for m, r in rules if (m, r.endpoint) not in EXPECTED)
    assert not missing, f"routes without an expectation: {missing}"
    stale = sorted(set(EXPECTED) - {(m, r.endpoint) for m, r in rules})
    assert not stale, f"expectations of routes that do not exist: {stale}"

    world = _world(session, tmp_path / "uploads")
    link = session.get(PaymentLink, world.params["link_id"])
    world.params["token"] = payment_links.token_for(link, app.config["SECRET_KEY"])
    with app.app_context():  # the secret is encrypted with the app's key
        _webhook_endpoint(session, world.people[V], world.params)
    session.commit()
    clients: dict[str, FlaskClient] = {}
    for role, actor in world.people.items():
        clients[role] = app.test_client()
        if actor is not None:
            login(clients[role], actor.user)
            clients[role].post(f"/switch/{actor.organization.id}")
    connection = session.connection()
    wrong = []
    for method, rule in sorted(rules, key=lambda mr: (mr[1].rule, mr[0])):
        url = _url(app, rule, world.params)
        api = url.startswith("/api/")
        allowed = set(EXPECTED[(method, rule.endpoint)].split())
        for role in PEOPLE:
            client = clients[role]
            headers = {}
            if api and role != ANON:
                headers["Authorization"] = f"Bearer {world.tokens[role]}"
            savepoint = connection.begin_nested()
            try:
                body = world.params["bodies"].get(rule.endpoint, {})
                upload = world.params["files"].get(rule.endpoint)
                if upload:
                    body = {upload: (io.BytesIO(png_bytes()), "meter.png")}
                    response = client.open(url, method=method, headers=headers, data=body)
                elif api:
                    response = client.open(url, method=method, headers=headers, json=body)
                else:
                    response = client.open(url, method=method, data=body)
                status = response.status_code
                denied = _denied(response, api)
                response.close()
            finally:
                savepoint.rollback()
            if status >= 500 and status != 503:  # 503: the card service is unreachable
                wrong.append(f"{method} {url} as {role}: {status}")
            elif role in allowed and denied:
                wrong.append(f"{method} {url} as {role}: refused ({status}), should get through")
            elif role not in allowed and not denied:
                wrong.append(f"{method} {url} as {role}: got through ({status}), should be refused")
            if rule.endpoint in (
                "accounts.logout",
                "sessions.end_all",
                "accounts.switch_organization",
                "accounts.login",
            ):
                actor = world.people[role]
                clients[role] = app.test_client()
                if actor is not None:
                    login(clients[role], actor.user)
                    clients[role].post(f"/switch/{actor.organization.id}")
    assert not wrong, "\n".join(wrong)
