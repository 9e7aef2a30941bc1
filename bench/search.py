"""Search benchmark: the catalog's Whoosh index at scale, and against SQLite FTS5 (trigram).

    python bench/search.py --n 10000
    python bench/search.py --sizes 10000,100000

Scale table (every size): for each size, generate that many solutions, build the index
(build time; size on disk, in bytes and per listing; both also as a ratio to the smallest
size's, next to the ratio of the sizes, to show how they grow), the first search after the
rebuild in the process that searched before (it loads the new generation's stored values),
then a fresh search process (``--probe``, a subprocess, so its memory is only the
search's): the first search after it opens the index (text analysis loaded first and
timed apart), warm latency (median, p95, p99) of the 30 queries below, all of them and
the filtered ones (every query counts facets), and its memory (RSS after the warm-up and
its own peak RSS (VmHWM; getrusage's ru_maxrss is printed too, but on Linux it keeps the
peak of the benchmark process that started the probe); ``--tracemalloc``: the Python heap
held by the open index, in another probe), and the latency of queries that process has not run yet (the judged set
below, once each). Targets at 100,000: filtered p95 <= 50 ms warm, first search < 1 s.
Latency is wall clock (and CPU time of the probe, less disturbed by other load).

Generates N synthetic but Chinese-plausible solutions (fixed seed) from the scenario and
industry vocabularies, builds the index (build time), runs 30 mixed queries (Chinese,
pinyin, English; with and without filters; every one with facet counts) through
``SearchIndex.search`` and reports median and p95 latency over several warm repetitions;
then builds an FTS5 table with ``tokenize='trigram'`` over the same corpus and runs the
Chinese and English queries there, with facet counts by SQL GROUP BY. Finally a relevance
table: for each Chinese query, how many of the top 5 are on-topic in each engine (on-topic
= the solution's scenarios include the scenario the query is meant to find). Last, the
judged query set (bench/search_judged.py: over 100 queries, a third in words no listing
says): hit@1, recall@5 and MRR of the search before (words as typed: no thesaurus, pain
points, traditional-to-simplified folding or loosening; an index built without folding)
and after, and of the FTS5 and jieba-BM25 peers, in the same run (``--judged-only`` skips
the latency part).

FTS5's trigram tokenizer cannot match terms shorter than three characters (质检, 能耗,
排产, 算力 are two); such terms fall back to ``LIKE '%term%'`` over the same columns, as
SQLite's documentation suggests, and have no bm25 rank (those queries order by newest).

The comparison (in-process latency against FTS5, the relevance and judged tables) takes
minutes at 100,000 (a second "before" index, FTS5, jieba BM25 over the corpus), so it runs
only for sizes up to ``--compare-up-to`` (10,000 by default); ``--scale-only`` skips it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.search_judged import JUDGED, JiebaBM25, Scores, fts_search, query_of, seen_in_corpus
from catalog.search import SearchIndex, SearchQuery, SolutionDoc, analysis, price_band
from catalog.search.taxonomy import industries, scenarios
from catalog.search.vocabulary import EMPTY

# Per scenario: product nouns, features, English name words. Names and summaries are
# assembled from these with industry words, so texts vary but stay on topic.
VOCABULARY: dict[str, tuple[tuple[str, ...], tuple[str, ...], str]] = {
    "rd.design": (
        ("三维设计软件", "仿真分析平台", "云端CAD", "结构仿真工具"),
        ("参数化建模", "有限元仿真", "图纸版本管理", "设计协同评审"),
        "CAD and simulation",
    ),
    "rd.process": (
        ("工艺管理系统", "CAPP工艺平台", "工艺知识库"),
        ("工艺路线编制", "工艺参数优化", "作业指导书电子化", "BOM管理"),
        "process planning",
    ),
    "pm.scheduling": (
        ("智能排产系统", "APS高级排程", "生产计划排程平台", "排产助手"),
        ("订单自动排产", "产能平衡", "插单快速重排", "交期预测", "物料齐套检查"),
        "production scheduling",
    ),
    "pm.execution": (
        ("MES生产执行系统", "车间管控平台", "数字化工单系统", "扫码报工系统"),
        ("工单派发", "扫码报工", "在制品跟踪", "车间看板", "生产进度透明"),
        "shop-floor execution MES",
    ),
    "pm.equipment": (
        ("设备预测性维护平台", "设备健康管理系统", "设备点检APP", "振动监测终端"),
        ("振动与温度监测", "故障提前预警", "剩余寿命预测", "点检巡检", "维修工单闭环"),
        "predictive maintenance",
    ),
    "pm.quality": (
        ("视觉质检系统", "AI缺陷检测平台", "质量追溯系统", "智能质检终端"),
        ("表面缺陷检测", "瑕疵自动识别", "质检报告自动生成", "批次质量追溯", "良品率分析"),
        "quality inspection",
    ),
    "pm.energy": (
        ("能耗管理系统", "能源管理平台", "碳排放监测平台", "智能电表云"),
        ("分项计量", "能耗异常告警", "峰谷电价优化", "碳足迹核算", "空压机节能"),
        "energy management",
    ),
    "pm.safety": (
        ("安全生产管理平台", "隐患排查系统", "AI安全帽识别"),
        ("隐患随手拍", "危险作业审批", "人员越界告警", "安全培训考试"),
        "workplace safety",
    ),
    "pm.environment": (
        ("环保监测平台", "废气在线监测", "污水排放监控"),
        ("排放数据上报", "超标预警", "环保台账", "治理设施用电监控"),
        "environmental monitoring",
    ),
    "lg.warehouse": (
        ("仓储管理系统", "WMS云仓", "智能仓库平台"),
        ("库位管理", "扫码出入库", "库存预警", "先进先出", "盘点"),
        "warehouse management",
    ),
    "lg.transport": (
        ("物流配送平台", "运输管理系统", "车辆调度系统"),
        ("路线规划", "在途跟踪", "电子回单", "运费结算"),
        "transport management",
    ),
    "sc.procurement": (
        ("采购管理系统", "供应商门户", "电子招采平台"),
        ("询比价", "供应商评估", "采购订单协同", "到货验收"),
        "procurement",
    ),
    "sc.collaboration": (
        ("供应链协同平台", "订单协同门户", "上下游协同系统"),
        ("需求预测共享", "订单交期协同", "库存可视", "对账协同"),
        "supply chain collaboration",
    ),
    "sc.finance": (
        ("供应链金融服务", "应收账款融资平台", "订单融资服务"),
        ("应收账款融资", "订单贷", "票据贴现", "信用评估"),
        "supply chain finance",
    ),
    "ms.crm": (
        ("客户关系管理系统", "CRM销售助手", "客户管理云"),
        ("线索跟进", "客户画像", "销售漏斗", "报价单管理"),
        "CRM",
    ),
    "ms.orders": (
        ("订单管理系统", "电商中台", "B2B订货商城"),
        ("在线订货", "多渠道订单汇总", "发货跟踪", "价格政策管理"),
        "order management e-commerce",
    ),
    "ms.aftersales": (
        ("售后服务平台", "远程运维系统", "设备远程监控"),
        ("报修工单", "远程诊断", "备件管理", "服务满意度回访"),
        "after-sales remote maintenance",
    ),
    "op.finance": (
        ("财务管理软件", "业财一体化平台", "费用报销系统"),
        ("凭证自动生成", "成本核算", "电子发票", "资金计划"),
        "finance and accounting",
    ),
    "op.hr": (
        ("人力资源系统", "考勤薪酬平台", "计件工资系统"),
        ("排班考勤", "计件工资", "员工档案", "招聘管理"),
        "HR and payroll",
    ),
    "op.office": (
        ("协同办公平台", "审批流系统", "企业网盘"),
        ("移动审批", "公文流转", "会议管理", "知识文档"),
        "collaboration and office",
    ),
    "op.analytics": (
        ("经营分析驾驶舱", "BI数据分析平台", "报表平台"),
        ("经营指标看板", "自助分析", "数据填报", "销售毛利分析"),
        "analytics and BI",
    ),
    "ai.compute": (
        ("GPU算力租用", "智算云主机", "算力服务平台", "模型训练算力包"),
        ("按小时计费GPU", "A800算力", "弹性算力调度", "训练推理一体"),
        "GPU compute rental",
    ),
    "ai.model": (
        ("工业大模型服务", "视觉模型API", "工艺知识大模型"),
        ("模型微调", "私有化部署", "行业知识问答", "推理API"),
        "industrial model service",
    ),
    "ai.agent": (
        ("生产智能体", "客服智能体", "采购智能体", "设备运维智能体"),
        ("自然语言查询数据", "自动生成日报", "多系统操作", "工单自动分派"),
        "AI agent",
    ),
}

BRANDS = (
    "智造云",
    "易工",
    "慧制",
    "精益通",
    "数联",
    "匠心",
    "云启",
    "工友",
    "普惠",
    "立创",
    "蓝海",
    "星河",
    "中小宝",
    "快制",
    "轻舟",
    "准星",
    "鼎新",
    "睿工",
    "卓越",
    "恒信",
)
SUFFIXES = ("标准版", "轻量版", "专业版", "SaaS版", "旗舰版", "", "", "")
INTROS = (
    "面向{industry}中小企业的",
    "专为{industry}打造的",
    "适用于{industry}的",
    "{industry}通用的",
)
BENEFITS = (
    "一周内上线",
    "开箱即用，无需实施团队",
    "按月订阅，随时退订",
    "先用后付，按量计费",
    "效果付费，不达标不收费",
    "支持上云券抵扣",
    "支持算力券抵扣",
    "手机电脑都能用",
)
CROSS = (
    "可与ERP对接",
    "可对接MES和质检数据",
    "支持与排产系统联动",
    "数据可接入能耗看板",
    "支持微信通知",
    "提供开放API",
)


@dataclass(frozen=True)
class BenchQuery:
    label: str
    query: SearchQuery
    kind: str  # zh | pinyin | en
    topic: str | None = None  # the scenario the query is meant to find
    sql_terms: tuple[str, ...] = ()  # what FTS5 searches for (Chinese and English only)


def _q(**kwargs: object) -> SearchQuery:
    return SearchQuery(**kwargs)  # type: ignore[arg-type]


QUERIES: list[BenchQuery] = [
    BenchQuery("质检", _q(q="质检"), "zh", "pm.quality", ("质检",)),
    BenchQuery("预测性维护", _q(q="预测性维护"), "zh", "pm.equipment", ("预测性维护",)),
    BenchQuery("能耗", _q(q="能耗"), "zh", "pm.energy", ("能耗",)),
    BenchQuery("排产", _q(q="排产"), "zh", "pm.scheduling", ("排产",)),
    BenchQuery("算力", _q(q="算力"), "zh", "ai.compute", ("算力",)),
    BenchQuery("智能体", _q(q="智能体"), "zh", "ai.agent", ("智能体",)),
    BenchQuery("仓储管理", _q(q="仓储管理"), "zh", "lg.warehouse", ("仓储管理",)),
    BenchQuery("设备故障预警", _q(q="设备故障预警"), "zh", "pm.equipment", ("设备", "故障预警")),
    BenchQuery("供应链金融", _q(q="供应链金融"), "zh", "sc.finance", ("供应链金融",)),
    BenchQuery("安全生产", _q(q="安全生产"), "zh", "pm.safety", ("安全生产",)),
    BenchQuery("质检 C17", _q(q="质检", industry="C17"), "zh", "pm.quality", ("质检",)),
    BenchQuery(
        "能耗 <=2000元", _q(q="能耗", max_monthly_fen=200_000), "zh", "pm.energy", ("能耗",)
    ),
    BenchQuery("算力 usage", _q(q="算力", billing_model="usage"), "zh", "ai.compute", ("算力",)),
    BenchQuery(
        "排产 saas 评分",
        _q(q="排产", delivery="saas", sort="rating"),
        "zh",
        "pm.scheduling",
        ("排产",),
    ),
    BenchQuery(
        "缺陷检测 cloud", _q(q="缺陷检测", voucher_kind="cloud"), "zh", "pm.quality", ("缺陷检测",)
    ),
    BenchQuery(
        "客户管理 500-2000", _q(q="客户管理", price_band="500-2000"), "zh", "ms.crm", ("客户管理",)
    ),
    BenchQuery("zhijian", _q(q="zhijian"), "pinyin", "pm.quality"),
    BenchQuery("zj", _q(q="zj"), "pinyin", "pm.quality"),
    BenchQuery("paichan", _q(q="paichan"), "pinyin", "pm.scheduling"),
    BenchQuery("nenghao C33", _q(q="nenghao", industry="C33"), "pinyin", "pm.energy"),
    BenchQuery("suanli compute", _q(q="suanli", voucher_kind="compute"), "pinyin", "ai.compute"),
    BenchQuery(
        "quality inspection",
        _q(q="quality inspection"),
        "en",
        "pm.quality",
        ("quality inspection",),
    ),
    BenchQuery(
        "predictive maintenance saas",
        _q(q="predictive maintenance", delivery="saas"),
        "en",
        "pm.equipment",
        ("predictive maintenance",),
    ),
    BenchQuery(
        "energy price_asc", _q(q="energy", sort="price_asc"), "en", "pm.energy", ("energy",)
    ),
    BenchQuery("GPU compute", _q(q="GPU compute"), "en", "ai.compute", ("GPU", "compute")),
    BenchQuery(
        "warehouse C14", _q(q="warehouse", industry="C14"), "en", "lg.warehouse", ("warehouse",)
    ),
    BenchQuery("qualty (typo)", _q(q="qualty"), "en", "pm.quality", ("qualty",)),
    BenchQuery(
        "(empty) pm.energy price_asc", _q(scenario="pm.energy", sort="price_asc"), "en", None, ()
    ),
    BenchQuery(
        "(empty) outcome newest", _q(billing_model="outcome", sort="newest"), "en", None, ()
    ),
    BenchQuery("(empty) page 3", _q(page=3), "en", None, ()),
]


def generate(n: int, seed: int) -> list[SolutionDoc]:
    rng = random.Random(seed)
    scenario_codes = list(scenarios())
    industry_table = industries()
    industry_codes = [c for c in industry_table if c.startswith("C")] or ["C13"]
    now = datetime(2026, 1, 1, tzinfo=UTC)
    docs = []
    for doc_id in range(1, n + 1):
        chosen = rng.sample(scenario_codes, rng.choice((1, 1, 2, 2, 3)))
        primary = chosen[0]
        nouns, features, english = VOCABULARY[primary]
        inds = rng.sample(industry_codes, rng.choice((1, 1, 2, 3)))
        industry = (
            industry_table[inds[0]].name_zh.split("、")[0].removesuffix("业")
            if industry_table
            else "制造"
        )
        brand = rng.choice(BRANDS)
        noun = rng.choice(nouns)
        name = f"{brand}{industry if rng.random() < 0.4 else ''}{noun}{rng.choice(SUFFIXES)}"
        picked = rng.sample(features, min(len(features), rng.choice((2, 3))))
        extra = [rng.choice(VOCABULARY[c][1]) for c in chosen[1:]]
        summary = (
            rng.choice(INTROS).format(industry=industry)
            + noun
            + "，"
            + "、".join(picked + extra)
            + "，"
            + rng.choice(BENEFITS)
            + "。"
        )
        description = "".join(
            (
                f"{noun}帮助{industry}企业解决{picked[0]}难题。",
                f"主要功能：{'；'.join(features)}。",
                f"{rng.choice(CROSS)}，{rng.choice(BENEFITS)}。",
                f"某{industry}企业上线后{rng.choice(('效率提升', '成本下降', '不良率降低'))}"
                f"{rng.randint(8, 40)}%。",
            )
        )
        delivery = (
            "maas"
            if primary.startswith("ai.") and rng.random() < 0.5
            else rng.choice(("saas", "saas", "saas", "edge", "api", "service", "agent"))
        )
        billing = tuple(
            sorted(rng.sample(("subscription", "usage", "outcome"), rng.choice((1, 1, 2))))
        )
        vouchers = (
            ("compute",)
            if primary.startswith("ai.")
            else rng.choice((("cloud",), ("cloud",), ("cloud", "compute"), ()))
        )
        monthly = (
            None
            if billing in (("usage",), ("outcome",)) and rng.random() < 0.6
            else int(round(10 ** rng.uniform(4.0, 6.7), -2))
        )
        rated = rng.random() < 0.7
        docs.append(
            SolutionDoc(
                id=doc_id,
                slug=f"solution-{doc_id}",
                name=name,
                name_en=f"{english.title()} {rng.choice(('Cloud', 'Suite', 'Lite', 'Pro'))}"
                if rng.random() < 0.7
                else "",
                summary=summary,
                summary_en=f"{english} for {industry_table[inds[0]].name_en.lower()}"
                if industry_table and rng.random() < 0.6
                else "",
                description=description,
                vendor_name=f"{brand}科技有限公司",
                industries=tuple(inds),
                scenarios=tuple(chosen),
                delivery=delivery,
                billing_models=billing,
                voucher_kinds=vouchers,
                monthly_fen=monthly,
                published_at=now - timedelta(minutes=rng.randint(0, 2 * 365 * 24 * 60)),
                rating=round(rng.uniform(3.0, 5.0), 1) if rated else None,
                rating_count=rng.randint(1, 200) if rated else 0,
            )
        )
    return docs


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.1f} ms"


T = TypeVar("T")
Timings = dict[str, list[tuple[float, float]]]  # query label -> [(wall, cpu) seconds]


def timed(call: Callable[[], T]) -> tuple[T, tuple[float, float]]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = call()
    return result, (time.perf_counter() - wall, time.process_time() - cpu)


def run_whoosh(index: SearchIndex, repeat: int) -> tuple[Timings, dict[str, list[int]]]:
    timings: Timings = {}
    top: dict[str, list[int]] = {}
    for bench in QUERIES:  # warm-up: the first search of a generation loads its values
        index.search(bench.query)
    for _ in range(repeat):
        for bench in QUERIES:
            result, spent = timed(lambda b=bench: index.search(b.query))
            timings.setdefault(bench.label, []).append(spent)
            top[bench.label] = [hit.id for hit in result.hits[:5]]
    return timings, top


FACET_SQL = {
    "industry": "SELECT value, COUNT(*) FROM facet WHERE name = 'industry' AND doc IN ({}) "
    "GROUP BY value",
    "scenario": "SELECT value, COUNT(*) FROM facet WHERE name = 'scenario' AND doc IN ({}) "
    "GROUP BY value",
    "delivery": "SELECT delivery, COUNT(*) FROM doc WHERE id IN ({}) GROUP BY delivery",
    "billing_model": "SELECT value, COUNT(*) FROM facet WHERE name = 'billing_model' "
    "AND doc IN ({}) GROUP BY value",
    "voucher_kind": "SELECT value, COUNT(*) FROM facet WHERE name = 'voucher_kind' "
    "AND doc IN ({}) GROUP BY value",
    "price_band": "SELECT price_band, COUNT(*) FROM doc WHERE id IN ({}) GROUP BY price_band",
}


def build_fts(docs: list[SolutionDoc]) -> sqlite3.Connection:
    db = sqlite3.connect(":memory:")
    db.executescript("""
        CREATE VIRTUAL TABLE fts USING fts5(
            name, summary, description, vendor, name_en, summary_en, tokenize='trigram');
        CREATE TABLE doc (id INTEGER PRIMARY KEY, delivery TEXT, monthly_fen INTEGER,
                          price_band TEXT, published TEXT, rating REAL, rating_count INTEGER);
        CREATE TABLE facet (doc INTEGER, name TEXT, value TEXT);
        CREATE INDEX facet_name_value ON facet (name, value, doc);
        CREATE INDEX facet_doc ON facet (doc, name);
    """)
    with db:
        for d in docs:
            db.execute(
                "INSERT INTO fts (rowid, name, summary, description, vendor, name_en, "
                "summary_en) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (d.id, d.name, d.summary, d.description, d.vendor_name, d.name_en, d.summary_en),
            )
            db.execute(
                "INSERT INTO doc VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    d.id,
                    d.delivery,
                    d.monthly_fen,
                    price_band(d.monthly_fen),
                    d.published_at.astimezone(UTC).isoformat(),
                    d.rating,
                    d.rating_count,
                ),
            )
            db.executemany(
                "INSERT INTO facet VALUES (?, ?, ?)",
                [(d.id, "industry", v) for v in d.industries]
                + [(d.id, "scenario", v) for v in d.scenarios]
                + [(d.id, "billing_model", v) for v in d.billing_models]
                + [(d.id, "voucher_kind", v) for v in d.voucher_kinds],
            )
    return db


def _filter_sql(query: SearchQuery, skip: str | None) -> tuple[str, list[object]]:
    clauses, params = [], []
    for facet in ("industry", "scenario", "billing_model", "voucher_kind"):
        value = getattr(query, facet)
        if value is not None and facet != skip:
            clauses.append("doc.id IN (SELECT doc FROM facet WHERE name = ? AND value = ?)")
            params += [facet, value]
    if query.delivery is not None and skip != "delivery":
        clauses.append("delivery = ?")
        params.append(query.delivery)
    if query.price_band is not None and skip != "price_band":
        clauses.append("price_band = ?")
        params.append(query.price_band)
    if query.max_monthly_fen is not None:
        clauses.append("monthly_fen <= ?")
        params.append(query.max_monthly_fen)
    return " AND ".join(clauses) or "1", params


def search_fts(db: sqlite3.Connection, bench: BenchQuery) -> list[int]:
    """Text match into a temp table, facet counts by GROUP BY, one page ordered."""
    query = bench.query
    matches, like = [], []
    for term in bench.sql_terms:
        if len(term) >= 3:
            matches.append('"' + term.replace('"', '""') + '"')
        else:  # the trigram tokenizer needs 3 characters: substring scan instead
            like.append(term)
    db.execute("DROP TABLE IF EXISTS hits")
    if matches:
        sql = (
            "CREATE TEMP TABLE hits AS SELECT rowid AS id, bm25(fts, 6, 3, 1, 1.5, 5, 2.5) "
            "AS rank FROM fts WHERE fts MATCH ?"
        )
        params: list[object] = [" AND ".join(matches)]
    elif like:
        sql = "CREATE TEMP TABLE hits AS SELECT rowid AS id, 0.0 AS rank FROM fts WHERE 1"
        params = []
    else:
        sql = "CREATE TEMP TABLE hits AS SELECT id, 0.0 AS rank FROM doc"
        params = []
    for term in like:
        sql += (
            " AND (name LIKE ?1 OR summary LIKE ?1 OR description LIKE ?1 OR vendor LIKE ?1"
            " OR name_en LIKE ?1 OR summary_en LIKE ?1)"
        ).replace("?1", "?")
        params += [f"%{term}%"] * 6
    db.execute(sql, params)
    matched = "SELECT hits.id FROM hits JOIN doc ON doc.id = hits.id WHERE {}"
    for facet, facet_sql in FACET_SQL.items():
        where, where_params = _filter_sql(query, skip=facet)
        db.execute(facet_sql.format(matched.format(where)), where_params).fetchall()
    where, where_params = _filter_sql(query, skip=None)
    db.execute(
        f"SELECT COUNT(*) FROM hits JOIN doc ON doc.id = hits.id WHERE {where}", where_params
    ).fetchone()
    order = {
        "price_asc": "doc.monthly_fen IS NULL, doc.monthly_fen, doc.published DESC",
        "price_desc": "doc.monthly_fen IS NULL, doc.monthly_fen DESC, doc.published DESC",
        "newest": "doc.published DESC",
        "rating": "doc.rating IS NULL, doc.rating DESC, doc.rating_count DESC",
    }.get(query.sort, "hits.rank, doc.published DESC")
    rows = db.execute(
        f"SELECT hits.id FROM hits JOIN doc ON doc.id = hits.id WHERE {where} "
        f"ORDER BY {order} LIMIT ? OFFSET ?",
        [*where_params, query.per_page, (query.page - 1) * query.per_page],
    ).fetchall()
    return [row[0] for row in rows]


def run_fts(db: sqlite3.Connection, repeat: int) -> tuple[Timings, dict[str, list[int]]]:
    timings: Timings = {}
    top: dict[str, list[int]] = {}
    runnable = [b for b in QUERIES if b.kind != "pinyin"]
    for bench in runnable:
        search_fts(db, bench)
    for _ in range(repeat):
        for bench in runnable:
            ids, spent = timed(lambda b=bench: search_fts(db, b))
            timings.setdefault(bench.label, []).append(spent)
            top[bench.label] = ids[:5]
    return timings, top


def summarize(name: str, timings: Timings) -> None:
    def line(label: str, labels: list[str]) -> None:
        samples = [t for lbl in labels for t in timings.get(lbl, [])]
        if samples:
            wall = [w for w, _cpu in samples]
            cpu = [c for _wall, c in samples]
            print(
                f"  {name:6} {label:31} median {ms(statistics.median(wall))}  "
                f"p95 {ms(percentile(wall, 0.95))}  | cpu median {ms(statistics.median(cpu))}"
                f"  p95 {ms(percentile(cpu, 0.95))}  ({len(samples)} runs)"
            )

    line("all queries", list(timings))
    filtered = [b.label for b in QUERIES if b.query.filters() or b.query.max_monthly_fen]
    line("filtered queries (with facets)", filtered)
    for kind in ("zh", "pinyin", "en"):
        line(f"{kind} queries", [b.label for b in QUERIES if b.kind == kind])


def judged_relevance(
    docs: list[SolutionDoc], after: SearchIndex, fts: sqlite3.Connection, *, per_query: bool
) -> None:
    """The judged query set in four engines; prints the table."""
    by_id = {d.id: d for d in docs}
    per_topic: dict[str, int] = {}
    for doc in docs:
        for code in doc.scenarios:
            per_topic[code] = per_topic.get(code, 0) + 1
    seen = [j.label for j in JUDGED if j.unseen and seen_in_corpus(docs, j)]
    unseen = sum(1 for j in JUDGED if j.unseen) - len(seen)

    with tempfile.TemporaryDirectory(prefix="bench-search-before-") as tmp:
        analysis.fold_traditional = False  # the index and the queries of before
        try:
            before = SearchIndex(Path(tmp) / "index")
            before.rebuild(docs)
            before_top = {
                j.label: [
                    h.id for h in before.search(query_of(j), vocabulary=EMPTY, loosen=False).hits
                ]
                for j in JUDGED
            }
            before.close()
        finally:
            analysis.fold_traditional = True
    after_top = {j.label: [h.id for h in after.search(query_of(j)).hits] for j in JUDGED}
    bm25 = JiebaBM25(docs)
    engines = {
        "whoosh before": before_top,
        "whoosh after": after_top,
        "fts5 trigram": {j.label: fts_search(fts, by_id, query_of(j)) for j in JUDGED},
        "jieba bm25": {j.label: bm25.search(query_of(j)) for j in JUDGED},
    }
    groups = {
        "all": JUDGED,
        "words listings use": [j for j in JUDGED if not j.unseen],
        "words no listing says": [j for j in JUDGED if j.unseen],
    }
    print(
        f"\njudged relevance: {len(JUDGED)} queries, {unseen} in words no listing says"
        f" (checked on this corpus){'; said after all: ' + ', '.join(seen) if seen else ''}"
    )
    print(f"  {'engine':14} {'queries':22} {'hit@1':>6} {'recall@5':>8} {'MRR':>6}")
    for name, tops in engines.items():
        for group, judged in groups.items():
            scores = Scores()
            for j in judged:
                available = sum(per_topic.get(t, 0) for t in j.topics)
                scores.add(
                    tops[j.label],
                    lambda d, j=j: bool(j.topics & set(by_id[d].scenarios)),
                    available,
                )
            print(f"  {name:14} {group + f' ({len(judged)})':22} {scores.row()}")
    if per_query:
        print("  queries whose first relevant result moved down after (before -> after rank):")
        for j in JUDGED:
            ranks = []
            for tops in (before_top, after_top):
                hits = [bool(j.topics & set(by_id[d].scenarios)) for d in tops[j.label]]
                ranks.append(hits.index(True) + 1 if True in hits else None)
            if ranks[0] is not None and (ranks[1] is None or ranks[1] > ranks[0]):
                print(f"    {j.label}: {ranks[0]} -> {ranks[1]}")


def index_bytes(index: SearchIndex) -> int:
    """Size on disk of the live generation (the Whoosh files and the generation's own)."""
    return sum(f.stat().st_size for f in index.location.rglob("*") if f.is_file())


def rss_bytes() -> int:
    """Resident set size of this process now (Linux /proc; peak RSS elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return peak_rss_bytes()


def peak_rss_bytes() -> int:
    """Peak resident set size from getrusage. On Linux a process started by another keeps
    the other's peak in it (across fork and exec): see own_peak_rss_bytes."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def own_peak_rss_bytes() -> int:
    """This process's own peak resident set size (Linux /proc VmHWM; getrusage elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return peak_rss_bytes()


def latency(samples: list[float]) -> dict[str, float]:
    return {
        "p50": statistics.median(samples),
        "p95": percentile(samples, 0.95),
        "p99": percentile(samples, 0.99),
        "n": len(samples),
    }


def probe_main(path: str, repeat: int, trace: bool) -> None:
    """The search process (run as a subprocess by ``probe``): open the index, first search,
    warm latency, memory; one line of JSON on stdout."""
    import tracemalloc

    from catalog.search.analysis import segmenter, to_simplified, word_pinyin

    report: dict[str, object] = {"rss_start": rss_bytes()}
    started = time.perf_counter()
    segmenter(), to_simplified("質"), word_pinyin("质检")  # what any process loads once
    report["analysis_load"] = time.perf_counter() - started
    if trace:
        tracemalloc.start()
    index = SearchIndex(path)
    started = time.perf_counter()
    index.search(QUERIES[0].query)
    report["first_search"] = time.perf_counter() - started
    if trace:
        report["traced_index"] = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        print(json.dumps(report))
        return
    started = time.perf_counter()
    for bench in QUERIES:  # every query once: lexicons read on demand, caches filled
        index.search(bench.query)
    report["warm_up"] = time.perf_counter() - started
    report["rss_warm"] = rss_bytes()
    every: list[float] = []
    filtered: list[float] = []
    filtered_cpu: list[float] = []
    slowest: dict[str, float] = {}
    for _ in range(repeat):
        for bench in QUERIES:
            _result, (spent, cpu) = timed(lambda b=bench: index.search(b.query))
            every.append(spent)
            if bench.query.filters() or bench.query.max_monthly_fen is not None:
                filtered.append(spent)
                filtered_cpu.append(cpu)
            slowest[bench.label] = max(slowest.get(bench.label, 0.0), spent)
    report["all"] = latency(every)
    report["filtered"] = latency(filtered)
    report["filtered_cpu"] = latency(filtered_cpu)
    # Queries this process has not run (the judged set, once each): their words' postings
    # are read from the index unless an earlier query kept them.
    unseen = [timed(lambda j=j: index.search(query_of(j)))[1][0] for j in JUDGED]
    report["unseen"] = latency(unseen)
    report["slowest"] = sorted(slowest.items(), key=lambda item: -item[1])[:5]
    report["rss_end"] = rss_bytes()
    report["peak_rss"] = own_peak_rss_bytes()
    report["getrusage_maxrss"] = peak_rss_bytes()
    index.close()
    print(json.dumps(report))


def probe(path: Path, repeat: int, *, trace: bool = False) -> dict[str, object]:
    """Run ``probe_main`` in a fresh interpreter over the index at ``path``."""
    command = [sys.executable, __file__, "--probe", str(path), "--repeat", str(repeat)]
    if trace:
        command.append("--tracemalloc")
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


@dataclass
class ScaleRow:
    size: int
    build_seconds: float
    disk_bytes: int
    first_after_rebuild: float
    probe: dict[str, object]
    traced: int | None = None


def print_scale_table(rows: list[ScaleRow]) -> None:
    base = rows[0]
    mb = 1024 * 1024

    def ratio(value: float, of: float) -> str:
        return f"x{value / of:.2f}" if of else "-"

    def lat(figures: object) -> str:
        assert isinstance(figures, dict)
        return "/".join(f"{figures[k] * 1000:.1f}" for k in ("p50", "p95", "p99"))

    print(
        f"\nscale (1-min load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; "
        f"ratios to {base.size:,}, with the ratio of sizes beside):"
    )
    header = (
        f"  {'listings':>9} {'build s':>8} {'ratio':>7} {'ms/listing':>10} {'disk MB':>8} "
        f"{'ratio':>7} {'B/listing':>9} {'n ratio':>7}"
    )
    print(header)
    for row in rows:
        print(
            f"  {row.size:>9,} {row.build_seconds:>8.1f} "
            f"{ratio(row.build_seconds, base.build_seconds):>7} "
            f"{row.build_seconds * 1000 / row.size:>10.2f} {row.disk_bytes / mb:>8.1f} "
            f"{ratio(row.disk_bytes, base.disk_bytes):>7} {row.disk_bytes / row.size:>9.0f} "
            f"{ratio(row.size, base.size):>7}"
        )
    print(
        f"  {'listings':>9} {'1st after rebuild':>17} {'fresh: analysis+1st':>20} "
        f"{'RSS warm':>9} {'peak RSS':>9} {'heap idx':>9} {'getrusage':>9}"
    )
    for row in rows:
        p = row.probe
        print(
            f"  {row.size:>9,} {ms(row.first_after_rebuild):>17} "
            f"{float(p['analysis_load']) * 1000:>8.0f} + {ms(float(p['first_search'])):>9} "
            f"{int(p['rss_warm']) / mb:>7.0f}MB {int(p['peak_rss']) / mb:>7.0f}MB "
            + (f"{row.traced / mb:>7.0f}MB" if row.traced is not None else f"{'-':>9}")
            + f" {int(p['getrusage_maxrss']) / mb:>7.0f}MB"
        )
    print(
        f"  {'listings':>9} {'filtered p50/p95/p99 ms':>24} {'(cpu)':>17} "
        f"{'all p50/p95/p99 ms':>20} {'unseen p50/p95/p99 ms':>22}   (wall clock unless cpu)"
    )
    for row in rows:
        p = row.probe
        print(
            f"  {row.size:>9,} {lat(p['filtered']):>24} {lat(p['filtered_cpu']):>17} "
            f"{lat(p['all']):>20} {lat(p['unseen']):>22}"
        )
    for row in rows:
        slowest = ", ".join(f"{label} {t * 1000:.1f}" for label, t in row.probe["slowest"])
        print(f"  {row.size:>9,} slowest (max ms): {slowest}")


def compare(docs: list[SolutionDoc], index: SearchIndex, args: argparse.Namespace) -> None:
    """In-process latency against FTS5, the judged table and the top-5 relevance table."""
    by_id = {d.id: d for d in docs}
    if args.judged_only:
        judged_relevance(docs, index, build_fts(docs), per_query=args.per_query)
        return
    whoosh_timings, whoosh_top = run_whoosh(index, args.repeat)
    started = time.perf_counter()
    db = build_fts(docs)
    print(f"fts5:   built trigram table in {time.perf_counter() - started:.1f} s")
    judged_relevance(docs, index, db, per_query=args.per_query)
    fts_timings, fts_top = run_fts(db, args.repeat)

    print(
        f"\nlatency over {args.repeat} warm repetitions of {len(QUERIES)} queries "
        f"(FTS5: {len(fts_timings)} non-pinyin queries), facets included; wall clock, and "
        f"CPU time of this process (less disturbed by other load; 1-min load average "
        f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs):"
    )
    summarize("whoosh", whoosh_timings)
    summarize("fts5", fts_timings)
    if args.per_query:
        print("\nper query (median):")
        for bench in QUERIES:
            fts = fts_timings.get(bench.label)
            whoosh_wall = statistics.median(w for w, _ in whoosh_timings[bench.label])
            fts_wall = ms(statistics.median(w for w, _ in fts)) if fts else "    n/a"
            print(f"  {bench.label:34} whoosh {ms(whoosh_wall)}   fts5 {fts_wall}")

    print("\nrelevance: on-topic among the top 5 (on-topic = scenarios include the intended one)")
    print(f"  {'query':28} {'intended':16} {'whoosh':>6} {'fts5':>6}")
    totals = [0, 0]
    for bench in QUERIES:
        if bench.topic is None or bench.kind == "pinyin":
            continue
        counts = []
        for top in (whoosh_top, fts_top):
            ids = top.get(bench.label, [])
            counts.append(sum(bench.topic in by_id[i].scenarios for i in ids))
        if bench.kind == "zh":
            totals[0] += counts[0]
            totals[1] += counts[1]
        order = "" if bench.query.sort == "relevance" else f" (sorted {bench.query.sort})"
        print(f"  {bench.label:28} {bench.topic:16} {counts[0]:>4}/5 {counts[1]:>4}/5{order}")
    zh = sum(1 for b in QUERIES if b.kind == "zh")
    print(
        f"  {'Chinese queries, total':28} {'':16} {totals[0]:>3}/{5 * zh} {totals[1]:>3}/{5 * zh}"
    )
    print(
        "  pinyin (whoosh only): "
        + ", ".join(
            f"{b.label} {sum(b.topic in by_id[i].scenarios for i in whoosh_top[b.label])}/5"
            for b in QUERIES
            if b.kind == "pinyin"
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000, help="number of solutions")
    parser.add_argument(
        "--sizes", help="comma-separated numbers of solutions, e.g. 10000,100000 (replaces --n)"
    )
    parser.add_argument("--seed", type=int, default=20260101)
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of each query")
    parser.add_argument("--per-query", action="store_true", help="print every query's timing")
    parser.add_argument(
        "--judged-only", action="store_true", help="only the judged relevance table"
    )
    parser.add_argument(
        "--compare-up-to",
        type=int,
        default=10_000,
        help="the FTS5, relevance and judged tables only for sizes up to this",
    )
    parser.add_argument(
        "--scale-only", action="store_true", help="only the scale table (no comparison)"
    )
    parser.add_argument(
        "--tracemalloc",
        action="store_true",
        help="also measure the Python heap held by the open index (one more probe per size)",
    )
    parser.add_argument("--keep", metavar="DIR", help="build the indexes under DIR and keep them")
    parser.add_argument("--probe", metavar="INDEX", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.probe:
        probe_main(args.probe, args.repeat, args.tracemalloc)
        return
    if not industries():
        sys.exit("marketplace/data/industries.csv is missing")
    sizes = [int(n) for n in args.sizes.split(",")] if args.sizes else [args.n]
    rows: list[ScaleRow] = []
    for size in sizes:
        rows.append(run_size(size, args))
    if not args.judged_only:
        print_scale_table(rows)


def run_size(size: int, args: argparse.Namespace) -> ScaleRow:
    started = time.perf_counter()
    docs = generate(size, args.seed)
    print(
        f"\ngenerated {len(docs)} solutions in {time.perf_counter() - started:.1f} s "
        f"(seed {args.seed})"
    )
    if args.keep:
        workdir = Path(args.keep) / str(size)
        shutil.rmtree(workdir, ignore_errors=True)
        workdir.mkdir(parents=True)
        cleanup = None
    else:
        cleanup = tempfile.TemporaryDirectory(prefix="bench-search-")
        workdir = Path(cleanup.name)
    try:
        index = SearchIndex(workdir / "index")
        started = time.perf_counter()
        index.rebuild(docs)
        build_seconds = time.perf_counter() - started
        disk = index_bytes(index)
        print(
            f"whoosh: built index of {index.doc_count()} in {build_seconds:.1f} s "
            f"({disk / 1e6:.1f} MB, {len(list(index.location.glob('*.seg')))} segments)"
        )
        started = time.perf_counter()
        index.search(SearchQuery(q="质检"))
        first = time.perf_counter() - started
        print(f"whoosh: first search after the build (loads stored values) {ms(first)}")
        row = ScaleRow(size, build_seconds, disk, first, {})
        if not args.judged_only:
            row.probe = probe(workdir / "index", args.repeat)
            if args.tracemalloc:
                row.traced = int(probe(workdir / "index", 1, trace=True)["traced_index"])
            print(
                f"whoosh: fresh search process: first search {ms(float(row.probe['first_search']))}"
                f", filtered p95 {ms(float(row.probe['filtered']['p95']))}"  # type: ignore[index]
            )
        if not args.scale_only and size <= args.compare_up_to:
            compare(docs, index, args)
        index.close()
        return row
    finally:
        if cleanup is not None:
            cleanup.cleanup()


if __name__ == "__main__":
    main()
