import json

import pytest

from marketplace import reference
from marketplace.reference import (
    children,
    industries,
    industry,
    is_leaf_region,
    is_valid_industry,
    is_valid_region,
    picker_tree,
    region,
    region_label,
    region_path,
)


def test_pudong_hangs_under_shanghai_city_level():
    path = region_path("310115")

    assert [(r.code, r.name, r.level) for r in path] == [
        ("310000", "上海市", 1),
        ("310100", "市辖区", 2),
        ("310115", "浦东新区", 3),
    ]
    assert region("310115").parent == "310100"


def test_labels_leave_out_grouping_levels():
    assert region_label("310115") == "上海市 浦东新区"
    assert region_label("330106") == "浙江省 杭州市 西湖区"
    assert region_label("500229") == "重庆市 城口县"
    assert region_label("429004") == "湖北省 仙桃市"
    assert region_label("310000") == "上海市"


def test_label_of_unknown_code_is_the_code():
    assert region_label("999999") == "999999"


def test_all_province_level_regions_present():
    provinces = children(None)

    assert len(provinces) == 34
    names = {r.name for r in provinces}
    assert {"台湾省", "香港特别行政区", "澳门特别行政区", "新疆维吾尔自治区"} <= names
    assert all(r.level == 1 and r.parent is None for r in provinces)


@pytest.mark.parametrize(
    ("province", "district", "name"),
    [
        ("330000", "330106", "西湖区"),
        ("320000", "320505", "虎丘区"),
        ("440000", "440305", "南山区"),
        ("420000", "420106", "武昌区"),
    ],
)
def test_provinces_have_their_districts(province, district, name):
    assert region(district).name == name
    assert region_path(district)[0].code == province


def test_every_parent_exists_and_is_one_level_up():
    regions = reference._regions()

    for item in regions.values():
        if item.parent is None:
            assert item.level == 1
        else:
            assert regions[item.parent].level == item.level - 1, item


def test_codes_are_sorted_six_digit_strings():
    codes = list(reference._regions())

    assert codes == sorted(codes)
    assert all(len(code) == 6 and code.isdigit() for code in codes)


def test_directly_administered_counties_get_a_grouping_parent():
    assert region("429000").name == "省直辖县级行政区划"
    assert region("429000").parent == "420000"
    assert region("469001").parent == "469000"
    assert region("659001").parent == "659000"
    assert region("419001").parent == "419000"


def test_rows_that_are_not_divisions_are_left_out():
    for code in ("990000", "999900", "133100", "500157", "320576"):
        assert region(code) is None


def test_districts_and_cities_without_districts_are_leaves():
    assert is_leaf_region("310115")
    assert is_leaf_region("441900")  # 东莞市 has towns, no districts
    assert not is_leaf_region("310100")
    assert not is_leaf_region("330100")
    assert not is_leaf_region("330000")
    assert not is_leaf_region("999999")


@pytest.mark.parametrize("code", ["", "31011", "999999", "31011x", "3101150", "３１０１１５"])
def test_invalid_region_codes_are_rejected(code):
    assert not is_valid_region(code)
    assert not is_leaf_region(code)


def test_valid_region_codes_at_every_level():
    assert is_valid_region("310000")
    assert is_valid_region("310100")
    assert is_valid_region("310115")


def test_children_of_unknown_code_is_empty():
    assert children("999999") == []
    assert region_path("999999") == []


def test_picker_tree_nests_province_city_district():
    tree = picker_tree()

    shanghai = next(node for node in tree if node["code"] == "310000")
    city = shanghai["children"][0]
    assert city["code"] == "310100"
    pudong = next(node for node in city["children"] if node["code"] == "310115")
    assert pudong == {"code": "310115", "name": "浦东新区"}
    json.dumps(tree, ensure_ascii=False)  # serializable as is


def test_picker_tree_leaves_are_exactly_the_leaf_regions():
    leaves = []

    def walk(nodes):
        for node in nodes:
            if node.get("children"):
                walk(node["children"])
            else:
                leaves.append(node["code"])

    walk(picker_tree())
    assert len(leaves) == len(set(leaves))
    assert all(is_leaf_region(code) for code in leaves)
    assert len(leaves) == sum(1 for code in reference._regions() if is_leaf_region(code))


def test_industries_cover_divisions_b06_to_d46():
    items = industries()

    assert len(items) == 41
    assert items[0].code == "B06"
    assert items[-1].code == "D46"
    assert {item.section for item in items} == {"B", "C", "D"}
    assert all(item.code.startswith(item.section) for item in items)


def test_industry_names_follow_locale():
    machinery = industry("C34")

    assert machinery.name("zh_CN") == "通用设备制造业"
    assert machinery.name("en") == "Manufacture of General Purpose Machinery"
    assert machinery.name("en_US") == "Manufacture of General Purpose Machinery"
    assert machinery.name("zh") == "通用设备制造业"


@pytest.mark.parametrize("code", ["", "C3", "C99", "A01", "c34", "E47"])
def test_invalid_industry_codes_are_rejected(code):
    assert not is_valid_industry(code)
    assert industry(code) is None


def test_valid_industry_code():
    assert is_valid_industry("C39")
