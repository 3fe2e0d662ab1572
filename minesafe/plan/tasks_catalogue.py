"""The plan's 32 tasks and their responsible units, synced from the active "action_plan" catalogue (run by
bootstrap_reference_data; idempotent). Unit codes resolve to organisations: YJ the city bureau, the
department codes their departments, COUNTY every county-level government except the development zone's,
GXQ the development zone's administrative committee."""

import datetime as dt

from django.db import transaction

from minesafe.core.models import Organisation, Region
from minesafe.core.services import active_catalogue

from .models import PlanTask, TaskUnit


def unit_organisations(code: str) -> list[Organisation]:
    orgs = Organisation.objects.select_related("region")
    if code == "YJ":
        return list(orgs.filter(kind=Organisation.Kind.CITY_BUREAU))
    if code == "COUNTY":
        return list(orgs.filter(kind=Organisation.Kind.COUNTY).exclude(region__kind=Region.Kind.DEVELOPMENT_ZONE)
                    .order_by("region__code"))
    if code == "GXQ":
        return list(orgs.filter(kind=Organisation.Kind.COUNTY, region__kind=Region.Kind.DEVELOPMENT_ZONE))
    return list(orgs.filter(kind=Organisation.Kind.DEPARTMENT, unit_code=code))


def sync_tasks() -> int:
    """Create or update every task and its units; returns the number of tasks."""
    plan = active_catalogue("action_plan")
    groups = {t: g for g in plan.get("task_groups", []) for t in g["tasks"]}
    targets: dict[int, list] = {}
    for target in plan.get("targets", []):
        targets.setdefault(int(target["task"]), []).append(target)
    with transaction.atomic():
        for row in plan.get("tasks", []):
            number = int(row["number"])
            deadline = (row.get("deadline") or {}).get("date")
            group = groups.get(number, {"group": 0, "en": ""})
            task, _ = PlanTask.objects.update_or_create(number=number, defaults={
                "group": group["group"], "group_title": group["en"], "title_zh": row["zh"], "title_en": row["en"],
                "summary_en": row.get("summary_en", ""),
                "deadline": dt.date.fromisoformat(str(deadline)) if deadline else None,
                "ongoing": bool((row.get("deadline") or {}).get("ongoing")), "targets": targets.get(number, [])})
            first = True
            for code in row.get("units", []):
                for organisation in unit_organisations(code):
                    unit, created = TaskUnit.objects.get_or_create(
                        task=task, organisation=organisation, defaults={"unit_code": code, "lead": first})
                    if not created and (unit.unit_code, unit.lead) != (code, first):
                        unit.unit_code, unit.lead = code, first
                        unit.save(update_fields=["unit_code", "lead"])
                first = False
    return PlanTask.objects.count()
