"""The decision document (行政处罚决定书) as Word, with python-docx. A formal document, so in Chinese whatever the
page language: the party, the facts, the provisions violated and applied (as cited when the case was decided),
the discretion level and benchmark version, each fine in figures and in capitals, payment, the late fee and the
remedies. The person's ID number is masked unless the reader may see it."""

import io
from decimal import ROUND_HALF_UP, Decimal

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Pt

from . import benchmark, legal, services
from .models import PenaltyCase

DIGITS = "零壹贰叁肆伍陆柒捌玖"
UNITS = ["", "拾", "佰", "仟"]
SECTIONS = ["", "万", "亿", "万亿"]
FONT = "仿宋"
DOCX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def rmb_upper(amount: Decimal) -> str:
    """An amount in Chinese financial capitals: 25000 -> 贰万伍仟元整, 1234.5 -> 壹仟贰佰叁拾肆元伍角."""
    amount = Decimal(amount).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    if amount == 0:
        return "零元整"
    yuan, cents = divmod(int(amount * 100), 100)
    text = ""
    if yuan:
        groups = []
        while yuan:
            yuan, group = divmod(yuan, 10000)
            groups.append(group)
        parts, zero_pending = [], False
        for index in range(len(groups) - 1, -1, -1):
            group = groups[index]
            if group == 0:
                zero_pending = True
                continue
            if zero_pending or (parts and group < 1000):
                parts.append("零")
            zero_pending = False
            digits, inner_zero = "", False
            for position in range(3, -1, -1):
                digit = group // 10 ** position % 10
                if digit == 0:
                    inner_zero = bool(digits)
                    continue
                if inner_zero:
                    digits += "零"
                    inner_zero = False
                digits += DIGITS[digit] + UNITS[position]
            parts.append(digits + SECTIONS[index])
        text = "".join(parts) + "元"
    jiao, fen = divmod(cents, 10)
    if not cents:
        return text + "整"
    if jiao:
        text += DIGITS[jiao] + "角"
    elif text:
        text += "零"
    if fen:
        text += DIGITS[fen] + "分"
    return text


def chinese_date(day) -> str:
    return f"{day.year}年{day.month}月{day.day}日" if day else "    年  月  日"


def _font(run, size: float = 14, bold: bool = False):
    run.font.size = Pt(size)
    run.font.bold = bold
    run.font.name = FONT
    run._element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), FONT)
    return run


def _para(doc, text: str = "", *, size: float = 14, bold: bool = False, align=None, indent: bool = True):
    paragraph = doc.add_paragraph()
    if align is not None:
        paragraph.alignment = align
    if indent and align is None:
        paragraph.paragraph_format.first_line_indent = Pt(size * 2)
    _font(paragraph.add_run(text), size, bold)
    return paragraph


def citations(case: PenaltyCase, role: str) -> str:
    return "、".join(p["citation"] for p in legal.cited_with_role(case.legal_basis, role)) or "（未列明）"


def decision_document(case: PenaltyCase, *, reveal_personal: bool) -> bytes:
    rules = services.procedure()
    enterprise = case.mine.enterprise
    applied = case.benchmark_applied or {}
    doc = Document()
    _para(doc, case.organisation.name, size=18, bold=True, align=WD_ALIGN_PARAGRAPH.CENTER)
    _para(doc, "行政处罚决定书", size=22, bold=True, align=WD_ALIGN_PARAGRAPH.CENTER)
    _para(doc, case.decision_no or "（未编号）", align=WD_ALIGN_PARAGRAPH.CENTER)

    _para(doc, f"被处罚单位：{enterprise.name}", indent=False)
    _para(doc, f"统一社会信用代码：{enterprise.credit_code}", indent=False)
    _para(doc, f"地址：{enterprise.address or case.mine.address or '—'}", indent=False)
    _para(doc, f"法定代表人：{enterprise.legal_representative or '—'}", indent=False)
    _para(doc, f"矿山：{case.mine.name}（{case.mine.code}）", indent=False)
    if case.person_name:
        id_number = case.person_id_number if reveal_personal else services.masked_id(case)
        _para(doc, f"主要负责人：{case.person_name}，职务：{case.person_role or '—'}，"
                   f"身份证号码：{id_number or '—'}", indent=False)

    source = ""
    if case.inspection_id:
        source = f"本机关于{chinese_date(case.inspection.inspected_on)}对你单位进行执法检查，"
    _para(doc, f"{source}经调查，你单位存在以下违法事实：")
    _para(doc, case.facts)
    _para(doc, f"以上事实违反了{citations(case, legal.VIOLATED)}的规定。")

    notice = (f"本机关于{chinese_date(case.notified_on)}告知你单位拟作出的行政处罚内容及事实、理由、依据，"
              "并告知依法享有陈述、申辩")
    notice += "和要求听证的权利。" if case.hearing_right else "的权利。"
    if case.hearing_held_on:
        notice += f"应你单位申请，本机关于{chinese_date(case.hearing_held_on)}举行了听证。"
    elif case.replied_on:
        notice += ("你单位已提出陈述、申辩意见，本机关已予复核。" if case.reply_statement
                   else "你单位未提出陈述、申辩意见。")
    else:
        notice += "你单位在规定期限内未提出陈述、申辩意见或听证要求。"
    _para(doc, notice)

    level = applied.get("level_zh", case.circumstance)
    basis = (f"依据{citations(case, legal.PENALTY)}的规定，"
             f"参照本市安全生产行政处罚自由裁量基准（版本 {applied.get('version', '—')}）")
    basis += f"“{applied.get('violation_zh', case.violation_type)}”违法行为“{level}”情节"
    bench = benchmark.parse(case.benchmark.data) if case.benchmark_id else None
    if bench and case.factors:
        names = [bench.factors[f]["zh"] for f in case.factors if f in bench.factors]
        basis += f"，考虑{'、'.join(names)}等情形"
    _para(doc, basis + "，本机关决定给予以下行政处罚：")
    _para(doc, f"一、对{enterprise.name}处以罚款人民币{case.enterprise_fine}元"
               f"（大写：{rmb_upper(case.enterprise_fine)}）。")
    if case.person_fine:
        _para(doc, f"二、对主要负责人{case.person_name}处以罚款人民币{case.person_fine}元"
                   f"（大写：{rmb_upper(case.person_fine)}）。")
    elif case.person_exemption:
        exemption = next((p for p in case.legal_basis if p["key"] == case.person_exemption), None)
        cited = exemption["citation"] if exemption else case.person_exemption
        _para(doc, f"二、依据{cited}的规定，对主要负责人{case.person_name or ''}不予罚款：{case.person_exemption_note}")
    if case.fine_reason:
        _para(doc, f"裁量说明：{case.fine_reason}")

    _para(doc, f"罚款自收到本决定书之日起{rules['payment_days']}日内缴至指定银行或者通过电子支付系统缴纳。"
               "到期不缴纳罚款的，本机关将依据《中华人民共和国行政处罚法》第七十二条第一款第（一）项的规定，"
               "每日按罚款数额的百分之三加处罚款，加处罚款的数额不超出罚款的数额。")
    _para(doc, f"如不服本决定，可以在收到本决定书之日起{rules['reconsideration_days']}日内依法申请行政复议，"
               f"或者在{rules['lawsuit_months']}个月内依法向人民法院提起行政诉讼。申请行政复议或者提起行政诉讼的，"
               "行政处罚不停止执行，法律另有规定的除外。")
    _para(doc, "")
    _para(doc, case.organisation.name, align=WD_ALIGN_PARAGRAPH.RIGHT)
    _para(doc, chinese_date(case.decided_on), align=WD_ALIGN_PARAGRAPH.RIGHT)
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()
