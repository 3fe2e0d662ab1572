"""Excel and CSV export of penalty cases (the columns of a county's 行政处罚案件台账). The main responsible person's
ID number is always masked here; text cells are neutralised against formula injection (registry.excel.safe_cell)."""

import io

from django.utils import timezone, translation
from openpyxl import Workbook

from minesafe.monitoring.exports import csv_response
from minesafe.registry.excel import safe_cell

from . import legal, services

COLUMNS = [
    ("案件ID", lambda c, s: c.pk),
    ("决定书文号", lambda c, s: c.decision_no),
    ("所属县区", lambda c, s: c.mine.county.name_zh),
    ("矿山", lambda c, s: c.mine.name),
    ("企业", lambda c, s: c.mine.enterprise.name),
    ("作出机关", lambda c, s: c.organisation.name),
    ("案件来源", lambda c, s: c.get_source_display()),
    ("违法行为", lambda c, s: (c.benchmark_applied or {}).get("violation_zh") or c.violation_type),
    ("情节", lambda c, s: (c.benchmark_applied or {}).get("level_zh") or c.circumstance),
    ("违法条款", lambda c, s: "、".join(p["citation"] for p in legal.cited_with_role(c.legal_basis, legal.VIOLATED))),
    ("处罚依据", lambda c, s: "、".join(p["citation"] for p in legal.cited_with_role(c.legal_basis, legal.PENALTY))),
    ("状态", lambda c, s: c.get_status_display()),
    ("立案日期", lambda c, s: c.opened_on),
    ("告知日期", lambda c, s: c.notified_on),
    ("决定日期", lambda c, s: c.decided_on),
    ("送达日期", lambda c, s: c.served_on),
    ("缴款期限", lambda c, s: c.payment_due),
    ("对单位罚款(元)", lambda c, s: float(c.enterprise_fine)),
    ("主要负责人", lambda c, s: c.person_name),
    ("职务", lambda c, s: c.person_role),
    ("身份证号码", lambda c, s: services.masked_id(c)),
    ("对个人罚款(元)", lambda c, s: float(c.person_fine)),
    ("已缴罚款(元)", lambda c, s: float(sum(f.paid for f in s))),
    ("加处罚款(元)", lambda c, s: float(sum(f.late_fee.amount for f in s))),
    ("裁量基准版本", lambda c, s: (c.benchmark_applied or {}).get("version", "")),
    ("结案日期", lambda c, s: c.closed_on),
]


def _rows(cases):
    rules = services.late_fee_rules()
    today = timezone.localdate()
    with translation.override("zh-hans"):
        qs = cases.select_related("mine__county", "mine__enterprise", "organisation").prefetch_related(
            "payments", "challenges")
        for case in qs.iterator(chunk_size=500):
            states = services.fine_states(case, today, rules) if case.decided_on else []
            yield [safe_cell(value(case, states)) for _title, value in COLUMNS]


def cases_workbook(cases) -> bytes:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("行政处罚案件台账")
    ws.append([title for title, _value in COLUMNS])
    for row in _rows(cases):
        ws.append(row)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def cases_csv(cases, filename: str = "penalty-cases.csv"):
    def rows():
        for row in _rows(cases):
            yield [v.isoformat() if hasattr(v, "isoformat") else v for v in row]

    return csv_response([title for title, _value in COLUMNS], rows(), filename)
