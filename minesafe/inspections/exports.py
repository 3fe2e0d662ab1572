"""CSV and Excel exports of inspection lists (the caller passes a queryset already scoped and filtered, annotated
with `finding_count` and `major_count` as views.listed does)."""

import csv
import io

from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook

from minesafe.registry.excel import XLSX_CONTENT_TYPE, safe_cell

__all__ = ["XLSX_CONTENT_TYPE", "as_csv", "as_xlsx"]


def header() -> list[str]:
    return [_("Number"), _("County"), _("Mine"), _("Mine code"), _("Inspecting body"), _("Method"), _("Date"),
            _("Status"), _("Lead inspector"), _("Findings"), _("Major hazards"), _("Completed")]


def cells(inspection) -> list:
    completed = timezone.localtime(inspection.completed_at).strftime("%Y-%m-%d %H:%M") \
        if inspection.completed_at else ""
    return [inspection.number, inspection.mine.county.name_zh, inspection.mine.name, inspection.mine.code,
            inspection.organisation.name, inspection.get_method_display(), inspection.inspected_on.isoformat(),
            inspection.get_status_display(), str(inspection.lead_inspector),
            getattr(inspection, "finding_count", 0), getattr(inspection, "major_count", 0), completed]


def as_csv(inspections) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header())
    for inspection in inspections.iterator(chunk_size=2000):
        writer.writerow([safe_cell(v) for v in cells(inspection)])
    return "\ufeff" + buffer.getvalue()  # Excel reads UTF-8 with the BOM


def as_xlsx(inspections) -> bytes:
    wb = Workbook(write_only=True)
    sheet = wb.create_sheet(_("Inspections"))
    sheet.append(header())
    for inspection in inspections.iterator(chunk_size=2000):
        sheet.append([safe_cell(v) for v in cells(inspection)])
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()
