"""Exports of the third-party lists as CSV (UTF-8 with a byte-order mark, so Excel keeps the Chinese) or
Excel. Each list has one column table; the firm list has a public one for readers who see public fields only.
Text cells are neutralised against formula injection (registry.excel.safe_cell); times are local."""

import csv
import datetime as dt
import io
from collections.abc import Callable, Iterable

from django.http import HttpResponse, StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from openpyxl import Workbook

from minesafe.registry.api import xlsx_response
from minesafe.registry.excel import safe_cell

Column = tuple[object, Callable[[object], object]]
FORMATS = ("csv", "xlsx")


def _plain(value):
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).replace(tzinfo=None)
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        value = "、".join(str(v) for v in value)
    return value if isinstance(value, int | float | dt.date) else safe_cell(str(value))


def rows(columns: list[Column], objects: Iterable) -> Iterable[list]:
    for obj in objects:
        yield [_plain(value(obj)) for _heading, value in columns]


class _Line:
    """A file-like object whose write returns what was written (csv.writer into a streamed response)."""

    def write(self, value):
        return value


def csv_response(columns: list[Column], objects: Iterable, filename: str) -> StreamingHttpResponse:
    writer = csv.writer(_Line())

    def lines():
        yield "\ufeff" + writer.writerow([str(heading) for heading, _value in columns])
        for row in rows(columns, objects):
            yield writer.writerow([v.strftime("%Y-%m-%d %H:%M") if isinstance(v, dt.datetime)
                                   else v.isoformat() if isinstance(v, dt.date) else v for v in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    return response


def workbook(title: str, columns: list[Column], objects: Iterable) -> bytes:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title[:31])
    ws.append([str(heading) for heading, _value in columns])
    for row in rows(columns, objects):
        ws.append(row)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def export(fmt: str, title: str, columns: list[Column], objects: Iterable, filename: str) -> HttpResponse:
    if fmt == "csv":
        return csv_response(columns, objects, filename)
    return xlsx_response(workbook(title, columns, objects), f"{filename}.xlsx")


def _label(choices):
    return lambda value: str(choices(value).label) if value else ""


# Column tables -----------------------------------------------------------------------------------
FIRM_PUBLIC: list[Column] = [
    (_("Name"), lambda f: f.name),
    (_("Unified social credit code"), lambda f: f.credit_code),
    (_("Kinds of service"), lambda f: f.kind_labels),
    (_("Address"), lambda f: f.address),
    (_("Contact person"), lambda f: f.contact_person),
    (_("Contact phone"), lambda f: f.contact_phone),
]
FIRM_FULL: list[Column] = FIRM_PUBLIC + [
    (_("Status"), lambda f: f.get_status_display()),
    (_("Status since"), lambda f: f.status_since),
    (_("Reason for the status"), lambda f: f.status_reason),
    (_("Listed until"), lambda f: f.blacklisted_until),
]
# For readers who see engagements: the firm's footprint in their scope.
FIRM_COUNT: list[Column] = [(_("Engagements"), lambda f: f.engagement_count)]
QUALIFICATION: list[Column] = [
    (_("Firm"), lambda q: q.firm.name),
    (_("Unified social credit code"), lambda q: q.firm.credit_code),
    (_("Kind of service"), lambda q: q.get_kind_display()),
    (_("Certificate number"), lambda q: q.certificate_number),
    (_("Issuing authority"), lambda q: q.issuing_authority),
    (_("Valid from"), lambda q: q.valid_from),
    (_("Valid to"), lambda q: q.valid_to),
    (_("List"), lambda q: q.list_label),
]
ENGAGEMENT: list[Column] = [
    (_("County"), lambda e: e.mine.county.name_zh),
    (_("Mine"), lambda e: e.mine.name),
    (_("Firm"), lambda e: e.firm.name),
    (_("Service"), lambda e: e.get_kind_display()),
    (_("Engaged on"), lambda e: e.engaged_on),
    (_("Report or deliverable"), lambda e: e.report_title),
    (_("Report number"), lambda e: e.report_number),
    (_("Report date"), lambda e: e.report_date),
    (_("Qualification relied on"), lambda e: e.qualification.certificate_number),
]
CHECK: list[Column] = [
    (_("Checked on"), lambda c: c.checked_on),
    (_("County"), lambda c: c.engagement.mine.county.name_zh),
    (_("Mine"), lambda c: c.engagement.mine.name),
    (_("Firm"), lambda c: c.engagement.firm.name),
    (_("Report or deliverable"), lambda c: c.engagement.report_title),
    (_("Checked by"), lambda c: c.checkers),
    (_("Result"), lambda c: c.get_result_display()),
    (_("Findings"), lambda c: c.findings),
    (_("Follow-up due"), lambda c: c.follow_up_due),
    (_("Status"), lambda c: c.get_status_display()),
    (_("Followed up on"), lambda c: c.followed_up_on),
    (_("Published at"), lambda c: c.published_at),
]
CASE: list[Column] = [
    (_("Case number"), lambda c: c.number),
    (_("Firm"), lambda c: c.firm.name),
    (_("Source"), lambda c: c.get_source_display()),
    (_("What was falsified"), lambda c: c.falsified_labels),
    (_("Mines affected"), lambda c: c.shown_mines),
    (_("Status"), lambda c: c.get_status_display()),
    (_("Opened on"), lambda c: c.opened_on),
    (_("Confirmed on"), lambda c: c.confirmed_on),
    (_("Actions"), lambda c: c.action_labels),
    (_("Decided on"), lambda c: c.decided_on),
    (_("Published summary"), lambda c: c.public_summary),
]
