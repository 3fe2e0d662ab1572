"""Accident grading by casualties and direct loss (生产安全事故报告和调查处理条例, art. 3). Pure: no Django.

The thresholds are data (the catalogue's `grades.levels`, highest first). Each level names the minimum deaths,
serious injuries and direct loss that reach it; an accident takes the highest level any one criterion reaches
("以上" includes the number). The last level is the floor, reached by every accident.
"""

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

CRITERIA = ("deaths", "serious_injuries", "direct_loss")


class GradingError(ValueError):
    """Bad casualty figures or a bad threshold table."""


@dataclass(frozen=True)
class GradeLevel:
    code: str
    deaths: int
    serious_injuries: int
    direct_loss: Decimal


@dataclass(frozen=True)
class GradeResult:
    code: str
    reached_by: tuple[str, ...]  # the criteria that reach this level (empty for the floor reached by none)


def parse_levels(levels: list[dict]) -> tuple[GradeLevel, ...]:
    """The catalogue's levels, checked: highest first, every criterion strictly falling, the floor all zero."""
    if not levels:
        raise GradingError("the grade table is empty")
    parsed = []
    for index, item in enumerate(levels):
        try:
            level = GradeLevel(code=str(item["code"]), deaths=int(item["deaths"]),
                               serious_injuries=int(item["serious_injuries"]),
                               direct_loss=Decimal(str(item["direct_loss"])))
        except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
            raise GradingError(f"grade level {index}: {exc!r}") from None
        if min(level.deaths, level.serious_injuries, level.direct_loss) < 0:
            raise GradingError(f"grade level {index} ({level.code}): thresholds cannot be negative")
        if parsed and not all(getattr(level, c) < getattr(parsed[-1], c) for c in CRITERIA):
            raise GradingError(f"grade level {index} ({level.code}): thresholds must fall below the level above")
        parsed.append(level)
    if any(getattr(parsed[-1], c) for c in CRITERIA):
        raise GradingError(f"the last grade level ({parsed[-1].code}) must be the floor (all thresholds 0)")
    return tuple(parsed)


def check_figures(deaths, serious_injuries, direct_loss) -> tuple[int, int, Decimal]:
    """Whole, non-negative casualty numbers and a finite, non-negative loss; the first bad one is named."""
    for name, value in (("deaths", deaths), ("serious_injuries", serious_injuries)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise GradingError(f"{name} must be a whole number, got {value!r}")
        if value < 0:
            raise GradingError(f"{name} cannot be negative, got {value}")
    try:
        loss = Decimal(str(direct_loss))
    except InvalidOperation:
        raise GradingError(f"direct_loss must be a number, got {direct_loss!r}") from None
    if not loss.is_finite() or loss < 0:
        raise GradingError(f"direct_loss must be a finite, non-negative amount, got {direct_loss!r}")
    return deaths, serious_injuries, loss


def grade(deaths: int, serious_injuries: int, direct_loss, levels: tuple[GradeLevel, ...]) -> GradeResult:
    """The highest level any criterion reaches, and which criteria reach it."""
    figures = dict(zip(CRITERIA, check_figures(deaths, serious_injuries, direct_loss), strict=True))
    for level in levels:
        reached = tuple(c for c in CRITERIA if figures[c] >= getattr(level, c) and getattr(level, c) > 0)
        if reached or level is levels[-1]:
            return GradeResult(level.code, reached)
    raise GradingError("the grade table has no levels")  # unreachable with parse_levels' tables
