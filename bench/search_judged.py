"""The judged query set of bench/search.py, its two peers and its measures.

Each query is judged by the scenarios a buyer typing it wants: a listing is relevant when
one of its scenarios is among them (the synthetic corpus is assembled per scenario, so
that is what its text is about). About a third are "unseen": words no listing says
(an owner's words, synonyms, traditional characters, full-width letters), checked against
the generated corpus when the benchmark runs.

Measures over the first page (20): hit@1 (the first result is relevant), recall@5 (the
relevant share of the first five, out of at most five relevant listings: the corpus has
hundreds per scenario), MRR (1 / the rank of the first relevant result, 0 without one).

Peers, on the same corpus and queries: SQLite FTS5 with the trigram tokenizer (every
word must match; words under three characters by LIKE, as in bench/search.py), and a
jieba + BM25 baseline (jieba's search-mode words of every text field, Okapi BM25 with
k1 1.2 and b 0.75, any word may match), both with the same filters.
"""

from __future__ import annotations

import math
import re
import sqlite3
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import jieba

from catalog.search import SearchQuery, SolutionDoc, price_band


@dataclass(frozen=True)
class Judged:
    q: str
    topics: frozenset[str]  # scenarios a buyer typing q wants
    unseen: bool = False  # no listing says q (checked on the corpus)
    filters: dict[str, object] = field(default_factory=dict)

    @property
    def label(self) -> str:
        extra = " ".join(f"{k}={v}" for k, v in self.filters.items())
        return f"{self.q} {extra}".strip()


def _j(q: str, *topics: str, unseen: bool = False, **filters: object) -> Judged:
    return Judged(q, frozenset(topics), unseen, filters)


JUDGED: list[Judged] = [
    # -- words listings use -------------------------------------------------------------
    _j("三维设计", "rd.design"),
    _j("有限元仿真", "rd.design"),
    _j("工艺路线", "rd.process"),
    _j("BOM管理", "rd.process"),
    _j("排产", "pm.scheduling"),
    _j("插单", "pm.scheduling"),
    _j("交期预测", "pm.scheduling"),
    _j("扫码报工", "pm.execution"),
    _j("车间看板", "pm.execution"),
    _j("MES", "pm.execution"),
    _j("预测性维护", "pm.equipment"),
    _j("点检", "pm.equipment"),
    _j("振动监测", "pm.equipment"),
    _j("质检", "pm.quality"),
    _j("缺陷检测", "pm.quality"),
    _j("良品率", "pm.quality"),
    _j("能耗", "pm.energy"),
    _j("峰谷电价", "pm.energy"),
    _j("空压机节能", "pm.energy"),
    _j("安全生产", "pm.safety"),
    _j("隐患排查", "pm.safety"),
    _j("废气在线监测", "pm.environment"),
    _j("环保台账", "pm.environment"),
    _j("仓储管理", "lg.warehouse"),
    _j("库位管理", "lg.warehouse"),
    _j("盘点", "lg.warehouse"),
    _j("运输管理", "lg.transport"),
    _j("车辆调度", "lg.transport"),
    _j("询比价", "sc.procurement"),
    _j("供应商评估", "sc.procurement"),
    _j("供应链协同", "sc.collaboration"),
    _j("对账协同", "sc.collaboration"),
    _j("供应链金融", "sc.finance"),
    _j("票据贴现", "sc.finance"),
    _j("客户画像", "ms.crm"),
    _j("销售漏斗", "ms.crm"),
    _j("在线订货", "ms.orders"),
    _j("电商中台", "ms.orders"),
    _j("远程诊断", "ms.aftersales"),
    _j("备件管理", "ms.aftersales"),
    _j("电子发票", "op.finance"),
    _j("成本核算", "op.finance"),
    _j("计件工资", "op.hr"),
    _j("排班考勤", "op.hr"),
    _j("移动审批", "op.office"),
    _j("企业网盘", "op.office"),
    _j("经营指标看板", "op.analytics"),
    _j("BI", "op.analytics"),
    _j("算力", "ai.compute"),
    _j("GPU", "ai.compute"),
    _j("模型微调", "ai.model"),
    _j("工业大模型", "ai.model"),
    _j("智能体", "ai.agent"),
    _j("客服智能体", "ai.agent"),
    _j("设备 故障预警", "pm.equipment"),
    _j("质检 报告", "pm.quality"),
    _j("质检", "pm.quality", industry="C17"),
    _j("能耗", "pm.energy", max_monthly_fen=200_000),
    _j("算力", "ai.compute", billing_model="usage"),
    _j("仓储", "lg.warehouse", delivery="saas"),
    _j("quality inspection", "pm.quality"),
    _j("predictive maintenance", "pm.equipment"),
    _j("energy management", "pm.energy"),
    _j("warehouse management", "lg.warehouse"),
    _j("GPU compute rental", "ai.compute"),
    _j("production scheduling", "pm.scheduling"),
    _j("CRM", "ms.crm"),
    _j("HR payroll", "op.hr"),
    _j("zhijian", "pm.quality"),
    _j("paichan", "pm.scheduling"),
    _j("nenghao", "pm.energy"),
    _j("suanli", "ai.compute"),
    # -- words no listing says: owners' words, synonyms, traditional, full-width --------
    _j("質量檢測", "pm.quality", unseen=True),
    _j("验布", "pm.quality", unseen=True),
    _j("外观检测", "pm.quality", unseen=True),
    _j("品检", "pm.quality", unseen=True),
    _j("老是漏检", "pm.quality", unseen=True),
    _j("次品率高", "pm.quality", unseen=True),
    _j("排机", "pm.scheduling", unseen=True),
    _j("交期总是拖", "pm.scheduling", unseen=True),
    _j("排產", "pm.scheduling", unseen=True),
    _j("订单延误", "pm.scheduling", unseen=True),
    _j("设备老坏", "pm.equipment", unseen=True),
    _j("停机多", "pm.equipment", unseen=True),
    _j("设备保养", "pm.equipment", unseen=True),
    _j("設備點檢", "pm.equipment", unseen=True),
    _j("电费太高", "pm.energy", unseen=True),
    _j("节电", "pm.energy", unseen=True),
    _j("節能", "pm.energy", unseen=True),
    _j("用电量大", "pm.energy", unseen=True),
    _j("降低天然气消耗", "pm.energy", unseen=True),
    _j("库存积压", "lg.warehouse", unseen=True),
    _j("倉儲管理", "lg.warehouse", unseen=True),
    _j("进销存", "lg.warehouse", "ms.orders", unseen=True),
    _j("派车", "lg.transport", unseen=True),
    _j("运费高", "lg.transport", unseen=True),
    _j("招投标", "sc.procurement", unseen=True),
    _j("SRM", "sc.procurement", unseen=True),
    _j("缺钱", "sc.finance", unseen=True),
    _j("保理", "sc.finance", unseen=True),
    _j("找客户", "ms.crm", unseen=True),
    _j("商机", "ms.crm", unseen=True),
    _j("记账", "op.finance", unseen=True),
    _j("算不清成本", "op.finance", unseen=True),
    _j("算工资", "op.hr", unseen=True),
    _j("人事管理", "op.hr", unseen=True),
    _j("OA", "op.office", unseen=True),
    _j("审批慢", "op.office", unseen=True),
    _j("数据大屏", "op.analytics", unseen=True),
    _j("报表做不完", "op.analytics", unseen=True),
    _j("显卡不够", "ai.compute", unseen=True),
    _j("云服务器", "ai.compute", unseen=True),
    _j("LLM", "ai.model", unseen=True),
    _j("数字员工", "ai.agent", unseen=True),
    _j("双重预防", "pm.safety", unseen=True),
    _j("不戴安全帽", "pm.safety", unseen=True),
    _j("排放超标", "pm.environment", unseen=True),
    _j("生产进度不透明", "pm.execution", unseen=True),
    _j("制造执行系统", "pm.execution", unseen=True),
    _j("SOP", "rd.process", "pm.execution", unseen=True),
]
# Full-width letters: the words are listings' own once the width is folded.
JUDGED += [_j("ＭＥＳ", "pm.execution"), _j("ＧＰＵ", "ai.compute"), _j("ＡＰＳ", "pm.scheduling")]

PAGE = 20


def query_of(judged: Judged) -> SearchQuery:
    return SearchQuery(q=judged.q, per_page=PAGE, **judged.filters)  # type: ignore[arg-type]


def listing_text(doc: SolutionDoc) -> str:
    return " ".join(
        (doc.name, doc.name_en, doc.summary, doc.summary_en, doc.description, doc.vendor_name)
    ).lower()


def seen_in_corpus(docs: list[SolutionDoc], judged: Judged) -> bool:
    """Whether any listing says the query (as typed: only width and case folded; a Latin
    word as a whole word)."""
    needle = unicodedata.normalize("NFKC", judged.q).lower()
    if needle.isascii():
        pattern = re.compile(rf"(?<![a-z0-9]){re.escape(needle)}(?![a-z0-9])")
        return any(pattern.search(listing_text(doc)) for doc in docs)
    return any(needle in listing_text(doc) for doc in docs)


# -- measures --------------------------------------------------------------------------------


@dataclass
class Scores:
    hit1: float = 0.0
    recall5: float = 0.0
    mrr: float = 0.0
    n: int = 0

    def add(self, ranked: list[int], relevant: Callable[[int], bool], available: int) -> None:
        flags = [relevant(d) for d in ranked[:PAGE]]
        self.hit1 += 1.0 if flags[:1] == [True] else 0.0
        self.recall5 += sum(flags[:5]) / max(1, min(5, available))
        first = next((i for i, flag in enumerate(flags) if flag), None)
        self.mrr += 1.0 / (first + 1) if first is not None else 0.0
        self.n += 1

    def row(self) -> str:
        n = max(self.n, 1)
        return f"{self.hit1 / n:6.3f} {self.recall5 / n:8.3f} {self.mrr / n:6.3f}"


# -- the jieba + BM25 peer -----------------------------------------------------------------


class JiebaBM25:
    """Okapi BM25 over jieba's search-mode words of every text field; OR of the words."""

    K1 = 1.2
    B = 0.75

    def __init__(self, docs: list[SolutionDoc]) -> None:
        self.docs = {d.id: d for d in docs}
        self.postings: dict[str, dict[int, int]] = {}
        self.lengths: dict[int, int] = {}
        for doc in docs:
            words = self._words(listing_text(doc))
            self.lengths[doc.id] = len(words)
            for word, tf in Counter(words).items():
                self.postings.setdefault(word, {})[doc.id] = tf
        self.average = sum(self.lengths.values()) / max(len(self.lengths), 1)

    @staticmethod
    def _words(text: str) -> list[str]:
        return [w for w in jieba.cut_for_search(text) if w.strip() and (w.isalnum() or len(w) > 1)]

    def search(self, query: SearchQuery) -> list[int]:
        scores: dict[int, float] = {}
        n = len(self.docs)
        for word in set(self._words(unicodedata.normalize("NFKC", query.q).lower())):
            posting = self.postings.get(word, {})
            if not posting:
                continue
            idf = math.log(1 + (n - len(posting) + 0.5) / (len(posting) + 0.5))
            for doc_id, tf in posting.items():
                norm = tf + self.K1 * (1 - self.B + self.B * self.lengths[doc_id] / self.average)
                scores[doc_id] = scores.get(doc_id, 0.0) + idf * tf * (self.K1 + 1) / norm
        kept = [d for d in scores if _passes(self.docs[d], query)]
        return sorted(kept, key=lambda d: (-scores[d], d))[:PAGE]


def _passes(doc: SolutionDoc, query: SearchQuery) -> bool:
    checks = (
        (query.industry, doc.industries),
        (query.scenario, doc.scenarios),
        (query.billing_model, doc.billing_models),
        (query.voucher_kind, doc.voucher_kinds),
    )
    if any(value is not None and value not in values for value, values in checks):
        return False
    if query.delivery is not None and doc.delivery != query.delivery:
        return False
    if query.price_band is not None and price_band(doc.monthly_fen) != query.price_band:
        return False
    return query.max_monthly_fen is None or (
        doc.monthly_fen is not None and doc.monthly_fen <= query.max_monthly_fen
    )


# -- the FTS5 peer ---------------------------------------------------------------------------


def fts_search(
    db: sqlite3.Connection, docs: dict[int, SolutionDoc], query: SearchQuery
) -> list[int]:
    """Every word must match (trigram MATCH, or LIKE under three characters); bm25 order."""
    words = unicodedata.normalize("NFKC", query.q).split()
    matches = ['"' + w.replace('"', '""') + '"' for w in words if len(w) >= 3]
    likes = [w for w in words if len(w) < 3]
    if matches:
        sql = "SELECT rowid, bm25(fts, 6, 3, 1, 1.5, 5, 2.5) FROM fts WHERE fts MATCH ?"
        params: list[object] = [" AND ".join(matches)]
    else:
        sql, params = "SELECT rowid, 0.0 FROM fts WHERE 1", []
    for word in likes:
        sql += (
            " AND (name LIKE ? OR summary LIKE ? OR description LIKE ? OR vendor LIKE ?"
            " OR name_en LIKE ? OR summary_en LIKE ?)"
        )
        params += [f"%{word}%"] * 6
    rows = db.execute(sql, params).fetchall()
    kept = [(rank, doc_id) for doc_id, rank in rows if _passes(docs[doc_id], query)]
    return [doc_id for _rank, doc_id in sorted(kept)[:PAGE]]
