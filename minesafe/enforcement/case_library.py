"""Seeding the accident case library (警示教育) from the real records in ../shared/data/accidents/.

`load_accident_cases()` is what the `minesafe load_accident_cases` command and the demo call. Idempotent: each
case has a stable key from its source row; a second load creates nothing and changes only what the files
changed. Rows that cannot be parsed are reported, never guessed.
"""

from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction

from minesafe.core import audit
from minesafe.core.models import AuditEvent

from . import case_sources
from .accidents import catalogue
from .models import AccidentCase

FIELDS = ["source", "title", "occurred_on", "date_precision", "place", "kind", "source_type", "deaths", "narrative",
          "references"]


class MissingData(case_sources.SourceError):
    """The shared accident data folder is not there."""


@dataclass(frozen=True)
class SourceReport:
    source: str
    rows: int
    parsed: int
    created: int
    updated: int
    unchanged: int
    problems: tuple[case_sources.RowProblem, ...]

    @property
    def skipped(self) -> int:
        return sum(1 for p in self.problems if p.skipped)


def data_dir() -> Path:
    """The shared data folder: settings.ACCIDENT_DATA_DIR, else ../shared/data/accidents next to the repository."""
    configured = getattr(settings, "ACCIDENT_DATA_DIR", None)
    return Path(configured) if configured else Path(settings.BASE_DIR).parent / "shared" / "data" / "accidents"


def parse_all(directory: Path) -> list[case_sources.ParseResult]:
    if not directory.is_dir():
        raise MissingData(f"the accident data folder {directory} does not exist (expected ../shared/data/accidents "
                          "next to the repository, or set ACCIDENT_DATA_DIR)")
    sources = catalogue()["sources"]
    keywords = sources["type_keywords"]
    return [case_sources.parse_csp2(directory / case_sources.CSP2_FILE, keywords, sources["csp2_causes"],
                                    sources["csp2_severity"]),
            case_sources.parse_niosh(directory / case_sources.NIOSH_FILE, keywords)]


def store(result: case_sources.ParseResult, source: str) -> SourceReport:
    existing = {c.key: c for c in AccidentCase.objects.filter(source=source)}
    new, changed = [], []
    for record in result.records:
        values = {f: getattr(record, f) for f in FIELDS}
        case = existing.get(record.key)
        if case is None:
            new.append(AccidentCase(key=record.key, **values))
        elif any(getattr(case, f) != v for f, v in values.items()):
            for field, value in values.items():
                setattr(case, field, value)
            changed.append(case)
    AccidentCase.objects.bulk_create(new, batch_size=500)
    AccidentCase.objects.bulk_update(changed, FIELDS, batch_size=500)
    return SourceReport(source, result.rows, len(result.records), len(new), len(changed),
                        len(result.records) - len(new) - len(changed), result.problems)


def load_accident_cases(directory: Path | None = None, actor=None) -> list[SourceReport]:
    """Create or update the library's cases from both sources; one audit event per source that changed."""
    directory = Path(directory) if directory else data_dir()
    results = parse_all(directory)
    reports = []
    with transaction.atomic():
        audit.lock_chain()
        for result, source in zip(results, (case_sources.CSP2, case_sources.NIOSH), strict=True):
            report = store(result, source)
            reports.append(report)
            if report.created or report.updated:
                audit.record(actor, AuditEvent.Action.IMPORT, object_type="enforcement.accidentcase",
                             object_repr=f"case library: {source}",
                             after={"source": source, "rows": report.rows, "created": report.created,
                                    "updated": report.updated, "skipped": report.skipped})
    return reports
