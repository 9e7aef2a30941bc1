"""vouchers money: the anomaly rule that recomputes subsidy <= ratio x eligible amount

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 16:00:00

Redemptions written before this revision may record as their eligible amount only the lines
the subsidy reached. Their true eligible base cannot be recomputed here (it depends on the
listing's voucher kinds, the vendor pool and the related-party rule as they were at
payment), so no data is changed: the new rule's scan flags every such row for the officer.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import marketplace.db  # noqa: F401

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

OLD_RULES = ('related_party', 'quick_reversal', 'vendor_concentration', 'split_invoices', 'no_usage')
NEW_RULES = (*OLD_RULES, 'subsidy_over_ratio')


def _rule_check(rules: tuple[str, ...]) -> str:
    return "rule IN (" + ", ".join(f"'{rule}'" for rule in rules) + ")"


def upgrade() -> None:
    with op.batch_alter_table('voucher_anomalies', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_voucher_anomalies_anomaly_rule'), type_='check')
        batch_op.create_check_constraint(op.f('ck_voucher_anomalies_anomaly_rule'), _rule_check(NEW_RULES))


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM voucher_anomalies WHERE rule = 'subsidy_over_ratio'"))
    with op.batch_alter_table('voucher_anomalies', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_voucher_anomalies_anomaly_rule'), type_='check')
        batch_op.create_check_constraint(op.f('ck_voucher_anomalies_anomaly_rule'), _rule_check(OLD_RULES))
