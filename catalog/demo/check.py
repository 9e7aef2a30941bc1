"""Check the demo catalog data (vendors.json, solutions.jsonl) and print a coverage summary.

Run from anywhere:  python catalog/demo/check.py
Exits non-zero (AssertionError) on the first rule that is broken.
"""

from __future__ import annotations

import csv
import json
import re
import sys
from collections import Counter
from decimal import Decimal, InvalidOperation
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
VENDORS = HERE / "vendors.json"
SOLUTIONS = HERE / "solutions.jsonl"
REGIONS = ROOT / "marketplace" / "data" / "regions.csv"
INDUSTRIES = ROOT / "marketplace" / "data" / "industries.csv"
SCENARIOS = ROOT / "catalog" / "data" / "scenarios.csv"

DELIVERY = ("saas", "edge", "maas", "agent", "api", "service")
VOUCHERS = {"cloud", "compute"}
VAT_RATES = {0, 100, 300, 600, 900, 1300}
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
METER_RE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")
PHONE_RE = re.compile(r"^0\d{2,3}-\d{7,8}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PROVINCES = {
    "11": "北京",
    "31": "上海",
    "32": "江苏",
    "33": "浙江",
    "37": "山东",
    "42": "湖北",
    "44": "广东",
}
SECTIONS = ("## 适用场景", "## 核心功能", "## 部署与交付")
SMALL_FEN = 200_000  # 小: lowest monthly-equivalent price <= 2,000 yuan
FAST_DAYS = 7
LIGHT = {"saas", "maas", "agent", "api"}

# (label, terms any of which must appear in name or summary, minimum number of solutions)
TOPICS = (
    ("质检", ("质检",), 4),
    ("质检·布匹瑕疵", ("布匹瑕疵",), 1),
    ("质检·PCB", ("PCB",), 1),
    ("质检·金属表面", ("金属表面",), 1),
    ("质检·注塑件", ("注塑件",), 1),
    ("预测性维护", ("预测性维护",), 3),
    ("预测性维护·空压机", ("空压机",), 1),
    ("能耗/能源管理", ("能耗", "能源管理"), 3),
    ("排产/APS", ("排产", "APS"), 3),
    ("算力", ("算力",), 3),
    ("卡时", ("卡时",), 1),
    ("MES", ("MES",), 2),
    ("WMS 仓储", ("WMS", "仓储"), 1),
    ("TMS 物流", ("TMS", "物流"), 1),
    ("采购", ("采购",), 2),
    ("供应链协同", ("供应链协同",), 1),
    ("供应链金融", ("供应链金融",), 1),
    ("应收账款融资", ("应收账款融资",), 1),
    ("CRM", ("CRM",), 1),
    ("订单/电商", ("订单", "电商"), 2),
    ("售后/远程运维", ("售后", "远程运维"), 2),
    ("财务", ("财务",), 1),
    ("人力资源/排班", ("人力资源", "排班"), 1),
    ("协同办公", ("协同办公",), 1),
    ("BI 数据分析", ("BI",), 1),
    ("数据分析", ("数据分析",), 1),
    ("CAE 仿真", ("CAE",), 1),
    ("仿真", ("仿真",), 2),
    ("产品设计", ("设计",), 1),
    ("工艺", ("工艺",), 2),
    ("BOM", ("BOM",), 1),
    ("安全生产", ("安全生产",), 1),
    ("安全帽", ("安全帽",), 1),
    ("环保监测", ("环保",), 1),
    ("VOCs", ("VOCs",), 1),
    ("工业大模型", ("工业大模型",), 1),
    ("智能体", ("智能体",), 4),
    ("工艺参数推荐智能体", ("工艺参数推荐智能体",), 1),
    ("客服智能体", ("客服智能体",), 1),
    ("质检报告生成智能体", ("质检报告生成智能体",), 1),
)


def fail(msg: str) -> None:
    raise AssertionError(msg)


def check(cond: bool, msg: str) -> None:
    if not cond:
        fail(msg)


def read_codes(path: Path) -> dict[str, dict]:
    with path.open(encoding="utf-8", newline="") as f:
        return {row["code"]: row for row in csv.DictReader(f)}


def is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def decimal_fen(v, where: str) -> Decimal:
    check(isinstance(v, str), f"{where}: must be a decimal string, got {v!r}")
    try:
        d = Decimal(v)
    except InvalidOperation:
        fail(f"{where}: not a decimal: {v!r}")
    check(d.is_finite() and d >= 0, f"{where}: must be finite and >= 0: {v!r}")
    return d


def nonempty_str(v, where: str, max_len: int | None = None) -> str:
    check(
        isinstance(v, str) and v.strip() == v and v != "",
        f"{where}: non-empty trimmed string required",
    )
    if max_len is not None:
        check(len(v) <= max_len, f"{where}: {len(v)} chars > {max_len}: {v}")
    return v


def has_cjk(s: str) -> bool:
    return any("\u4e00" <= c <= "\u9fff" for c in s)


def check_features(p: dict, where: str) -> None:
    feats = p.get("features")
    check(isinstance(feats, list) and 1 <= len(feats) <= 8, f"{where}.features: 1-8 items")
    for i, f in enumerate(feats):
        nonempty_str(f, f"{where}.features[{i}]", 40)


def check_plan(p: dict, where: str) -> str:
    check(isinstance(p, dict), f"{where}: object required")
    nonempty_str(p.get("name"), f"{where}.name", 20)
    check(has_cjk(p["name"]), f"{where}.name: Chinese name expected")
    nonempty_str(p.get("name_en"), f"{where}.name_en", 60)
    check(p.get("name_en", "").isascii(), f"{where}.name_en: ASCII expected")
    check(p.get("vat_rate_bp") in VAT_RATES, f"{where}.vat_rate_bp: {p.get('vat_rate_bp')!r}")
    check_features(p, where)
    model = p.get("billing_model")
    common = {"name", "name_en", "billing_model", "vat_rate_bp", "features"}
    if model == "subscription":
        allowed = common | {"price_fen", "interval", "trial_days"}
        check(is_int(p.get("price_fen")) and p["price_fen"] > 0, f"{where}.price_fen: positive int")
        check(p.get("interval") in ("month", "year"), f"{where}.interval: month|year")
        check(
            is_int(p.get("trial_days")) and 0 <= p["trial_days"] <= 30, f"{where}.trial_days: 0-30"
        )
    elif model == "usage":
        allowed = common | {
            "meter",
            "unit",
            "unit_en",
            "tier_mode",
            "tiers",
            "free_units",
            "base_fee_fen",
        }
        check(
            isinstance(p.get("meter"), str) and METER_RE.match(p["meter"]) is not None,
            f"{where}.meter: ascii snake_case required, got {p.get('meter')!r}",
        )
        nonempty_str(p.get("unit"), f"{where}.unit", 10)
        check(has_cjk(p["unit"]), f"{where}.unit: Chinese unit expected")
        nonempty_str(p.get("unit_en"), f"{where}.unit_en", 30)
        check(p.get("tier_mode") in ("graduated", "volume"), f"{where}.tier_mode: graduated|volume")
        tiers = p.get("tiers")
        check(isinstance(tiers, list) and 1 <= len(tiers) <= 6, f"{where}.tiers: 1-6 tiers")
        prev = 0
        for i, t in enumerate(tiers):
            tw = f"{where}.tiers[{i}]"
            check(
                isinstance(t, dict) and set(t) == {"up_to", "unit_fen"},
                f"{tw}: keys up_to, unit_fen",
            )
            decimal_fen(t["unit_fen"], f"{tw}.unit_fen")
            last = i == len(tiers) - 1
            if last:
                check(t["up_to"] is None, f"{tw}.up_to: last tier must be null")
            else:
                check(
                    is_int(t["up_to"]) and t["up_to"] > prev,
                    f"{tw}.up_to: int strictly greater than {prev}, got {t['up_to']!r}",
                )
                prev = t["up_to"]
        check(
            is_int(p.get("free_units")) and 0 <= p["free_units"] <= 5000,
            f"{where}.free_units: 0-5000",
        )
        check(
            is_int(p.get("base_fee_fen")) and p["base_fee_fen"] >= 0,
            f"{where}.base_fee_fen: int >= 0",
        )
    elif model == "outcome":
        allowed = common | {
            "kpi_name",
            "kpi_unit",
            "direction",
            "price_per_unit_fen",
            "share_bp",
            "value_per_unit_fen",
            "base_fee_fen",
            "cap_fen",
            "verification_days",
        }
        nonempty_str(p.get("kpi_name"), f"{where}.kpi_name", 20)
        nonempty_str(p.get("kpi_unit"), f"{where}.kpi_unit", 10)
        check(p.get("direction") in ("increase", "decrease"), f"{where}.direction")
        has_price = "price_per_unit_fen" in p
        has_share = "share_bp" in p or "value_per_unit_fen" in p
        check(
            has_price != has_share,
            f"{where}: either price_per_unit_fen or share_bp+value_per_unit_fen",
        )
        if has_price:
            check(
                decimal_fen(p["price_per_unit_fen"], f"{where}.price_per_unit_fen") > 0,
                f"{where}.price_per_unit_fen: > 0",
            )
        else:
            check(
                is_int(p.get("share_bp")) and 0 < p["share_bp"] <= 10000,
                f"{where}.share_bp: 1-10000",
            )
            check(
                decimal_fen(p.get("value_per_unit_fen"), f"{where}.value_per_unit_fen") > 0,
                f"{where}.value_per_unit_fen: > 0",
            )
        check(
            is_int(p.get("base_fee_fen")) and p["base_fee_fen"] >= 0,
            f"{where}.base_fee_fen: int >= 0",
        )
        check(is_int(p.get("cap_fen")) and p["cap_fen"] > 0, f"{where}.cap_fen: positive int")
        check(
            is_int(p.get("verification_days")) and 1 <= p["verification_days"] <= 30,
            f"{where}.verification_days: 1-30",
        )
    else:
        fail(f"{where}.billing_model: {model!r}")
    extra = set(p) - allowed
    check(not extra, f"{where}: unexpected keys {sorted(extra)}")
    return model


def monthly_equivalent(p: dict) -> int | None:
    """Monthly-equivalent fixed price in fen, or None when the plan has none."""
    if p["billing_model"] == "subscription":
        return p["price_fen"] if p["interval"] == "month" else p["price_fen"] // 12
    if p.get("base_fee_fen"):
        return p["base_fee_fen"]
    return None


def main() -> int:
    regions = read_codes(REGIONS)
    industries = read_codes(INDUSTRIES)
    scenarios = read_codes(SCENARIOS)
    check(len(industries) == 41, f"industries.csv: expected 41 codes, got {len(industries)}")
    check(len(scenarios) == 24, f"scenarios.csv: expected 24 codes, got {len(scenarios)}")

    # ------------------------------------------------------------------ vendors
    vendors = json.loads(VENDORS.read_text(encoding="utf-8"))
    check(
        isinstance(vendors, list) and len(vendors) >= 9, "vendors.json: list of at least 9 vendors"
    )
    vkeys: dict[str, dict] = {}
    provinces = Counter()
    for i, v in enumerate(vendors):
        w = f"vendors[{i}]"
        fields = {
            "key",
            "name",
            "region_code",
            "legal_representative",
            "address",
            "contact_phone",
            "contact_email",
            "about",
            "about_en",
        }
        check(isinstance(v, dict) and set(v) == fields, f"{w}: keys must be {sorted(fields)}")
        check(SLUG_RE.match(v["key"]) is not None, f"{w}.key: lowercase ascii")
        check(v["key"] not in vkeys, f"{w}.key: duplicate {v['key']}")
        vkeys[v["key"]] = v
        for k in fields:
            nonempty_str(v[k], f"{w}.{k}")
        check(
            v["name"].endswith("有限公司") and has_cjk(v["name"]), f"{w}.name: Chinese company name"
        )
        code = v["region_code"]
        check(
            re.fullmatch(r"\d{6}", code) is not None and code in regions,
            f"{w}.region_code: unknown {code}",
        )
        check(not code.endswith("00"), f"{w}.region_code: district-level code expected, got {code}")
        provinces[code[:2]] += 1
        check(
            PHONE_RE.match(v["contact_phone"]) is not None,
            f"{w}.contact_phone: {v['contact_phone']}",
        )
        check(EMAIL_RE.match(v["contact_email"]) is not None, f"{w}.contact_email")
        check(2 <= len(v["legal_representative"]) <= 4, f"{w}.legal_representative")
        check(
            has_cjk(v["about"]) and 40 <= len(v["about"]) <= 200, f"{w}.about: 40-200 Chinese chars"
        )
        check(v["about_en"].isascii() and len(v["about_en"]) >= 60, f"{w}.about_en: English text")
    check("yunzhi" in vkeys, "vendor key 'yunzhi' missing")
    check(
        vkeys["yunzhi"]["name"] == "杭州云织智能科技有限公司"
        and vkeys["yunzhi"]["region_code"] == "330106",
        "yunzhi must be 杭州云织智能科技有限公司 in 330106",
    )
    for prefix, prov in PROVINCES.items():
        check(provinces[prefix] >= 1, f"no vendor in {prov}")

    # ---------------------------------------------------------------- solutions
    lines = SOLUTIONS.read_text(encoding="utf-8").splitlines()
    sols = []
    for n, line in enumerate(lines, 1):
        check(line.strip() != "", f"solutions.jsonl:{n}: blank line")
        try:
            sols.append(json.loads(line))
        except json.JSONDecodeError as e:
            fail(f"solutions.jsonl:{n}: invalid JSON: {e}")
    check(len(sols) >= 64, f"at least 64 solutions required, got {len(sols)}")

    fields = {
        "vendor",
        "slug",
        "name",
        "name_en",
        "summary",
        "summary_en",
        "description",
        "industries",
        "scenarios",
        "delivery",
        "deploy_days",
        "voucher_kinds",
        "case_studies",
        "plans",
    }
    slugs: set[str] = set()
    names: set[str] = set()
    vendor_use, ind_use, scen_use, deliv_use, model_use = (
        Counter(),
        Counter(),
        Counter(),
        Counter(),
        Counter(),
    )
    voucher_use = Counter()
    scen_count_dist = Counter()
    badges = Counter()
    small = enterprise = cases = 0
    desc_lengths = []
    for n, s in enumerate(sols, 1):
        w = f"solutions.jsonl:{n}"
        check(isinstance(s, dict), f"{w}: object required")
        missing, extra = fields - set(s), set(s) - fields
        check(not missing and not extra, f"{w}: missing {sorted(missing)} extra {sorted(extra)}")
        w = f"{w} ({s['slug']})"
        check(s["vendor"] in vkeys, f"{w}.vendor: unknown {s['vendor']!r}")
        vendor_use[s["vendor"]] += 1
        slug = s["slug"]
        check(
            isinstance(slug, str)
            and slug.isascii()
            and SLUG_RE.match(slug) is not None
            and len(slug) <= 60,
            f"{w}.slug: lowercase ascii with hyphens",
        )
        check(slug not in slugs, f"{w}.slug: duplicate")
        slugs.add(slug)
        nonempty_str(s["name"], f"{w}.name", 30)
        check(has_cjk(s["name"]), f"{w}.name: Chinese required")
        check(s["name"] not in names, f"{w}.name: duplicate")
        names.add(s["name"])
        nonempty_str(s["summary"], f"{w}.summary", 80)
        check(
            has_cjk(s["summary"]) and len(s["summary"]) >= 30,
            f"{w}.summary: concrete Chinese sentence",
        )
        for k, lim in (("name_en", 80), ("summary_en", 260)):
            nonempty_str(s[k], f"{w}.{k}", lim)
            check(s[k].isascii() and not has_cjk(s[k]), f"{w}.{k}: English (ASCII) text")
        desc = s["description"]
        check(
            isinstance(desc, str) and 150 <= len(desc) <= 400,
            f"{w}.description: 150-400 chars, got {len(desc) if isinstance(desc, str) else desc!r}",
        )
        for sec in SECTIONS:
            check(sec in desc, f"{w}.description: section {sec!r} missing")
        check(desc.count("\n- ") >= 5, f"{w}.description: bullet lists expected")
        check(re.search(r"\d", desc) is not None, f"{w}.description: concrete numbers expected")
        check("<" not in desc, f"{w}.description: no HTML")
        desc_lengths.append(len(desc))

        inds = s["industries"]
        check(
            isinstance(inds, list) and 1 <= len(inds) <= 4 and len(set(inds)) == len(inds),
            f"{w}.industries: 1-4 distinct codes",
        )
        for c in inds:
            check(c in industries, f"{w}.industries: unknown code {c!r}")
            ind_use[c] += 1
        scs = s["scenarios"]
        check(
            isinstance(scs, list) and 1 <= len(scs) <= 3 and len(set(scs)) == len(scs),
            f"{w}.scenarios: 1-3 distinct codes",
        )
        for c in scs:
            check(c in scenarios, f"{w}.scenarios: unknown code {c!r}")
            scen_use[c] += 1
        scen_count_dist[len(scs)] += 1
        check(s["delivery"] in DELIVERY, f"{w}.delivery: {s['delivery']!r}")
        deliv_use[s["delivery"]] += 1
        check(
            is_int(s["deploy_days"]) and 1 <= s["deploy_days"] <= 90, f"{w}.deploy_days: int 1-90"
        )
        vk = s["voucher_kinds"]
        check(
            isinstance(vk, list) and set(vk) <= VOUCHERS and len(set(vk)) == len(vk),
            f"{w}.voucher_kinds: subset of {sorted(VOUCHERS)}",
        )
        voucher_use[tuple(sorted(vk))] += 1

        cs = s["case_studies"]
        check(isinstance(cs, list) and len(cs) <= 2, f"{w}.case_studies: 0-2 items")
        for i, c in enumerate(cs):
            cw = f"{w}.case_studies[{i}]"
            check(
                isinstance(c, dict)
                and set(c) == {"customer_industry", "customer", "problem", "result"},
                f"{cw}: keys customer_industry, customer, problem, result",
            )
            check(c["customer_industry"] in industries, f"{cw}.customer_industry: unknown")
            check(c["customer"].startswith("某"), f"{cw}.customer: anonymised (某...) expected")
            nonempty_str(c["problem"], f"{cw}.problem", 80)
            nonempty_str(c["result"], f"{cw}.result", 80)
            check(
                re.search(r"\d", c["result"]) is not None,
                f"{cw}.result: measured result with numbers",
            )
            cases += 1

        plans = s["plans"]
        check(isinstance(plans, list) and 1 <= len(plans) <= 3, f"{w}.plans: 1-3 plans")
        pnames = [p.get("name") for p in plans]
        check(len(set(pnames)) == len(pnames), f"{w}.plans: duplicate plan names")
        for i, p in enumerate(plans):
            model_use[check_plan(p, f"{w}.plans[{i}]")] += 1
        monthly = [m for m in map(monthly_equivalent, plans) if m is not None]
        if monthly and min(monthly) <= SMALL_FEN:
            small += 1
            badges["小"] += 1
        if any(m > 500_000 for m in monthly):
            enterprise += 1
        if s["deploy_days"] <= FAST_DAYS:
            badges["快"] += 1
        if s["delivery"] in LIGHT:
            badges["轻"] += 1
        if len(scs) <= 2:
            badges["准"] += 1

    # --------------------------------------------------------------- coverage
    check(len(vendor_use) >= 8, f"at least 8 vendors must have solutions, got {len(vendor_use)}")
    check(len(ind_use) >= 20, f"at least 20 distinct industries required, got {len(ind_use)}")
    missing_sc = set(scenarios) - set(scen_use)
    check(not missing_sc, f"scenarios never used: {sorted(missing_sc)}")
    thin = {c: k for c, k in scen_use.items() if k < 2}
    check(not thin, f"scenarios used fewer than twice: {thin}")
    for d in DELIVERY:
        check(deliv_use[d] >= 5, f"delivery {d!r} used {deliv_use[d]} times (< 5)")
    check(model_use["subscription"] >= 30, f"subscription plans: {model_use['subscription']} < 30")
    check(model_use["usage"] >= 20, f"usage plans: {model_use['usage']} < 20")
    check(model_use["outcome"] >= 10, f"outcome plans: {model_use['outcome']} < 10")
    precise = scen_count_dist[1] + scen_count_dist[2]
    check(
        0.35 <= precise / len(sols) <= 0.75,
        f"about half should have 1-2 scenarios, got {precise}/{len(sols)}",
    )
    check(small / len(sols) >= 0.6, f"most solutions should earn 小, got {small}/{len(sols)}")
    check(
        enterprise >= 3, f"some enterprise plans above 5,000 yuan/month expected, got {enterprise}"
    )
    small_days = sum(1 for s in sols if s["deploy_days"] <= 14)
    check(
        small_days / len(sols) >= 0.7,
        f"most deploy_days should be 1-14, got {small_days}/{len(sols)}",
    )
    check(voucher_use[()] >= 2, "a few solutions should take no vouchers")
    gpu = [
        s
        for s in sols
        for p in s["plans"]
        if p["billing_model"] == "usage" and p["meter"] == "gpu_hours" and p["unit"] == "卡时"
    ]
    check(len(gpu) >= 3, f"GPU compute should be priced per 卡时 (gpu_hours): {len(gpu)} plans")
    kwh = [
        p
        for s in sols
        for p in s["plans"]
        if p["billing_model"] == "outcome" and p["kpi_unit"] == "kWh"
    ]
    check(len(kwh) >= 2, "some energy solutions should be outcome-billed per kWh")

    topic_hits = {}
    for label, terms, minimum in TOPICS:
        hits = [s["slug"] for s in sols if any(t in s["name"] or t in s["summary"] for t in terms)]
        check(
            len(hits) >= minimum,
            f"topic {label}: {len(hits)} solutions (< {minimum}) match {terms}",
        )
        topic_hits[label] = len(hits)

    # ---------------------------------------------------------------- summary
    def row(counter, keys, labels=None):
        return ", ".join(f"{(labels or {}).get(k, k)}={counter[k]}" for k in keys)

    print(
        f"vendors: {len(vendors)} in file, {len(vendor_use)} with solutions; provinces: "
        + ", ".join(f"{PROVINCES.get(p, p)}={k}" for p, k in sorted(provinces.items()))
    )
    print("  per vendor: " + ", ".join(f"{k}={vendor_use[k]}" for k in vkeys))
    print(
        f"solutions: {len(sols)} (slugs unique, all JSON lines parse); "
        f"description length {min(desc_lengths)}-{max(desc_lengths)} chars; case studies: {cases}"
    )
    print(
        f"industries: {len(ind_use)}/41 distinct: "
        + " ".join(f"{c}:{ind_use[c]}" for c in sorted(ind_use))
    )
    print(f"scenarios: {len(scen_use)}/24 covered, min {min(scen_use.values())} per scenario")
    print("  " + " ".join(f"{c}:{scen_use[c]}" for c in scenarios))
    print(
        f"  scenarios per solution: 1={scen_count_dist[1]}, 2={scen_count_dist[2]}, 3={scen_count_dist[3]}"
    )
    print("delivery: " + row(deliv_use, DELIVERY))
    print(
        "plans: "
        + row(model_use, ("subscription", "usage", "outcome"))
        + f" (total {sum(model_use.values())}; GPU 卡时 plans={len(gpu)}, outcome per kWh={len(kwh)})"
    )
    print(
        "voucher kinds: "
        + ", ".join(f"{'+'.join(k) or 'none'}={v}" for k, v in sorted(voucher_use.items()))
    )
    print(
        f"badges: 小={badges['小']} 快={badges['快']} 轻={badges['轻']} 准={badges['准']}; "
        f"enterprise (>¥5,000/month)={enterprise}; deploy_days<=14: {small_days}"
    )
    print("topics: " + ", ".join(f"{k}={v}" for k, v in topic_hits.items()))
    print("OK")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except AssertionError as e:
        print(f"FAILED: {e}", file=sys.stderr)
        sys.exit(1)
