"""Excel in and out for the mine ledger (基本情况台账).

The template, the export and the import share one column list, so an exported sheet can be edited and
imported again. An import is all-or-nothing: every cell is checked first and any error produces a
row-level report (on screen and as an xlsx) with nothing written.
"""

import datetime as dt
import io
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from minesafe.core import audit
from minesafe.core.errors import DomainError
from minesafe.core.models import AuditEvent, Organisation, Region, User
from minesafe.core.services import county_regions
from minesafe.core.validators import credit_code_error

from . import services
from .models import Enterprise, Mine, MineStatusChange

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
ERROR_FILL = PatternFill("solid", fgColor="FFC7CE")
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")


class ImportFileError(Exception):
    """The upload as a whole is unusable (wrong type, too large, corrupted, wrong columns)."""


class CellError(ValueError):
    pass


# Cell parsers: raw cell value -> Python value, or CellError with the reason ---------------------
def parse_text(value, max_length: int = 200) -> str:
    text = "" if value is None else str(value).strip()
    if text.startswith("'") and text[1:].startswith(FORMULA_PREFIXES):
        text = text[1:]  # undo the export's formula neutralisation (safe_cell), so a round trip is exact
    if len(text) > max_length:
        raise CellError(_("longer than %(n)d characters") % {"n": max_length})
    return text


def parse_decimal(value, minimum: Decimal = Decimal(0), maximum: Decimal = Decimal("1e9")) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise CellError(_("not a number"))
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise CellError(_("not a number")) from None
    if not number.is_finite() or number < minimum or number > maximum:
        raise CellError(_("must be between %(a)s and %(b)s") % {"a": minimum, "b": maximum})
    return number.quantize(Decimal("0.000001")).normalize() if number % 1 else number


def parse_int(value) -> int | None:
    number = parse_decimal(value, maximum=Decimal(100000))
    if number is None:
        return None
    if number != number.to_integral_value():
        raise CellError(_("must be a whole number"))
    return int(number)


def parse_date(value) -> dt.date | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip().replace("/", "-").replace(".", "-")
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise CellError(_("not a real date (use YYYY-MM-DD)")) from None


def choice_parser(choices) -> Callable:
    """Accepts the stored value, the Chinese label or the English label (any case)."""
    lookup: dict[str, object] = {}

    def parse(value):
        text = parse_text(value)
        if not text:
            return ""
        if not lookup:  # built on first use: labels translate only once the app registry is ready
            from django.utils import translation

            for key, label in choices:
                for language in ("en", "zh-hans"):
                    with translation.override(language):
                        lookup[str(label).lower()] = key
                lookup[str(key).lower()] = key
        try:
            return lookup[text.lower()]
        except KeyError:
            raise CellError(_("unknown value; allowed: %(v)s") % {"v": "、".join(choice_labels(choices))}) from None

    return parse


def choice_labels(choices) -> list[str]:
    from django.utils import translation

    with translation.override("zh-hans"):
        return [str(label) for _, label in choices]


def parse_bool(value) -> bool:
    text = parse_text(value).lower()
    if text in {"", "否", "no", "false", "0", "n"}:
        return False
    if text in {"是", "yes", "true", "1", "y"}:
        return True
    raise CellError(_("use 是 or 否"))


def parse_standard_grade(value):
    text = parse_text(value)
    mapping = {"一级": 1, "二级": 2, "三级": 3, "1": 1, "2": 2, "3": 3, "1.0": 1, "2.0": 2, "3.0": 3}
    if not text or text in {"无", "none"}:
        return None
    if text in mapping:
        return mapping[text]
    try:
        return int(choice_parser(Mine.StandardGrade.choices)(text))
    except CellError:
        raise CellError(_("use 一级, 二级, 三级 or leave empty")) from None


@dataclass(frozen=True)
class Column:
    key: str
    zh: str
    en: str
    parse: Callable
    required: bool = False
    importable: bool = True
    export: Callable[[Mine], object] | None = None
    choices: tuple = ()


def _label(choices, value):
    from django.utils import translation

    with translation.override("zh-hans"):
        return str(dict(choices).get(value, "")) if value not in (None, "") else ""


COLUMNS: list[Column] = [
    Column("code", "矿山编号", "Registry number", lambda v: parse_text(v, 32), required=True),
    Column("name", "矿山名称", "Mine name", lambda v: parse_text(v, 128), required=True),
    Column("enterprise_name", "企业名称", "Enterprise name", lambda v: parse_text(v, 128), required=True,
           export=lambda m: m.enterprise.name),
    Column("credit_code", "统一社会信用代码", "Unified social credit code", lambda v: parse_text(v, 18).upper(),
           required=True, export=lambda m: m.enterprise.credit_code),
    Column("county", "所属县区", "County", lambda v: parse_text(v, 32), required=True,
           export=lambda m: m.county.name_zh),
    Column("mine_type", "矿山类型", "Type", choice_parser(Mine.Type.choices), required=True,
           choices=tuple(Mine.Type.choices)),
    Column("mineral", "矿种", "Mineral", lambda v: parse_text(v, 64)),
    Column("status", "运营状态", "Status", choice_parser(Mine.Status.choices), required=True,
           choices=tuple(Mine.Status.choices)),
    Column("status_since", "状态起始日期", "Status since", parse_date),
    Column("address", "地址", "Address", parse_text),
    Column("longitude", "经度", "Longitude", parse_decimal),
    Column("latitude", "纬度", "Latitude", parse_decimal),
    Column("design_capacity", "设计生产能力(万吨/年)", "Design capacity (10k t/a)", parse_decimal),
    Column("scale_class", "生产规模", "Scale", choice_parser(Mine.Scale.choices), choices=tuple(Mine.Scale.choices)),
    Column("licence_no", "安全生产许可证编号", "Safety licence number", lambda v: parse_text(v, 64)),
    Column("licence_expiry", "许可证有效期至", "Licence expiry", parse_date),
    Column("standard_grade", "标准化等级", "Standardisation grade", parse_standard_grade,
           choices=tuple(Mine.StandardGrade.choices)),
    Column("standard_date", "标准化定级日期", "Standardisation date", parse_date),
    Column("people_underground", "井下作业人数", "People underground", parse_int),
    Column("intelligent_level", "智能化等级", "Intelligent-mine level", choice_parser(Mine.IntelligentLevel.choices),
           choices=tuple(Mine.IntelligentLevel.choices)),
    Column("slope_height", "边坡高度(米)", "Slope height (m)", parse_decimal),
    Column("design_pond_capacity", "设计库容(万立方米)", "Design pond capacity (10k m³)", parse_decimal),
    Column("current_pond_capacity", "现状库容(万立方米)", "Current pond capacity (10k m³)", parse_decimal),
    Column("design_dam_height", "设计坝高(米)", "Design dam height (m)", parse_decimal),
    Column("current_dam_height", "现状坝高(米)", "Current dam height (m)", parse_decimal),
    Column("dam_method", "筑坝方式", "Dam method", choice_parser(Mine.DamMethod.choices),
           choices=tuple(Mine.DamMethod.choices)),
    Column("is_head_pond", "是否头顶库", "Head pond", parse_bool, export=lambda m: "是" if m.is_head_pond else "否"),
    Column("downstream_within_1km", "下游1公里内人员或设施", "Downstream within 1 km", parse_text),
    # Computed by the platform: exported for reading, ignored on import.
    Column("pond_grade", "尾矿库等别(计算)", "Pond grade (computed)", parse_text, importable=False),
    Column("ledger_due_date", "月度台账应报日期", "Ledger due", parse_text, importable=False),
    Column("ledger_overdue", "台账逾期", "Ledger overdue", parse_text, importable=False,
           export=lambda m: "是" if m.ledger_overdue else "否"),
]
COLUMN_BY_HEADER = {}
for _col in COLUMNS:
    COLUMN_BY_HEADER.update({_col.zh: _col, _col.en: _col, _col.key: _col})
MINE_VALUE_KEYS = [c.key for c in COLUMNS if c.importable and c.key in services.MINE_FIELDS]


def safe_cell(value):
    """Neutralise spreadsheet formula injection in exported text (OWASP CSV-injection rule)."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def export_value(column: Column, mine: Mine):
    if column.export:
        return column.export(mine)
    value = getattr(mine, column.key)
    if column.choices:
        return _label(column.choices, value)
    if isinstance(value, Decimal):
        return float(value)
    return value


# Template and export ----------------------------------------------------------------------------
def _header(ws, columns: list[Column]) -> None:
    ws.append([c.zh for c in columns])
    for i, col in enumerate(columns, start=1):
        cell = ws.cell(row=1, column=i)
        cell.font = Font(bold=True, color="9C0006" if col.required else "000000")
        cell.fill = HEADER_FILL
        ws.column_dimensions[get_column_letter(i)].width = max(10, len(col.zh) * 2 + 2)
    ws.freeze_panes = "A2"


def build_template() -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = "矿山台账"
    columns = [c for c in COLUMNS if c.importable]
    _header(ws, columns)
    for i, col in enumerate(columns, start=1):
        values = choice_labels(col.choices) if col.choices else (["是", "否"] if col.parse is parse_bool else None)
        if values:
            dv = DataValidation(type="list", formula1='"' + ",".join(values) + '"', allow_blank=not col.required)
            dv.add(f"{get_column_letter(i)}2:{get_column_letter(i)}{settings.IMPORT_MAX_ROWS + 1}")
            ws.add_data_validation(dv)
    notes = wb.create_sheet("填写说明")
    notes.append(["列", "必填", "说明 / 可选值"])
    for col in columns:
        allowed = "、".join(choice_labels(col.choices)) if col.choices else ""
        notes.append([col.zh, "是" if col.required else "", allowed])
    notes.append([])
    notes.append(["所属县区", "", "、".join(f"{r.code} {r.name_zh}" for r in county_regions())])
    notes.append(["日期", "", "YYYY-MM-DD"])
    notes.append(["规则", "", "矿山编号已存在则更新该矿山，否则新增；整表任一单元格有误则全部不导入。"])
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def build_export(mines: Iterable[Mine]) -> bytes:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("矿山台账")
    ws.append([c.zh for c in COLUMNS])
    for mine in mines:
        ws.append([safe_cell(export_value(c, mine)) for c in COLUMNS])
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


# Import -----------------------------------------------------------------------------------------
@dataclass
class RowError:
    row: int
    column: str
    value: str
    message: str


@dataclass
class ImportResult:
    ok: bool
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    file_error: str = ""
    header: list[str] = field(default_factory=list)
    raw_rows: list[list] = field(default_factory=list)
    row_numbers: list[int] = field(default_factory=list)


class _RowFailure(Exception):
    """A row that passed validation but failed when applied; the whole import rolls back."""

    def __init__(self, row: int, column: str, message: str):
        super().__init__(message)
        self.error = RowError(row, column, "", message)


def check_upload(name: str, data: bytes) -> None:
    """Reject what is not a plausible, bounded xlsx before a parser touches it."""
    if not name.lower().endswith(".xlsx"):
        raise ImportFileError(_("only .xlsx files are accepted (got %(n)s)") % {"n": Path(name).suffix or name})
    if len(data) > settings.IMPORT_MAX_BYTES:
        raise ImportFileError(_("the file is %(s)d bytes; the limit is %(l)d") % {
            "s": len(data), "l": settings.IMPORT_MAX_BYTES})
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise ImportFileError(_("the file is corrupted or not an Excel workbook"))
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            names = {i.filename for i in infos}
            unpacked = sum(i.file_size for i in infos)
    except (zipfile.BadZipFile, OSError):
        raise ImportFileError(_("the file is corrupted or not an Excel workbook")) from None
    if "xl/workbook.xml" not in names:
        raise ImportFileError(_("the file is corrupted or not an Excel workbook"))
    if unpacked > settings.IMPORT_MAX_UNPACKED_BYTES:
        raise ImportFileError(_("the workbook unpacks to %(s)d bytes; the limit is %(l)d") % {
            "s": unpacked, "l": settings.IMPORT_MAX_UNPACKED_BYTES})


def read_rows(data: bytes) -> tuple[list[str], list[tuple[int, list]]]:
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
        ws = wb.worksheets[0]
        header = [("" if h is None else str(h).strip()) for h in next(ws.iter_rows(max_row=1, values_only=True), [])]
        while header and not header[-1]:
            header.pop()
        body = []
        # Only as many columns as the header names: cells beyond it are not read at all.
        rows = ws.iter_rows(min_row=2, max_col=max(len(header), 1), values_only=True)
        for index, row in enumerate(rows, start=2):
            values = list(row)
            if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
                continue
            body.append((index, values))
            if len(body) > settings.IMPORT_MAX_ROWS:
                raise ImportFileError(_("more than %(n)d rows; split the file") % {"n": settings.IMPORT_MAX_ROWS})
        wb.close()
    except ImportFileError:
        raise
    except Exception:  # openpyxl raises many types on a damaged file; the reason to the user is the same
        raise ImportFileError(_("the file is corrupted or not an Excel workbook")) from None
    return header, body


def may_import(actor: User) -> bool:
    """Registering and changing mines in bulk is for regulators (the city, a county)."""
    return services.can_create_in_county(actor, actor.organisation.region) if actor.organisation_id else False


def import_ledger(actor: User, name: str, data: bytes) -> ImportResult:
    """Validate every cell and row; import all rows in one transaction only when none has an error."""
    if not may_import(actor):
        raise PermissionDenied(_("only the city and county bureaus import the mine ledger"))
    try:
        check_upload(name, data)
        header, body = read_rows(data)
    except ImportFileError as exc:
        return ImportResult(ok=False, file_error=str(exc))
    result = ImportResult(ok=False, rows=len(body), header=header, raw_rows=[r for _, r in body],
                          row_numbers=[n for n, _ in body])
    columns: list[Column | None] = []
    for title in header:
        col = COLUMN_BY_HEADER.get(title)
        if title and col is None:
            result.file_error = _("unknown column %(c)s; use the template") % {"c": title}
            return result
        if col is not None and col in columns:
            result.file_error = _("column %(c)s appears twice") % {"c": col.zh}
            return result
        columns.append(col)
    missing = [c.zh for c in COLUMNS if c.required and c not in columns]
    if missing:
        result.file_error = _("missing required columns: %(c)s") % {"c": "、".join(missing)}
        return result
    if not body:
        result.file_error = _("the sheet has no data rows")
        return result

    try:
        # Validation and writing in one transaction, with the existing mines locked: what was checked
        # is what gets written.
        with transaction.atomic():
            plan = _validate_rows(actor, columns, body, result.errors)
            if result.errors:
                return result
            _apply(actor, plan, result)
    except _RowFailure as failure:
        result.errors.append(failure.error)
        result.created = result.updated = result.unchanged = 0
        return result
    result.ok = True
    return result


@dataclass
class RowPlan:
    row: int
    values: dict
    mine: Mine | None  # existing mine, when the registry number is known
    county: Region
    enterprise_key: str


def _validate_rows(actor: User, columns: list[Column | None], body, errors: list[RowError]) -> list[RowPlan]:
    counties = {}
    for region in county_regions():
        for key in (region.code, region.name_zh, region.short_zh, *region.former_codes):
            if key:
                counties[key] = region
    codes = [str(r[columns.index(COLUMN_BY_HEADER["code"])] or "").strip() for _, r in body]
    existing = {m.code: m for m in Mine.objects.filter(code__in=codes).select_related("enterprise", "county")
                .select_for_update(of=("self",))}
    enterprises = {e.credit_code: e for e in Enterprise.objects.only("id", "name", "credit_code")}
    enterprise_names = {e.name for e in enterprises.values()} | set(
        Organisation.objects.filter(kind=Organisation.Kind.ENTERPRISE).values_list("name", flat=True))
    seen_codes: dict[str, int] = {}
    new_enterprise_names: dict[str, str] = {}
    new_enterprise_codes: dict[str, str] = {}
    visible_enterprises = set(Enterprise.objects.visible_to(actor).values_list("pk", flat=True))
    plans = []
    for row_number, raw in body:
        values: dict = {}
        row_errors: list[RowError] = []

        def fail(col: Column, value, message: str, errs=row_errors, row=row_number):
            errs.append(RowError(row, col.zh, "" if value is None else str(value)[:100], message))

        for col, value in zip(columns, raw, strict=False):
            if col is None or not col.importable:
                continue
            if isinstance(value, str) and value.startswith("="):
                fail(col, value, _("formulas are not accepted; enter the value"))
                continue
            try:
                parsed = col.parse(value)
            except CellError as exc:
                fail(col, value, str(exc))
                continue
            if col.required and parsed in (None, ""):
                fail(col, value, _("required"))
                continue
            values[col.key] = parsed
        if row_errors:
            errors.extend(row_errors)
            continue
        code_col, county_col, credit_col = (COLUMN_BY_HEADER[k] for k in ("code", "county", "credit_code"))
        code = values["code"]
        if code in seen_codes:
            fail(code_col, code, _("also on row %(r)d") % {"r": seen_codes[code]})
        seen_codes[code] = row_number
        county = counties.get(values["county"])
        if county is None:
            fail(county_col, values["county"], _("unknown county; use a code or name from the instructions sheet"))
        if reason := credit_code_error(values["credit_code"]):
            fail(credit_col, values["credit_code"], reason)
        else:
            known = enterprises.get(values["credit_code"])
            name = values["enterprise_name"]
            if known and known.name != name:
                fail(credit_col, values["credit_code"], _("belongs to %(n)s") % {"n": known.name}
                     if known.pk in visible_enterprises else _("conflicts with an existing registration"))
            elif not known and new_enterprise_names.setdefault(values["credit_code"], name) != name:
                fail(credit_col, values["credit_code"], _("used with two enterprise names in this file"))
            elif not known and name in enterprise_names:
                fail(COLUMN_BY_HEADER["enterprise_name"], name,
                     _("an enterprise of this name is registered under another credit code"))
            elif not known and new_enterprise_codes.setdefault(name, values["credit_code"]) != values["credit_code"]:
                fail(COLUMN_BY_HEADER["enterprise_name"], name, _("used with two credit codes in this file"))
        if row_errors:
            errors.extend(row_errors)
            continue
        mine = existing.get(code)
        _check_row_rules(actor, values, mine, county, fail, row_errors)
        if row_errors:
            errors.extend(row_errors)
            continue
        plans.append(RowPlan(row_number, values, mine, county, values["credit_code"]))
    return plans


def _candidate(values: dict, mine: Mine | None, county: Region) -> Mine:
    """An unsaved Mine with the row's values, for the shared validation and classification rules."""
    candidate = Mine(code=values["code"], county=county, status=values["status"])
    if mine is not None:
        candidate = Mine(**{f.attname: getattr(mine, f.attname) for f in Mine._meta.concrete_fields})
        candidate.county = county
    for key in MINE_VALUE_KEYS:
        if key in values:
            value = values[key]
            field_ = Mine._meta.get_field(key)
            if isinstance(value, Decimal) and hasattr(field_, "decimal_places"):
                value = value.quantize(Decimal(1).scaleb(-field_.decimal_places))
            setattr(candidate, key, value)
    return candidate


def _check_row_rules(actor, values, mine, county, fail, row_errors) -> None:
    col = COLUMN_BY_HEADER
    today = timezone.localdate()
    if mine is None:
        if not services.can_create_in_county(actor, county):
            fail(col["county"], values["county"], _("you may not register mines in this county"))
            return
    else:
        if not services.can_manage_mine(actor, mine):
            fail(col["code"], values["code"], _("conflicts with an existing registration outside your area"))
            return
        if mine.county_id != county.pk:
            fail(col["county"], values["county"], _("a mine cannot move county by import"))
        if mine.enterprise.credit_code != values["credit_code"]:
            fail(col["credit_code"], values["credit_code"], _("differs from the mine's enterprise"))
        if values["status"] != mine.status and (mine.status, values["status"]) not in services.STATUS_TRANSITIONS:
            fail(col["status"], values["status"], _("a mine cannot go from %(a)s to %(b)s") % {
                "a": Mine.Status(mine.status).label, "b": Mine.Status(values["status"]).label})
    since = values.get("status_since")
    if since and since > today:
        fail(col["status_since"], since, _("cannot be in the future"))
    candidate = _candidate(values, mine, county)
    try:
        services.validate_mine(candidate)
    except ValidationError as exc:
        for key, messages in exc.message_dict.items():
            target = col.get(key) or col["code"]
            fail(target, values.get(key), "; ".join(messages))


def _apply(actor: User, plans: list[RowPlan], result: ImportResult) -> None:
    today = timezone.localdate()
    changes: list[audit.Change] = []
    enterprises = {e.credit_code: e for e in Enterprise.objects.filter(
        credit_code__in={p.enterprise_key for p in plans})}
    new_enterprises: dict[str, Enterprise] = {}
    for plan in plans:
        if plan.enterprise_key not in enterprises and plan.enterprise_key not in new_enterprises:
            new_enterprises[plan.enterprise_key] = Enterprise(
                name=plan.values["enterprise_name"], credit_code=plan.enterprise_key, county=plan.county,
                organisation=Organisation(kind=Organisation.Kind.ENTERPRISE, name=plan.values["enterprise_name"],
                                          region=plan.county))
    if new_enterprises:
        Organisation.objects.bulk_create([e.organisation for e in new_enterprises.values()], batch_size=1000)
        Enterprise.objects.bulk_create(new_enterprises.values(), batch_size=1000)
        enterprises.update(new_enterprises)
        changes += [audit.Change(AuditEvent.Action.IMPORT, e, after=audit.snapshot(e))
                    for e in new_enterprises.values()]

    catalogues = services.classification_catalogues()
    new_mines, updated, transitions = [], [], []
    for plan in plans:
        candidate = _candidate(plan.values, plan.mine, plan.county)
        services.apply_classification(candidate, catalogues)
        if plan.mine is None:
            candidate.enterprise = enterprises[plan.enterprise_key]
            candidate.status_since = plan.values.get("status_since") or today
            candidate.ledger_due_date = services.next_ledger_due(candidate)
            new_mines.append(candidate)
            continue
        before = audit.snapshot(plan.mine)
        candidate.status = plan.mine.status  # a status change goes through the state machine below
        old, new = audit.diff(before, audit.snapshot(candidate))
        if new:
            updated.append(candidate)
            changes.append(audit.Change(AuditEvent.Action.IMPORT, candidate, before=old, after=new))
        if plan.values["status"] != plan.mine.status:
            # A changed 状态起始日期 dates the new status; an unchanged one (an edited export) means today.
            since = plan.values.get("status_since")
            transitions.append((plan.row, candidate, plan.values["status"],
                                since if since != plan.mine.status_since else None))
        if not new and plan.values["status"] == plan.mine.status:
            result.unchanged += 1
    Mine.objects.bulk_create(new_mines, batch_size=1000)
    MineStatusChange.objects.bulk_create(
        [MineStatusChange(mine=m, old_status="", new_status=m.status, effective_date=m.status_since,
                          reason=_("registered by ledger import"), changed_by=actor) for m in new_mines],
        batch_size=1000,
    )
    changes += [audit.Change(AuditEvent.Action.IMPORT, m, after=audit.snapshot(m)) for m in new_mines]
    if updated:
        Mine.objects.bulk_update(updated, MINE_VALUE_KEYS + ["scale_source", "pond_grade", "updated_at"],
                                 batch_size=1000)
    audit.record_many(actor, changes)
    for row, mine, status, since in transitions:
        try:
            services.change_status(actor, mine, status, reason=_("ledger import"), effective_date=since)
        except ValidationError as exc:
            raise _RowFailure(row, COLUMN_BY_HEADER["status"].zh, "; ".join(exc.messages)) from exc
        except (PermissionDenied, DomainError) as exc:
            raise _RowFailure(row, COLUMN_BY_HEADER["status"].zh, str(exc)) from exc
    result.created = len(new_mines)
    result.updated = len(updated) + sum(1 for t in transitions if t[1] not in updated)


def build_error_report(result: ImportResult) -> bytes:
    """The rows with errors, each with its problems and the bad cells marked, for the official to correct."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("错误报告")

    def marked(value):
        cell = WriteOnlyCell(ws, value=safe_cell(value))
        cell.fill = ERROR_FILL
        return cell

    if result.file_error:
        ws.append(["文件错误", result.file_error])
    else:
        ws.append(["行号", "错误", *result.header])
        by_row: dict[int, list[RowError]] = {}
        for err in result.errors:
            by_row.setdefault(err.row, []).append(err)
        header_index = {h: i for i, h in enumerate(result.header)}
        for row_number, raw in zip(result.row_numbers, result.raw_rows, strict=True):
            errs = by_row.get(row_number)
            if not errs:
                continue
            bad = {header_index.get(e.column) for e in errs}
            cells = [marked(v) if i in bad else safe_cell(v) for i, v in enumerate(raw)]
            ws.append([row_number, marked("；".join(f"{e.column}: {e.message}" for e in errs)), *cells])
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()
