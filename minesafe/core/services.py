"""Core domain operations: login lockout, reference data, regions and organisations."""

import copy
import datetime as dt
import functools
from pathlib import Path

import yaml
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from . import audit
from .models import AuditEvent, Organisation, ReferenceCatalogue, Region, User

REFERENCE_DIR = Path(__file__).resolve().parent / "reference"
# The catalogues this project ships, loaded into ReferenceCatalogue (kind -> file).
REFERENCE_FILES: dict[str, str | Path] = {
    "scale": "scale.yaml",
    "tailings": "tailings.yaml",
    "standardization": "standardization.yaml",
}
# Loaders higher apps add (in AppConfig.ready) for reference data kept in their own tables.
REFERENCE_LOADERS: list = []


def register_reference(kind: str | None = None, path: Path | None = None, loader=None) -> None:
    """Let an app ship a catalogue file (kept in ReferenceCatalogue) or a loader of its own."""
    if kind and path:
        REFERENCE_FILES[kind] = path
    if loader and loader not in REFERENCE_LOADERS:
        REFERENCE_LOADERS.append(loader)

# City departments named in the action plan (承市安办字〔2024〕69号), by plan unit code.
CITY_DEPARTMENTS = {
    "ZRZY": "市自然资源和规划局",
    "GA": "市公安局",
    "SCJG": "市市场监督管理局",
    "STHJ": "市生态环境局",
    "SJZW": "市数据和政务服务局",
    "XF": "市消防救援支队",
    "RS": "市人力资源和社会保障局",
    "ZJ": "市住房和城乡建设局",
    "GD": "市供电公司",
}
CITY_BUREAU_NAME = "承德市应急管理局"


# Login lockout ---------------------------------------------------------------------------------
def locked_until(username: str) -> dt.datetime | None:
    until = User.objects.filter(username=username).values_list("locked_until", flat=True).first()
    return until if until and until > timezone.now() else None


def note_failed_login(username: str) -> None:
    """Count a failure atomically (parallel guesses all count) and lock at the limit."""
    with transaction.atomic():
        if not User.objects.filter(username=username).update(failed_logins=F("failed_logins") + 1):
            audit.record(None, AuditEvent.Action.LOGIN_FAILED, object_type="core.user", object_repr=username[:150])
            return
        user = User.objects.select_for_update().get(username=username)
        audit.record(None, AuditEvent.Action.LOGIN_FAILED, user, after={"failed_logins": user.failed_logins})
        if user.failed_logins >= settings.LOGIN_MAX_FAILURES:
            user.locked_until = timezone.now() + dt.timedelta(minutes=settings.LOGIN_LOCK_MINUTES)
            user.failed_logins = 0
            user.save(update_fields=["failed_logins", "locked_until"])
            audit.record(None, AuditEvent.Action.LOCKED, user, after={"locked_until": user.locked_until})


def note_successful_login(user: User) -> bool:
    """Reset the failure count, unless a parallel attempt locked the account meanwhile (then refuse)."""
    with transaction.atomic():
        if locked_until(user.username):
            return False
        User.objects.filter(pk=user.pk).update(failed_logins=0, locked_until=None)
        audit.record(user, AuditEvent.Action.LOGIN, user)
    return True


def unlock_user(actor: User, user: User) -> None:
    with transaction.atomic():
        before = audit.snapshot(user, ["failed_logins", "locked_until"])
        user.failed_logins = 0
        user.locked_until = None
        user.save(update_fields=["failed_logins", "locked_until"])
        after = audit.snapshot(user, ["failed_logins", "locked_until"])
        audit.record(actor, AuditEvent.Action.UPDATE, user, before, after)


# Reference data --------------------------------------------------------------------------------
@functools.cache
def _parsed_reference(name: str | Path) -> dict:
    with open(REFERENCE_DIR / name, encoding="utf-8") as fh:
        return yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def read_reference_yaml(name: str | Path) -> dict:
    """A shipped reference file (parsed once per process; each caller gets its own copy)."""
    return copy.deepcopy(_parsed_reference(name))


def load_reference_catalogues() -> int:
    """Load each shipped catalogue as the active version of its kind unless that version exists."""
    created = 0
    for kind, filename in REFERENCE_FILES.items():
        data = read_reference_yaml(filename)
        version = str(data.get("version", "1"))
        if ReferenceCatalogue.objects.filter(kind=kind, version=version).exists():
            continue
        with transaction.atomic():
            ReferenceCatalogue.objects.filter(kind=kind, active=True).update(active=False)
            cat = ReferenceCatalogue.objects.create(kind=kind, version=version, data=data, active=True,
                                                    note=f"loaded from {Path(filename).name}")
            audit.record(None, AuditEvent.Action.CREATE, cat, after={"kind": kind, "version": version})
        created += 1
    return created


def active_catalogue(kind: str) -> dict:
    cat = ReferenceCatalogue.objects.filter(kind=kind, active=True).only("data").first()
    if cat is None:  # a fresh database before `load_reference` ran: fall back to the shipped file
        return read_reference_yaml(REFERENCE_FILES[kind])
    return cat.data


# Regions and organisations ----------------------------------------------------------------------
def load_regions() -> int:
    """Create or update Chengde and its 12 county-level units from regions.yaml (codes kept)."""
    data = read_reference_yaml("regions.yaml")
    city = data["city"]
    created = 0
    with transaction.atomic():
        city_obj, made = Region.objects.update_or_create(
            code=city["code"],
            defaults={"name_zh": city["name_zh"], "name_en": city["name_en"], "kind": Region.Kind.CITY},
        )
        created += made
        for unit in data["units"]:
            _, made = Region.objects.update_or_create(
                code=unit["code"],
                defaults={
                    "name_zh": unit["name_zh"],
                    "name_en": unit.get("name_en", ""),
                    "short_zh": unit.get("short_zh", ""),
                    "kind": unit["kind"],
                    "parent": city_obj,
                    "statistical_only": bool(unit.get("statistical_only", data.get("statistical_only_default"))),
                    "former_codes": [unit["former"]["code"]] if unit.get("former") else [],
                },
            )
            created += made
    return created


def city_region() -> Region:
    return Region.objects.get(kind=Region.Kind.CITY)


def county_regions():
    return Region.objects.exclude(kind=Region.Kind.CITY).order_by("code")


def resolve_county(value: str) -> Region | None:
    """A county-level unit by code (current or former) or by Chinese name (full or short)."""
    value = (value or "").strip()
    if not value:
        return None
    for region in county_regions():
        if value in {region.code, region.name_zh, region.short_zh, *region.former_codes}:
            return region
    return None


def load_organisations() -> None:
    """The city bureau, the plan's city departments and one government per county-level unit."""
    city = city_region()
    with transaction.atomic():
        Organisation.objects.get_or_create(
            kind=Organisation.Kind.CITY_BUREAU, name=CITY_BUREAU_NAME, defaults={"region": city, "unit_code": "YJ"}
        )
        for code, name in CITY_DEPARTMENTS.items():
            Organisation.objects.get_or_create(
                kind=Organisation.Kind.DEPARTMENT, name=name, defaults={"region": city, "unit_code": code}
            )
        for region in county_regions():
            name = f"{region.name_zh}{'管委会' if region.kind == Region.Kind.DEVELOPMENT_ZONE else '人民政府'}"
            Organisation.objects.get_or_create(
                kind=Organisation.Kind.COUNTY, name=name, defaults={"region": region, "unit_code": "COUNTY"}
            )


def bootstrap_reference_data() -> None:
    """Everything a fresh database needs before any user acts (idempotent)."""
    load_regions()
    load_organisations()
    load_reference_catalogues()
    for loader in REFERENCE_LOADERS:
        loader()
