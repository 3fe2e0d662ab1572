"""Native Word charts for python-docx: a bar or line chart as a DrawingML chart part
(application/vnd.openxmlformats-officedocument.drawingml.chart+xml) related from the document part and placed as an
inline `c:chart` graphic in a paragraph. The series values are cached in the chart XML (what Word and LibreOffice
draw) and also embedded as a small workbook (what Word's "Edit data" opens), so the chart needs no image library.

`add_chart(document, kind, title, categories, series)`: `series` is [(name, [value or None, …])], one value per
category; a None leaves a gap. `chart_parts(document)` and `cached_series(blob)` read the charts back (tests)."""

import io
from xml.sax.saxutils import escape

from docx.opc.constants import CONTENT_TYPE as CT
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.opc.part import Part
from docx.oxml import parse_xml
from docx.shared import Cm
from lxml import etree
from openpyxl import Workbook
from openpyxl.utils import get_column_letter

BAR, LINE = "bar", "line"
C_NS = "http://schemas.openxmlformats.org/drawingml/2006/chart"
A_NS = "http://schemas.openxmlformats.org/drawingml/2006/main"
R_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
WP_NS = "http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing"
W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
SHEET = "Sheet1"
# Colours of the series in order (the project's chart palette: blue, orange, green, red, purple, grey).
COLOURS = ["4472C4", "ED7D31", "70AD47", "C00000", "7030A0", "7F7F7F"]
FONT = "宋体"


def _number(value) -> str:
    number = float(value)
    return str(int(number)) if number.is_integer() else repr(number)


def _cell(column: int, row: int) -> str:
    return f"{SHEET}!${get_column_letter(column)}${row}"


def _str_cache(values: list[str]) -> str:
    points = "".join(f'<c:pt idx="{i}"><c:v>{escape(str(v))}</c:v></c:pt>' for i, v in enumerate(values))
    return f'<c:strCache><c:ptCount val="{len(values)}"/>{points}</c:strCache>'


def _num_cache(values: list) -> str:
    points = "".join(f'<c:pt idx="{i}"><c:v>{_number(v)}</c:v></c:pt>' for i, v in enumerate(values)
                     if v is not None)
    return f'<c:numCache><c:formatCode>General</c:formatCode><c:ptCount val="{len(values)}"/>{points}</c:numCache>'


def _text(text: str, size: int = 1200, bold: bool = True) -> str:
    return (f'<c:rich><a:bodyPr/><a:lstStyle/><a:p><a:pPr><a:defRPr sz="{size}" b="{int(bold)}"/></a:pPr>'
            f'<a:r><a:rPr lang="zh-CN" sz="{size}" b="{int(bold)}"><a:latin typeface="{FONT}"/>'
            f'<a:ea typeface="{FONT}"/></a:rPr><a:t>{escape(text)}</a:t></a:r></a:p></c:rich>')


def _series(kind: str, index: int, name: str, categories: list[str], values: list) -> str:
    rows = len(categories) + 1
    colour = COLOURS[index % len(COLOURS)]
    if kind == LINE:
        look = (f'<c:spPr><a:ln w="28575"><a:solidFill><a:srgbClr val="{colour}"/></a:solidFill></a:ln></c:spPr>'
                f'<c:marker><c:symbol val="circle"/><c:size val="5"/></c:marker>')
    else:
        look = f'<c:spPr><a:solidFill><a:srgbClr val="{colour}"/></a:solidFill></c:spPr><c:invertIfNegative val="0"/>'
    column = index + 2
    labels = '<c:dLbls><c:showLegendKey val="0"/><c:showVal val="1"/><c:showCatName val="0"/>' \
             '<c:showSerName val="0"/><c:showPercent val="0"/><c:showBubbleSize val="0"/></c:dLbls>' \
        if kind == BAR and len(categories) <= 14 else ""
    smooth = '<c:smooth val="0"/>' if kind == LINE else ""
    return (f'<c:ser><c:idx val="{index}"/><c:order val="{index}"/>'
            f'<c:tx><c:strRef><c:f>{_cell(column, 1)}</c:f>{_str_cache([name])}</c:strRef></c:tx>{look}{labels}'
            f'<c:cat><c:strRef><c:f>{_cell(1, 2)}:{_cell(1, rows)}</c:f>{_str_cache(categories)}</c:strRef></c:cat>'
            f'<c:val><c:numRef><c:f>{_cell(column, 2)}:{_cell(column, rows)}</c:f>{_num_cache(values)}</c:numRef>'
            f'</c:val>{smooth}</c:ser>')


def chart_xml(kind: str, title: str, categories: list[str], series: list[tuple[str, list]]) -> bytes:
    """The chart part's XML: one bar (clustered columns) or line chart with a category and a value axis."""
    if kind not in (BAR, LINE):
        raise ValueError(f"unknown chart kind {kind!r}")
    for name, values in series:
        if len(values) != len(categories):
            raise ValueError(f"series {name!r} has {len(values)} values for {len(categories)} categories")
    body = "".join(_series(kind, i, name, categories, values) for i, (name, values) in enumerate(series))
    if kind == BAR:
        plot = (f'<c:barChart><c:barDir val="col"/><c:grouping val="clustered"/><c:varyColors val="0"/>{body}'
                f'<c:gapWidth val="80"/><c:axId val="5001"/><c:axId val="5002"/></c:barChart>')
    else:
        plot = (f'<c:lineChart><c:grouping val="standard"/><c:varyColors val="0"/>{body}<c:marker val="1"/>'
                f'<c:axId val="5001"/><c:axId val="5002"/></c:lineChart>')
    small = f'<c:txPr><a:bodyPr/><a:lstStyle/><a:p><a:pPr><a:defRPr sz="900"><a:latin typeface="{FONT}"/>' \
            f'<a:ea typeface="{FONT}"/></a:defRPr></a:pPr><a:endParaRPr lang="zh-CN"/></a:p></c:txPr>'
    axes = (f'<c:catAx><c:axId val="5001"/><c:scaling><c:orientation val="minMax"/></c:scaling><c:delete val="0"/>'
            f'<c:axPos val="b"/><c:numFmt formatCode="General" sourceLinked="0"/><c:majorTickMark val="out"/>'
            f'<c:minorTickMark val="none"/><c:tickLblPos val="nextTo"/>{small}<c:crossAx val="5002"/>'
            f'<c:crosses val="autoZero"/><c:auto val="1"/><c:lblAlgn val="ctr"/><c:lblOffset val="100"/>'
            f'<c:noMultiLvlLbl val="0"/></c:catAx>'
            f'<c:valAx><c:axId val="5002"/><c:scaling><c:orientation val="minMax"/></c:scaling><c:delete val="0"/>'
            f'<c:axPos val="l"/><c:majorGridlines/><c:numFmt formatCode="General" sourceLinked="1"/>'
            f'<c:majorTickMark val="out"/><c:minorTickMark val="none"/><c:tickLblPos val="nextTo"/>{small}'
            f'<c:crossAx val="5001"/><c:crosses val="autoZero"/><c:crossBetween val="between"/></c:valAx>')
    xml = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
           f'<c:chartSpace xmlns:c="{C_NS}" xmlns:a="{A_NS}" xmlns:r="{R_NS}">'
           f'<c:date1904 val="0"/><c:lang val="zh-CN"/><c:roundedCorners val="0"/>'
           f'<c:chart><c:title><c:tx>{_text(title)}</c:tx><c:overlay val="0"/></c:title>'
           f'<c:autoTitleDeleted val="0"/><c:plotArea><c:layout/>{plot}{axes}</c:plotArea>'
           f'<c:legend><c:legendPos val="b"/><c:overlay val="0"/>{small}</c:legend><c:plotVisOnly val="1"/>'
           f'<c:dispBlanksAs val="gap"/></c:chart>'
           f'<c:externalData r:id="rId1"><c:autoUpdate val="0"/></c:externalData></c:chartSpace>')
    etree.fromstring(xml.encode())  # well-formed, or fail here rather than in Word
    return xml.encode()


def chart_workbook(categories: list[str], series: list[tuple[str, list]]) -> bytes:
    """The chart's data as the embedded workbook its formulas point at (Sheet1: categories in A, a series a column)."""
    wb = Workbook()
    ws = wb.active
    ws.title = SHEET
    ws.append(["", *[name for name, _values in series]])
    for i, category in enumerate(categories):
        ws.append([category, *[values[i] for _name, values in series]])
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def add_chart(document, kind: str, title: str, categories: list[str], series: list[tuple[str, list]], *,
              width_cm: float = 16, height_cm: float = 8.5):
    """Append a paragraph holding the chart to `document` (python-docx Document); returns the chart part."""
    categories = [str(c) for c in categories]
    package = document.part.package
    chart_part = Part(package.next_partname("/word/charts/chart%d.xml"), CT.DML_CHART,
                      chart_xml(kind, title, categories, series), package)
    embedded = Part(package.next_partname("/word/embeddings/Microsoft_Excel_Worksheet%d.xlsx"), CT.SML_SHEET,
                    chart_workbook(categories, series), package)
    chart_part.relate_to(embedded, RT.PACKAGE)  # rId1, named in c:externalData
    rel_id = document.part.relate_to(chart_part, RT.CHART)
    paragraph = document.add_paragraph()
    shape_id = document.part.next_id
    cx, cy = int(Cm(width_cm)), int(Cm(height_cm))
    drawing = parse_xml(
        f'<w:drawing xmlns:w="{W_NS}" xmlns:wp="{WP_NS}" xmlns:a="{A_NS}" xmlns:c="{C_NS}" xmlns:r="{R_NS}">'
        f'<wp:inline distT="0" distB="0" distL="0" distR="0"><wp:extent cx="{cx}" cy="{cy}"/>'
        f'<wp:effectExtent l="0" t="0" r="0" b="0"/><wp:docPr id="{shape_id}" name="Chart {shape_id}" '
        f'descr="{escape(title, {chr(34): "&quot;"})}"/><wp:cNvGraphicFramePr/>'
        f'<a:graphic><a:graphicData uri="{C_NS}"><c:chart r:id="{rel_id}"/></a:graphicData></a:graphic>'
        f'</wp:inline></w:drawing>')
    paragraph.add_run()._r.append(drawing)
    return chart_part


# Reading back ------------------------------------------------------------------------------------
def chart_parts(document) -> list:
    """The chart parts the document part relates to, in the order of their relationship ids' numbers."""
    rels = [r for r in document.part.rels.values() if r.reltype == RT.CHART]
    rels.sort(key=lambda r: int("".join(ch for ch in r.rId if ch.isdigit()) or 0))
    return [r.target_part for r in rels]


def cached_series(blob: bytes) -> dict:
    """A chart part's kind, title, cached categories and series values ({name: [value or None, …]})."""
    root = etree.fromstring(blob)
    ns = {"c": C_NS, "a": A_NS}
    kind = BAR if root.find(".//c:barChart", ns) is not None else LINE if root.find(".//c:lineChart", ns) \
        is not None else None
    title = "".join(root.xpath(".//c:title//a:t/text()", namespaces=ns))
    categories: list[str] = []
    series: dict[str, list] = {}
    for ser in root.iterfind(".//c:ser", ns):
        name = "".join(ser.xpath("./c:tx//c:v/text()", namespaces=ns))
        categories = [v for v in ser.xpath("./c:cat//c:pt/c:v/text()", namespaces=ns)]
        count = int(ser.find("./c:val//c:ptCount", ns).get("val"))
        values: list = [None] * count
        for point in ser.iterfind("./c:val//c:pt", ns):
            values[int(point.get("idx"))] = float(point.find("c:v", ns).text)
        series[name] = values
    return {"kind": kind, "title": title, "categories": categories, "series": series}
