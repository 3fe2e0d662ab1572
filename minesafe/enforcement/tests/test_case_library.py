"""The accident case library: the loader on the real shared records (counts, idempotence, problems reported and
never guessed, a malformed row, the missing folder), the command, and reading by every signed-in user."""

import datetime as dt
import shutil
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from minesafe.core.models import AuditEvent
from minesafe.enforcement import case_library, case_sources
from minesafe.enforcement.models import AccidentCase
from minesafe.web.tests.test_scoping import PERSONAS, api_client, web_client

pytestmark = pytest.mark.django_db
REAL = case_library.data_dir()
needs_data = pytest.mark.skipif(not REAL.is_dir(), reason="the shared accident data is not present")
CSP2_ROWS, NIOSH_ROWS = 376, 726  # rows in the files (the README rounds NIOSH to 725)


def by_source(reports):
    return {r.source: r for r in reports}


def test_the_data_folder_is_resolved_next_to_the_repository(settings):
    from pathlib import Path
    assert case_library.data_dir() == Path(settings.BASE_DIR).parent / "shared" / "data" / "accidents"
    settings.ACCIDENT_DATA_DIR = "/somewhere/else"
    assert case_library.data_dir() == Path("/somewhere/else")


@needs_data
def test_the_real_records_load_with_their_counts_and_problems(reference):
    reports = by_source(case_library.load_accident_cases())
    csp2, niosh = reports["csp2"], reports["niosh"]
    assert (csp2.rows, csp2.parsed, csp2.created, csp2.skipped) == (CSP2_ROWS, CSP2_ROWS, CSP2_ROWS, 0)
    assert (niosh.rows, niosh.parsed, niosh.created, niosh.problems) == (NIOSH_ROWS, NIOSH_ROWS, NIOSH_ROWS, ())
    assert AccidentCase.objects.filter(source="csp2").count() == CSP2_ROWS
    assert AccidentCase.objects.filter(source="niosh").count() == NIOSH_ROWS
    messages = {p.line: p.message for p in csp2.problems}
    # Deaths given as "yes" or a fraction are left empty, never guessed; a date cell that disagrees with the
    # year column leaves the year only.
    assert "'yes' is not a count" in messages[293] and "'0.9' is not a count" in messages[29]
    assert "does not agree with the year 1985" in messages[211]
    assert all(not p.skipped for p in csp2.problems)
    ubb = AccidentCase.objects.get(source="niosh", title__startswith="Upper Big Branch")
    assert (ubb.occurred_on, ubb.deaths, ubb.kind, ubb.place) == (dt.date(2010, 4, 5), 29, "explosion",
                                                                 "Montcoal, WV, USA")
    jagersfontein = AccidentCase.objects.get(source="csp2", title__startswith="Jagersfontein")
    assert (jagersfontein.occurred_on, jagersfontein.date_precision, jagersfontein.deaths) == (
        dt.date(2022, 9, 11), "day", 3)
    assert jagersfontein.kind == "tailings_dam" and "De Beers" in jagersfontein.narrative
    assert AccidentCase.objects.filter(source="csp2", deaths__isnull=True).count() > 300  # most give no count
    assert AccidentCase.objects.filter(source="csp2", date_precision="year").exists()
    assert AuditEvent.objects.filter(action="import", object_type="enforcement.accidentcase").count() == 2


@needs_data
def test_loading_again_changes_nothing_and_a_changed_case_is_restored(reference):
    case_library.load_accident_cases()
    events = AuditEvent.objects.count()
    AccidentCase.objects.filter(source="niosh", title__startswith="Upper Big Branch").update(deaths=1)
    reports = by_source(case_library.load_accident_cases())
    assert (reports["niosh"].created, reports["niosh"].updated, reports["niosh"].unchanged) == (0, 1, NIOSH_ROWS - 1)
    assert (reports["csp2"].created, reports["csp2"].updated) == (0, 0)
    assert AccidentCase.objects.count() == CSP2_ROWS + NIOSH_ROWS
    assert AccidentCase.objects.get(title__startswith="Upper Big Branch").deaths == 29
    assert AuditEvent.objects.count() == events + 1  # only the source that changed is logged


@needs_data
def test_a_malformed_row_is_reported_with_its_line_and_skipped(reference, tmp_path):
    shutil.copytree(REAL, tmp_path / "accidents")
    niosh = tmp_path / "accidents" / case_sources.NIOSH_FILE
    text = niosh.read_text(encoding="utf-8-sig")
    with open(niosh, "a", encoding="utf-8") as fh:
        fh.write("" if text.endswith("\n") else "\n")  # the shipped file has no final newline
        fh.write("2011-13-40,Bad Date Mine,Town,WV,7,Coal,Explosion,UG,Coal\n")
        fh.write("2011-05-01,No Count Mine,Town,WV,several,Coal,Explosion,UG,Coal\n")
        fh.write("2011-05-02,Short Row\n")
    reports = by_source(case_library.load_accident_cases(tmp_path / "accidents"))
    problems = [(p.line, p.message, p.skipped) for p in reports["niosh"].problems]
    assert problems == [(NIOSH_ROWS + 2, "unreadable date '2011-13-40'", True),
                        (NIOSH_ROWS + 3, "unreadable number killed 'several'", True),
                        (NIOSH_ROWS + 4, "expected 9 columns, found 2", True)]
    assert reports["niosh"].parsed == NIOSH_ROWS
    assert not AccidentCase.objects.filter(title__in=["Bad Date Mine: Explosion", "No Count Mine: Explosion"]).exists()


def test_a_missing_folder_or_file_fails_clearly(reference, tmp_path):
    with pytest.raises(case_library.MissingData, match="does not exist"):
        case_library.load_accident_cases(tmp_path / "nowhere")
    (tmp_path / "accidents").mkdir()
    with pytest.raises(case_sources.SourceError, match="missing source file"):
        case_library.load_accident_cases(tmp_path / "accidents")
    with pytest.raises(CommandError, match="does not exist"):
        call_command("load_accident_cases", "--dir", str(tmp_path / "nowhere"))
    assert not AccidentCase.objects.exists()


def test_a_file_that_is_not_the_expected_table_is_refused(reference, tmp_path):
    folder = tmp_path / "accidents"
    (folder / case_sources.CSP2_FILE).parent.mkdir(parents=True)
    (folder / case_sources.CSP2_FILE).write_text("a,b,c\n1,2,3\n", encoding="utf-8")
    with pytest.raises(case_sources.SourceError, match="CSP2"):
        case_library.load_accident_cases(folder)


@needs_data
def test_the_command_reports_counts_and_problems(reference):
    out = StringIO()
    call_command("load_accident_cases", stdout=out)
    text = out.getvalue()
    assert f"csp2: {CSP2_ROWS} rows, {CSP2_ROWS} cases ({CSP2_ROWS} new" in text
    assert f"niosh: {NIOSH_ROWS} rows" in text and "csp2 line 293 (kept)" in text


@pytest.mark.parametrize(("text", "year"), [
    ("7/Nov/22", (dt.date(2022, 11, 7), "day", "")), ("25-Ago-89", (dt.date(1989, 8, 25), "day", "")),
    ("May/17", (dt.date(2017, 5, 1), "month", "")), ("Jan/Feb-93", (dt.date(1993, 1, 1), "year", "")),
    ("24732", (dt.date(1967, 9, 17), "day", "")), ("", (dt.date(1990, 1, 1), "year", ""))])
def test_csp2_dates_refine_the_year_only_when_they_agree(text, year):
    given_year = year[0].year
    assert case_sources.csp2_date(given_year, text) == year


# Reading -----------------------------------------------------------------------------------------
@pytest.fixture
def cases(reference):
    AccidentCase.objects.create(key="t:1", source="csp2", title="Brumadinho: tailings dam failure",
                                occurred_on=dt.date(2019, 1, 25), place="Brumadinho, Minas Gerais, Brazil",
                                kind="tailings_dam", deaths=270,
                                narrative="Dam I of the Córrego do Feijão mine failed.")
    AccidentCase.objects.create(key="t:2", source="niosh", title="Sunshine: Fire", occurred_on=dt.date(1972, 5, 2),
                                place="Kellogg, ID, USA", kind="fire", deaths=91, narrative="Fire in the mine.")


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_library_is_read_by_every_signed_in_user(client, personas, cases, persona):
    web, api = web_client(client, personas, persona), api_client(personas, persona)
    case = AccidentCase.objects.get(key="t:1")
    page, detail = web.get("/enforcement/cases/"), web.get(f"/enforcement/cases/{case.pk}/")
    listing = api.get("/api/v1/accident-cases/")
    if persona == "anonymous":
        assert (page.status_code, detail.status_code, listing.status_code) == (302, 302, 403)
        return
    assert page.status_code == 200 and detail.status_code == 200 and "Córrego do Feijão" in detail.content.decode()
    assert {row["title"] for row in listing.json()["results"]} == {"Brumadinho: tailings dam failure",
                                                                   "Sunshine: Fire"}


def test_the_library_is_searchable(client, personas, cases):
    web = web_client(client, personas, "ent_b")
    html = web.get("/enforcement/cases/?q=brazil+feijão").content.decode()
    assert "Brumadinho" in html and "Sunshine" not in html
    html = web.get("/enforcement/cases/?kind=fire").content.decode()
    assert "Sunshine" in html and "Brumadinho" not in html
    api = APIClient()
    api.force_login(personas.inspector)
    rows = api.get("/api/v1/accident-cases/?q=kellogg").json()["results"]
    assert [r["title"] for r in rows] == ["Sunshine: Fire"]
    assert api.get("/api/v1/accident-cases/?year_to=2000").json()["count"] == 1
    assert api.post("/api/v1/accident-cases/", {"title": "x"}, format="json").status_code == 405
