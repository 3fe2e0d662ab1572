"""The mine-ledger workbook: template, export, all-or-nothing import with row-level errors, upload checks,
formula-injection defences and the downloadable error report."""

import datetime as dt
import io
import zipfile

import pytest
from django.utils import timezone, translation
from openpyxl import Workbook, load_workbook

from minesafe.core.models import AuditEvent, Organisation
from minesafe.core.validators import credit_code_check_char
from minesafe.registry import excel, services
from minesafe.registry.models import Enterprise, Mine, MineStatusChange

IMPORTABLE = [c for c in excel.COLUMNS if c.importable]
ZH = {c.key: c.zh for c in excel.COLUMNS}


def credit_code(prefix17: str) -> str:
    return prefix17 + credit_code_check_char(prefix17)


NEW_CREDIT_A = credit_code("91130827MA000010D")  # a new enterprise in county A
NEW_CREDIT_B = credit_code("91130822MA000020E")  # a new enterprise in county B


@pytest.fixture(autouse=True)
def english():
    """Messages are asserted in English whatever translations exist."""
    with translation.override("en"):
        yield


def workbook(rows: list[dict], keys: list[str] | None = None, headers: list[str] | None = None) -> bytes:
    """An xlsx whose first sheet has the Chinese headers of `keys` and one row per dict (keyed by column key)."""
    keys = keys or [c.key for c in IMPORTABLE]
    wb = Workbook()
    ws = wb.active
    ws.append(headers or [ZH[k] for k in keys])
    for row in rows:
        ws.append([row.get(k) for k in keys])
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def new_underground(code: str = "KC-100", **overrides) -> dict:
    row = {"code": code, "name": f"宽城新铁矿{code}", "enterprise_name": "宽城新建矿业有限公司",
           "credit_code": NEW_CREDIT_A, "county": "宽城满族自治县", "mine_type": "underground", "mineral": "铁矿",
           "status": "producing", "design_capacity": 150}
    row.update(overrides)
    return row


def new_pond(code: str = "KC-T100", **overrides) -> dict:
    row = {"code": code, "name": f"宽城新尾矿库{code}", "enterprise_name": "宽城新建矿业有限公司",
           "credit_code": NEW_CREDIT_A, "county": "130827", "mine_type": "tailings_pond", "status": "producing",
           "design_pond_capacity": 500, "design_dam_height": 45}
    row.update(overrides)
    return row


def existing_row(mine: Mine, **overrides) -> dict:
    """The required columns of an existing mine, as they stand."""
    row = {"code": mine.code, "name": mine.name, "enterprise_name": mine.enterprise.name,
           "credit_code": mine.enterprise.credit_code, "county": mine.county.code, "mine_type": mine.mine_type,
           "status": mine.status}
    row.update(overrides)
    return row


REQUIRED_KEYS = [c.key for c in excel.COLUMNS if c.required]


def counts() -> dict:
    return {"mines": Mine.objects.count(), "enterprises": Enterprise.objects.count(),
            "organisations": Organisation.objects.count(), "events": AuditEvent.objects.count(),
            "status_changes": MineStatusChange.objects.count()}


def errors_at(result: excel.ImportResult) -> set[tuple[int, str]]:
    return {(e.row, e.column) for e in result.errors}


# Template round trip -------------------------------------------------------------------------------
def test_template_has_the_chinese_header_of_every_importable_column(reference):
    ws = load_workbook(io.BytesIO(excel.build_template())).worksheets[0]
    header = [cell.value for cell in ws[1]]
    assert header == [c.zh for c in IMPORTABLE]
    assert header[0] == "矿山编号"
    assert "尾矿库等别(计算)" not in header  # computed columns are export-only


def test_filled_template_imports_new_mines_with_computed_classes_and_audit(personas):
    wb = load_workbook(io.BytesIO(excel.build_template()))
    ws = wb.worksheets[0]
    keys = [excel.COLUMN_BY_HEADER[cell.value].key for cell in ws[1]]
    for row in (new_underground("KC-100"), new_pond("KC-T100")):
        ws.append([row.get(k) for k in keys])
    buffer = io.BytesIO()
    wb.save(buffer)
    events_before = AuditEvent.objects.count()

    result = excel.import_ledger(personas.city, "台账.xlsx", buffer.getvalue())

    assert result.ok, result.errors or result.file_error
    assert (result.rows, result.created, result.updated) == (2, 2, 0)
    mine = Mine.objects.get(code="KC-100")
    pond = Mine.objects.get(code="KC-T100")
    assert (mine.scale_class, mine.scale_source) == ("large", "computed")
    assert pond.pond_grade == 4
    assert mine.county.code == pond.county.code == "130827"
    assert mine.enterprise == pond.enterprise
    assert mine.enterprise.credit_code == NEW_CREDIT_A
    assert mine.enterprise.organisation.kind == Organisation.Kind.ENTERPRISE
    assert mine.status_since == timezone.localdate()
    assert mine.ledger_due_date is not None
    assert MineStatusChange.objects.filter(mine__in=[mine, pond], old_status="", new_status="producing").count() == 2
    imported = AuditEvent.objects.filter(seq__gt=events_before, action=AuditEvent.Action.IMPORT)
    assert {(e.object_type, e.object_id) for e in imported} >= {
        ("registry.mine", str(mine.pk)), ("registry.mine", str(pond.pk)),
        ("registry.enterprise", str(mine.enterprise.pk)),
    }
    assert all(e.actor_id == personas.city.pk for e in imported)


def zh_label(choice) -> str:
    with translation.override("zh-hans"):
        return str(choice.label)


def test_choice_cells_accept_the_stored_key_the_english_label_and_the_chinese_label(personas):
    data = workbook([new_underground("KC-100", mine_type="Underground mine", status="Producing"),
                     new_underground("KC-101", mine_type="underground", status="producing"),
                     new_underground("KC-102", mine_type=zh_label(Mine.Type.UNDERGROUND),
                                     status=zh_label(Mine.Status.PRODUCING))])
    result = excel.import_ledger(personas.city, "a.xlsx", data)
    assert result.ok, result.errors
    assert list(Mine.objects.filter(code__in=["KC-100", "KC-101", "KC-102"]).values_list("mine_type", "status")) == [
        ("underground", "producing")] * 3


# Export and re-import ------------------------------------------------------------------------------
def test_export_of_every_mine_reimports_without_changes(personas):
    exported = excel.build_export(Mine.objects.select_related("county", "enterprise"))
    before = counts()

    result = excel.import_ledger(personas.city, "export.xlsx", exported)

    assert result.ok, result.errors or result.file_error
    assert (result.rows, result.created, result.updated, result.unchanged) == (4, 0, 0, 4)
    assert counts() == before


def test_export_has_every_column_including_the_computed_ones(personas):
    ws = load_workbook(io.BytesIO(excel.build_export([personas.pond_a]))).worksheets[0]
    header = [c.value for c in ws[1]]
    assert header == [c.zh for c in excel.COLUMNS]
    values = dict(zip(header, [c.value for c in ws[2]], strict=True))
    assert values["矿山编号"] == "KC-T01"
    assert values["尾矿库等别(计算)"] == 4
    assert values["所属县区"] == "宽城满族自治县"


# Atomicity: one bad cell and nothing is written ----------------------------------------------------
def wrong_check_char(prefix17: str) -> str:
    right = credit_code_check_char(prefix17)
    return prefix17 + ("1" if right != "1" else "2")


BAD_ROWS = {
    "invalid credit code": ({"credit_code": wrong_check_char("91130827MA000030F"),
                             "enterprise_name": "另一家新公司"}, "统一社会信用代码"),
    "unknown county": ({"county": "火星县"}, "所属县区"),
    "impossible date": ({"status_since": "2024-02-30"}, "状态起始日期"),
    "future status date": ({"status_since": (timezone.localdate() + dt.timedelta(days=30)).isoformat()},
                           "状态起始日期"),
    "negative number": ({"design_capacity": -5}, "设计生产能力(万吨/年)"),
    "text in a number": ({"design_capacity": "很多"}, "设计生产能力(万吨/年)"),
    "formula cell": ({"name": "=cmd|' /C calc'!A0"}, "矿山名称"),
    "duplicate registry number in the file": ({"code": "KC-100"}, "矿山编号"),
    "tailings-only field on an underground mine": ({"design_pond_capacity": 100}, "设计库容(万立方米)"),
    "people underground on a tailings pond": ({"mine_type": "tailings_pond", "mineral": "",
                                               "design_capacity": None, "people_underground": 3}, "井下作业人数"),
    "unknown mine type": ({"mine_type": "露天煤矿"}, "矿山类型"),
    "missing required name": ({"name": ""}, "矿山名称"),
    "yes/no cell with another answer": ({"mine_type": "tailings_pond", "mineral": "", "design_capacity": None,
                                         "is_head_pond": "也许"}, "是否头顶库"),
    "fractional head count": ({"people_underground": 2.5}, "井下作业人数"),
    "enterprise name differs from the credit code's": ({"enterprise_name": "冒名矿业有限公司",
                                                        "credit_code": None}, "统一社会信用代码"),
}


@pytest.mark.parametrize("overrides, column", list(BAD_ROWS.values()), ids=list(BAD_ROWS))
def test_one_bad_row_rejects_the_whole_workbook_naming_row_and_column(personas, overrides, column):
    if "credit_code" in overrides and overrides["credit_code"] is None:  # an existing enterprise's code
        overrides = {**overrides, "credit_code": personas.enterprise_a.credit_code}
    rows = [new_underground("KC-100"), new_underground("KC-101"), new_pond("KC-T100"),
            new_underground("KC-102") | overrides]
    before = counts()

    result = excel.import_ledger(personas.city, "bad.xlsx", workbook(rows))

    assert not result.ok
    assert result.file_error == ""
    assert (5, column) in errors_at(result)  # header is row 1, so the fourth data row is Excel row 5
    assert {e.row for e in result.errors} == {5}
    assert all(e.message for e in result.errors)
    assert (result.created, result.updated) == (0, 0)
    assert counts() == before
    assert not Mine.objects.filter(code__in=["KC-100", "KC-101", "KC-T100", "KC-102"]).exists()


def test_every_bad_cell_in_the_workbook_is_reported_at_once(personas):
    rows = [new_underground("KC-100", county="火星县"), new_underground("KC-101"),
            new_underground("KC-102", design_capacity=-1, status_since="2024-02-30")]
    result = excel.import_ledger(personas.city, "bad.xlsx", workbook(rows))
    assert not result.ok
    assert errors_at(result) == {(2, "所属县区"), (4, "设计生产能力(万吨/年)"), (4, "状态起始日期")}
    bad_date = next(e for e in result.errors if e.column == "状态起始日期")
    assert bad_date.value == "2024-02-30"
    assert Mine.objects.count() == 4


def test_blank_rows_are_skipped_and_keep_excel_row_numbers(personas):
    data = workbook([new_underground("KC-100"), {}, new_underground("KC-101", county="火星县")])
    result = excel.import_ledger(personas.city, "gap.xlsx", data)
    assert result.rows == 2
    assert errors_at(result) == {(4, "所属县区")}


# Permissions ---------------------------------------------------------------------------------------
def test_county_b_cannot_update_a_county_a_mine_by_import(personas):
    mine = personas.mine_a
    before = counts()
    result = excel.import_ledger(personas.county_b, "x.xlsx",
                                 workbook([existing_row(mine, name="被改名的矿")], keys=REQUIRED_KEYS))
    assert not result.ok
    assert errors_at(result) == {(2, "矿山编号")}
    mine.refresh_from_db()
    assert mine.name == "宽城甲铁矿"
    assert counts() == before


def test_county_a_may_update_its_own_mine_by_import(personas):
    mine = personas.mine_a
    result = excel.import_ledger(personas.county_a, "x.xlsx",
                                 workbook([existing_row(mine, name="宽城甲铁矿(改)")], keys=REQUIRED_KEYS))
    assert result.ok, result.errors
    assert (result.created, result.updated) == (0, 1)
    mine.refresh_from_db()
    assert mine.name == "宽城甲铁矿(改)"
    event = AuditEvent.objects.filter(action=AuditEvent.Action.IMPORT, object_id=str(mine.pk)).get()
    assert event.before == {"name": "宽城甲铁矿"} and event.after == {"name": "宽城甲铁矿(改)"}


def test_county_a_may_register_mines_in_county_a(personas):
    result = excel.import_ledger(personas.county_a, "x.xlsx", workbook([new_underground("KC-100")]))
    assert result.ok, result.errors
    assert Mine.objects.get(code="KC-100").county == personas.county_a_region


def test_county_a_may_not_register_mines_in_county_b(personas):
    before = counts()
    row = new_underground("XL-100", county="130822", credit_code=NEW_CREDIT_B, enterprise_name="兴隆新建矿业有限公司")
    result = excel.import_ledger(personas.county_a, "x.xlsx", workbook([row]))
    assert not result.ok
    assert errors_at(result) == {(2, "所属县区")}
    assert counts() == before


def test_an_import_cannot_move_a_mine_to_another_county(personas):
    result = excel.import_ledger(personas.city, "x.xlsx",
                                 workbook([existing_row(personas.mine_a, county="130822")], keys=REQUIRED_KEYS))
    assert not result.ok
    assert (2, "所属县区") in errors_at(result)
    personas.mine_a.refresh_from_db()
    assert personas.mine_a.county == personas.county_a_region


# File-level errors ---------------------------------------------------------------------------------
def valid_workbook() -> bytes:
    return workbook([new_underground("KC-100")])


def zip_without_workbook() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<document/>")
    return buffer.getvalue()


def zip_with_broken_workbook() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("xl/workbook.xml", "this is not xml")
    return buffer.getvalue()


FILE_ERRORS = {
    "old .xls name": ("ledger.xls", valid_workbook, {}, "only .xlsx files are accepted"),
    "not a zip": ("ledger.xlsx", lambda: b"PK? this is plainly not a workbook" * 10, {}, "corrupted"),
    "zip without a workbook": ("ledger.xlsx", zip_without_workbook, {}, "corrupted"),
    "zip with a broken workbook": ("ledger.xlsx", zip_with_broken_workbook, {}, "corrupted"),
    "too large": ("ledger.xlsx", valid_workbook, {"IMPORT_MAX_BYTES": 1000}, "the limit is 1000"),
    "zip bomb": ("ledger.xlsx", valid_workbook, {"IMPORT_MAX_UNPACKED_BYTES": 2000}, "unpacks to"),
    "unknown column": ("ledger.xlsx",
                       lambda: workbook([new_underground() | {"x": "备注"}], keys=[c.key for c in IMPORTABLE] + ["x"],
                                        headers=[c.zh for c in IMPORTABLE] + ["备注"]),
                       {}, "unknown column 备注"),
    "missing required column": ("ledger.xlsx",
                                lambda: workbook([new_underground()],
                                                 keys=[k for k in REQUIRED_KEYS if k != "credit_code"]),
                                {}, "missing required columns: 统一社会信用代码"),
    "no data rows": ("ledger.xlsx", lambda: workbook([]), {}, "no data rows"),
}


@pytest.mark.parametrize("name, make, limits, message", list(FILE_ERRORS.values()), ids=list(FILE_ERRORS))
def test_unusable_upload_gives_a_file_error_and_changes_nothing(personas, settings, name, make, limits, message):
    data = make()
    for key, value in limits.items():
        setattr(settings, key, value)
    before = counts()

    result = excel.import_ledger(personas.city, name, data)

    assert not result.ok
    assert message in result.file_error
    assert result.errors == []
    assert counts() == before


def test_the_same_workbook_imports_under_the_default_limits(personas):
    """The file-error cases above fail because of the lowered limits, not because the workbook is bad."""
    assert excel.import_ledger(personas.city, "ledger.xlsx", valid_workbook()).ok


# Formula injection ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ['=HYPERLINK("http://x")', "+1+cmd", "-2+3", "@SUM(A1)"])
def test_export_neutralises_text_that_a_spreadsheet_would_run(personas, name):
    services.create_mine(personas.city, code="KC-F01", name=name, enterprise=personas.enterprise_a,
                         county=personas.county_a_region, mine_type=Mine.Type.UNDERGROUND)
    ws = load_workbook(io.BytesIO(excel.build_export(Mine.objects.filter(code="KC-F01")))).worksheets[0]
    header = [c.value for c in ws[1]]
    cell = ws.cell(row=2, column=header.index("矿山名称") + 1)
    assert cell.data_type != "f"
    assert cell.value == "'" + name


def test_export_of_plain_text_is_not_prefixed(personas):
    ws = load_workbook(io.BytesIO(excel.build_export([personas.mine_a]))).worksheets[0]
    header = [c.value for c in ws[1]]
    assert ws.cell(row=2, column=header.index("矿山名称") + 1).value == "宽城甲铁矿"


def test_a_neutralised_name_survives_export_and_reimport_unchanged(personas):
    name = '=HYPERLINK("http://x")'
    mine = services.create_mine(personas.city, code="KC-F01", name=name, enterprise=personas.enterprise_a,
                                county=personas.county_a_region, mine_type=Mine.Type.UNDERGROUND)
    exported = excel.build_export(Mine.objects.filter(pk=mine.pk))

    result = excel.import_ledger(personas.city, "export.xlsx", exported)

    mine.refresh_from_db()
    assert mine.name == name
    assert result.ok and result.updated == 0


# Status changes through the import -----------------------------------------------------------------
@pytest.mark.parametrize("suspended", ["suspended", "Production suspended", zh_label(Mine.Status.SUSPENDED)])
def test_import_applies_a_status_change_through_the_state_machine(personas, suspended):
    mine = personas.mine_a
    result = excel.import_ledger(personas.county_a, "x.xlsx",
                                 workbook([existing_row(mine, status=suspended)], keys=REQUIRED_KEYS))
    assert result.ok, result.errors
    assert result.updated == 1
    mine.refresh_from_db()
    assert mine.status == "suspended"
    assert mine.status_since == timezone.localdate()
    change = MineStatusChange.objects.filter(mine=mine).order_by("-id").first()
    assert (change.old_status, change.new_status, change.changed_by) == ("producing", "suspended", personas.county_a)
    assert AuditEvent.objects.filter(action=AuditEvent.Action.TRANSITION, object_id=str(mine.pk)).count() == 1


def test_import_rejects_an_impossible_status_change(personas):
    mine = personas.mine_a
    services.change_status(personas.city, mine, "closed", reason="资源枯竭")
    before = counts()
    result = excel.import_ledger(personas.city, "x.xlsx",
                                 workbook([existing_row(mine, status="producing")], keys=REQUIRED_KEYS))
    assert not result.ok
    assert errors_at(result) == {(2, "运营状态")}
    mine.refresh_from_db()
    assert mine.status == "closed"
    assert counts() == before


def test_a_status_change_failing_while_applied_rolls_back_every_row(personas):
    """Effective date before the current status began: caught by the state machine after the new rows."""
    mine = personas.mine_a
    keys = REQUIRED_KEYS + ["status_since", "mineral", "design_capacity"]
    rows = [new_underground("KC-100"), existing_row(mine, status="suspended", status_since="2023-06-01")]
    before = counts()

    result = excel.import_ledger(personas.city, "x.xlsx", workbook(rows, keys=keys))

    assert not result.ok
    assert errors_at(result) == {(3, "运营状态")}
    assert (result.created, result.updated) == (0, 0)
    assert counts() == before
    mine.refresh_from_db()
    assert mine.status == "producing"


# Error report --------------------------------------------------------------------------------------
def test_error_report_lists_each_row_with_its_problems(personas):
    rows = [new_underground("KC-100"), new_underground("KC-101", county="火星县"),
            new_underground("KC-102", name="=cmd|' /C calc'!A0")]
    result = excel.import_ledger(personas.city, "bad.xlsx", workbook(rows))
    assert not result.ok

    ws = load_workbook(io.BytesIO(excel.build_error_report(result))).worksheets[0]
    header = [c.value for c in ws[1]]
    assert header[:2] == ["行号", "错误"]
    assert header[2:] == [c.zh for c in IMPORTABLE]
    by_row = {r[0].value: r for r in ws.iter_rows(min_row=2)}
    assert set(by_row) == {3, 4}  # only the rows that need correcting
    county_message = next(e.message for e in result.errors if e.row == 3)
    assert "所属县区" in by_row[3][1].value and county_message in by_row[3][1].value
    assert "矿山名称" in by_row[4][1].value
    formula = by_row[4][2 + header[2:].index("矿山名称")]
    assert formula.data_type != "f" and formula.value.startswith("'=")


def test_error_report_for_a_file_error_states_it(reference):
    result = excel.ImportResult(ok=False, file_error="the file is corrupted")
    ws = load_workbook(io.BytesIO(excel.build_error_report(result))).worksheets[0]
    assert [c.value for c in ws[1]] == ["文件错误", "the file is corrupted"]
