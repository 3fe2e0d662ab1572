"""Accident grading by the national rule (no database): every boundary, the highest criterion wins, bad
figures and bad threshold tables refused."""

from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from minesafe.enforcement import grading

CATALOGUE = Path(__file__).resolve().parents[1] / "reference" / "accidents.yaml"
LEVELS = grading.parse_levels(yaml.safe_load(CATALOGUE.read_text(encoding="utf-8"))["grades"]["levels"])
M = 1_000_000


def grade(deaths=0, serious=0, loss=0):
    return grading.grade(deaths, serious, loss, LEVELS)


@pytest.mark.parametrize(("deaths", "expected"), [
    (0, "general"), (1, "general"), (2, "general"), (3, "larger"), (9, "larger"), (10, "major"), (29, "major"),
    (30, "especially_major"), (300, "especially_major")])
def test_deaths_thresholds_include_the_lower_bound(deaths, expected):
    assert grade(deaths=deaths).code == expected


@pytest.mark.parametrize(("serious", "expected"), [
    (9, "general"), (10, "larger"), (49, "larger"), (50, "major"), (99, "major"), (100, "especially_major")])
def test_serious_injury_thresholds(serious, expected):
    assert grade(serious=serious).code == expected


@pytest.mark.parametrize(("loss", "expected"), [
    (Decimal("9999999.99"), "general"), (10 * M, "larger"), (Decimal("49999999.99"), "larger"), (50 * M, "major"),
    (Decimal("99999999.99"), "major"), (100 * M, "especially_major")])
def test_direct_loss_thresholds(loss, expected):
    assert grade(loss=loss).code == expected


def test_the_highest_criterion_applies_and_is_named():
    result = grade(deaths=2, serious=12, loss=60 * M)
    assert result == grading.GradeResult("major", ("direct_loss",))
    assert grade(deaths=3, serious=10, loss=10 * M).reached_by == ("deaths", "serious_injuries", "direct_loss")
    assert grade(deaths=1).reached_by == ()  # a general accident reaches the floor by no threshold


@pytest.mark.parametrize(("figures", "named"), [
    ((-1, 0, 0), "deaths"), ((0, -1, 0), "serious_injuries"), ((0, 0, -1), "direct_loss"),
    ((1.5, 0, 0), "deaths"), ((True, 0, 0), "deaths"), ((0, "3", 0), "serious_injuries"),
    ((0, 0, "lots"), "direct_loss"), ((0, 0, float("nan")), "direct_loss"), ((0, 0, "Infinity"), "direct_loss")])
def test_bad_figures_are_refused_naming_the_field(figures, named):
    with pytest.raises(grading.GradingError, match=named):
        grading.grade(*figures, LEVELS)


def test_threshold_tables_are_checked():
    floor = {"code": "general", "deaths": 0, "serious_injuries": 0, "direct_loss": 0}
    with pytest.raises(grading.GradingError, match="empty"):
        grading.parse_levels([])
    with pytest.raises(grading.GradingError, match="floor"):
        grading.parse_levels([{**floor, "deaths": 1}])
    with pytest.raises(grading.GradingError, match="fall"):
        grading.parse_levels([{"code": "a", "deaths": 3, "serious_injuries": 10, "direct_loss": 5},
                              {"code": "b", "deaths": 3, "serious_injuries": 5, "direct_loss": 1}, floor])
    with pytest.raises(grading.GradingError, match="level 0"):
        grading.parse_levels([{"code": "a", "deaths": 3}])
    assert [level.code for level in LEVELS] == ["especially_major", "major", "larger", "general"]


def test_thresholds_are_data():
    edited = grading.parse_levels([{"code": "big", "deaths": 2, "serious_injuries": 5, "direct_loss": 100},
                                   {"code": "small", "deaths": 0, "serious_injuries": 0, "direct_loss": 0}])
    assert grading.grade(2, 0, 0, edited).code == "big"
    assert grading.grade(1, 4, 99, edited).code == "small"
