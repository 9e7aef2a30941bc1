"""The effectiveness tab of a program's console (使用效能) and its export: money (the budget,
the subsidy redeemed month by month on a scale of its own, leverage, retention), the results
its subsidised outcome contracts measured per KPI, and where the subsidy went by district,
industry (GB/T 4754 names) and size class."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from flask import Response
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from flask_babel import gettext as _

from marketplace import reference
from marketplace.auth import org_required
from marketplace.db import db, utcnow
from marketplace.money import format_fen
from marketplace.sizeclass import SizeClass
from vouchers import effect, exports, stats
from vouchers.charts import bar_chart, budget_chart, column_chart
from vouchers.models import Program
from vouchers.views.common import OFFICER, bp, content_disposition, load_program


@bp.app_template_filter("kpi_number")
def kpi_number(value: Decimal) -> str:
    """A measured quantity as people write it: 12,345.5 (no trailing zeros)."""
    return f"{value.normalize():,f}"


@dataclass(frozen=True)
class LabelledShare:
    label: str
    share: effect.Share


def industry_label(code: str, locale: str) -> str:
    found = reference.industry(code)
    return f"{code} {found.name(locale)}" if found else (code or _("Not given"))


def district_label(code: str) -> str:
    return (reference.region_label(code) or code) if code else _("Not given")


def size_label(code: str) -> str:
    return SizeClass(code).label if code in SizeClass._value2member_map_ else _("Not given")


def labelled(program: Program, locale: str) -> dict[str, list[LabelledShare]]:
    found = effect.breakdowns(db.session, program)
    return {
        "district": [LabelledShare(district_label(s.code), s) for s in found.by_district],
        "industry": [LabelledShare(industry_label(s.code, locale), s) for s in found.by_industry],
        "size": [LabelledShare(size_label(s.code), s) for s in found.by_size],
    }


def context(program: Program) -> dict[str, Any]:
    session = db.session
    months = stats.budget_by_month(session, program)
    served = stats.enterprises_served(session, program)
    vendors = stats.top_vendors(session, program)
    locale = str(get_locale())
    changes = effect.month_over_month(months)
    shares = labelled(program, locale)
    redeemed_total = months[-1].redeemed_total_fen if months else 0
    return {
        "budget_chart": budget_chart(months, program.budget_fen),
        "months": months,
        "changes": changes,
        "redeemed_total": redeemed_total,
        "spend_chart": column_chart([(c.month, c.redeemed_fen) for c in changes]),
        "served": served,
        "industry_chart": bar_chart(
            [(industry_label(code, locale), n, str(n)) for code, n in served.by_industry[:12]]
        ),
        "district_chart": bar_chart(
            [(district_label(code), n, str(n)) for code, n in served.by_district[:12]]
        ),
        "size_chart": bar_chart(
            [
                (item.label, item.share.redeemed_fen, format_fen(item.share.redeemed_fen))
                for item in shares["size"]
            ]
        ),
        "shares": shares,
        "outcomes": effect.outcomes(session, program),
        "vendors": vendors,
        "vendor_chart": bar_chart(
            [(v.name, v.redeemed_fen, format_fen(v.redeemed_fen)) for v in vendors]
        ),
        "leverage": stats.leverage(session, program),
        "retention": stats.still_paying(session, program, now=utcnow()),
    }


DIRECTION_ZH = {"increase": "提升", "decrease": "下降"}
SECTION_ZH = {"district": "地区", "industry": "行业", "size": "企业规模"}


def effect_sheet(program: Program) -> exports.Sheet:
    """The tab's figures as one table, in Chinese like every export."""
    session = db.session
    rows: list[list[object]] = []
    for change in effect.month_over_month(stats.budget_by_month(session, program)):
        rows.append(
            ["月度核销", change.month, None, change.redeemed_fen, change.change_fen, None, "", ""]
        )
    for section, items in labelled(program, "zh_CN").items():
        for item in items:
            rows.append(
                [
                    SECTION_ZH[section],
                    item.label,
                    item.share.enterprises,
                    item.share.redeemed_fen,
                    None,
                    None,
                    "",
                    "",
                ]
            )
    for kpi in effect.outcomes(session, program):
        rows.append(
            [
                "成效指标",
                kpi.name,
                kpi.contracts,
                None,
                None,
                kpi_number(kpi.improvement),
                kpi.unit,
                f"{DIRECTION_ZH.get(kpi.direction, kpi.direction)}；{kpi.periods} 个确认周期；"
                f"最近一期合计 {kpi_number(kpi.latest_improvement)} {kpi.unit}",
            ]
        )
    return exports.Sheet(
        f"使用效能-{program.id}",
        [
            exports.Column("分类", width=12),
            exports.Column("名称", width=30),
            exports.Column("企业数/合同数", "int", 14),
            exports.Column("核销金额（元）", "yuan"),
            exports.Column("环比变化（元）", "yuan"),
            exports.Column("成效合计", width=14),
            exports.Column("单位", width=10),
            exports.Column("说明", width=40),
        ],
        rows,
    )


@bp.get("/programs/<int:program_id>/effect.<any(csv, xlsx):fmt>")
@org_required(OFFICER)
def effect_export(program_id: int, fmt: str) -> ResponseReturnValue:
    program = load_program(program_id)
    sheet = effect_sheet(program)
    if fmt == "xlsx":
        body, media_type = exports.to_xlsx(sheet), exports.XLSX_MEDIA_TYPE
    else:
        body, media_type = exports.to_csv(sheet), exports.CSV_MEDIA_TYPE
    response = Response(body, content_type=media_type)
    response.headers["Content-Disposition"] = content_disposition(
        sheet.title, fmt, f"effect-{program.id}"
    )
    response.headers["Cache-Control"] = "no-store"
    return response
