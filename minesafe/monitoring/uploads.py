"""Other bodies' data about mines: meter readings from the power company, explosives issued from the police.

Rows come from an Excel or CSV file or from the API as dicts; either way one function checks every row,
and an upload with any bad row stores nothing and returns a row-level report (imports are atomic). A row
that repeats a stored one with the same values is "unchanged"; a different value for a stored period is
refused unless the upload says it corrects earlier data (`replace`), and then the change is audited.
"""

import csv
import datetime as dt
import io
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from minesafe.core import audit
from minesafe.core.models import AuditEvent, User
from minesafe.core.scoping import is_city
from minesafe.registry.excel import ImportFileError, RowError, check_upload, read_rows
from minesafe.registry.models import Mine

from .models import DataUpload, ExplosivesIssue, MeterReading

# Which department uploads what (unit codes of action_plan.yaml): 供电公司 and 公安局.
UPLOADER_UNITS = {DataUpload.Kind.METER: "GD", DataUpload.Kind.EXPLOSIVES: "GA"}
MAX_ROWS = 100_000  # CSV and API; an hourly month for 100 mines is 72,000 rows
FUTURE_TOLERANCE = dt.timedelta(minutes=10)

# Column names as written in a header (English codes or the Chinese labels of the template).
COLUMNS = {
    DataUpload.Kind.METER: {
        "mine_code": ("mine_code", "矿山编号"),
        "period_start": ("period_start", "起始时间"),
        "hours": ("hours", "时长(小时)"),
        "kwh": ("kwh", "电量(kWh)"),
    },
    DataUpload.Kind.EXPLOSIVES: {
        "mine_code": ("mine_code", "矿山编号"),
        "issued_on": ("issued_on", "发放日期"),
        "permit_no": ("permit_no", "许可证号"),
        "explosive_kg": ("explosive_kg", "炸药(kg)"),
        "detonators": ("detonators", "雷管(发)"),
    },
}
REQUIRED = {DataUpload.Kind.METER: ("mine_code", "period_start", "hours", "kwh"),
            DataUpload.Kind.EXPLOSIVES: ("mine_code", "issued_on", "permit_no")}


@dataclass
class UploadReport:
    ok: bool
    kind: str
    rows: int = 0
    created: int = 0
    replaced: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    file_error: str = ""
    upload_id: int | None = None
    mine_ids: set[int] = field(default_factory=set)

    def as_json(self) -> dict:
        return {"ok": self.ok, "rows": self.rows, "created": self.created, "replaced": self.replaced,
                "unchanged": self.unchanged, "upload": self.upload_id, "file_error": self.file_error,
                "errors": [{"row": e.row, "field": e.column, "value": e.value, "message": e.message}
                           for e in self.errors]}


class _Bad(ValueError):
    def __init__(self, column: str, message: str):
        super().__init__(message)
        self.column = column


def may_upload(user: User, kind: str) -> bool:
    """The department that owns the data (power company, police), or the city on its behalf."""
    if not (user and user.is_authenticated and user.is_active):
        return False
    if is_city(user):
        return True
    return (user.role == User.Role.DEPARTMENT and user.organisation_id is not None
            and user.organisation.unit_code == UPLOADER_UNITS[kind])


# Reading a file into dict rows ------------------------------------------------------------------
def read_table(kind: str, name: str, data: bytes) -> list[tuple[int, dict]]:
    """(row number, {field: raw value}) from an .xlsx or .csv file whose header names the columns."""
    lowered = name.lower()
    if lowered.endswith(".csv"):
        if len(data) > settings.IMPORT_MAX_BYTES:
            raise ImportFileError(_("the file is %(s)d bytes; the limit is %(l)d") % {
                "s": len(data), "l": settings.IMPORT_MAX_BYTES})
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ImportFileError(_("the CSV file is not UTF-8 text")) from None
        reader = csv.reader(io.StringIO(text))
        header = [h.strip() for h in next(reader, [])]
        body = []
        for number, values in enumerate(reader, start=2):
            if not any(v.strip() for v in values):
                continue
            body.append((number, values))
            if len(body) > MAX_ROWS:
                raise ImportFileError(_("more than %(n)d rows; split the file") % {"n": MAX_ROWS})
    else:
        check_upload(name, data)  # .xlsx only, bounded, really a workbook
        header, body = read_rows(data)
    fields = _header_fields(kind, header)
    return [(number, {f: (values[i] if i < len(values) else None) for i, f in fields.items()})
            for number, values in body]


def _header_fields(kind: str, header: list[str]) -> dict[int, str]:
    by_name = {alias: f for f, aliases in COLUMNS[kind].items() for alias in aliases}
    fields = {i: by_name[h] for i, h in enumerate(header) if h in by_name}
    missing = [COLUMNS[kind][f][0] for f in REQUIRED[kind] if f not in fields.values()]
    if missing:
        raise ImportFileError(_("the header lacks the column(s) %(c)s (expected %(e)s)") % {
            "c": ", ".join(missing), "e": ", ".join(a[0] for a in COLUMNS[kind].values())})
    return fields


# Cell parsers ------------------------------------------------------------------------------------
def _text(value, column: str, max_length: int = 64) -> str:
    text = "" if value is None else str(value).strip()
    if not text:
        raise _Bad(column, _("required"))
    if len(text) > max_length:
        raise _Bad(column, _("longer than %(n)d characters") % {"n": max_length})
    return text


def _number(value, column: str, *, minimum: float = 0.0, maximum: float = math.inf) -> float:
    if isinstance(value, bool) or value is None or (isinstance(value, str) and not value.strip()):
        raise _Bad(column, _("required"))
    try:
        number = float(str(value).strip()) if not isinstance(value, (int, float, Decimal)) else float(value)
    except ValueError:
        raise _Bad(column, _("not a number")) from None
    if not math.isfinite(number):
        raise _Bad(column, _("not a finite number"))
    if number < minimum:
        raise _Bad(column, _("must be at least %(m)s") % {"m": f"{minimum:g}"})
    if number > maximum:
        raise _Bad(column, _("must be at most %(m)s") % {"m": f"{maximum:g}"})
    return number


def _moment(value, column: str) -> tuple[dt.datetime, bool]:
    """An aware datetime, and whether the cell held a bare date (local midnight)."""
    if isinstance(value, dt.datetime):
        moment, bare = value, False
    elif isinstance(value, dt.date):
        moment, bare = dt.datetime.combine(value, dt.time()), True
    else:
        text = "" if value is None else str(value).strip()
        if not text:
            raise _Bad(column, _("required"))
        bare = parse_date(text) is not None if len(text) == 10 else False
        try:
            moment = dt.datetime.combine(parse_date(text), dt.time()) if bare else parse_datetime(text)
        except ValueError:
            moment = None
        if moment is None:
            raise _Bad(column, _("not a date or ISO 8601 time (e.g. 2026-11-30 or 2026-11-30T08:00+08:00)"))
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)  # the platform's zone (Asia/Shanghai), as the meters report
    return moment, bare


def _day(value, column: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = "" if value is None else str(value).strip()
    try:
        day = parse_date(text)
    except ValueError:
        day = None
    if day is None:
        raise _Bad(column, _("not a date (YYYY-MM-DD)"))
    return day


def _decimal(value, column: str) -> Decimal:
    if value is None or (isinstance(value, str) and not value.strip()):
        return Decimal(0)
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise _Bad(column, _("not a number")) from None
    if not number.is_finite() or number < 0 or number > Decimal("1e7"):
        raise _Bad(column, _("must be between 0 and 10,000,000"))
    return number.quantize(Decimal("0.01"))


# Upload ------------------------------------------------------------------------------------------
def upload(actor: User, kind: str, rows: Iterable[tuple[int, dict]], *, channel: str, filename: str = "",
           replace: bool = False) -> UploadReport:
    if not may_upload(actor, kind):
        raise PermissionDenied(_("only the data's owner department or the city may upload this"))
    rows = list(rows)
    report = UploadReport(ok=False, kind=kind, rows=len(rows))
    if not rows:
        report.file_error = _("no rows")
        return report
    if len(rows) > MAX_ROWS:
        report.file_error = _("more than %(n)d rows; split the file") % {"n": MAX_ROWS}
        return report
    codes = {str(r.get("mine_code") or "").strip() for _n, r in rows}
    mines = {m.code: m for m in Mine.objects.filter(code__in=codes)}
    check = _check_meter_row if kind == DataUpload.Kind.METER else _check_explosives_row
    parsed = []
    for number, raw in rows:
        try:
            parsed.append((number, check(raw, mines)))
        except _Bad as bad:
            value = raw.get(bad.column)
            report.errors.append(RowError(number, bad.column, "" if value is None else str(value)[:100], str(bad)))
    if report.errors:
        return report
    with transaction.atomic():
        audit.lock_chain()
        if kind == DataUpload.Kind.METER:
            plan = _plan_meter(parsed, replace, report)
        else:
            plan = _plan_explosives(parsed, replace, report)
        if report.errors:
            return report
        record = DataUpload.objects.create(kind=kind, organisation=actor.organisation, uploaded_by=actor,
                                           uploaded_at=timezone.now(), channel=channel, filename=filename[:200],
                                           rows=report.rows, created=report.created, replaced=report.replaced)
        plan(record)
        audit.record(actor, AuditEvent.Action.CREATE, record, after={
            "kind": kind, "rows": report.rows, "created": report.created, "replaced": report.replaced,
            "unchanged": report.unchanged, "channel": channel, "filename": filename[:200]})
    report.ok, report.upload_id = True, record.pk
    return report


def _mine(raw: dict, mines: dict[str, Mine]) -> Mine:
    code = _text(raw.get("mine_code"), "mine_code")
    if code not in mines:
        raise _Bad("mine_code", _("no mine with registry number %(c)s") % {"c": code})
    return mines[code]


def _check_meter_row(raw: dict, mines: dict[str, Mine]) -> dict:
    mine = _mine(raw, mines)
    hours = _number(raw.get("hours"), "hours", minimum=1, maximum=24)
    if hours not in (1, 24):
        raise _Bad("hours", _("must be 1 (hourly) or 24 (daily)"))
    hours = int(hours)
    start, bare = _moment(raw.get("period_start"), "period_start")
    local = timezone.localtime(start)
    if hours == 24 and (local.hour, local.minute, local.second) != (0, 0, 0):
        raise _Bad("period_start", _("a daily reading starts at local midnight"))
    if hours == 1 and (local.minute, local.second, local.microsecond) != (0, 0, 0):
        raise _Bad("period_start", _("an hourly reading starts on the hour"))
    if hours == 1 and bare:
        raise _Bad("period_start", _("an hourly reading needs the hour, not only the date"))
    if start + dt.timedelta(hours=hours) > timezone.now() + FUTURE_TOLERANCE:
        raise _Bad("period_start", _("the period has not ended yet"))
    limit = _watch_config()["meter_max_kwh_per_hour"] * hours
    kwh = _number(raw.get("kwh"), "kwh", maximum=limit)
    return {"mine": mine, "start": start, "hours": hours, "kwh": kwh, "day": local.date()}


def _watch_config() -> dict:
    from .services import catalogue

    return catalogue()["suspension_watch"]


def _plan_meter(parsed: list[tuple[int, dict]], replace: bool, report: UploadReport):
    """Check the rows against each other and against stored readings; return the writer."""
    mine_ids = {row["mine"].pk for _n, row in parsed}
    first = min(row["start"] for _n, row in parsed) - dt.timedelta(days=1)
    last = max(row["start"] for _n, row in parsed) + dt.timedelta(days=1)
    stored = {(mine_id, start): (pk, hours, kwh) for pk, mine_id, start, hours, kwh in MeterReading.objects.filter(
        mine_id__in=mine_ids, period_start__gte=first, period_start__lte=last).select_for_update()
        .values_list("pk", "mine_id", "period_start", "hours", "kwh")}
    # A day is metered either hourly or as one daily total, never both (it would be counted twice).
    granularity: dict[tuple[int, dt.date], int] = {}
    for (mine_id, start), (_pk, hours, _kwh) in stored.items():
        granularity[(mine_id, timezone.localtime(start).date())] = hours
    seen: dict[tuple[int, dt.datetime], int] = {}
    creates, updates = [], []
    for number, row in parsed:
        key = (row["mine"].pk, row["start"])
        if key in seen:
            report.errors.append(RowError(number, "period_start", row["start"].isoformat(),
                                          _("repeats row %(r)d of this upload") % {"r": seen[key]}))
            continue
        seen[key] = number
        day_key = (row["mine"].pk, row["day"])
        existing = stored.get(key)
        other = granularity.setdefault(day_key, row["hours"])
        if other != row["hours"] and not (existing and existing[1] == row["hours"]):
            report.errors.append(RowError(number, "hours", str(row["hours"]), _(
                "%(d)s is already metered %(g)s for this mine; a day is either hourly or daily") % {
                "d": row["day"].isoformat(), "g": _("hourly") if other == 1 else _("daily")}))
            continue
        if existing is None:
            creates.append(row)
        elif existing[2] == row["kwh"] and existing[1] == row["hours"]:
            report.unchanged += 1
        elif not replace:
            report.errors.append(RowError(number, "kwh", f"{row['kwh']:g}", _(
                "already uploaded as %(v)s kWh; to correct stored readings upload with 'corrects earlier data'")
                % {"v": f"{existing[2]:g}"}))
        else:
            updates.append((existing, row))
    report.created, report.replaced = len(creates), len(updates)
    report.mine_ids = mine_ids

    def write(record: DataUpload) -> None:
        MeterReading.objects.bulk_create([
            MeterReading(mine=row["mine"], period_start=row["start"], hours=row["hours"], kwh=row["kwh"],
                         upload=record) for row in creates], batch_size=2000)
        corrections = []
        for (pk, hours, kwh), row in updates:
            MeterReading.objects.filter(pk=pk).update(kwh=row["kwh"], hours=row["hours"], upload=record)
            corrections.append(audit.Change(action=AuditEvent.Action.UPDATE, object_type="monitoring.meterreading",
                                            object_id=str(pk), object_repr=f"{row['mine'].code} {row['start']}",
                                            before={"kwh": kwh, "hours": hours},
                                            after={"kwh": row["kwh"], "hours": row["hours"], "upload": record.pk}))
        audit.record_many(record.uploaded_by, corrections)
    return write


def _check_explosives_row(raw: dict, mines: dict[str, Mine]) -> dict:
    mine = _mine(raw, mines)
    issued_on = _day(raw.get("issued_on"), "issued_on")
    if issued_on > timezone.localdate():
        raise _Bad("issued_on", _("cannot be in the future"))
    permit_no = _text(raw.get("permit_no"), "permit_no")
    explosive_kg = _decimal(raw.get("explosive_kg"), "explosive_kg")
    detonators = int(_number(raw.get("detonators") or 0, "detonators", maximum=10_000_000))
    if explosive_kg == 0 and detonators == 0:
        raise _Bad("explosive_kg", _("an issue of neither explosive nor detonators"))
    return {"mine": mine, "issued_on": issued_on, "permit_no": permit_no, "explosive_kg": explosive_kg,
            "detonators": detonators}


def _plan_explosives(parsed: list[tuple[int, dict]], replace: bool, report: UploadReport):
    mine_ids = {row["mine"].pk for _n, row in parsed}
    stored = {(i.mine_id, i.permit_no): i for i in ExplosivesIssue.objects.filter(
        mine_id__in=mine_ids, permit_no__in={row["permit_no"] for _n, row in parsed}).select_for_update()}
    seen: dict[tuple[int, str], int] = {}
    creates, updates = [], []
    for number, row in parsed:
        key = (row["mine"].pk, row["permit_no"])
        if key in seen:
            report.errors.append(RowError(number, "permit_no", row["permit_no"],
                                          _("repeats row %(r)d of this upload") % {"r": seen[key]}))
            continue
        seen[key] = number
        existing = stored.get(key)
        values = (row["issued_on"], row["explosive_kg"], row["detonators"])
        if existing is None:
            creates.append(row)
        elif (existing.issued_on, existing.explosive_kg, existing.detonators) == values:
            report.unchanged += 1
        elif not replace:
            report.errors.append(RowError(number, "permit_no", row["permit_no"], _(
                "this permit is already stored with other values; to correct it upload with 'corrects earlier "
                "data'")))
        else:
            updates.append((existing, row))
    report.created, report.replaced = len(creates), len(updates)
    report.mine_ids = mine_ids

    def write(record: DataUpload) -> None:
        ExplosivesIssue.objects.bulk_create([ExplosivesIssue(upload=record, **{
            k: row[k] for k in ("mine", "issued_on", "permit_no", "explosive_kg", "detonators")}) for row in creates])
        for existing, row in updates:
            before = audit.snapshot(existing, ["issued_on", "explosive_kg", "detonators"])
            existing.issued_on, existing.explosive_kg, existing.detonators = (
                row["issued_on"], row["explosive_kg"], row["detonators"])
            existing.upload = record
            existing.save()
            audit.record(record.uploaded_by, AuditEvent.Action.UPDATE, existing, before=before,
                         after=audit.snapshot(existing, ["issued_on", "explosive_kg", "detonators"]))
    return write


def template_csv(kind: str) -> str:
    """The header line and one example row, for the upload page."""
    if kind == DataUpload.Kind.METER:
        return "mine_code,period_start,hours,kwh\nCD-130827-001,2026-11-29,24,1520.5\n"
    return "mine_code,issued_on,permit_no,explosive_kg,detonators\nCD-130827-001,2026-11-29,GA-2026-0001,200,400\n"
