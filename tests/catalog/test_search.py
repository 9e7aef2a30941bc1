"""The search adapter (catalog/search): a real Whoosh index on disk, plain documents."""

from __future__ import annotations

import itertools
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import whoosh.index

from catalog.search import (
    FACETS,
    IndexBusy,
    InvalidQuery,
    SearchIndex,
    SearchQuery,
    SearchUnavailable,
    SolutionDoc,
    price_band,
)
from catalog.search.taxonomy import industries
from catalog.search.vocabulary import EMPTY

_ids = itertools.count(1000)
EPOCH = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def make_doc(**overrides: Any) -> SolutionDoc:
    """A published solution with sensible defaults; ``age_days`` sets published_at."""
    doc_id = overrides.pop("id", None) or next(_ids)
    age_days = overrides.pop("age_days", 30)
    values: dict[str, Any] = {
        "id": doc_id,
        "slug": f"solution-{doc_id}",
        "name": "中小企业数字化工具",
        "summary": "开箱即用的数字化工具，按月订阅。",
        "description": "",
        "vendor_name": "示例科技有限公司",
        "industries": ("C34",),
        "scenarios": ("op.office",),
        "delivery": "saas",
        "billing_models": ("subscription",),
        "voucher_kinds": ("cloud",),
        "monthly_fen": 99_900,
        "published_at": EPOCH - timedelta(days=age_days),
        "rating": None,
        "rating_count": 0,
    }
    values.update(overrides)
    return SolutionDoc(**values)


# A storefront's worth of listings, written as vendors write them.
CORPUS = [
    # quality inspection
    make_doc(
        slug="fabric-inspection",
        name="布匹瑕疵AI视觉质检系统",
        name_en="AI fabric defect inspection",
        summary="面向纺织企业的布匹瑕疵在线检测，断经、破洞、色差自动识别，准确率99%以上。",
        summary_en="Inline quality inspection of woven fabric with machine vision.",
        description="在验布机上加装工业相机，边缘盒子实时识别瑕疵并打标，质检报告自动生成。",
        vendor_name="织慧科技",
        industries=("C17", "C18"),
        scenarios=("pm.quality",),
        delivery="edge",
        billing_models=("subscription", "usage"),
        voucher_kinds=("cloud",),
        monthly_fen=150_000,
        age_days=12,
        rating=4.8,
        rating_count=36,
    ),
    make_doc(
        slug="pcb-aoi",
        name="PCB板自动光学检测云平台",
        name_en="PCB AOI cloud",
        summary="电路板焊点缺陷检测，复判工作量减少七成，支持质检数据追溯。",
        summary_en="Solder joint inspection for circuit boards with traceability.",
        description="对接现有AOI设备，深度学习模型二次判定，降低误报。",
        vendor_name="芯视智能",
        industries=("C39",),
        scenarios=("pm.quality", "ai.model"),
        delivery="saas",
        billing_models=("usage",),
        voucher_kinds=("cloud", "compute"),
        monthly_fen=None,
        age_days=40,
        rating=4.5,
        rating_count=12,
    ),
    make_doc(
        slug="food-trace",
        name="食品批次质量追溯系统",
        name_en="Food batch traceability",
        summary="原料入库到成品出厂一物一码，抽检记录在线化，质检员用手机就能录入。",
        summary_en="One code per batch from raw material to shipment.",
        description="满足食品安全追溯要求，支持扫码查询和召回演练。",
        vendor_name="禾安数据",
        industries=("C13", "C14"),
        scenarios=("pm.quality",),
        delivery="saas",
        monthly_fen=39_900,
        age_days=90,
        rating=4.2,
        rating_count=58,
    ),
    make_doc(
        slug="metal-surface",
        name="金属件表面缺陷检测一体机",
        name_en="",
        summary="冲压件、铸件表面划痕和凹坑检测，产线节拍不降。",
        description="工控机加线阵相机，本地推理，不需要联网，按检测效果付费。",
        vendor_name="精测智能装备",
        industries=("C33",),
        scenarios=("pm.quality",),
        delivery="edge",
        billing_models=("outcome",),
        voucher_kinds=(),
        monthly_fen=None,
        age_days=200,
    ),
    make_doc(
        slug="quality-inspector-app",
        name="巡检质检员移动终端",
        name_en="Inspector mobile kit",
        summary="首件检验、巡检记录手机填报，不合格品自动推送给班组长。",
        description="质检员扫码即可开单，照片和数据一起上传。",
        vendor_name="易工软件",
        industries=("C34",),
        scenarios=("pm.execution",),
        monthly_fen=19_900,
        age_days=5,
    ),
    # predictive maintenance
    make_doc(
        slug="vibration-pdm",
        name="设备预测性维护平台",
        name_en="Predictive maintenance platform",
        summary="振动和温度传感器加AI模型，提前两周预警轴承和电机故障。",
        summary_en="Predict bearing and motor failures two weeks ahead.",
        description="无线传感器磁吸安装，一天部署完成，按台按月订阅。",
        vendor_name="振云科技",
        industries=("C34", "C35"),
        scenarios=("pm.equipment",),
        billing_models=("subscription", "outcome"),
        monthly_fen=80_000,
        age_days=20,
        rating=4.7,
        rating_count=41,
    ),
    make_doc(
        slug="cnc-health",
        name="数控机床健康管理",
        name_en="CNC health monitoring",
        summary="采集主轴负载和刀具寿命，预测性维护减少非计划停机。",
        summary_en="Spindle load and tool life monitoring for CNC machines.",
        description="支持主流数控系统，边缘网关即插即用。",
        vendor_name="机联网络",
        industries=("C34",),
        scenarios=("pm.equipment", "pm.execution"),
        delivery="edge",
        monthly_fen=120_000,
        age_days=60,
        rating=4.1,
        rating_count=9,
    ),
    make_doc(
        slug="pump-care",
        name="水泵风机智能点检",
        name_en="Pump and fan inspection rounds",
        summary="点检路线手机扫码，异常拍照上报，维修工单自动派发。",
        description="适合中小水厂和化工企业，设备台账一键导入。",
        vendor_name="易工软件",
        industries=("C26", "D46"),
        scenarios=("pm.equipment",),
        monthly_fen=29_900,
        age_days=150,
    ),
    make_doc(
        slug="compressor-remote",
        name="空压机远程运维服务",
        name_en="Remote compressor care",
        summary="厂家远程诊断空压机故障，按效果付费。",
        description="出现故障前提醒更换滤芯和润滑油，延长设备寿命。",
        vendor_name="气动云",
        industries=("C34",),
        scenarios=("ms.aftersales", "pm.equipment"),
        delivery="service",
        billing_models=("outcome",),
        voucher_kinds=(),
        monthly_fen=None,
        age_days=300,
    ),
    # energy
    make_doc(
        slug="energy-meter",
        name="工厂能耗管理系统",
        name_en="Factory energy management",
        summary="分项计量水电气，能耗异常实时告警，峰谷用电优化。",
        summary_en="Submetering, anomaly alerts and peak-valley optimisation.",
        description="安装智能电表即可接入，每月出具节能报告。",
        vendor_name="绿电智联",
        industries=("C30", "C31"),
        scenarios=("pm.energy",),
        billing_models=("subscription", "outcome"),
        monthly_fen=60_000,
        age_days=15,
        rating=4.6,
        rating_count=22,
    ),
    make_doc(
        slug="carbon-footprint",
        name="产品碳足迹核算平台",
        name_en="Product carbon footprint",
        summary="按国标核算产品碳排放，生成出口所需的碳足迹报告。",
        description="内置排放因子库，能耗数据可从能源管理系统导入。",
        vendor_name="碳迹科技",
        industries=("C38",),
        scenarios=("pm.energy", "pm.environment"),
        monthly_fen=250_000,
        age_days=45,
    ),
    make_doc(
        slug="air-compressor-saving",
        name="空压站节能优化",
        name_en="Compressed air savings",
        summary="空压站群控，降低单位产气能耗15%，节省电费按比例分成。",
        description="不改造管网，加装控制柜即可，节能效果由第三方核定。",
        vendor_name="气动云",
        industries=("C29", "C33"),
        scenarios=("pm.energy",),
        delivery="edge",
        billing_models=("outcome",),
        voucher_kinds=(),
        monthly_fen=None,
        age_days=100,
    ),
    make_doc(
        slug="kiln-energy",
        name="陶瓷窑炉能效管家",
        name_en="",
        summary="窑炉温度曲线优化，燃气单耗下降，能耗数据日报推送到手机。",
        vendor_name="绿电智联",
        industries=("C30",),
        scenarios=("pm.energy",),
        monthly_fen=45_000,
        age_days=70,
    ),
    # scheduling and execution
    make_doc(
        slug="aps-lite",
        name="智能排产APS轻量版",
        name_en="APS lite scheduling",
        summary="订单一键排产，插单后自动重排，交期承诺更准确。",
        summary_en="One-click production scheduling with automatic re-planning.",
        description="与ERP订单同步，甘特图拖拽调整，适合离散制造。",
        vendor_name="排程宝",
        industries=("C34", "C35", "C38"),
        scenarios=("pm.scheduling",),
        monthly_fen=150_000,
        age_days=25,
        rating=4.4,
        rating_count=17,
    ),
    make_doc(
        slug="garment-scheduling",
        name="服装厂生产计划排程",
        name_en="Garment production planning",
        summary="按款按色按码排产，外发加工进度一目了然。",
        description="支持小单快反，裁床、缝制、后整分工序排程。",
        vendor_name="衣智云",
        industries=("C18",),
        scenarios=("pm.scheduling",),
        monthly_fen=49_900,
        age_days=35,
    ),
    make_doc(
        slug="mes-basic",
        name="MES生产执行系统基础版",
        name_en="MES basic",
        summary="工单派发、扫码报工、在制品跟踪，车间看板实时显示进度。",
        summary_en="Work orders, reporting and shop-floor boards.",
        description="可与排产系统联动，报工数据自动回写。",
        vendor_name="易工软件",
        industries=("C33", "C34"),
        scenarios=("pm.execution",),
        monthly_fen=200_000,
        age_days=80,
        rating=3.9,
        rating_count=30,
    ),
    make_doc(
        slug="injection-mes",
        name="注塑车间数字化管理",
        name_en="Injection moulding shop",
        summary="注塑机联网采集开模次数，模具寿命和良品率自动统计。",
        description="支持主流注塑机通讯协议，工单和排产计划下发到机台。",
        vendor_name="塑联科技",
        industries=("C29",),
        scenarios=("pm.execution", "pm.scheduling"),
        delivery="edge",
        monthly_fen=300_000,
        age_days=120,
    ),
    # compute and models
    make_doc(
        slug="gpu-rental",
        name="GPU算力租用",
        name_en="GPU compute rental",
        summary="A800和4090算力按小时计费，可用算力券抵扣，训练推理一体。",
        summary_en="Hourly GPU compute for training and inference.",
        description="提供镜像和存储，支持多机多卡，按用量结算。",
        vendor_name="智算中心",
        industries=("C39", "C40"),
        scenarios=("ai.compute",),
        delivery="maas",
        billing_models=("usage",),
        voucher_kinds=("compute",),
        monthly_fen=None,
        age_days=8,
        rating=4.3,
        rating_count=64,
    ),
    make_doc(
        slug="compute-pack",
        name="模型训练算力包",
        name_en="Training compute pack",
        summary="包月算力套餐，中小企业微调工业视觉模型够用。",
        summary_en="Monthly compute bundle for fine-tuning vision models.",
        vendor_name="智算中心",
        industries=("C39",),
        scenarios=("ai.compute", "ai.model"),
        delivery="maas",
        billing_models=("subscription",),
        voucher_kinds=("compute",),
        monthly_fen=1_200_000,
        age_days=30,
    ),
    make_doc(
        slug="edge-inference",
        name="边缘推理算力盒",
        name_en="Edge inference box",
        summary="本地部署的推理算力，车间断网也能跑视觉模型。",
        vendor_name="芯视智能",
        industries=("C39", "C34"),
        scenarios=("ai.compute",),
        delivery="edge",
        billing_models=("subscription",),
        voucher_kinds=("compute",),
        monthly_fen=300_000,
        age_days=55,
    ),
    make_doc(
        slug="industrial-llm",
        name="工业大模型问答服务",
        name_en="Industrial LLM Q&A",
        summary="把工艺文件和设备手册喂给大模型，一线员工直接提问。",
        summary_en="Ask questions over process documents and manuals.",
        vendor_name="智算中心",
        industries=("C35",),
        scenarios=("ai.model",),
        delivery="api",
        billing_models=("usage",),
        voucher_kinds=("compute",),
        monthly_fen=None,
        age_days=18,
    ),
    # agents
    make_doc(
        slug="production-agent",
        name="生产管理智能体",
        name_en="Production agent",
        summary="用自然语言问产量、良率和设备状态，自动生成班组日报。",
        summary_en="Ask about output, yield and machine state in plain language.",
        description="连接MES和ERP数据，权限随账号走。",
        vendor_name="工友智能",
        industries=("C34", "C38"),
        scenarios=("ai.agent", "op.analytics"),
        delivery="agent",
        billing_models=("subscription", "usage"),
        voucher_kinds=("compute",),
        monthly_fen=99_900,
        age_days=3,
        rating=4.0,
        rating_count=5,
    ),
    make_doc(
        slug="purchase-agent",
        name="采购比价智能体",
        name_en="Procurement agent",
        summary="自动向供应商询价、比价并生成采购建议。",
        vendor_name="工友智能",
        industries=("C33",),
        scenarios=("ai.agent", "sc.procurement"),
        delivery="agent",
        billing_models=("usage",),
        voucher_kinds=("compute",),
        monthly_fen=None,
        age_days=14,
    ),
    make_doc(
        slug="service-agent",
        name="售后客服智能体",
        name_en="After-sales service agent",
        summary="7×24小时回答客户的安装和报修问题，复杂问题转人工。",
        vendor_name="工友智能",
        industries=("C38",),
        scenarios=("ai.agent", "ms.aftersales"),
        delivery="agent",
        billing_models=("subscription",),
        voucher_kinds=("compute",),
        monthly_fen=39_900,
        age_days=28,
    ),
    # business software
    make_doc(
        slug="erp-small",
        name="小微企业ERP进销存",
        name_en="Small business ERP",
        summary="采购、销售、库存和应收应付一套搞定，手机开单。",
        summary_en="Purchasing, sales, inventory and receivables in one place.",
        description="支持多仓库和批次管理，账务自动生成凭证。",
        vendor_name="账易通",
        industries=("C21", "C33", "C41"),
        scenarios=("op.finance", "lg.warehouse"),
        monthly_fen=29_900,
        age_days=400,
        rating=4.5,
        rating_count=210,
    ),
    make_doc(
        slug="finance-cloud",
        name="业财一体化财务云",
        name_en="Finance cloud",
        summary="电子发票自动入账，成本核算到工单。",
        vendor_name="账易通",
        industries=("C34",),
        scenarios=("op.finance",),
        monthly_fen=69_900,
        age_days=220,
    ),
    make_doc(
        slug="payroll-piecework",
        name="计件工资与考勤",
        name_en="Piecework payroll",
        summary="扫码报工自动算计件工资，排班考勤一体。",
        vendor_name="衣智云",
        industries=("C18", "C19"),
        scenarios=("op.hr",),
        monthly_fen=19_900,
        age_days=260,
    ),
    make_doc(
        slug="wms-cloud",
        name="WMS云仓储管理",
        name_en="Cloud WMS",
        summary="库位管理、扫码出入库、先进先出，库存预警推送到手机。",
        summary_en="Warehouse locations, scanning and FIFO.",
        vendor_name="仓小二",
        industries=("C13", "C29"),
        scenarios=("lg.warehouse",),
        monthly_fen=49_900,
        age_days=65,
    ),
    make_doc(
        slug="transport-tms",
        name="物流配送调度平台",
        name_en="Delivery dispatch",
        summary="车辆调度、路线规划和电子回单，运费自动结算。",
        vendor_name="仓小二",
        industries=("C30",),
        scenarios=("lg.transport",),
        monthly_fen=89_900,
        age_days=130,
    ),
    make_doc(
        slug="crm-sales",
        name="制造业CRM销售助手",
        name_en="Manufacturing CRM",
        summary="线索跟进、报价单和回款提醒，老板随时看销售漏斗。",
        summary_en="Leads, quotes and payment reminders.",
        vendor_name="客多多",
        industries=("C34", "C38"),
        scenarios=("ms.crm",),
        monthly_fen=29_900,
        age_days=180,
        rating=3.8,
        rating_count=44,
    ),
    make_doc(
        slug="b2b-ordering",
        name="B2B经销商订货商城",
        name_en="Dealer ordering portal",
        summary="经销商手机下单，价格政策分级管理，发货进度可查。",
        vendor_name="客多多",
        industries=("C14", "C15"),
        scenarios=("ms.orders",),
        monthly_fen=59_900,
        age_days=240,
    ),
    make_doc(
        slug="supply-finance",
        name="订单融资服务",
        name_en="Order financing",
        summary="凭核心企业订单申请融资，最快当天放款。",
        vendor_name="链金服",
        industries=("C33", "C34"),
        scenarios=("sc.finance",),
        delivery="service",
        billing_models=("outcome",),
        voucher_kinds=(),
        monthly_fen=None,
        age_days=160,
    ),
    make_doc(
        slug="supplier-portal",
        name="供应链协同门户",
        name_en="Supplier collaboration portal",
        summary="订单交期、库存和对账与上游供应商在线协同。",
        vendor_name="链金服",
        industries=("C36",),
        scenarios=("sc.collaboration",),
        monthly_fen=180_000,
        age_days=110,
    ),
    make_doc(
        slug="safety-hazard",
        name="安全生产隐患排查",
        name_en="Safety hazard checks",
        summary="隐患随手拍、整改闭环，危险作业在线审批。",
        vendor_name="安监宝",
        industries=("C26", "C25"),
        scenarios=("pm.safety",),
        monthly_fen=39_900,
        age_days=75,
    ),
    make_doc(
        slug="wastewater-monitor",
        name="污水排放在线监测",
        name_en="Wastewater monitoring",
        summary="排放数据实时上报，超标自动预警，环保台账自动生成。",
        vendor_name="清源环境",
        industries=("C26", "C22"),
        scenarios=("pm.environment",),
        delivery="edge",
        monthly_fen=1_500_000,
        age_days=95,
    ),
    make_doc(
        slug="cad-cloud",
        name="云端三维设计软件",
        name_en="Cloud 3D CAD",
        summary="浏览器里做三维建模和图纸评审，按账号订阅。",
        vendor_name="造物设计",
        industries=("C35", "C34"),
        scenarios=("rd.design",),
        monthly_fen=45_000,
        age_days=50,
    ),
    make_doc(
        slug="bi-dashboard",
        name="经营分析驾驶舱",
        name_en="Business dashboard",
        summary="销售、生产、财务指标一屏看全，自助分析不用写代码。",
        vendor_name="数联分析",
        industries=("C34",),
        scenarios=("op.analytics",),
        monthly_fen=30_000,
        age_days=140,
    ),
    make_doc(
        slug="office-approval",
        name="协同办公与移动审批",
        name_en="Office and approvals",
        summary="请假报销、合同审批手机搞定，公文流转留痕。",
        vendor_name="示例科技有限公司",
        industries=("C41",),
        scenarios=("op.office",),
        monthly_fen=9_900,
        age_days=365,
    ),
    make_doc(
        slug="process-capp",
        name="工艺路线与BOM管理",
        name_en="Process planning and BOM",
        summary="工艺卡片电子化，BOM版本变更全程可追溯。",
        vendor_name="造物设计",
        industries=("C35",),
        scenarios=("rd.process",),
        monthly_fen=80_000,
        age_days=170,
    ),
]
BY_SLUG = {doc.slug: doc for doc in CORPUS}


def slugs(result: Any) -> list[str]:
    return [hit.slug for hit in result.hits]


@pytest.fixture(scope="module")
def catalog_index(tmp_path_factory: pytest.TempPathFactory):
    """The corpus, indexed once for the read-only tests of this module."""
    index = SearchIndex(tmp_path_factory.mktemp("search") / "index")
    assert index.rebuild(CORPUS) == len(CORPUS)
    yield index
    index.close()


@pytest.fixture
def index(tmp_path: Path):
    """A fresh index of the corpus that a test may change."""
    index = SearchIndex(tmp_path / "index", writer_timeout=0.5)
    index.rebuild(CORPUS)
    yield index
    index.close()


def search(index: SearchIndex, **kwargs: Any):
    """The words as typed: the thesaurus, the pain points and the loosening to some of the
    words are tested in test_search_understanding.py."""
    return index.search(SearchQuery(per_page=100, **kwargs), vocabulary=EMPTY, loosen=False)


# -- finding things -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("q", "expected", "top"),
    [
        (
            "质检",
            {"fabric-inspection", "pcb-aoi", "food-trace", "quality-inspector-app"},
            {"fabric-inspection", "quality-inspector-app"},
        ),
        ("预测性维护", {"vibration-pdm", "cnc-health"}, {"vibration-pdm"}),
        (
            "能耗",
            {"energy-meter", "carbon-footprint", "air-compressor-saving", "kiln-energy"},
            {"energy-meter"},
        ),
        (
            "排产",
            {"aps-lite", "garment-scheduling", "injection-mes", "mes-basic"},
            {"aps-lite", "garment-scheduling"},
        ),
        (
            "算力",
            {"gpu-rental", "compute-pack", "edge-inference"},
            {"gpu-rental", "compute-pack", "edge-inference"},
        ),
        (
            "智能体",
            {"production-agent", "purchase-agent", "service-agent"},
            {"production-agent", "purchase-agent", "service-agent"},
        ),
    ],
)
def test_chinese_queries_find_the_right_products(catalog_index, q, expected, top):
    result = search(catalog_index, q=q)

    assert expected <= set(slugs(result))
    assert result.hits[0].slug in top  # a listing with the word in its name ranks first
    assert not result.fuzzy


def test_every_chinese_hit_contains_the_query_word(catalog_index):
    result = search(catalog_index, q="能耗")

    for slug in slugs(result):
        doc = BY_SLUG[slug]
        assert "能耗" in doc.name + doc.summary + doc.description


def test_two_character_word_is_found_inside_a_longer_word(catalog_index):
    # "质检员" is cut as one word; "质检" must still find the listing that only says that.
    assert "质检" not in BY_SLUG["quality-inspector-app"].name.replace("质检员", "")

    assert "quality-inspector-app" in slugs(search(catalog_index, q="质检"))


def test_all_words_of_a_chinese_query_must_match(catalog_index):
    result = search(catalog_index, q="纺织 质检")

    assert slugs(result) == ["fabric-inspection"]


def test_name_outranks_summary_and_description(tmp_path):
    index = SearchIndex(tmp_path / "index")
    index.rebuild(
        [
            make_doc(slug="in-description", name="生产管理软件", description="包含能耗统计报表。"),
            make_doc(slug="in-summary", name="生产管理软件", summary="顺带统计能耗。"),
            make_doc(slug="in-name", name="能耗看板"),
        ]
    )

    assert slugs(search(index, q="能耗")) == ["in-name", "in-summary", "in-description"]


def test_scenario_names_are_searchable(catalog_index):
    # None of these listings says 仓储管理 in its own words; the scenario name does.
    result = search(catalog_index, q="仓储管理")

    assert set(slugs(result)) == {"wms-cloud", "erp-small"}


def test_industry_names_are_searchable(catalog_index):
    if not industries():
        pytest.skip("marketplace/data/industries.csv is not installed yet")

    result = search(catalog_index, q="纺织")

    assert {"fabric-inspection"} <= set(slugs(result))


QUALITY = {"fabric-inspection", "pcb-aoi", "food-trace", "quality-inspector-app"}
NAMED_QUALITY = {"fabric-inspection", "quality-inspector-app"}  # 质检 in the name


@pytest.mark.parametrize("q", ["zhijian", "zhi jian", "ZhiJian"])
def test_pinyin_full_syllables_find_zhijian(catalog_index, q):
    result = search(catalog_index, q=q)

    assert set(slugs(result)) >= QUALITY
    assert result.hits[0].slug in NAMED_QUALITY
    assert "<mark>质检</mark>" in result.hits[0].highlights["name"]


def test_pinyin_initials_find_zhijian(catalog_index):
    result = search(catalog_index, q="zj")

    assert set(slugs(result)) >= QUALITY
    # Initials are ambiguous: 足迹 (zuji) is "zj" as well, and that listing is found too.
    assert "carbon-footprint" in slugs(result)
    assert set(slugs(result)[:3]) & NAMED_QUALITY


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("nenghao", "energy-meter"),
        ("paichan", "aps-lite"),
        ("suanli", "gpu-rental"),
        ("weihu", "vibration-pdm"),
    ],
)
def test_pinyin_finds_other_scenarios(catalog_index, q, expected):
    assert expected in slugs(search(catalog_index, q=q))


def test_english_query_is_stemmed(catalog_index):
    result = search(catalog_index, q="predicting failures")

    assert slugs(result)[0] == "vibration-pdm"
    assert "<mark>Predict</mark>" in result.hits[0].highlights["summary_en"]


def test_latin_words_in_chinese_text_are_found(catalog_index):
    assert slugs(search(catalog_index, q="APS")) == ["aps-lite"]
    assert {"gpu-rental"} <= set(slugs(search(catalog_index, q="gpu")))


def test_mixed_query_searches_every_language(catalog_index):
    assert slugs(search(catalog_index, q="PCB 质检")) == ["pcb-aoi"]


@pytest.mark.parametrize(
    ("q", "suggestion", "expected"),
    [
        ("predictiv mantenance", "predictive maintenance", "vibration-pdm"),
        ("qualty", "quality", "fabric-inspection"),
    ],
)
def test_english_typo_is_corrected(catalog_index, q, suggestion, expected):
    result = search(catalog_index, q=q)

    assert result.did_you_mean == suggestion
    assert result.fuzzy  # nothing matched exactly, so the hits come from the fuzzy retry
    assert expected in slugs(result)
    assert slugs(search(catalog_index, q=suggestion))  # the suggestion itself finds things


def test_pinyin_typo_gets_a_suggestion(catalog_index):
    result = search(catalog_index, q="zhijain")

    assert result.did_you_mean == "zhijian"


def test_chinese_fuzzy_retry_needs_only_one_word(catalog_index):
    result = search(catalog_index, q="纺织 火箭发动机")

    assert result.fuzzy
    assert "fabric-inspection" in slugs(result)
    assert result.did_you_mean is None


def test_exact_matches_are_not_fuzzy_and_get_no_suggestion(catalog_index):
    result = search(catalog_index, q="quality")

    assert not result.fuzzy
    assert result.did_you_mean is None


def test_nothing_at_all_matches(catalog_index):
    result = search(catalog_index, q="xqzvbn")

    assert result.total == 0
    assert result.hits == []
    assert all(not counts for counts in result.facets.values())


# -- filters and facets ---------------------------------------------------------------


FACET_ATTRIBUTE = {
    "industry": "industries",
    "scenario": "scenarios",
    "delivery": "delivery",
    "billing_model": "billing_models",
    "voucher_kind": "voucher_kinds",
}


def _values(doc: SolutionDoc, facet: str) -> tuple[str, ...]:
    if facet == "price_band":
        return (price_band(doc.monthly_fen),)
    value = getattr(doc, FACET_ATTRIBUTE[facet])
    return (value,) if isinstance(value, str) else value


@pytest.mark.parametrize(
    "base",
    [
        {},
        {"q": "质检"},
        {"q": "管理"},
        {"q": "zhineng"},
        {"delivery": "saas"},
        {"q": "系统", "voucher_kind": "cloud", "max_monthly_fen": 200_000},
        {"scenario": "pm.quality", "price_band": "500-2000"},
        {"industry": "C34", "billing_model": "subscription", "sort": "price_asc"},
    ],
)
def test_every_facet_count_equals_the_total_of_that_filtered_search(catalog_index, base):
    result = search(catalog_index, **base)

    every_value = {facet: {v for doc in CORPUS for v in _values(doc, facet)} for facet in FACETS}
    for facet in FACETS:
        for value in every_value[facet]:
            narrowed = search(catalog_index, **{**base, facet: value})
            assert result.facets[facet].get(value, 0) == narrowed.total, (facet, value)


def test_facet_counts_leave_out_the_facets_own_filter(catalog_index):
    result = search(catalog_index, scenario="pm.energy")

    assert result.total == 4
    assert result.facets["scenario"]["pm.energy"] == 4
    assert result.facets["scenario"]["pm.quality"] == 4  # what choosing it instead would give
    assert result.facets["delivery"] == {"saas": 3, "edge": 1}  # within pm.energy


def test_selected_value_is_listed_even_without_matches(catalog_index):
    result = search(catalog_index, q="算力", delivery="service")

    assert result.total == 0
    assert result.facets["delivery"]["service"] == 0
    assert result.facets["delivery"]["maas"] == 2


@pytest.mark.parametrize(
    ("facet", "value"),
    [
        ("industry", "C34"),
        ("scenario", "pm.quality"),
        ("delivery", "edge"),
        ("billing_model", "outcome"),
        ("voucher_kind", "compute"),
        ("price_band", "none"),
        ("price_band", "gte10000"),
        ("price_band", "lt500"),
    ],
)
def test_filters_are_exact(catalog_index, facet, value):
    result = search(catalog_index, **{facet: value})

    expected = {doc.slug for doc in CORPUS if value in _values(doc, facet)}
    assert expected and set(slugs(result)) == expected
    assert result.total == len(expected)


def test_max_monthly_price_excludes_unpriced_solutions(catalog_index):
    result = search(catalog_index, max_monthly_fen=50_000)

    expected = {d.slug for d in CORPUS if d.monthly_fen is not None and d.monthly_fen <= 50_000}
    assert set(slugs(result)) == expected
    assert "office-approval" in expected  # 99 yuan
    assert "gpu-rental" not in expected  # usage only, no monthly price


@pytest.mark.parametrize(
    ("fen", "band"),
    [
        (None, "none"),
        (0, "lt500"),
        (49_999, "lt500"),
        (50_000, "500-2000"),
        (199_999, "500-2000"),
        (200_000, "2000-10000"),
        (999_999, "2000-10000"),
        (1_000_000, "gte10000"),
    ],
)
def test_price_bands(fen, band):
    assert price_band(fen) == band


# -- sorting and paging ---------------------------------------------------------------


def test_sort_by_price_puts_unpriced_solutions_last(catalog_index):
    ascending = search(catalog_index, sort="price_asc")
    descending = search(catalog_index, sort="price_desc")

    for result, reverse in ((ascending, False), (descending, True)):
        prices = [BY_SLUG[s].monthly_fen for s in slugs(result)]
        priced = [p for p in prices if p is not None]
        assert prices[: len(priced)] == sorted(priced, reverse=reverse)
        assert all(p is None for p in prices[len(priced) :])
        assert len(priced) < len(prices)


def test_sort_newest_and_empty_query_relevance_are_by_publication(catalog_index):
    newest = slugs(search(catalog_index, sort="newest"))
    expected = [d.slug for d in sorted(CORPUS, key=lambda d: d.published_at, reverse=True)]

    assert newest == expected
    assert slugs(search(catalog_index)) == expected


def test_sort_by_rating_then_rating_count(tmp_path):
    index = SearchIndex(tmp_path / "index")
    index.rebuild(
        [
            make_doc(slug="unrated"),
            make_doc(slug="good-few", rating=4.5, rating_count=3),
            make_doc(slug="good-many", rating=4.5, rating_count=90),
            make_doc(slug="best", rating=4.9, rating_count=1),
        ]
    )

    assert slugs(search(index, sort="rating")) == ["best", "good-many", "good-few", "unrated"]


def test_sort_applies_within_text_matches(catalog_index):
    result = search(catalog_index, q="算力", sort="price_asc")

    assert slugs(result) == ["edge-inference", "compute-pack", "gpu-rental"]


def test_pages_split_the_results_and_a_page_past_the_end_is_empty(catalog_index):
    first = catalog_index.search(SearchQuery(per_page=15, page=1))
    third = catalog_index.search(SearchQuery(per_page=15, page=3))
    beyond = catalog_index.search(SearchQuery(per_page=15, page=9))

    assert len(first.hits) == 15 and len(third.hits) == len(CORPUS) - 30
    assert not set(slugs(first)) & set(slugs(third))
    assert beyond.hits == [] and beyond.total == len(CORPUS) and beyond.page == 9
    assert first.pages == 3


# -- highlighting ---------------------------------------------------------------------


def test_highlights_mark_matches_in_name_and_summary(catalog_index):
    hit = search(catalog_index, q="预测性维护").hits[1]

    assert hit.slug == "cnc-health"
    assert hit.highlights["name"] == "数控机床健康管理"
    assert "<mark>预测性维护</mark>" in hit.highlights["summary"]


def test_injected_markup_comes_out_escaped(tmp_path):
    index = SearchIndex(tmp_path / "index")
    index.rebuild(
        [
            make_doc(
                slug="evil",
                name='<script>alert("x")</script>视觉质检',
                summary='<img src=x onerror="alert(1)">质检报告',
                name_en="<b>quality</b>",
            )
        ]
    )

    hit = search(index, q="质检 quality").hits[0]

    assert hit.highlights["name"] == (
        "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;视觉<mark>质检</mark>"
    )
    assert hit.highlights["summary"].startswith("&lt;img src=x onerror=&quot;alert(1)&quot;&gt;")
    assert hit.highlights["name_en"] == "&lt;b&gt;<mark>quality</mark>&lt;/b&gt;"
    for html in hit.highlights.values():
        assert "<script" not in html and "<img" not in html and "<b>" not in html


def test_long_summaries_are_cut_around_the_first_match(tmp_path):
    index = SearchIndex(tmp_path / "index")
    index.rebuild([make_doc(slug="long", summary="很长的介绍。" * 60 + "最后提到能耗。")])

    html = search(index, q="能耗").hits[0].highlights["summary"]

    assert html.startswith("…") and "<mark>能耗</mark>" in html
    assert len(html) < 200


# -- writing --------------------------------------------------------------------------


def test_delete_removes_a_solution_at_once(index):
    assert "gpu-rental" in slugs(search(index, q="算力"))

    index.delete([BY_SLUG["gpu-rental"].id, 999_999])

    assert "gpu-rental" not in slugs(search(index, q="算力"))
    assert index.doc_count() == len(CORPUS) - 1
    assert search(index).facets["scenario"]["ai.compute"] == 2


def test_upsert_replaces_and_adds(index):
    renamed = replace(BY_SLUG["kiln-energy"], name="陶瓷窑炉温度优化")
    added = make_doc(slug="new-energy", name="光伏储能能效优化", scenarios=("pm.energy",))

    assert index.upsert([renamed, added]) == 2

    assert slugs(search(index, q="能效")) == ["new-energy"]  # no longer in the kiln's name
    assert slugs(search(index, q="窑炉温度优化")) == ["kiln-energy"]
    assert index.doc_count() == len(CORPUS) + 1


def test_upsert_of_the_same_solution_twice_keeps_the_last(index):
    first = replace(BY_SLUG["kiln-energy"], name="窑炉甲")
    second = replace(BY_SLUG["kiln-energy"], name="窑炉乙")

    index.upsert([first, second])

    assert slugs(search(index, q="窑炉")) == ["kiln-energy"]
    assert search(index, q="窑炉").hits[0].highlights["name"] == "<mark>窑炉</mark>乙"
    assert index.doc_count() == len(CORPUS)


def test_held_write_lock_makes_upsert_raise_index_busy_within_the_timeout(index):
    writer = whoosh.index.open_dir(str(index.location)).writer()  # another process, say
    try:
        started = time.monotonic()
        with pytest.raises(IndexBusy):
            index.upsert([replace(BY_SLUG["aps-lite"], name="改名")])
        assert 0.4 <= time.monotonic() - started < 2.0
        with pytest.raises(IndexBusy):
            index.delete([BY_SLUG["aps-lite"].id])
    finally:
        writer.cancel()

    index.delete([BY_SLUG["aps-lite"].id])  # the lock is free again
    assert "aps-lite" not in slugs(search(index, q="排产"))


def test_missing_index_is_unavailable_until_rebuilt(index, tmp_path):
    shutil.rmtree(tmp_path / "index")

    with pytest.raises(SearchUnavailable):
        search(index, q="质检")
    with pytest.raises(SearchUnavailable):
        index.doc_count()
    with pytest.raises(SearchUnavailable):
        index.upsert([BY_SLUG["aps-lite"]])

    assert index.rebuild(CORPUS) == len(CORPUS)
    assert "fabric-inspection" in slugs(search(index, q="质检"))


def test_corrupt_index_is_unavailable_until_rebuilt(tmp_path):
    index = SearchIndex(tmp_path / "index")
    index.rebuild(CORPUS[:3])
    for toc in index.location.glob("*.toc"):
        toc.write_bytes(b"not a whoosh table of contents")
    index.close()  # a new process, which has nothing cached

    with pytest.raises(SearchUnavailable):
        search(index, q="质检")

    index.rebuild(CORPUS[:3])
    assert search(index, q="质检").total >= 1


def test_create_makes_an_empty_index(index):
    index.create()

    assert index.doc_count() == 0
    result = search(index, q="质检")
    assert result.total == 0 and result.hits == []


def test_rebuild_swaps_generations_and_keeps_writes_made_meanwhile(index, tmp_path):
    renamed = replace(BY_SLUG["wms-cloud"], name="WMS云仓储管理旗舰版")
    seen_during_rebuild: list[int] = []

    def docs_from_the_database():
        for n, doc in enumerate(CORPUS):
            if n == 10:
                # Requests go on meanwhile: they search the old generation and write to it.
                seen_during_rebuild.append(search(index, q="质检").total)
                index.upsert([renamed])
                index.delete([BY_SLUG["crm-sales"].id])
            yield doc  # the database read started before those writes: old versions

    assert index.rebuild(docs_from_the_database()) == len(CORPUS)

    assert seen_during_rebuild and seen_during_rebuild[0] >= 4
    assert slugs(search(index, q="旗舰版")) == ["wms-cloud"]
    assert "crm-sales" not in slugs(search(index))
    assert index.doc_count() == len(CORPUS) - 1
    assert len(list((tmp_path / "index").glob("gen-*"))) <= 2


def test_failed_rebuild_leaves_the_live_index_alone(index, tmp_path):
    def broken():
        yield CORPUS[0]
        raise RuntimeError("database went away")

    with pytest.raises(RuntimeError):
        index.rebuild(broken())

    assert index.doc_count() == len(CORPUS)
    assert not list((tmp_path / "index").glob("build-*"))


def test_rebuild_rejects_duplicate_ids(index):
    with pytest.raises(ValueError, match="twice"):
        index.rebuild([CORPUS[0], CORPUS[0]])

    assert index.doc_count() == len(CORPUS)


def test_rebuild_reports_progress(tmp_path):
    seen: list[int] = []
    index = SearchIndex(tmp_path / "index")

    index.rebuild(CORPUS[:5], progress=seen.append)

    assert seen == [1, 2, 3, 4, 5]


def test_concurrent_searches_and_writes(index):
    errors: list[BaseException] = []
    stop = threading.Event()

    def searcher():
        try:
            while not stop.is_set():
                result = search(index, q="质检")
                assert result.total >= 4
                assert sum(result.facets["delivery"].values()) >= result.total
        except BaseException as error:  # reported below, from the main thread
            errors.append(error)

    threads = [threading.Thread(target=searcher) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        for n in range(5):
            index.upsert([make_doc(slug=f"extra-{n}", name=f"质检工具{n}号")])
    finally:
        stop.set()
        for thread in threads:
            thread.join()

    assert errors == []
    assert search(index, q="质检").total == 9


# -- queries --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"sort": "cheapest"}, "sort"),
        ({"per_page": 0}, "per_page"),
        ({"per_page": 101}, "per_page"),
        ({"page": 0}, "page"),
        ({"page": "2"}, "page"),
        ({"delivery": "cloud"}, "delivery"),
        ({"billing_model": "free"}, "billing_model"),
        ({"voucher_kind": "cash"}, "voucher_kind"),
        ({"price_band": "cheap"}, "price_band"),
        ({"industry": "X99"}, "industry"),
        ({"industry": "c13"}, "industry"),
        ({"scenario": "pm.unknown"}, "scenario"),
        ({"max_monthly_fen": -1}, "max_monthly_fen"),
        ({"max_monthly_fen": True}, "max_monthly_fen"),
        ({"q": "质" * 201}, "q"),
    ],
)
def test_invalid_query_names_the_field(kwargs, field):
    with pytest.raises(InvalidQuery) as caught:
        SearchQuery(**kwargs)

    assert caught.value.field == field
    assert isinstance(caught.value, ValueError)


def test_query_from_request_arguments():
    query = SearchQuery.from_args(
        {"q": " 质检 ", "page": "2", "per_page": "50", "delivery": "", "max_monthly_fen": "200000"}
    )

    assert query == SearchQuery(q="质检", page=2, per_page=50, max_monthly_fen=200_000)
    with pytest.raises(InvalidQuery) as caught:
        SearchQuery.from_args({"page": "two"})
    assert caught.value.field == "page"


def test_blank_filters_mean_no_filter(catalog_index):
    assert search(catalog_index, delivery=" ", q="  ").total == len(CORPUS)


def test_punctuation_and_query_syntax_are_just_text(catalog_index):
    for q in ('质检 AND "', "*:*", "能耗)", "title:质检", "~!@#"):
        catalog_index.search(SearchQuery(q=q))  # never a parse error


def test_jieba_loads_quietly_and_without_warnings(tmp_path):
    script = (
        "import sys; from pathlib import Path; from datetime import datetime, timezone\n"
        "from catalog.search import SearchIndex, SearchQuery, SolutionDoc\n"
        "index = SearchIndex(Path(sys.argv[1]))\n"
        "index.rebuild([SolutionDoc(id=1, slug='a', name='视觉质检',"
        " published_at=datetime.now(timezone.utc))])\n"
        "assert index.search(SearchQuery(q='zj')).total == 1\n"
    )
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", script, str(tmp_path / "index")],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )

    assert done.returncode == 0, done.stderr
    assert done.stderr == "" and done.stdout == ""
