"""Excel downloads: the monthly statistics and a quarter's ranking (column heads in Chinese, the form officials
circulate)."""

import io

from django.utils import translation
from openpyxl import Workbook

from minesafe.registry.excel import safe_cell

from . import scoring

STAT_COLUMNS = [
    ("县区代码", lambda r: r.county.code), ("县区", lambda r: str(r.county)),
    ("月份", lambda r: f"{r.month:%Y-%m}"), ("执法检查(次)", lambda r: r.inspections),
    ("行政处罚决定(件)", lambda r: r.penalties), ("罚款金额(元)", lambda r: float(r.fines)),
    ("发现重大隐患(项)", lambda r: r.hazards_found), ("销号重大隐患(项)", lambda r: r.hazards_closed),
    ("受理举报(件)", lambda r: r.tipoffs_received), ("办理举报(件)", lambda r: r.tipoffs_handled),
]
STATUS_ZH = {"published": "已发布", "draft": "草稿(实时计算)", "none": "未发布"}
FLAG_ZH = {"no_plan": "无检查计划", "zero_penalty": "零处罚", "reverse_accountability": "倒查问题",
           "fatal_accident": "亡人事故"}


def _save(wb: Workbook) -> bytes:
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def statistics_workbook(year: int, stats) -> bytes:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(f"{year}年月度执法统计")
    ws.append([title for title, _ in STAT_COLUMNS])
    for county in stats:
        for row in [*county.months, county.total]:
            values = [safe_cell(value(row)) for _, value in STAT_COLUMNS]
            if row is county.total:
                values[2] = f"{year}年合计"
            ws.append(values)
    return _save(wb)


def ranking_workbook(quarter, rows, items: list[dict]) -> bytes:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(f"{quarter.year}年第{quarter.number}季度排名")
    with translation.override("zh-hans"):
        heads = ["名次", "县区代码", "县区", "状态", *[f"{scoring.label(i)}({i['max']:g})" for i in items],
                 "小计", "扣分", "总分", *FLAG_ZH.values()]
    ws.append(heads)
    for row in rows:
        ws.append([safe_cell(v) for v in [
            row.rank, row.county.code, str(row.county), STATUS_ZH.get(row.status, row.status),
            *[row.scores.get(i["code"]) for i in items], row.subtotal, row.deductions, row.total,
            *[row.flags.get(code, 0) if row.status != "none" else None for code in FLAG_ZH]]])
    return _save(wb)
