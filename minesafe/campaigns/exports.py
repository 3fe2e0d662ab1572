"""CSV and Excel exports of campaign sites and publicity events (the caller passes querysets already scoped and
filtered). Text cells are neutralised against formula injection."""

import csv
import io

from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook

from minesafe.registry.excel import XLSX_CONTENT_TYPE, safe_cell

__all__ = ["XLSX_CONTENT_TYPE", "as_csv", "as_xlsx", "site_table", "event_table"]


def _when(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""


def site_table(sites, visible_inspections, today=None) -> tuple[list[str], list[list]]:
    """One row per site; the inspections column lists the numbers of the visits the reader may see."""
    today = today or timezone.localdate()
    header = [_("Campaign"), _("County"), _("Mine"), _("Mine code"), _("Enterprise"), _("Assigned to"), _("Status"),
              _("Overdue"), _("Inspections"), _("Findings"), _("Findings open"), _("Done or exempt at"),
              _("Reason for exemption"), _("Reason left open at closing")]
    seen = {}
    for site_id, number in visible_inspections.values_list("campaign_visit__site_id", "number"):
        seen.setdefault(site_id, []).append(number)
    rows = []
    for site in sites:
        rows.append([site.campaign.code, site.mine.county.name_zh, site.mine.name, site.mine.code,
                     site.mine.enterprise.name, site.assigned_organisation.name, site.get_status_display(),
                     _("yes") if site.is_overdue(today) else "", " ".join(seen.get(site.pk, [])),
                     site.findings_count, site.open_findings, _when(site.closed_at), site.exempt_reason,
                     site.unfinished_reason])
    return header, rows


def event_table(events) -> tuple[list[str], list[list]]:
    header = [_("Held on"), _("County"), _("Organiser"), _("Kind"), _("Title"), _("Place"), _("Audience"),
              _("People reached"), _("Online views"), _("Evidence files")]
    rows = [[e.held_on.isoformat(), e.county.name_zh if e.county_id else _("city-wide"), e.organiser.name,
             e.get_kind_display(), e.title, e.place, e.get_audience_display(), e.reach,
             "" if e.online_views is None else e.online_views, getattr(e, "evidence_count", 0)] for e in events]
    return header, rows


def as_csv(table: tuple[list[str], list[list]]) -> str:
    header, rows = table
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
    return "\ufeff" + buffer.getvalue()  # Excel reads UTF-8 with the BOM


def as_xlsx(table: tuple[list[str], list[list]], sheet_name: str) -> bytes:
    header, rows = table
    wb = Workbook(write_only=True)
    sheet = wb.create_sheet(sheet_name[:31])
    sheet.append(header)
    for row in rows:
        sheet.append([safe_cell(v) for v in row])
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()
