"""Scale class (国土资发〔2004〕208号) and tailings-pond grade (GB 50863 §3.2.1 combination rule),
computed from the shipped catalogues."""

import copy
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from minesafe.core.services import read_reference_yaml
from minesafe.registry.classification import pond_grade, scale_class, scale_row

TAILINGS = read_reference_yaml("tailings.yaml")
SCALE = read_reference_yaml("scale.yaml")

capacities = st.decimals(min_value=0, max_value=100000, places=2, allow_nan=False, allow_infinity=False)
heights = st.decimals(min_value=0, max_value=300, places=2, allow_nan=False, allow_infinity=False)


def grade(capacity, height, **kwargs):
    return pond_grade(TAILINGS, Decimal(str(capacity)), Decimal(str(height)), **kwargs)


# Tailings-pond grade ------------------------------------------------------------------------------
@pytest.mark.parametrize("capacity, height, expected", [
    (500, 45, 4),        # g_V 4, g_H 4
    (5000, 45, 3),       # g_V 3, g_H 4: differ by one, take the higher
    (500, 70, 3),        # g_V 4, g_H 3
    (20000, 20, 3),      # g_V 2, g_H 5: differ by three, the higher lowered by one
    (50, 150, 3),        # g_V 5, g_H 2
    (5000, 20, 4),       # g_V 3, g_H 5: differ by two
    (50, 20, 5),
    (20000, 150, 2),
    (60000, 250, 1),     # GB 39496-2020 grade 1 (unverified values in the catalogue)
    (60000, 150, 1),     # g_V 1, g_H 2: differ by one, take the higher
    (60000, 45, 2),      # g_V 1, g_H 4: the higher lowered by one
])
def test_pond_grade_follows_the_combination_rule(capacity, height, expected):
    assert grade(capacity, height) == expected


@pytest.mark.parametrize("capacity, height, expected", [
    ("100", "30", 4), ("99.99", "29.99", 5),
    ("1000", "60", 3), ("999.99", "59.99", 4),
    ("10000", "100", 2), ("9999.99", "99.99", 3),
    ("50000", "200", 1), ("49999.99", "199.99", 2),
])
def test_pond_grade_lower_bounds_are_inclusive(capacity, height, expected):
    assert grade(capacity, height) == expected


@pytest.mark.parametrize("capacity, height, expected", [
    (500, 45, 3), (20000, 20, 2), (20000, 150, 1), (60000, 250, 1), (50, 20, 4),
])
def test_raised_pond_is_lifted_one_grade_but_never_above_grade_one(capacity, height, expected):
    assert grade(capacity, height, raised=True) == expected


def test_damless_pit_stays_ungraded():
    assert grade(500, 45, damless=True) is None
    assert grade(20000, 150, damless=True, raised=True) is None


@pytest.mark.parametrize("capacity, height", [(None, 45), (500, None), (None, None)])
def test_pond_without_capacity_or_height_is_ungraded(capacity, height):
    assert pond_grade(TAILINGS, capacity and Decimal(capacity), height and Decimal(height)) is None


@given(capacities, heights)
def test_pond_grade_is_always_between_one_and_five(capacity, height):
    assert pond_grade(TAILINGS, capacity, height) in {1, 2, 3, 4, 5}


@given(capacities, capacities, heights)
def test_more_capacity_never_lowers_the_grade(capacity_a, capacity_b, height):
    small, large = sorted([capacity_a, capacity_b])
    assert pond_grade(TAILINGS, large, height) <= pond_grade(TAILINGS, small, height)


@given(capacities, heights, heights)
def test_a_higher_dam_never_lowers_the_grade(capacity, height_a, height_b):
    low, high = sorted([height_a, height_b])
    assert pond_grade(TAILINGS, capacity, high) <= pond_grade(TAILINGS, capacity, low)


@given(capacities, heights)
def test_raising_lifts_exactly_one_grade_capped_at_one(capacity, height):
    plain = pond_grade(TAILINGS, capacity, height)
    assert pond_grade(TAILINGS, capacity, height, raised=True) == max(1, plain - 1)


# Lower bounds of grades 1-4 by capacity (10^4 m3) and height (m): GB 39496-2020 grades 1-2, old table 3-4.
CAPACITY_FLOORS = [(1, 50000), (2, 10000), (3, 1000), (4, 100)]
HEIGHT_FLOORS = [(1, 200), (2, 100), (3, 60), (4, 30)]


def single_grade(value: Decimal, floors: list[tuple[int, int]]) -> int:
    return next((g for g, floor in floors if value >= floor), 5)


@given(capacities, heights)
def test_pond_grade_matches_the_documented_rule_for_any_capacity_and_height(capacity, height):
    g_v, g_h = single_grade(capacity, CAPACITY_FLOORS), single_grade(height, HEIGHT_FLOORS)
    expected = min(g_v, g_h) if abs(g_v - g_h) <= 1 else min(g_v, g_h) + 1
    assert pond_grade(TAILINGS, capacity, height) == expected


def test_pond_grade_uses_the_catalogue_it_is_given():
    edited = copy.deepcopy(TAILINGS)
    legacy = next(t for t in edited["grade_tables"] if t["status"] == "legacy")
    grade4 = next(g for g in legacy["grades"] if g["grade"] == 4)
    grade4["capacity_min"] = 600  # an administrator's edit to the legacy row the current table reuses
    grade5 = next(g for g in legacy["grades"] if g["grade"] == 5)
    grade5["capacity_max_excl"] = 600
    assert pond_grade(TAILINGS, Decimal(500), Decimal(20)) == 4  # g_V 4, g_H 5
    assert pond_grade(TAILINGS, Decimal(500), Decimal(70)) == 3  # g_V 4, g_H 3
    assert pond_grade(edited, Decimal(500), Decimal(20)) == 5  # g_V 5, g_H 5
    assert pond_grade(edited, Decimal(500), Decimal(70)) == 4  # g_V 5, g_H 3: the higher lowered by one
    assert pond_grade(TAILINGS, Decimal(500), Decimal(20)) == 4  # the shipped catalogue is untouched


def test_current_grade_table_is_gb_39496():
    current = [t for t in TAILINGS["grade_tables"] if t.get("status") == "current"]
    assert [t["id"] for t in current] == ["GB39496_2020"]


# Scale class --------------------------------------------------------------------------------------
@pytest.mark.parametrize("mineral, mine_type, capacity, expected", [
    ("铁矿", "underground", "40", "medium"),     # row 铁矿(地下) 100/30
    ("铁矿", "underground", "100", "large"),
    ("铁矿", "underground", "29.99", "small"),
    ("铁矿", "underground", "30", "medium"),
    ("铁矿", "open_pit", "40", "small"),         # row 铁矿(露天) 200/60
    ("铁矿", "open_pit", "60", "medium"),
    ("铁矿", "open_pit", "200", "large"),
    ("铁矿", "quarry", "200", "large"),
    ("石灰岩", "open_pit", "120", "large"),
    ("石灰岩", "open_pit", "100", "large"),
    ("石灰岩", "open_pit", "99.99", "medium"),
    ("石灰岩", "open_pit", "50", "medium"),
    ("石灰岩", "open_pit", "49.99", "small"),
    ("石灰岩", "underground", "120", "large"),   # unsplit rows apply to either type
    ("岩金", "underground", "5", "small"),
    ("岩金", "underground", "6", "medium"),
    ("建筑石料", "quarry", "10", "large"),
    (" 石灰岩 ", "open_pit", "120", "large"),
])
def test_scale_class_from_design_capacity(mineral, mine_type, capacity, expected):
    assert scale_class(SCALE, mineral, mine_type, Decimal(capacity)) == expected


def test_mineral_without_thresholds_has_no_scale_class():
    assert scale_class(SCALE, "建筑用砂", "open_pit", Decimal(1000)) is None


@pytest.mark.parametrize("mineral", ["云母", "宝石"])
def test_always_small_minerals_are_small_whatever_the_capacity(mineral):
    assert scale_class(SCALE, mineral, "underground", Decimal(100000)) == "small"
    assert scale_class(SCALE, mineral, "open_pit", None) == "small"


@pytest.mark.parametrize("mineral, capacity", [("未知矿种", "100"), ("", "100"), (None, "100"), ("石灰岩", None)])
def test_unknown_mineral_or_missing_capacity_has_no_scale_class(mineral, capacity):
    assert scale_class(SCALE, mineral, "open_pit", capacity and Decimal(capacity)) is None


def test_scale_row_prefers_the_row_for_the_mine_type():
    assert scale_row(SCALE, "铁矿", "underground")["zh"] == "铁矿(地下)"
    assert scale_row(SCALE, "铁矿", "open_pit")["zh"] == "铁矿(露天)"
    assert scale_row(SCALE, "石灰岩", "underground")["zh"] == "石灰岩"


@given(st.sampled_from(["石灰岩", "铁矿", "岩金", "硅石", "建筑石料"]), st.sampled_from(["underground", "open_pit"]),
       st.decimals(min_value=0, max_value=1000, places=2), st.decimals(min_value=0, max_value=1000, places=2))
def test_more_capacity_never_gives_a_smaller_scale_class(mineral, mine_type, capacity_a, capacity_b):
    order = {"small": 0, "medium": 1, "large": 2}
    low, high = sorted([capacity_a, capacity_b])
    assert order[scale_class(SCALE, mineral, mine_type, high)] >= order[scale_class(SCALE, mineral, mine_type, low)]
