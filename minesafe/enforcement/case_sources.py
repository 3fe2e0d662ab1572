"""Parsers of the real accident records the case library is seeded from. Pure: no Django.

Two sources (see ../shared/data/accidents/README.txt): the CSP2 list of tailings dam failures 1915-2022 and
the NIOSH list of US mining disasters 1839-2010. A row that cannot be parsed is reported (file line and
reason) and skipped; a field that cannot be read is left empty and reported, never guessed.
"""

import csv
import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

NIOSH_FILE = Path("niosh_mining_disasters") / "us_mining_disasters_1839_2010.csv"
CSP2_FILE = Path("tailings_dam_failures_csp2") / "Tailings_Dam_Failures_1915-2022_as_of_31Jan23.csv"
NIOSH = "niosh"
CSP2 = "csp2"
NIOSH_COLUMNS = ["Date", "Mine Name", "City", "State", "Killed", "Product", "Accident Type", "Mine Type",
                 "Mining Sector"]
CSP2_COLUMNS = {"severity": 0, "location": 1, "ore": 2, "cause": 9, "year": 10, "date": 11, "deaths": 14,
                "sources": 15, "notes": 16}
CSP2_HEADER = {0: "SEVERITY CODE", 1: "MINE/PROJECT & LOCATION", 10: "INCIDENT YEAR", 11: "INCIDENT DATE",
               14: "DEATHS", 16: "NOTES"}
# English and the Spanish/Portuguese abbreviations the CSP2 list uses (Ago, Ene, Set, Abr, Dic).
MONTHS = {name: n for n, names in enumerate(
    [("jan", "ene"), ("feb",), ("mar",), ("apr", "abr"), ("may",), ("jun",), ("jul",), ("aug", "ago"),
     ("sep", "set"), ("oct",), ("nov",), ("dec", "dic")], start=1) for name in names}
EXCEL_EPOCH = dt.date(1899, 12, 30)


class SourceError(ValueError):
    """A source file that is missing or not the expected table."""


@dataclass(frozen=True)
class CaseRecord:
    key: str  # stable across loads: the library's idempotency key
    source: str
    title: str
    occurred_on: dt.date
    date_precision: str  # "day", "month" or "year"
    place: str
    kind: str
    source_type: str  # the source's own words for the kind of accident
    deaths: int | None
    narrative: str
    references: str
    line: int


@dataclass(frozen=True)
class RowProblem:
    source: str
    line: int  # line in the file (the header is line 1)
    message: str
    skipped: bool  # True: no case made; False: the case was made with the named field left empty


@dataclass(frozen=True)
class ParseResult:
    records: tuple[CaseRecord, ...]
    problems: tuple[RowProblem, ...]
    rows: int


def stable_key(source: str, *parts: str) -> str:
    digest = hashlib.sha1("\x1f".join(p.strip().lower() for p in parts).encode()).hexdigest()[:20]
    return f"{source}:{digest}"


def map_kind(source_type: str, keywords: list) -> str:
    """Our kind for a source's type words: the first keyword found (case-insensitive), else "other"."""
    text = (source_type or "").lower()
    for keyword, kind in keywords:
        if str(keyword).lower() in text:
            return str(kind)
    return "other"


def read_rows(path: Path) -> list[list[str]]:
    if not path.is_file():
        raise SourceError(f"missing source file {path}")
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.reader(fh))


def line_numbers(path: Path) -> list[int]:
    """The file line each CSV record starts on (quoted fields may span lines)."""
    starts = []
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        line = 1
        for _row in reader:
            starts.append(line)
            line = reader.line_num + 1
    return starts


def whole_number(text: str) -> int | None:
    text = (text or "").strip()
    return int(text) if re.fullmatch(r"\d+", text) else None


# NIOSH ---------------------------------------------------------------------------------------------
def parse_niosh(path: Path, keywords: list) -> ParseResult:
    rows = read_rows(path)
    if not rows or [c.strip() for c in rows[0]] != NIOSH_COLUMNS:
        raise SourceError(f"{path.name}: the header is not the NIOSH table ({', '.join(NIOSH_COLUMNS)})")
    lines = line_numbers(path)
    records, problems = [], []
    for index, row in enumerate(rows[1:], start=1):
        line = lines[index]
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(NIOSH_COLUMNS):
            problems.append(RowProblem(NIOSH, line, f"expected {len(NIOSH_COLUMNS)} columns, found {len(row)}",
                                       True))
            continue
        date_text, mine, city, state, killed, product, acc_type, mine_type, sector = (c.strip() for c in row)
        try:
            day = dt.date.fromisoformat(date_text)
        except ValueError:
            problems.append(RowProblem(NIOSH, line, f"unreadable date {date_text!r}", True))
            continue
        deaths = whole_number(killed)
        if deaths is None:
            problems.append(RowProblem(NIOSH, line, f"unreadable number killed {killed!r}", True))
            continue
        if not mine:
            problems.append(RowProblem(NIOSH, line, "no mine name", True))
            continue
        place = ", ".join(p for p in (city, state, "USA") if p)
        narrative = (f"{acc_type or 'Accident'} at {mine} ({place}), {day.isoformat()}: {deaths} killed. "
                     f"Product: {product or '-'}; mine type: {mine_type or '-'}; sector: {sector or '-'}.")
        records.append(CaseRecord(
            key=stable_key(NIOSH, date_text, mine, state), source=NIOSH, title=f"{mine}: {acc_type or 'accident'}",
            occurred_on=day, date_precision="day", place=place, kind=map_kind(acc_type, keywords),
            source_type=acc_type, deaths=deaths, narrative=narrative, references="", line=line))
    return ParseResult(tuple(records), tuple(problems), len(rows) - 1)


# CSP2 ----------------------------------------------------------------------------------------------
def csp2_date(year: int, text: str) -> tuple[dt.date, str, str]:
    """(date, precision, warning): the INCIDENT YEAR column is authoritative; the date cell refines it only
    when its year agrees (a disagreeing or unreadable cell leaves year precision and a warning)."""
    text = (text or "").strip()
    year_only = (dt.date(year, 1, 1), "year", "")
    if not text or text == str(year):
        return year_only
    parts = re.fullmatch(r"(\d{1,2})[/-]([A-Za-z]{3})[/-](\d{2})", text)
    if parts:
        day, month, yy = int(parts[1]), MONTHS.get(parts[2].lower()), int(parts[3])
        if month and yy == year % 100:
            try:
                return dt.date(year, month, day), "day", ""
            except ValueError:
                pass
    parts = re.fullmatch(r"([A-Za-z]{3})/(\d{2})", text)
    if parts:
        month, yy = MONTHS.get(parts[1].lower()), int(parts[2])
        if month and yy == year % 100:
            return dt.date(year, month, 1), "month", ""
    if re.fullmatch(r"[A-Za-z]{3}/[A-Za-z]{3}-\d{2}", text) and int(text[-2:]) == year % 100:
        return year_only  # a span of months: only the year is certain
    if re.fullmatch(r"\d{5}", text):  # an Excel serial day number left in the sheet
        serial = EXCEL_EPOCH + dt.timedelta(days=int(text))
        if serial.year == year:
            return serial, "day", ""
    return dt.date(year, 1, 1), "year", f"date {text!r} does not agree with the year {year}; the year is used"


def parse_csp2(path: Path, keywords: list, causes: dict, severities: dict) -> ParseResult:
    rows = read_rows(path)
    header = [" ".join(c.split()) for c in rows[0]] if rows else []
    if any(len(header) <= i or header[i] != name for i, name in CSP2_HEADER.items()):
        raise SourceError(f"{path.name}: the header is not the CSP2 table of tailings dam failures")
    lines = line_numbers(path)
    records, problems = [], []
    seen: set[str] = set()
    width = max(CSP2_COLUMNS.values()) + 1
    for index, row in enumerate(rows[1:], start=1):
        line = lines[index]
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < width:
            problems.append(RowProblem(CSP2, line, f"expected at least {width} columns, found {len(row)}", True))
            continue
        cell = {name: row[i].strip() for name, i in CSP2_COLUMNS.items()}
        year = whole_number(cell["year"])
        if year is None or not 1800 <= year <= 2100:
            problems.append(RowProblem(CSP2, line, f"unreadable incident year {cell['year']!r}", True))
            continue
        location = " ".join(cell["location"].split())
        if not location:
            problems.append(RowProblem(CSP2, line, "no mine or location", True))
            continue
        occurred_on, precision, warning = csp2_date(year, cell["date"])
        if warning:
            problems.append(RowProblem(CSP2, line, warning, False))
        deaths = whole_number(cell["deaths"]) if cell["deaths"] else None
        if cell["deaths"] and deaths is None:
            problems.append(RowProblem(CSP2, line, f"deaths {cell['deaths']!r} is not a count; left empty", False))
        key = stable_key(CSP2, str(year), cell["date"], location, cell["notes"])
        if key in seen:
            problems.append(RowProblem(CSP2, line, "repeats an earlier row (same year, date, location, notes)",
                                       True))
            continue
        seen.add(key)
        cause_code = cell["cause"].upper().rstrip("?")
        cause = causes.get(cause_code, {}).get("en", "")
        severity = severities.get(cell["severity"], {}).get("en", "")
        site = location.split(",")[0].strip()
        facts = "; ".join(f for f in (
            f"ore: {cell['ore']}" if cell["ore"] else "", f"cause: {cause}" if cause else "",
            f"CSP2 severity class {cell['severity']} ({severity})" if severity else "") if f)
        narrative = "\n\n".join(p for p in (cell["notes"], facts) if p)
        records.append(CaseRecord(
            key=key, source=CSP2, title=f"{site}: tailings dam failure", occurred_on=occurred_on,
            date_precision=precision, place=location, kind=map_kind("tailings", keywords),
            source_type="tailings dam failure" + (f" ({cause})" if cause else ""), deaths=deaths,
            narrative=narrative, references=cell["sources"], line=line))
    return ParseResult(tuple(records), tuple(problems), len(rows) - 1)
