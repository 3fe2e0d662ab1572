"""The discretion benchmark (裁量基准) as versioned data: violation types, circumstance levels with fine ranges for
the enterprise and its main responsible person, the legal maxima and the aggravating and mitigating factors.

It lives in core's ReferenceCatalogue (kind "penalty_benchmark"); exactly one version is active. The city edits
a level's range; that writes a new version and leaves the old one untouched, so a decided case keeps pointing
at the version (and, in `benchmark_applied`, the ranges) it was decided under.
"""

import copy
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from minesafe.core import audit
from minesafe.core.models import AuditEvent, ReferenceCatalogue, User
from minesafe.core.scoping import is_city
from minesafe.core.services import REFERENCE_FILES, read_reference_yaml

KIND = "penalty_benchmark"
ZERO = Decimal("0")


def money(value) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


@dataclass(frozen=True)
class Range:
    low: Decimal
    high: Decimal

    def __contains__(self, amount: Decimal) -> bool:
        return self.low <= amount <= self.high

    def as_list(self) -> list[str]:
        return [str(self.low), str(self.high)]


@dataclass(frozen=True)
class Level:
    key: str
    zh: str
    enterprise: Range
    person: Range | None  # None: the level prescribes no fine on the person
    person_income_share: Decimal | None  # 第九十五条: a share of the person's last-year income
    double_penalty: bool

    @property
    def fines_person(self) -> bool:
        return self.person is not None or self.person_income_share is not None

    def person_range(self, income: Decimal | None) -> Range | None:
        if self.person_income_share is not None:
            if income is None:
                return None
            amount = money(income * self.person_income_share)
            return Range(amount, amount)
        return self.person


@dataclass(frozen=True)
class Violation:
    key: str
    zh: str
    en: str
    violated: list[str]
    penalty: list[str]
    person_penalty: list[str]
    double_penalty: bool
    legal_max_enterprise: Decimal
    legal_max_person: Decimal | None
    legal_max_person_share: Decimal | None
    levels: dict[str, Level] = field(default_factory=dict)

    def legal_max_for_person(self, income: Decimal | None) -> Decimal | None:
        if self.legal_max_person_share is not None:
            return money(income * self.legal_max_person_share) if income is not None else None
        return self.legal_max_person

    @property
    def provisions(self) -> list[str]:
        return list(dict.fromkeys([*self.violated, *self.penalty, *self.person_penalty]))


@dataclass
class Benchmark:
    version: str
    row: ReferenceCatalogue | None
    violations: dict[str, Violation]
    aggravating: dict[str, dict]
    mitigating: dict[str, dict]
    data: dict

    def violation(self, key: str) -> Violation | None:
        return self.violations.get(key)

    @property
    def factors(self) -> dict[str, dict]:
        return {**self.aggravating, **self.mitigating}


def _range(value) -> Range | None:
    if value is None:
        return None
    low, high = value
    return Range(money(low), money(high))


def _share(value) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def parse(data: dict, row: ReferenceCatalogue | None = None) -> Benchmark:
    violations = {}
    for v in data.get("violations", []):
        legal_max = v.get("legal_max", {})
        levels = {}
        for lv in v.get("levels", []):
            levels[lv["key"]] = Level(
                key=lv["key"], zh=lv.get("zh", lv["key"]), enterprise=_range(lv["enterprise"]),
                person=_range(lv.get("person")), person_income_share=_share(lv.get("person_income_share")),
                double_penalty=bool(lv.get("double_penalty", v.get("double_penalty", False))))
        violations[v["key"]] = Violation(
            key=v["key"], zh=v.get("zh", v["key"]), en=v.get("en", ""), violated=list(v.get("violated", [])),
            penalty=list(v.get("penalty", [])), person_penalty=list(v.get("person_penalty", [])),
            double_penalty=bool(v.get("double_penalty", False)),
            legal_max_enterprise=money(legal_max.get("enterprise", 0)),
            legal_max_person=money(legal_max["person"]) if legal_max.get("person") is not None else None,
            legal_max_person_share=_share(legal_max.get("person_income_share")), levels=levels)
    factors = data.get("factors", {})
    return Benchmark(version=str(data.get("version", "")), row=row, violations=violations,
                     aggravating={f["key"]: f for f in factors.get("aggravating", [])},
                     mitigating={f["key"]: f for f in factors.get("mitigating", [])}, data=data)


def active_row() -> ReferenceCatalogue:
    """The active version's row; on a database that never loaded the catalogue, the shipped file is loaded."""
    row = ReferenceCatalogue.objects.filter(kind=KIND, active=True).first()
    if row is None:
        data = read_reference_yaml(REFERENCE_FILES[KIND])
        with transaction.atomic():
            row, _made = ReferenceCatalogue.objects.get_or_create(
                kind=KIND, version=str(data.get("version", "1")),
                defaults={"data": data, "active": True, "note": "loaded from benchmark.yaml"})
    return row


def active() -> Benchmark:
    row = active_row()
    return parse(row.data, row)


def versions():
    return ReferenceCatalogue.objects.filter(kind=KIND).order_by("-loaded_at", "-pk")


def suggest(level: Level, factors: list[str], bench: Benchmark, income: Decimal | None = None
            ) -> tuple[Decimal, Decimal | None]:
    """A starting point inside the level's range: the middle, moved a quarter of the range up per aggravating and
    down per mitigating factor, rounded to 100 yuan (the officer decides; this only proposes)."""
    shift = Decimal("0.25") * (sum(f in bench.aggravating for f in factors) - sum(f in bench.mitigating
                                                                                   for f in factors))
    position = min(max(Decimal("0.5") + shift, ZERO), Decimal("1"))

    def point(r: Range | None) -> Decimal | None:
        if r is None:
            return None
        value = r.low + (r.high - r.low) * position
        if r.high - r.low >= 100:
            value = (value / 100).quantize(Decimal("1"), rounding=ROUND_HALF_UP) * 100
        return money(min(max(value, r.low), r.high))

    return point(level.enterprise), point(level.person_range(income))


def applied(bench: Benchmark, violation: Violation, level: Level, income: Decimal | None) -> dict:
    """What a decision keeps of the benchmark: version, ranges and legal maxima as applied."""
    person = level.person_range(income)
    person_max = violation.legal_max_for_person(income)
    return {"version": bench.version, "violation": violation.key, "violation_zh": violation.zh,
            "level": level.key, "level_zh": level.zh, "enterprise_range": level.enterprise.as_list(),
            "person_range": person.as_list() if person else None,
            "person_income_share": str(level.person_income_share) if level.person_income_share is not None else None,
            "double_penalty": level.double_penalty, "legal_max_enterprise": str(violation.legal_max_enterprise),
            "legal_max_person": str(person_max) if person_max is not None else None}


# Editing (the city) ------------------------------------------------------------------------------
def _amount(errors: dict, name: str, value, *, required: bool = True) -> Decimal | None:
    if value in (None, ""):
        if required:
            errors[name] = _("give an amount")
        return None
    try:
        amount = money(value)
    except (InvalidOperation, ValueError, TypeError):
        errors[name] = _("not an amount")
        return None
    if amount < 0:
        errors[name] = _("cannot be negative")
    return amount


def next_version(today) -> str:
    prefix = f"{today.isoformat()}-"
    taken = ReferenceCatalogue.objects.filter(kind=KIND, version__startswith=prefix).count()
    return f"{prefix}{taken + 1}"


def edit_level(actor: User, violation_key: str, level_key: str, *, enterprise_min, enterprise_max,
               person_min=None, person_max=None, double_penalty: bool | None = None, note: str = "") -> Benchmark:
    """The city changes one level's ranges (and whether it prescribes 一案双罚): a new active version."""
    if not is_city(actor):
        raise PermissionDenied(_("only the city edits the discretion benchmark"))
    errors: dict[str, str] = {}
    note = (note or "").strip()
    if not note:
        errors["note"] = _("say why the benchmark changes")
    with transaction.atomic():
        audit.lock_chain()
        row = ReferenceCatalogue.objects.select_for_update().get(pk=active_row().pk)
        bench = parse(row.data, row)
        violation = bench.violation(violation_key)
        level = violation.levels.get(level_key) if violation else None
        if violation is None:
            raise ValidationError({"violation_type": _("unknown violation type")})
        if level is None:
            raise ValidationError({"circumstance": _("unknown circumstance level")})
        low, high = _amount(errors, "enterprise_min", enterprise_min), _amount(errors, "enterprise_max", enterprise_max)
        if low is not None and high is not None:
            if low > high:
                errors["enterprise_max"] = _("must not be below the minimum")
            elif high > violation.legal_max_enterprise:
                errors["enterprise_max"] = _("above the legal maximum of %(m)s") % {"m": violation.legal_max_enterprise}
        p_low = _amount(errors, "person_min", person_min, required=False)
        p_high = _amount(errors, "person_max", person_max, required=False)
        person = None
        if level.person_income_share is None and (p_low is not None or p_high is not None):
            if p_low is None or p_high is None:
                errors["person_max" if p_high is None else "person_min"] = _("give both ends of the range")
            elif p_low > p_high:
                errors["person_max"] = _("must not be below the minimum")
            elif violation.legal_max_person is None or p_high > violation.legal_max_person:
                errors["person_max"] = _("above the legal maximum of %(m)s") % {"m": violation.legal_max_person or 0}
            else:
                person = [str(p_low), str(p_high)]
        if errors:
            raise ValidationError(errors)
        data = copy.deepcopy(row.data)
        entry = next(v for v in data["violations"] if v["key"] == violation_key)
        target = next(lv for lv in entry["levels"] if lv["key"] == level_key)
        before = copy.deepcopy(target)
        target["enterprise"] = [str(low), str(high)]
        if level.person_income_share is None:
            target["person"] = person
        if double_penalty is not None:
            target["double_penalty"] = bool(double_penalty)
        today = timezone.localdate()
        version = next_version(today)
        data["version"] = version
        data.setdefault("changes", []).append({"on": today.isoformat(), "by": str(actor), "violation": violation_key,
                                               "level": level_key, "note": note})
        row.active = False
        row.save(update_fields=["active"])
        new = ReferenceCatalogue.objects.create(kind=KIND, version=version, data=data, active=True,
                                                note=f"{actor}: {note}"[:1000])
        audit.record(actor, AuditEvent.Action.CREATE, new, before={"version": row.version, **before},
                     after={"version": version, "violation": violation_key, **target, "note": note})
    return parse(new.data, new)
