"""Related parties (关联方): a vendor that shares a buyer's credit code, legal
representative, phone, e-mail or address may not be paid with that buyer's vouchers."""

from __future__ import annotations

import re
import unicodedata

from marketplace.models import Organization

# Mailbox providers anyone can sign up with: sharing one says nothing.
PUBLIC_MAIL_DOMAINS = frozenset(
    {
        "qq.com",
        "163.com",
        "126.com",
        "yeah.net",
        "sina.com",
        "sina.cn",
        "sohu.com",
        "aliyun.com",
        "139.com",
        "189.cn",
        "foxmail.com",
        "gmail.com",
        "outlook.com",
        "hotmail.com",
        "yahoo.com",
        "icloud.com",
        "example.com",
    }
)
_NOT_WORD = re.compile(r"[\W_]+", re.UNICODE)


def _text(value: str | None) -> str:
    return _NOT_WORD.sub("", unicodedata.normalize("NFKC", value or "")).lower()


def _phone(value: str | None) -> str:
    digits = "".join(ch for ch in unicodedata.normalize("NFKC", value or "") if ch.isdigit())
    if digits.startswith("86") and len(digits) > 11:
        digits = digits[2:]
    return digits.lstrip("0")


def _email(value: str | None) -> str:
    return (value or "").strip().lower()


def related_party_reasons(
    buyer: Organization, vendor: Organization, *, loose: bool = False
) -> list[str]:
    """What the two organizations share: "uscc", "legal_representative", "phone",
    "email", "address"; empty when they are unrelated. ``loose`` adds the weaker signs the
    anomaly review looks at: the same company mail domain, phones alike in the last 8 digits."""
    if buyer.id == vendor.id:
        return ["same_organization"]
    reasons = []
    if buyer.uscc.strip().upper() == vendor.uscc.strip().upper():
        reasons.append("uscc")
    if _text(buyer.legal_representative) and _text(buyer.legal_representative) == _text(
        vendor.legal_representative
    ):
        reasons.append("legal_representative")
    if _phone(buyer.contact_phone) and _phone(buyer.contact_phone) == _phone(vendor.contact_phone):
        reasons.append("phone")
    if _email(buyer.contact_email) and _email(buyer.contact_email) == _email(vendor.contact_email):
        reasons.append("email")
    if _text(buyer.address) and _text(buyer.address) == _text(vendor.address):
        reasons.append("address")
    if loose:
        buyer_domain = _email(buyer.contact_email).rpartition("@")[2]
        vendor_domain = _email(vendor.contact_email).rpartition("@")[2]
        if (
            "email" not in reasons
            and buyer_domain
            and buyer_domain == vendor_domain
            and buyer_domain not in PUBLIC_MAIL_DOMAINS
        ):
            reasons.append("email_domain")
        buyer_phone, vendor_phone = _phone(buyer.contact_phone), _phone(vendor.contact_phone)
        if (
            "phone" not in reasons
            and len(buyer_phone) >= 8
            and buyer_phone[-8:] == vendor_phone[-8:]
        ):
            reasons.append("phone_tail")
    return reasons


def are_related(buyer: Organization, vendor: Organization) -> bool:
    return bool(related_party_reasons(buyer, vendor))
