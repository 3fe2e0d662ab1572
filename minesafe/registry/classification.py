"""Derived classifications from the active reference catalogues: scale class and tailings-pond grade.

Pure functions over catalogue data (dicts loaded from YAML), so an administrator's edited version
applies without a code change.
"""

from decimal import Decimal

UNDERGROUND_SUFFIX = "(地下)"
OPEN_PIT_SUFFIX = "(露天)"


def scale_row(catalogue: dict, mineral: str, mine_type: str) -> dict | None:
    """The scale-table row for a mineral, using the underground/open-pit row where the table splits."""
    mineral = (mineral or "").strip()
    if not mineral:
        return None
    suffix = UNDERGROUND_SUFFIX if mine_type == "underground" else OPEN_PIT_SUFFIX
    rows = {row["zh"]: row for row in catalogue.get("minerals", [])}
    return rows.get(mineral) or rows.get(mineral + suffix)


def scale_class(catalogue: dict, mineral: str, mine_type: str, capacity: Decimal | None) -> str | None:
    """large / medium / small from design capacity, or None when the table cannot say.

    Boundaries as the catalogue notes: large >= large_min; medium_min <= medium < large_min.
    """
    mineral = (mineral or "").strip()
    if any(mineral and entry.startswith(mineral) for entry in catalogue.get("always_small", [])):
        return "small"
    row = scale_row(catalogue, mineral, mine_type)
    if row is None or capacity is None or row.get("large_min") is None or row.get("medium_min") is None:
        return None
    if capacity >= Decimal(str(row["large_min"])):
        return "large"
    if capacity >= Decimal(str(row["medium_min"])):
        return "medium"
    return "small"


def _grade_table(catalogue: dict, table_id: str | None = None) -> tuple[list[dict], dict[int, dict]]:
    tables = {t["id"]: t for t in catalogue["grade_tables"]}
    if table_id is None:
        table_id = next(t["id"] for t in catalogue["grade_tables"] if t.get("status") == "current")
    legacy = next(t for t in catalogue["grade_tables"] if t.get("status") == "legacy")
    legacy_rows = {g["grade"]: g for g in legacy["grades"]}
    rows = []
    for g in tables[table_id]["grades"]:
        rows.append(legacy_rows[g["grade"]] | {"grade": g["grade"]} if g.get("same_as_legacy") else g)
    return rows, legacy_rows


def _grade_for(rows: list[dict], value: Decimal, quantity: str) -> int | None:
    """The highest grade (lowest number) whose [min, max) range for `quantity` holds the value."""
    for row in sorted(rows, key=lambda r: r["grade"]):
        lo, hi = row.get(f"{quantity}_min"), row.get(f"{quantity}_max_excl")
        if lo is None and hi is None:
            continue  # a rule-only grade (legacy grade 1)
        if (lo is None or value >= Decimal(str(lo))) and (hi is None or value < Decimal(str(hi))):
            return row["grade"]
    return None


def pond_grade(catalogue: dict, capacity: Decimal | None, dam_height: Decimal | None,
               raised: bool = False, damless: bool = False) -> int | None:
    """Tailings-pond grade (1 highest … 5) by the combination rule of GB 50863 §3.2.1.

    Grades by capacity and by height differing by at most one: take the higher; by more: the higher
    lowered by one. A reviewed raise lifts any grade but 1 by one. A damless pit may stay ungraded.
    """
    if damless or capacity is None or dam_height is None:
        return None
    rows, _ = _grade_table(catalogue)
    g_v = _grade_for(rows, capacity, "capacity")
    g_h = _grade_for(rows, dam_height, "height")
    if g_v is None or g_h is None:
        return None
    grade = min(g_v, g_h) if abs(g_v - g_h) <= 1 else min(g_v, g_h) + 1
    if raised and grade > 1:
        grade -= 1
    return grade
