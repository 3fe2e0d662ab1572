"""Small ledger workbooks the API and page tests upload."""

import io

from openpyxl import Workbook

from minesafe.core.validators import credit_code_check_char

NEW_CREDIT_A = "91130827MA000010D" + credit_code_check_char("91130827MA000010D")
HEADER = ["矿山编号", "矿山名称", "企业名称", "统一社会信用代码", "所属县区", "矿山类型", "矿种", "运营状态",
          "设计生产能力(万吨/年)"]


def workbook(rows: list[list]) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(HEADER)
    for row in rows:
        ws.append(row)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def good_row(code: str, county: str = "130827") -> list:
    return [code, f"新矿{code}", "宽城新建矿业有限公司", NEW_CREDIT_A, county, "underground", "铁矿", "producing", 150]
