"""Enforcement documents as Word files: the order to rectify within a deadline (责令限期整改指令书) listing the
findings and their deadlines, and the on-site decision (现场处理措施决定书) for major hazards, e.g. a suspension
of production.

Each document gets the next number of its issuing body, kind and year, is rendered once, and is stored with its
SHA-256; issuing again makes a new document with a new number and leaves the stored ones as they are. What the
document says is also kept as data (`content`), so the record does not depend on the file.
"""

import datetime as dt
import hashlib
import io

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _
from docx import Document as WordDocument
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Pt

from minesafe.core import audit, notify
from minesafe.core.errors import DomainError
from minesafe.core.models import AuditEvent, Organisation, User
from minesafe.core.rows import locked_row

from . import services
from .models import Document, Finding, Inspection

K = Document.Kind
DOCX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
FONT = "宋体"


def settings_for(kind: str) -> dict:
    return services.catalogue()["documents"][kind]


def measure_choices() -> list[tuple[str, str]]:
    return list(settings_for(K.ONSITE_DECISION)["measures"].items())


# Endings dropped from a county's name in a document number (宽城满族自治县 -> 宽城), longest first.
NAME_ENDINGS = ("满族蒙古族自治县", "满族自治县", "自治县", "矿区", "县", "区", "市")


def short_name(region) -> str:
    if region.short_zh:
        return region.short_zh
    for ending in NAME_ENDINGS:
        if region.name_zh.endswith(ending) and len(region.name_zh) > len(ending) + 1:
            return region.name_zh[:-len(ending)]
    return region.name_zh


def number_prefix(organisation: Organisation) -> str:
    data = services.catalogue()["documents"]
    if organisation.kind == Organisation.Kind.COUNTY:
        return f"{short_name(organisation.region)}{data['county_prefix_suffix']}"
    return data["city_prefix"]


def format_number(organisation: Organisation, kind: str, year: int, serial: int) -> str:
    data = services.catalogue()["documents"]
    return data["number_format"].format(prefix=number_prefix(organisation), abbr=settings_for(kind)["abbr"],
                                        year=year, serial=serial)


def may_issue(user, inspection: Inspection) -> bool:
    return services.may_work(user, inspection) and inspection.status in (Inspection.Status.IN_PROGRESS,
                                                                         Inspection.Status.COMPLETED)


def _finding_rows(findings: list[Finding]) -> list[dict]:
    return [{"no": i, "description": f.description, "major": f.major,
             "item": f.hazard_item.code if f.hazard_item_id else (f.item.code if f.item_id else ""),
             "hazard": f.hazard.number if f.hazard_id else "", "deadline": f.deadline.isoformat()}
            for i, f in enumerate(findings, 1)]


def build_content(inspection: Inspection, kind: str, number: str, issued_on: dt.date, *,
                  measures: list[str] = (), details: str = "", findings: list[Finding]) -> dict:
    conf = settings_for(kind)
    mine = inspection.mine
    content = {
        "title": conf["title_zh"], "number": number, "issuer": inspection.organisation.name,
        "addressee": mine.enterprise.name, "mine": mine.name, "mine_code": mine.code,
        "address": mine.address, "inspection": inspection.number, "inspected_on": inspection.inspected_on.isoformat(),
        "method": inspection.get_method_display(), "lead_inspector": str(inspection.lead_inspector),
        "team": inspection.team, "legal_basis": conf["legal_basis"], "closing": conf["closing_zh"],
        "issued_on": issued_on.isoformat(), "findings": _finding_rows(findings),
    }
    if kind == K.ONSITE_DECISION:
        labels = dict(measure_choices())
        content["measures"] = [labels[m] for m in measures]
        content["details"] = details
    return content


def _run(paragraph, text: str, *, size: int = 12, bold: bool = False):
    run = paragraph.add_run(text)
    run.font.size = Pt(size)
    run.bold = bold
    run.font.name = FONT
    run.element.rPr.rFonts.set(qn("w:eastAsia"), FONT)  # Chinese text in the Chinese font
    return run


def _para(doc, text: str = "", *, size: int = 12, bold: bool = False, align=None):
    paragraph = doc.add_paragraph()
    if align is not None:
        paragraph.alignment = align
    if text:
        _run(paragraph, text, size=size, bold=bold)
    return paragraph


def render(content: dict, kind: str) -> bytes:
    """The Word file of a document (python-docx), from its content."""
    doc = WordDocument()
    issued = dt.date.fromisoformat(content["issued_on"])
    doc.core_properties.title = content["title"]
    doc.core_properties.identifier = content["number"]
    # Fixed metadata: the file depends on the content only, not on when it was rendered.
    stamp = dt.datetime.combine(issued, dt.time(0), tzinfo=dt.UTC)
    doc.core_properties.created = doc.core_properties.modified = stamp
    doc.core_properties.author = doc.core_properties.last_modified_by = content["issuer"]
    _para(doc, content["issuer"], size=16, bold=True, align=WD_ALIGN_PARAGRAPH.CENTER)
    _para(doc, content["title"], size=20, bold=True, align=WD_ALIGN_PARAGRAPH.CENTER)
    _para(doc, content["number"], align=WD_ALIGN_PARAGRAPH.CENTER)
    _para(doc, f"{content['addressee']}：", bold=True)
    _para(doc, f"本机关于{content['inspected_on']}对你单位{content['mine']}（{content['mine_code']}）进行了执法检查"
               f"（{content['method']}，检查编号 {content['inspection']}），发现下列问题：")
    table = doc.add_table(rows=1, cols=4)
    table.style = "Table Grid"
    for cell, title in zip(table.rows[0].cells, ["序号", "存在的问题", "类别", "整改期限"], strict=True):
        _run(cell.paragraphs[0], title, bold=True, size=11)
    for row in content["findings"]:
        cells = table.add_row().cells
        cited = "，".join(x for x in (row["item"], row["hazard"]) if x)
        kind_text = (f"重大事故隐患（{cited}）" if cited else "重大事故隐患") if row["major"] else "一般问题"
        for cell, text in zip(cells, [str(row["no"]), row["description"], kind_text, row["deadline"]], strict=True):
            _run(cell.paragraphs[0], text, size=11)
    if kind == K.RECTIFICATION_ORDER:
        _para(doc, f"依据{content['legal_basis']}的规定，现责令你单位对上述问题在所列期限内整改完毕。")
    else:
        _para(doc, f"依据{content['legal_basis']}的规定，本机关决定采取下列现场处理措施：")
        for i, measure in enumerate(content["measures"], 1):
            _para(doc, f"{i}. {measure}")
        if content.get("details"):
            _para(doc, content["details"])
    _para(doc, content["closing"])
    _para(doc)
    _para(doc, f"执法人员（签名）：{content['lead_inspector']}" + (f"、{content['team']}" if content["team"] else ""))
    _para(doc, "被检查单位负责人（签名）：")
    _para(doc, content["issuer"], align=WD_ALIGN_PARAGRAPH.RIGHT)
    _para(doc, f"{issued.year}年{issued.month}月{issued.day}日", align=WD_ALIGN_PARAGRAPH.RIGHT)
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()


def issue(actor: User, inspection: Inspection, kind: str, *, measures: list[str] | None = None,
          details: str = "") -> Document:
    """Issue a document from the inspection: the next number of the body's series for the year, rendered and
    stored once. An order lists every finding; an on-site decision needs a major hazard and its measures."""
    return issue_dated(actor, inspection, kind, timezone.localdate(), measures=measures, details=details)


def issue_dated(actor: User, inspection: Inspection, kind: str, issued_on: dt.date, *,
                measures: list[str] | None = None, details: str = "") -> Document:
    """`issue` for a given date (today on every page and in the API; earlier only for a recorded history, such
    as the demo's year, never in the future)."""
    if issued_on > timezone.localdate():
        raise ValidationError({"issued_on": _("cannot be in the future")})
    if issued_on < inspection.inspected_on:
        raise ValidationError({"issued_on": _("cannot be before the inspection")})
    services.require_work(actor, inspection)
    if inspection.status not in (Inspection.Status.IN_PROGRESS, Inspection.Status.COMPLETED):
        raise DomainError(_("the inspection is %(s)s") % {"s": inspection.get_status_display()}, field="status",
                          code="not_open")
    errors: dict[str, str] = {}
    if kind not in K.values:
        raise ValidationError({"kind": _("unknown document")})
    measures = list(dict.fromkeys(measures or []))
    details = services._text(errors, "details", details, max_length=2000)
    findings = list(inspection.findings.select_related("hazard", "hazard_item", "item").order_by("pk"))
    if kind == K.ONSITE_DECISION:
        known = dict(measure_choices())
        if not measures:
            errors["measures"] = _("choose at least one measure")
        elif any(m not in known for m in measures):
            errors["measures"] = _("unknown measure")
        findings = [f for f in findings if f.major]
        if not findings and not errors:
            raise DomainError(_("an on-site decision is made for a major hazard; record it first"), field="findings",
                              code="no_major_hazard")
    elif measures:
        errors["measures"] = _("measures belong to an on-site decision")
    if errors:
        raise ValidationError(errors)
    if not findings:
        raise DomainError(_("there are no findings to order rectified"), field="findings", code="no_findings")
    organisation = inspection.organisation
    with transaction.atomic():
        current = locked_row(Inspection, inspection)  # the chain's lock first: it also serialises the numbering
        if current.status not in (Inspection.Status.IN_PROGRESS, Inspection.Status.COMPLETED):
            raise DomainError(_("the inspection is %(s)s") % {"s": current.get_status_display()}, field="status",
                              code="not_open")
        serial = (Document.objects.filter(organisation=organisation, kind=kind, year=issued_on.year)
                  .aggregate(m=Max("serial"))["m"] or 0) + 1
        number = format_number(organisation, kind, issued_on.year, serial)
        content = build_content(inspection, kind, number, issued_on, measures=measures, details=details,
                                findings=findings)
        data = render(content, kind)
        issued_at = timezone.now() if issued_on == timezone.localdate() else timezone.make_aware(
            dt.datetime.combine(issued_on, dt.time(16)))
        document = Document(inspection=inspection, kind=kind, organisation=organisation, year=issued_on.year,
                            serial=serial, number=number, size=len(data), sha256=hashlib.sha256(data).hexdigest(),
                            content=content, issued_by=actor, issued_at=issued_at)
        document.file.save(f"{kind}-{organisation.pk}-{issued_on.year}-{serial:04d}-{document.sha256[:12]}.docx",
                           ContentFile(data), save=False)
        document.save()
        audit.record(actor, AuditEvent.Action.CREATE, document, after={
            "inspection": inspection.pk, "kind": kind, "number": number, "sha256": document.sha256,
            "findings": len(findings), "measures": measures})
        if inspection.status == Inspection.Status.COMPLETED:  # the enterprise sees completed inspections only
            notify.send(_("%(t)s issued: %(n)s") % {"t": content["title"], "n": number}, inspection.mine.name,
                        services.link(inspection), organisations=[inspection.mine.enterprise.organisation])
    return document


def stored_bytes(document: Document) -> bytes:
    with document.file.open("rb") as fh:
        return fh.read()
