"""The formal reports as files: the monthly statistics as an Excel workbook (a sheet per section, each headed by
the period, the time of generation, the scope and what it counted, with native charts) and the quarterly
assessment, the half-year notice and the year-end summary as Word documents (headings, tables, native charts via
docx_charts, the counting notes). Every file ends with the parameters it was generated from."""

import datetime as dt
import io
import json
from decimal import Decimal

from django.utils import timezone
from django.utils.translation import gettext as _
from docx import Document as WordDocument
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Pt
from openpyxl import Workbook
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from minesafe.registry.excel import safe_cell

from . import docx_charts
from .formal import Report, Section
from .models import FormalReport

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
FONT = "宋体"
# Each section sheet: rows 1-5 the heading (title, period, scope, generated at, counted), row 6 blank, row 7 the
# column heads, the data from row 8.
HEAD_ROW = 7
SHEET_NAME_FORBIDDEN = str.maketrans({c: " " for c in "[]:*?/\\"})


def _local(moment: dt.datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


def period_text(report: Report) -> str:
    text = f"{report.period.start:%Y-%m-%d} – {report.period.end:%Y-%m-%d} ({report.period.label})"
    if report.until < report.period.end:
        text += " " + _("counted up to %(d)s") % {"d": report.until}
    return text


def heading_lines(report: Report) -> list[tuple[str, str]]:
    return [(_("Period"), period_text(report)), (_("Scope"), report.scope_name),
            (_("Generated at"), f"{_local(report.generated_at)} · {report.generated_by}")]


# Excel -------------------------------------------------------------------------------------------
def _sheet_title(section: Section, used: set[str]) -> str:
    base = section.title.translate(SHEET_NAME_FORBIDDEN)[:28].strip() or section.key
    title, n = base, 1
    while title in used:
        n += 1
        title = f"{base[:26]}{n}"
    used.add(title)
    return title


def _xlsx_value(value):
    if isinstance(value, Decimal):
        return float(value)
    return safe_cell(value)


def _section_sheet(wb: Workbook, report: Report, section: Section, title: str) -> None:
    ws = wb.create_sheet(title)
    ws.append([f"{report.title} — {section.title}"])
    ws["A1"].font = Font(bold=True, size=13)
    for label, value in heading_lines(report):
        ws.append([label, safe_cell(value)])
    ws.append([_("Counted"), safe_cell(section.counted)])
    ws.cell(5, 2).alignment = Alignment(wrap_text=True, vertical="top")
    ws.append([])
    ws.append(section.columns)
    for cell in ws[HEAD_ROW]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for row in section.rows:
        ws.append([_xlsx_value(v) for v in row])
    for i in range(len(section.rows) - section.total_rows, len(section.rows)):
        for cell in ws[HEAD_ROW + 1 + i]:
            cell.font = Font(bold=True)
    for index, column in enumerate(section.columns, start=1):
        longest = max([len(str(column))] + [len(str(r[index - 1])) for r in section.rows if r[index - 1] is not None])
        ws.column_dimensions[get_column_letter(index)].width = min(60, max(8, longest + 2))
    ws.column_dimensions["B"].width = max(ws.column_dimensions["B"].width, 40)
    ws.row_dimensions[5].height = 15 * min(8, 1 + len(section.counted) // 60)
    if section.chart is not None and section.chart.row_count:
        _xlsx_chart(ws, section)


def _xlsx_chart(ws, section: Section) -> None:
    chart_spec = section.chart
    chart = BarChart() if chart_spec.kind == docx_charts.BAR else LineChart()
    if chart_spec.kind == docx_charts.BAR:
        chart.type = "col"
    chart.title = chart_spec.title
    chart.height, chart.width = 8, 16
    first, last = HEAD_ROW + 1, HEAD_ROW + chart_spec.row_count
    for column in chart_spec.value_columns:
        chart.add_data(Reference(ws, min_col=column + 1, min_row=HEAD_ROW, max_row=last), titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=chart_spec.category_column + 1, min_row=first, max_row=last))
    ws.add_chart(chart, f"{get_column_letter(len(section.columns) + 2)}{HEAD_ROW}")


def _about_sheet(wb: Workbook, report: Report, titles: list[str]) -> None:
    ws = wb.active
    ws.title = _("About")[:31]
    ws.append([report.title])
    ws["A1"].font = Font(bold=True, size=14)
    for label, value in heading_lines(report):
        ws.append([label, safe_cell(value)])
    ws.append([])
    ws.append([_("Sheet"), _("What it counts")])
    for cell in ws[ws.max_row]:
        cell.font = Font(bold=True)
    for title, section in zip(titles, report.sections, strict=True):
        ws.append([title, safe_cell(section.counted)])
        ws.cell(ws.max_row, 2).alignment = Alignment(wrap_text=True, vertical="top")
    ws.append([])
    ws.append([_("Parameters"), safe_cell(json.dumps(report.parameters, ensure_ascii=False, sort_keys=True))])
    ws.cell(ws.max_row, 2).alignment = Alignment(wrap_text=True, vertical="top")
    ws.append([_("Record"), _("The platform stores this file with its SHA-256 when it is generated; the stored copy "
                              "is the record of what was sent.")])
    ws.column_dimensions["A"].width = 28
    ws.column_dimensions["B"].width = 110


def monthly_workbook(report: Report) -> bytes:
    wb = Workbook()
    used = {_("About")[:31]}
    titles = [_sheet_title(s, used) for s in report.sections]
    _about_sheet(wb, report, titles)
    for title, section in zip(titles, report.sections, strict=True):
        _section_sheet(wb, report, section, title)
    wb.properties.title = report.title[:250]
    wb.properties.creator = report.generated_by[:250]
    wb.properties.created = wb.properties.modified = timezone.localtime(report.generated_at).replace(tzinfo=None)
    wb.properties.description = json.dumps(report.parameters, ensure_ascii=False, sort_keys=True)[:2000]
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


# Word --------------------------------------------------------------------------------------------
def _font(run, size: float | None = None, bold: bool = False, italic: bool = False):
    if size:
        run.font.size = Pt(size)
    run.bold, run.italic = bold or None, italic or None
    run.font.name = FONT
    run.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), FONT)
    return run


def _para(doc, text: str = "", *, size: float | None = None, bold: bool = False, italic: bool = False,
          align=None):
    paragraph = doc.add_paragraph()
    if align is not None:
        paragraph.alignment = align
    if text:
        _font(paragraph.add_run(text), size, bold, italic)
    return paragraph


def cell_text(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    if isinstance(value, float):
        return f"{value:g}" if value == round(value, 2) else f"{value:.2f}"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _table(doc, columns: list[str], rows: list[list], total_rows: int = 0) -> None:
    """A grid table: the heads in bold, then the rows (the last `total_rows` in bold). The table is made at its full
    size and its cells read once (python-docx looks each row up again on every add_row). Runs take the East Asian
    font from the Normal style."""
    table = doc.add_table(rows=len(rows) + 1, cols=len(columns))
    table.style = "Table Grid"
    cells = table._cells
    size = Pt(9)
    width = len(columns)
    for index, row in enumerate([columns, *[[cell_text(v) for v in r] for r in rows]]):
        bold = index == 0 or index > len(rows) - total_rows
        for cell, text in zip(cells[index * width:(index + 1) * width], row, strict=True):
            run = cell.paragraphs[0].add_run(str(text))
            run.font.size = size
            if bold:
                run.bold = True


def _heading(doc, text: str, level: int):
    heading = doc.add_heading(level=level)
    _font(heading.add_run(text))
    return heading


def word_document(report: Report) -> bytes:
    """A Word document of the report: title, period, scope, summary, a heading per section with what it counted,
    its table and its chart, and the parameters."""
    doc = WordDocument()
    normal = doc.styles["Normal"]
    normal.font.name = FONT
    normal.font.size = Pt(11)
    normal.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), FONT)
    props = doc.core_properties
    props.title = report.title[:250]
    props.subject = str(FormalReport.Kind(report.kind).label)
    props.author = props.last_modified_by = report.generated_by[:250]
    props.created = props.modified = report.generated_at.astimezone(dt.UTC)
    props.identifier = f"{report.kind}:{report.period.label}:{report.parameters.get('scope', '')}"
    props.keywords = f"sha256-recorded-at-generation; catalogues {report.parameters.get('catalogues', {})}"[:255]
    title = doc.add_heading(level=0)
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _font(title.add_run(report.title), 18, bold=True)
    for label, value in heading_lines(report):
        _para(doc, f"{label}: {value}")
    for line in report.summary:
        _para(doc, line, bold=True)
    for number, section in enumerate(report.sections, start=1):
        _heading(doc, f"{number}. {section.title}", 1)
        _para(doc, _("What was counted: %(c)s") % {"c": section.counted}, size=9, italic=True)
        if section.rows:
            _table(doc, section.columns, section.rows, section.total_rows)
        else:
            _para(doc, _("Nothing to report in the period (0 records)."))
        if section.chart is not None and section.chart.row_count:
            categories, series = section.chart_data()
            docx_charts.add_chart(doc, section.chart.kind, section.chart.title, categories, series)
    _heading(doc, _("Parameters of this report"), 1)
    _table(doc, [_("Parameter"), _("Value")], [[k, json.dumps(v, ensure_ascii=False) if isinstance(v, dict | list)
                                                else v] for k, v in sorted(report.parameters.items())])
    _para(doc, _("The platform stores this file with its SHA-256 when it is generated; the stored copy is the record "
                 "of what was sent."), size=9, italic=True)
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()


def quarterly_assessment_docx(report: Report) -> bytes:
    return word_document(report)


def half_year_notice_docx(report: Report) -> bytes:
    return word_document(report)


def year_end_summary_docx(report: Report) -> bytes:
    return word_document(report)


K = FormalReport.Kind
RENDERERS = {K.MONTHLY: (monthly_workbook, "xlsx", XLSX), K.QUARTERLY: (quarterly_assessment_docx, "docx", DOCX),
             K.HALF_YEAR: (half_year_notice_docx, "docx", DOCX), K.YEAR_END: (year_end_summary_docx, "docx", DOCX)}


def render(report: Report) -> tuple[bytes, str, str]:
    """The file of a report: (bytes, extension, content type)."""
    renderer, extension, content_type = RENDERERS[report.kind]
    return renderer(report), extension, content_type


def content_type(name: str) -> str:
    return XLSX if name.endswith(".xlsx") else DOCX
