"""Fapiao rules (DESIGN.md section 5).

- 开票信息 (BillingProfile): edited by the organization's owner or admin; 纳税人识别号 is a
  valid USCC (the organization's own by default); the e-mail is checked; every save is
  written to the audit log (its history).
- A buyer asks for a fapiao of a *paid* invoice (never an open, void or credit-note one),
  one per invoice. A special VAT fapiao (专票) needs complete 开票信息.
- The vendor records the issued 数电发票: a 20-digit number, the date, the amount and its
  PDF/OFD/XML file. The amount is the invoice's *total*, vouchers included: in China the
  fapiao covers the buyer's whole purchase price, whoever (buyer or voucher program) pays
  part of it; credit notes are not subtracted (they are reversed by a red-letter fapiao).
- After a refund the vendor records the red-letter (红字) fapiao, which reverses the
  original in full (status ``reversed``).
- Files are checked by content and stored under ``<upload folder>/fapiao/``; only the
  buyer, the vendor, the platform operator and the officer of a program that subsidised
  the invoice may download them.
"""

from __future__ import annotations

import secrets
from datetime import date, datetime
from pathlib import Path

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session, object_session

from billing.fapiao_models import BillingProfile, Fapiao, FapiaoStatus, FapiaoType
from billing.models import Invoice, InvoiceKind, InvoiceStatus
from marketplace import audit
from marketplace.errors import Conflict, DomainError, NotAllowed
from marketplace.jsonapi import Actor
from marketplace.models import Organization, OrgKind, Role
from marketplace.services import check_uscc
from marketplace.states import transition
from vouchers.models import Program, Redemption

MAX_BYTES = 10 * 1024 * 1024
NUMBER_DIGITS = 20  # 数电发票号码


# --- 开票信息 -------------------------------------------------------------------------------


def profile_of(session: Session, org: Organization) -> BillingProfile:
    """The saved 开票信息, or an unsaved one filled from the organization's register data."""
    found = session.scalar(
        sa.select(BillingProfile).where(BillingProfile.organization_id == org.id)
    )
    if found is not None:
        return found
    return BillingProfile(
        organization_id=org.id,
        title=org.name,
        tax_id=org.uscc,
        address_phone=" ".join(p for p in (org.address or "", org.contact_phone or "") if p),
        bank_account="",
        email=org.contact_email or "",
    )


def save_profile(
    session: Session,
    org: Organization,
    *,
    actor: Actor,
    title: str,
    tax_id: str,
    address_phone: str = "",
    bank_account: str = "",
    email: str = "",
    now: datetime,
) -> BillingProfile:
    if actor.organization.id != org.id or actor.role not in (Role.OWNER, Role.ADMIN):
        raise NotAllowed(_l("Only an owner or administrator edits the fapiao details."))
    title = title.strip()
    if not title or len(title) > 200:
        raise DomainError(
            _l("Enter the name on the fapiao (at most 200 characters)."), field="title"
        )
    try:
        tax_id = check_uscc(tax_id.strip().upper())
    except DomainError as error:
        raise DomainError(error.message, field="tax_id") from None
    email = email.strip()
    if email:
        try:
            email = validate_email(email, check_deliverability=False).normalized
        except EmailNotValidError:
            raise DomainError(_l("Enter a valid e-mail address."), field="email") from None
    address_phone, bank_account = address_phone.strip()[:300], bank_account.strip()[:300]
    profile = profile_of(session, org)
    profile.title, profile.tax_id, profile.email = title, tax_id, email
    profile.address_phone, profile.bank_account = address_phone, bank_account
    profile.updated_at = now
    session.add(profile)
    session.flush()
    audit.record(
        session,
        "fapiao.profile_saved",
        "organization",
        org.id,
        user_id=actor.user.id,
        org_id=org.id,
        data={
            "title": title,
            "tax_id": tax_id,
            "address_phone": address_phone,
            "bank_account": bank_account,
            "email": email,
        },
    )
    return profile


# --- request, issue, reverse --------------------------------------------------------------


def fapiao_of(session: Session, invoice: Invoice) -> Fapiao | None:
    return session.scalar(sa.select(Fapiao).where(Fapiao.invoice_id == invoice.id))


def fapiao_status(invoice: Invoice) -> FapiaoStatus | None:
    """``requested``, ``issued``, ``reversed``, or None when none was asked for."""
    session = object_session(invoice)
    found = fapiao_of(session, invoice) if session is not None else None
    return found.status if found else None


def statuses_of(session: Session, invoice_ids: list[int]) -> dict[int, FapiaoStatus]:
    """Fapiao status per invoice id, for lists (the officer's redemptions, settlements)."""
    if not invoice_ids:
        return {}
    rows = session.execute(
        sa.select(Fapiao.invoice_id, Fapiao.status).where(Fapiao.invoice_id.in_(set(invoice_ids)))
    )
    return {invoice_id: status for invoice_id, status in rows}


def open_requests_count(session: Session, vendor_id: int) -> int:
    """Fapiao the vendor still has to issue (a to-do item)."""
    return (
        session.scalar(
            sa.select(sa.func.count(Fapiao.id)).where(
                Fapiao.vendor_id == vendor_id, Fapiao.status == FapiaoStatus.REQUESTED
            )
        )
        or 0
    )


def request(
    session: Session, invoice: Invoice, *, actor: Actor, type_: FapiaoType, now: datetime
) -> Fapiao:
    if actor.organization.id != invoice.buyer_id or not actor.role.can_write:
        raise NotAllowed(_l("Only the invoice's buyer asks for its fapiao."))
    if invoice.kind is not InvoiceKind.INVOICE or invoice.status is not InvoiceStatus.PAID:
        raise Conflict(_l("A fapiao can be asked for once the invoice is paid."))
    if fapiao_of(session, invoice) is not None:
        raise Conflict(_l("A fapiao has been asked for this invoice already."))
    profile = profile_of(session, actor.organization)
    if type_ is FapiaoType.SPECIAL and (profile.id is None or not profile.is_complete):
        raise DomainError(
            _l(
                "A special VAT fapiao needs complete fapiao details: name, taxpayer ID, "
                "address and phone, bank and account, e-mail."
            ),
            field="type",
        )
    fapiao = Fapiao(
        invoice_id=invoice.id,
        buyer_id=invoice.buyer_id,
        vendor_id=invoice.vendor_id,
        type=type_,
        status=FapiaoStatus.REQUESTED,
        buyer_title=profile.title,
        buyer_tax_id=profile.tax_id,
        buyer_address_phone=profile.address_phone,
        buyer_bank_account=profile.bank_account,
        buyer_email=profile.email,
        requested_at=now,
        requested_by_id=actor.user.id,
    )
    session.add(fapiao)
    session.flush()
    _audit(session, "fapiao.requested", fapiao, actor, {"type": type_.value})
    return fapiao


def sniff(data: bytes) -> tuple[str, str]:
    """(content type, extension) of a fapiao file: PDF, OFD (a zip with OFD.xml) or XML."""
    import io
    import zipfile

    if data.startswith(b"%PDF-"):
        return "application/pdf", "pdf"
    if data.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                if "OFD.xml" in archive.namelist():
                    return "application/ofd", "ofd"
        except zipfile.BadZipFile:
            pass
    else:
        head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:100]
        if head.startswith(b"<?xml") or head.startswith(b"<"):
            try:
                data.decode("utf-8")
            except UnicodeDecodeError:
                pass
            else:
                from xml.etree import ElementTree

                try:
                    ElementTree.fromstring(data)
                except ElementTree.ParseError:
                    pass
                else:
                    return "application/xml", "xml"
    raise DomainError(_l("Only PDF, OFD and XML fapiao files are accepted."), field="file")


def _store(data: bytes, upload_folder: Path) -> tuple[str, str]:
    if not data:
        raise DomainError(_l("Choose a file."), field="file")
    if len(data) > MAX_BYTES:
        raise DomainError(_l("The file is larger than 10 MB."), field="file")
    content_type, extension = sniff(data)
    folder = upload_folder / "fapiao"
    folder.mkdir(parents=True, exist_ok=True)
    stored = f"{secrets.token_hex(16)}.{extension}"
    with (folder / stored).open("xb") as handle:
        handle.write(data)
    return stored, content_type


def _check_number(session: Session, number: str, field: str) -> str:
    number = number.strip()
    if len(number) != NUMBER_DIGITS or not number.isascii() or not number.isdigit():
        raise DomainError(_l("A digital fapiao number has 20 digits."), field=field)
    taken = session.scalar(
        sa.select(Fapiao.id).where(sa.or_(Fapiao.number == number, Fapiao.red_number == number))
    )
    if taken is not None:
        raise Conflict(_l("This fapiao number is recorded already."), field=field)
    return number


def _check_vendor(fapiao: Fapiao, actor: Actor) -> None:
    if actor.organization.id != fapiao.vendor_id or not actor.role.can_write:
        raise NotAllowed(_l("Only the invoice's vendor records its fapiao."))


def record_issued(
    session: Session,
    fapiao: Fapiao,
    *,
    actor: Actor,
    number: str,
    issued_on: date,
    amount_fen: int,
    type_: FapiaoType | None = None,
    data: bytes,
    filename: str,
    upload_folder: Path,
    now: datetime,
) -> Fapiao:
    """The vendor records the 数电发票 it issued; nothing is written when it is refused."""
    _check_vendor(fapiao, actor)
    if fapiao.status is not FapiaoStatus.REQUESTED:
        raise Conflict(_l("This fapiao is recorded already."))
    number = _check_number(session, number, "number")
    invoice = fapiao.invoice
    if amount_fen != invoice.total_fen:
        raise DomainError(
            _l("The fapiao amount must be the invoice total, vouchers included."), field="amount"
        )
    if issued_on > now.date() or (invoice.issued_at and issued_on < invoice.issued_at.date()):
        raise DomainError(_l("Enter the date the fapiao was issued."), field="issued_on")
    stored, content_type = _store(data, upload_folder)
    fapiao.number, fapiao.issued_on, fapiao.amount_fen = number, issued_on, amount_fen
    fapiao.type = type_ or fapiao.type
    fapiao.file, fapiao.file_content_type = stored, content_type
    fapiao.file_name = Path(filename or "fapiao").name[:200]
    transition(
        fapiao,
        FapiaoStatus.ISSUED,
        actor,
        now=now,
        data={"number": number, "amount_fen": amount_fen},
    )
    return fapiao


def record_red_letter(
    session: Session,
    fapiao: Fapiao,
    *,
    actor: Actor,
    number: str,
    issued_on: date,
    data: bytes,
    filename: str,
    upload_folder: Path,
    now: datetime,
) -> Fapiao:
    """After a refund, the vendor records the red-letter fapiao that reverses the original."""
    _check_vendor(fapiao, actor)
    if fapiao.status is not FapiaoStatus.ISSUED:
        raise Conflict(_l("Only an issued fapiao can be reversed."))
    if not any(p.refunded_fen for p in fapiao.invoice.payments):
        raise Conflict(_l("A red-letter fapiao is recorded after a refund of the invoice."))
    number = _check_number(session, number, "number")
    if (fapiao.issued_on and issued_on < fapiao.issued_on) or issued_on > now.date():
        raise DomainError(_l("Enter the date the fapiao was issued."), field="issued_on")
    stored, content_type = _store(data, upload_folder)
    fapiao.red_number, fapiao.red_issued_on = number, issued_on
    fapiao.red_file, fapiao.red_file_content_type = stored, content_type
    fapiao.red_file_name = Path(filename or "fapiao").name[:200]
    transition(fapiao, FapiaoStatus.REVERSED, actor, now=now, data={"red_number": number})
    return fapiao


def may_download(session: Session, fapiao: Fapiao, actor: Actor) -> bool:
    org = actor.organization
    if org.id in (fapiao.buyer_id, fapiao.vendor_id) or actor.org_kind is OrgKind.PLATFORM:
        return True
    if actor.org_kind is not OrgKind.GOVERNMENT:
        return False
    return (
        session.scalar(
            sa.select(Redemption.id)
            .join(Program, Program.id == Redemption.program_id)
            .where(
                Redemption.invoice_id == fapiao.invoice_id,
                Program.owner_org_id == org.id,
            )
            .limit(1)
        )
        is not None
    )


def _audit(
    session: Session, action: str, fapiao: Fapiao, actor: Actor, data: dict[str, object]
) -> None:
    audit.record(
        session,
        action,
        "invoice",
        fapiao.invoice_id,
        user_id=actor.user.id,
        org_id=actor.organization.id,
        data={"fapiao_id": fapiao.id, **data},
    )
