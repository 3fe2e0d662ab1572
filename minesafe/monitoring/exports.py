"""Monitoring exports: the alarm list (Excel and CSV), the online-rate tables (Excel), a sensor's
readings (CSV). Text cells are neutralised against formula injection (registry.excel.safe_cell);
times are local (Asia/Shanghai), as the people reading them expect."""

import csv
import io

from django.http import StreamingHttpResponse
from django.utils import timezone, translation
from openpyxl import Workbook

from minesafe.registry.excel import safe_cell

from .models import Reading
from .services import kind_label


def local(value):
    return timezone.localtime(value).replace(tzinfo=None) if value else None


def yes_no(value) -> str:
    return "" if value is None else ("是" if value else "否")


ALARM_COLUMNS = [
    ("报警编号", lambda a: a.pk),
    ("所属县区", lambda a: a.mine.county.name_zh),
    ("矿山", lambda a: a.mine.name),
    ("传感器或监测项", lambda a: f"{a.sensor.code} {a.sensor.name}" if a.sensor_id else kind_label(a.kind)),
    ("来源", lambda a: a.get_source_display()),
    ("当前等级", lambda a: a.get_level_display()),
    ("最高等级", lambda a: a.get_max_level_display()),
    ("数值", lambda a: a.value),
    ("单位", lambda a: a.sensor.unit if a.sensor_id else ""),
    ("报警条件存在", lambda a: yes_no(a.active)),
    ("处置状态", lambda a: a.get_status_display()),
    ("当前层级", lambda a: a.get_tier_display()),
    ("报警时间", lambda a: local(a.opened_at)),
    ("解除时间", lambda a: local(a.cleared_at)),
    ("叫应时限", lambda a: local(a.ack_due_at)),
    ("叫应时间", lambda a: local(a.acknowledged_at)),
    ("叫应人", lambda a: str(a.acknowledged_by) if a.acknowledged_by_id else ""),
    ("回应时限", lambda a: local(a.response_due_at)),
    ("回应时间", lambda a: local(a.responded_at)),
    ("回应人", lambda a: str(a.responded_by) if a.responded_by_id else ""),
    ("处置措施", lambda a: a.measures),
    ("是否撤人", lambda a: yes_no(a.people_withdrawn)),
    ("撤出人数", lambda a: a.withdrawn_count),
    ("关闭时间", lambda a: local(a.closed_at)),
]


def _alarm_rows(alarms):
    with translation.override("zh-hans"):
        qs = alarms.select_related("mine__county", "sensor", "acknowledged_by", "responded_by")
        for alarm in qs.iterator(chunk_size=2000):
            yield [safe_cell(value(alarm)) for _title, value in ALARM_COLUMNS]


def alarms_workbook(alarms) -> bytes:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("监测报警")
    ws.append([title for title, _value in ALARM_COLUMNS])
    for row in _alarm_rows(alarms):
        ws.append(row)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


class _Line:
    """A file-like object whose write returns what was written (csv.writer into a streamed response)."""

    def write(self, value):
        return value


def csv_response(header: list[str], rows, filename: str) -> StreamingHttpResponse:
    """A streamed UTF-8 CSV with a byte-order mark (Excel opens it with the Chinese intact)."""
    writer = csv.writer(_Line())

    def lines():
        yield "\ufeff" + writer.writerow(header)
        for row in rows:
            yield writer.writerow(["" if v is None else v for v in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def alarms_csv(alarms, filename: str = "alarms.csv") -> StreamingHttpResponse:
    def rows():
        for row in _alarm_rows(alarms):
            yield [v.strftime("%Y-%m-%d %H:%M:%S") if hasattr(v, "strftime") else v for v in row]

    return csv_response([title for title, _value in ALARM_COLUMNS], rows(), filename)


def readings_csv(sensor, since, until, filename: str) -> StreamingHttpResponse:
    """Every stored reading of the sensor in [since, until] (not the chart's downsampled series)."""
    qs = Reading.objects.filter(sensor_id=sensor.pk, ts__gte=since, ts__lte=until).order_by("ts")

    def rows():
        for ts, value in qs.values_list("ts", "value").iterator(chunk_size=5000):
            yield [timezone.localtime(ts).isoformat(), value]

    return csv_response(["ts", f"value ({sensor.unit})"], rows(), filename)


def _ratio(value):
    return round(100 * value, 1) if value is not None else None


RATE_HEADER = ["名称", "传感器数", "在线数", "在线率(%)", "应联网矿山数", "已联网矿山数", "联网率(%)"]


def _rate_row(row, label=None) -> list:
    return [safe_cell(label if label is not None else str(row.label)), row.sensors, row.online,
            _ratio(row.online_ratio), row.required_mines, row.connected_mines, _ratio(row.connection_ratio)]


def online_workbook(rates: dict, counties: bool) -> bytes:
    """The online rate (在线率) and connection (应联尽联) tables: per county (when asked) and per mine."""
    wb = Workbook(write_only=True)
    with translation.override("zh-hans"):
        if counties:
            ws = wb.create_sheet("各县区在线率")
            ws.append(["县区"] + RATE_HEADER[1:])
            for row in rates["counties"]:
                ws.append(_rate_row(row, row.key.name_zh))
            ws.append(_rate_row(rates["city"], "合计"))
        ws = wb.create_sheet("各矿山在线率")
        ws.append(["所属县区", "矿山", "矿山编号", "传感器数", "在线数", "在线率(%)", "应联网", "已联网"])
        for row in rates["mines"]:
            mine = row.key
            ws.append([safe_cell(mine.county.name_zh), safe_cell(mine.name), safe_cell(mine.code), row.sensors,
                       row.online, _ratio(row.online_ratio), yes_no(bool(row.required_mines)),
                       yes_no(bool(row.connected_mines)) if row.required_mines else ""])
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()
