"""One vocabulary for the voucher money words, on screen and in the files an officer hands
on: 核销 (a voucher pays part of an invoice), 冲回 (that payment undone after a void or a
refund), 符合条件金额 (the part of an invoice a program may subsidise). The screen's words
come from the catalog (msgids "Redeemed", "Reversed", "Eligible"); the exports write the
same words from here. tests/vouchers/test_vocabulary.py fails when the two part ways or a
synonym below comes back.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

REDEEM = "核销"
REVERSE = "冲回"
ELIGIBLE_AMOUNT = "符合条件金额"

REDEEMED = f"已{REDEEM}"
REVERSED = f"已{REVERSE}"

# The screen's column and status words (same msgids as the templates and enum labels).
ELIGIBLE = _l("Eligible")

# Synonyms once used in the export files for the same things, and the word that replaced
# each one.
AVOIDED = {"兑付": REDEEM, "冲销": REVERSE, "可补贴金额": ELIGIBLE_AMOUNT}
