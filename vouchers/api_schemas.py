"""The voucher API's request and response schemas (the OpenAPI document is generated
from them). The ``...Out`` schemas dump the models themselves: programs, applications,
vouchers, redemptions, anomalies and settlements are declared here once."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from catalog.models import VoucherKind
from marketplace import dates
from marketplace.api_fields import (
    DerivedBoolean,
    DerivedDate,
    DerivedInteger,
    DerivedList,
    DerivedNested,
    DerivedString,
    state,
)
from marketplace.dates import Day, Moment
from marketplace.db import db, utcnow
from marketplace.jsonapi import Fen, row_id
from marketplace.sizeclass import SizeClass
from vouchers import eligibility, evidence, programs
from vouchers.evidence_models import DocumentAccepts
from vouchers.models import (
    AnomalyRule,
    AnomalyStatus,
    ApplicationStatus,
    ProgramStatus,
    RedemptionStatus,
    SettlementStatus,
    Voucher,
    VoucherStatus,
)
from vouchers.programs import MAX_VALIDITY_DAYS


def _one_of(data: dict[str, Any], moment: str, day: str) -> None:
    """A boundary is given as a time or as a day, exactly one of the two."""
    if (data.get(moment) is None) == (data.get(day) is None):
        message = str(_l("Give either %(a)s or %(b)s.", a=moment, b=day))
        raise ma.ValidationError({moment: [message], day: [message]})


class RequiredDocumentSchema(ma.Schema):
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=100))
    accepts = ma.fields.String(
        load_default=DocumentAccepts.PDF_OR_IMAGE.value,
        validate=ma.validate.OneOf([a.value for a in DocumentAccepts]),
        metadata={"description": "pdf, image (PNG or JPEG) or pdf_or_image"},
    )


class ProgramIn(ma.Schema):
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))
    description = ma.fields.String(load_default="", validate=ma.validate.Length(max=5000))
    kind = ma.fields.String(
        required=True, validate=ma.validate.OneOf([k.value for k in VoucherKind])
    )
    region_prefix = ma.fields.String(
        required=True, metadata={"description": "first 2 to 6 digits of a GB/T 2260 code"}
    )
    budget_fen = Fen(required=True)
    ratio_bp = ma.fields.Integer(
        required=True,
        validate=ma.validate.Range(min=1, max=10_000),
        metadata={"description": "subsidy ratio in basis points (5000 = 50%)"},
    )
    annual_cap_fen = Fen(required=True, metadata={"description": "per enterprise, calendar year"})
    invoice_cap_fen = Fen(load_default=None, allow_none=True)
    size_classes = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf([s.value for s in SizeClass])),
        required=True,
        validate=ma.validate.Length(min=1),
    )
    industries = ma.fields.List(
        ma.fields.String(validate=ma.validate.Length(max=3)),
        load_default=list,
        metadata={"description": "GB/T 4754 codes or sections; empty: every industry"},
    )
    vendor_whitelist = ma.fields.List(
        row_id(),
        load_default=list,
        metadata={"description": "vendor organization ids; empty: every verified vendor"},
    )
    opens_at = Moment(load_default=None, metadata={"description": "or opens_on"})
    closes_at = Moment(
        load_default=None,
        metadata={"description": "exclusive: applications until before this time; or closes_on"},
    )
    opens_on = Day(load_default=None, metadata={"description": "first day to apply (China)"})
    closes_on = Day(
        load_default=None, metadata={"description": "last day to apply, inclusive (China)"}
    )
    validity_days = ma.fields.Integer(
        required=True, validate=ma.validate.Range(min=1, max=MAX_VALIDITY_DAYS)
    )
    publish = ma.fields.Boolean(
        load_default=False, metadata={"description": "publish at once instead of a draft"}
    )
    notice_days = ma.fields.Integer(
        load_default=0,
        validate=ma.validate.Range(min=0, max=30),
        metadata={"description": "公示: working days an approval is on public notice; 0: none"},
    )
    required_documents = ma.fields.List(
        ma.fields.Nested(RequiredDocumentSchema),
        load_default=list,
        metadata={"description": "documents every applicant uploads (web form)"},
    )

    @ma.validates_schema
    def _window(self, data: dict[str, Any], **_kwargs: Any) -> None:
        _one_of(data, "opens_at", "opens_on")
        _one_of(data, "closes_at", "closes_on")


class ProgramOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    owner_org_id = ma.fields.Integer(required=True)
    owner_name = ma.fields.String(attribute="owner.name", required=True)
    name = ma.fields.String(required=True)
    description = ma.fields.String(required=True)
    kind = state(VoucherKind, required=True)
    status = state(ProgramStatus, required=True)
    region_prefix = ma.fields.String(required=True)
    budget_fen = ma.fields.Integer(required=True)
    available_fen = DerivedInteger(
        lambda program: programs.figures(db.session, program).available_fen,
        required=True,
        metadata={"description": "budget left"},
    )
    ratio_bp = ma.fields.Integer(required=True)
    annual_cap_fen = ma.fields.Integer(required=True)
    invoice_cap_fen = ma.fields.Integer(allow_none=True, required=True)
    size_classes = ma.fields.List(ma.fields.String(), required=True)
    industries = ma.fields.List(ma.fields.String(), required=True)
    vendor_whitelist = ma.fields.List(ma.fields.Integer(), required=True)
    opens_at = ma.fields.AwareDateTime(required=True)
    closes_at = ma.fields.AwareDateTime(required=True, metadata={"description": "exclusive"})
    opens_on = DerivedDate(
        lambda program: dates.first_day(program.opens_at),
        required=True,
        metadata={"description": "first day to apply (China), YYYY-MM-DD"},
    )
    closes_on = DerivedDate(
        lambda program: dates.last_day(program.closes_at),
        required=True,
        metadata={"description": "last day to apply, inclusive (China)"},
    )
    validity_days = ma.fields.Integer(required=True)
    published_at = ma.fields.AwareDateTime(allow_none=True, required=True)
    region_name = DerivedString(
        lambda program: programs.region_name(program.region_prefix),
        required=True,
        metadata={"description": "the region by name"},
    )
    notice_days = ma.fields.Integer(required=True)
    required_documents = DerivedList(
        lambda program: evidence.specs_of(db.session, program.id),
        ma.fields.Nested(RequiredDocumentSchema),
        required=True,
    )


class ProgramListArgs(ma.Schema):
    kind = ma.fields.String(validate=ma.validate.OneOf([k.value for k in VoucherKind]))


class ApplicationIn(ma.Schema):
    requested_fen = Fen(required=True)
    note = ma.fields.String(load_default="", validate=ma.validate.Length(max=2000))


class ReasonOut(ma.Schema):
    code = ma.fields.String(required=True)
    message = ma.fields.String(required=True)


class EligibilityOut(ma.Schema):
    """An :class:`~vouchers.eligibility.Eligibility`: a reason for every failed rule."""

    ok = ma.fields.Boolean(required=True)
    annual_cap_remaining_fen = ma.fields.Integer(required=True)
    reasons = ma.fields.List(ma.fields.Nested(ReasonOut), attribute="failures", required=True)


class VoucherOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    code = ma.fields.String(required=True)
    program_id = ma.fields.Integer(required=True)
    program_name = ma.fields.String(attribute="program.name", required=True)
    holder_org_id = ma.fields.Integer(required=True)
    kind = state(VoucherKind, required=True)
    status = state(VoucherStatus, required=True)
    face_fen = ma.fields.Integer(required=True)
    balance_fen = ma.fields.Integer(required=True)
    redeemed_fen = ma.fields.Integer(required=True)
    released_fen = ma.fields.Integer(required=True)
    issued_at = ma.fields.AwareDateTime(required=True)
    expires_at = ma.fields.AwareDateTime(required=True)
    usable = DerivedBoolean(lambda voucher: voucher.is_usable(utcnow()), required=True)


class ApplicationOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    program_id = ma.fields.Integer(required=True)
    applicant_org_id = ma.fields.Integer(required=True)
    status = state(ApplicationStatus, required=True)
    requested_fen = ma.fields.Integer(required=True)
    approved_fen = ma.fields.Integer(allow_none=True, required=True)
    decision_reason = ma.fields.String(required=True)
    created_at = ma.fields.AwareDateTime(required=True)
    decided_at = ma.fields.AwareDateTime(allow_none=True, required=True)
    eligibility = DerivedNested(
        lambda application: eligibility.check(
            db.session, application.program, application.applicant, utcnow(), window=False
        ),
        EligibilityOut,
        required=True,
    )
    voucher = DerivedNested(
        lambda application: db.session.scalar(
            sa.select(Voucher).where(Voucher.application_id == application.id)
        ),
        VoucherOut,
        allow_none=True,
        required=True,
    )


class ApproveIn(ma.Schema):
    approved_fen = Fen(
        load_default=None,
        allow_none=True,
        metadata={"description": "the requested amount or less; omit to approve it all"},
    )
    checked_documents = ma.fields.List(
        row_id(),
        load_default=list,
        metadata={"description": "ids of the application's documents the officer checked"},
    )
    confirm_fen = Fen(
        load_default=None,
        allow_none=True,
        metadata={"description": "the approved amount again; required above the threshold"},
    )


class RejectIn(ma.Schema):
    reason = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=2000))


class RedemptionArgs(ma.Schema):
    format = ma.fields.String(
        load_default="json",
        validate=ma.validate.OneOf(["json", "csv", "xlsx"]),
        metadata={"description": "csv or xlsx return the export file (Chinese headers, yuan)"},
    )


class RedemptionOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    invoice_id = ma.fields.Integer(required=True)
    contract_id = ma.fields.Integer(allow_none=True, required=True)
    voucher_code = ma.fields.String(attribute="voucher.code", required=True)
    buyer_id = ma.fields.Integer(required=True)
    vendor_id = ma.fields.Integer(required=True)
    amount_fen = ma.fields.Integer(required=True)
    eligible_fen = ma.fields.Integer(required=True)
    status = state(RedemptionStatus, required=True)
    created_at = ma.fields.AwareDateTime(required=True)
    reversed_at = ma.fields.AwareDateTime(allow_none=True, required=True)
    reversal_reason = ma.fields.String(required=True)
    settlement_id = ma.fields.Integer(allow_none=True, required=True)


class MonthOut(ma.Schema):
    month = ma.fields.String(required=True)
    issued_fen = ma.fields.Integer(required=True)
    redeemed_fen = ma.fields.Integer(required=True)
    released_fen = ma.fields.Integer(required=True)
    reserved_total_fen = ma.fields.Integer(required=True)
    redeemed_total_fen = ma.fields.Integer(required=True)
    released_total_fen = ma.fields.Integer(required=True)


class CountOut(ma.Schema):
    code = ma.fields.String(required=True)
    enterprises = ma.fields.Integer(required=True)


class VendorFiguresOut(ma.Schema):
    vendor_id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    redeemed_fen = ma.fields.Integer(required=True)
    buyers = ma.fields.Integer(required=True)


class StatsOut(ma.Schema):
    program_id = ma.fields.Integer(required=True)
    budget_fen = ma.fields.Integer(required=True)
    reserved_fen = ma.fields.Integer(required=True)
    redeemed_fen = ma.fields.Integer(required=True)
    released_fen = ma.fields.Integer(required=True)
    available_fen = ma.fields.Integer(required=True)
    by_month = ma.fields.List(ma.fields.Nested(MonthOut), required=True)
    enterprises_served = ma.fields.Integer(required=True)
    by_industry = ma.fields.List(ma.fields.Nested(CountOut), required=True)
    by_district = ma.fields.List(ma.fields.Nested(CountOut), required=True)
    top_vendors = ma.fields.List(ma.fields.Nested(VendorFiguresOut), required=True)
    total_spend_fen = ma.fields.Integer(required=True)
    subsidy_fen = ma.fields.Integer(required=True)
    leverage = ma.fields.String(
        allow_none=True, required=True, metadata={"description": "total spend / subsidy"}
    )
    ran_out = ma.fields.Integer(
        required=True,
        metadata={"description": "enterprises whose vouchers all ended 3+ months ago"},
    )
    still_paying = ma.fields.Integer(
        required=True, metadata={"description": "of those, paying 3 months after"}
    )


class AnomalyArgs(ma.Schema):
    status = ma.fields.String(validate=ma.validate.OneOf([s.value for s in AnomalyStatus]))


class AnomalyOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    program_id = ma.fields.Integer(required=True)
    rule = state(AnomalyRule, required=True)
    rule_label = ma.fields.String(attribute="rule.label", required=True)
    subject_key = ma.fields.String(required=True)
    redemption_id = ma.fields.Integer(allow_none=True, required=True)
    buyer_id = ma.fields.Integer(allow_none=True, required=True)
    vendor_id = ma.fields.Integer(allow_none=True, required=True)
    amount_fen = ma.fields.Integer(required=True)
    details = ma.fields.Dict(required=True)
    status = state(AnomalyStatus, required=True)
    detected_at = ma.fields.AwareDateTime(required=True)
    review_note = ma.fields.String(required=True)
    reviewed_at = ma.fields.AwareDateTime(allow_none=True, required=True)


class SettlementIn(ma.Schema):
    vendor_id = row_id(required=True)
    period_start = Moment(load_default=None, metadata={"description": "or first_day"})
    period_end = Moment(
        load_default=None,
        metadata={"description": "exclusive: redemptions before this moment; or last_day"},
    )
    first_day = Day(load_default=None, metadata={"description": "first day (China)"})
    last_day = Day(load_default=None, metadata={"description": "last day, inclusive (China)"})

    @ma.validates_schema
    def _period(self, data: dict[str, Any], **_kwargs: Any) -> None:
        _one_of(data, "period_start", "first_day")
        _one_of(data, "period_end", "last_day")


class MarkPaidIn(ma.Schema):
    bank_reference = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=100))


class SettlementOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    program_id = ma.fields.Integer(required=True)
    vendor_id = ma.fields.Integer(required=True)
    period_start = ma.fields.AwareDateTime(required=True)
    period_end = ma.fields.AwareDateTime(required=True, metadata={"description": "exclusive"})
    first_day = DerivedDate(
        lambda settlement: dates.first_day(settlement.period_start),
        required=True,
        metadata={"description": "China, YYYY-MM-DD"},
    )
    last_day = DerivedDate(
        lambda settlement: dates.last_day(settlement.period_end),
        required=True,
        metadata={"description": "inclusive"},
    )
    status = state(SettlementStatus, required=True)
    redeemed_fen = ma.fields.Integer(required=True)
    clawback_fen = ma.fields.Integer(required=True)
    total_fen = ma.fields.Integer(required=True)
    bank_reference = ma.fields.String(allow_none=True, required=True)
    created_at = ma.fields.AwareDateTime(required=True)
    approved_at = ma.fields.AwareDateTime(allow_none=True, required=True)
    paid_at = ma.fields.AwareDateTime(allow_none=True, required=True)
