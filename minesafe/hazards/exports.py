"""Excel export of hazard lists (the columns a county keeps in its 隐患台账)."""

import io

from django.utils import timezone, translation
from openpyxl import Workbook

from minesafe.registry.excel import safe_cell

COLUMNS = [
    ("隐患编号", lambda h: h.number),
    ("所属县区", lambda h: h.mine.county.name_zh),
    ("矿山", lambda h: h.mine.name),
    ("判定标准条目", lambda h: f"{h.item.code} {h.item.title_zh}"),
    ("标准版本", lambda h: h.item.catalogue.doc_no),
    ("来源", lambda h: h.get_source_display()),
    ("发现人", lambda h: h.finder_name),
    ("发现日期", lambda h: h.found_on),
    ("隐患描述", lambda h: h.description),
    ("状态", lambda h: h.get_status_display()),
    ("责任人", lambda h: h.responsible_person),
    ("整改措施", lambda h: h.measures),
    ("整改资金(万元)", lambda h: float(h.funds) if h.funds is not None else None),
    ("整改期限", lambda h: h.deadline),
    ("应急预案", lambda h: h.emergency_plan),
    ("逾期", lambda h: "是" if h.is_overdue else "否"),
    ("挂牌督办", lambda h: "是" if h.city_supervised else "否"),
    ("屡改屡犯", lambda h: "是" if h.is_repeat else "否"),
    ("督办层级", lambda h: h.escalation_level),
    ("销号时间", lambda h: timezone.localtime(h.closed_at).replace(tzinfo=None) if h.closed_at else None),
]


def hazards_workbook(hazards) -> bytes:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("重大事故隐患台账")
    ws.append([title for title, _ in COLUMNS])
    with translation.override("zh-hans"):
        for hazard in hazards.select_related("mine__county", "item__catalogue").iterator(chunk_size=2000):
            ws.append([safe_cell(value(hazard)) for _, value in COLUMNS])
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()
