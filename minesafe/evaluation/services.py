"""County evaluation operations: manual items, publication (freezing), objections (申诉) and answers, the quarterly
ranking and the half-year notice (通报) and annual summary built from the published sheets.

Every change checks the actor, validates, moves the state along an explicit table (invalid: InvalidTransition,
HTTP 409), audits and notifies, in one transaction. Who may do what: the city scores, publishes and answers; a
county reads its own sheets (its draft live) and objects to its own published sheet within the catalogue's
period; the published ranking and notices are circulated to every county; nobody else sees anything."""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from minesafe.core import audit, notify
from minesafe.core.errors import DomainError, InvalidTransition
from minesafe.core.models import AuditEvent, Organisation, Region, User
from minesafe.core.rows import copy_back, locked_row
from minesafe.core.scoping import is_city
from minesafe.core.services import county_regions

from . import scoring
from .models import Decision, ManualScore, Objection, ScoreSheet
from .scoring import Quarter

S = ScoreSheet.Status
OS = Objection.Status
R = User.Role

# (from, to) -> roles allowed. Publishing freezes the sheet; an objection is answered once.
SHEET_TRANSITIONS = {(S.DRAFT, S.PUBLISHED): {R.CITY}}
OBJECTION_TRANSITIONS = {(OS.PENDING, OS.ADJUSTED): {R.CITY}, (OS.PENDING, OS.REJECTED): {R.CITY}}
DECISIONS = {Decision.ADJUST: OS.ADJUSTED, Decision.REJECT: OS.REJECTED}
REASON_MAX = 2000
# Aggregated periods: the half-year notice and the annual summary.
PERIODS = {"h1": (1, 2), "h2": (3, 4), "year": (1, 2, 3, 4)}


# Who may do what ---------------------------------------------------------------------------------
def county_of(user) -> int | None:
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    return user.organisation.region_id if user.role == R.COUNTY and user.organisation_id else None


def is_officer(user) -> bool:
    """May use the evaluation at all: the city and the counties."""
    return bool(user and user.is_authenticated and user.is_active and (is_city(user) or county_of(user)))


def require_officer(user) -> None:
    if not is_officer(user):
        raise PermissionDenied(_("the county evaluation is for the city and the counties"))


def require_city(user) -> None:
    if not (user and user.is_authenticated and user.is_active and is_city(user)):
        raise PermissionDenied(_("only the city may do this"))


def may_see_county(user, county: Region) -> bool:
    """A county's sheets (its live draft included): the city, and the county itself."""
    return bool(user and user.is_authenticated and user.is_active and (
        is_city(user) or county_of(user) == county.pk))


def evaluated_counties():
    """The county-level units the plan addresses, each with its government (all twelve in Chengde)."""
    return county_regions().filter(organisations__kind=Organisation.Kind.COUNTY).distinct().order_by("code")


def visible_counties(user):
    if is_city(user):
        return evaluated_counties()
    return evaluated_counties().filter(pk=county_of(user) or 0)


# Reading a sheet ---------------------------------------------------------------------------------
def sheet_for(county: Region, quarter: Quarter) -> ScoreSheet | None:
    return ScoreSheet.objects.filter(county=county, year=quarter.year, quarter=quarter.number).first()


def manual_map(sheet: ScoreSheet | None) -> dict:
    if sheet is None:
        return {}
    return {m.item: m for m in sheet.manual_scores.select_related("entered_by")}


def result_of(county: Region, quarter: Quarter, sheet: ScoreSheet | None = None, today: dt.date | None = None
              ) -> dict:
    """The published snapshot, or the draft computed live from the data now."""
    if sheet is not None and sheet.is_published:
        return sheet.snapshot
    return scoring.compute_sheet(county, quarter, manual=manual_map(sheet), today=today)


def sheet_link(county: Region, quarter: Quarter) -> str:
    return reverse("evaluation:sheet", args=[quarter.year, quarter.number, county.code])


def county_organisations(county_id: int) -> list[Organisation]:
    return list(Organisation.objects.filter(kind=Organisation.Kind.COUNTY, region_id=county_id))


def city_organisations() -> list[Organisation]:
    return list(Organisation.objects.filter(kind=Organisation.Kind.CITY_BUREAU))


def _text(errors: dict, name: str, value: str, required: str) -> str:
    value = (value or "").strip()
    if not value:
        errors[name] = required
    elif len(value) > REASON_MAX:
        errors[name] = _("at most %(n)d characters") % {"n": REASON_MAX}
    return value


def _score(errors: dict, value, maximum) -> Decimal | None:
    try:
        score = Decimal(str(value).strip())
    except (InvalidOperation, ValueError, TypeError):
        errors["score"] = _("enter a number")
        return None
    if not score.is_finite():
        errors["score"] = _("enter a number")
        return None
    if score < 0 or score > Decimal(str(maximum)):
        errors["score"] = _("must be between 0 and %(m)s") % {"m": scoring.cents(maximum)}
        return None
    if score != score.quantize(scoring.CENT):
        errors["score"] = _("at most two decimal places")
        return None
    return score


def _sheet_row(actor, county: Region, quarter: Quarter) -> ScoreSheet:
    """The sheet's row, locked; created (and audited) if the quarter has none yet. Call inside a transaction."""
    audit.lock_chain()
    sheet, created = ScoreSheet.objects.get_or_create(county=county, year=quarter.year, quarter=quarter.number)
    if created:
        audit.record(actor, AuditEvent.Action.CREATE, sheet, after=audit.snapshot(sheet, [
            "county", "year", "quarter", "status"]))
    return ScoreSheet.objects.select_for_update().get(pk=sheet.pk)


# Manual items ------------------------------------------------------------------------------------
def set_manual_score(actor: User, county: Region, quarter: Quarter, item: str, score, reason: str,
                     today: dt.date | None = None) -> ManualScore:
    """The city scores a manual item of a draft sheet (again, if it changes its mind), with the reason."""
    return set_manual_scores(actor, county, quarter, {item: (score, reason)}, today=today)[0]


def set_manual_scores(actor: User, county: Region, quarter: Quarter, scores: dict, today: dt.date | None = None
                      ) -> list[ManualScore]:
    """Several manual items of one draft sheet at once: `scores` is item code -> (score, reason). All or none."""
    require_city(actor)
    today = today or timezone.localdate()
    cat = scoring.catalogue()
    errors: dict[str, str] = {}
    clean = {}
    for item, (score, reason) in scores.items():
        cfg = scoring.item_config(cat, item)
        if cfg is None or cfg["kind"] != "manual":
            errors["item"] = _("not an item the city scores by hand")
            continue
        value = _score(errors, score, cfg["max"])
        clean[item] = (value, _text(errors, "reason", reason, _("give the reason for the score")))
    if not scores:
        errors["item"] = _("choose an item")
    if county is None or not evaluated_counties().filter(pk=county.pk).exists():
        errors["county"] = _("not a county under evaluation")
    if quarter.start > today:
        errors["quarter"] = _("%(q)s has not begun") % {"q": quarter}
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        sheet = _sheet_row(actor, county, quarter)
        if sheet.is_published:
            raise InvalidTransition(_("the sheet is published; a score changes only in answer to an objection"))
        existing = {m.item: m for m in ManualScore.objects.filter(sheet=sheet, item__in=clean)}
        saved, changes = [], []
        for item, (score, reason) in clean.items():
            current = existing.get(item)
            if current is None:
                current = ManualScore.objects.create(sheet=sheet, item=item, score=score, reason=reason,
                                                     entered_by=actor)
                changes.append(audit.Change(AuditEvent.Action.CREATE, current, after=audit.snapshot(current)))
            else:
                before = audit.snapshot(current, ["score", "reason"])
                current.score, current.reason = score, reason
                current.entered_by, current.entered_at = actor, timezone.now()
                current.save(update_fields=["score", "reason", "entered_by", "entered_at"])
                old, new = audit.diff(before, audit.snapshot(current, ["score", "reason"]))
                if new:
                    changes.append(audit.Change(AuditEvent.Action.UPDATE, current, before=old, after=new))
            saved.append(current)
        audit.record_many(actor, changes)
    return saved


# Publication -------------------------------------------------------------------------------------
def publish(actor: User, county: Region, quarter: Quarter, today: dt.date | None = None,
            memo: dict | None = None) -> ScoreSheet:
    """Freeze the quarter's sheet: the computed inputs, records and scores with the catalogue version. `memo`: see
    scoring.compute_sheet (a batch publishing several counties' sheets of the quarter in one transaction)."""
    require_city(actor)
    today = today or timezone.localdate()
    if county is None or not evaluated_counties().filter(pk=county.pk).exists():
        raise ValidationError({"county": _("not a county under evaluation")})
    if quarter.end >= today:
        raise DomainError(_("%(q)s has not ended; publish it from %(d)s") % {
            "q": quarter, "d": quarter.end + dt.timedelta(days=1)}, field="quarter", code="quarter_running")
    with transaction.atomic():
        sheet = _sheet_row(actor, county, quarter)
        if (sheet.status, S.PUBLISHED) not in SHEET_TRANSITIONS:
            raise InvalidTransition(_("the sheet is already published"))
        cat = scoring.catalogue()
        result = scoring.compute_sheet(county, quarter, manual=manual_map(sheet), today=today, cat=cat, memo=memo)
        if result["pending_manual"]:
            names = [scoring.label(i) for i in result["items"] if i["code"] in result["pending_manual"]]
            raise ValidationError({"manual": _("score these items first: %(i)s") % {"i": "、".join(names)}})
        result["objection_days"] = int(cat["objection_days"])
        before = {"status": sheet.status}
        sheet.status = S.PUBLISHED
        sheet.snapshot = result
        sheet.total = scoring.cents(result["total"])
        sheet.catalogue_version = result["catalogue_version"]
        sheet.published_at = timezone.now()
        sheet.published_by = actor
        sheet.save(update_fields=["status", "snapshot", "total", "catalogue_version", "published_at",
                                  "published_by"])
        audit.record(actor, AuditEvent.Action.TRANSITION, sheet, before=before, after={
            "status": sheet.status, "total": sheet.total, "catalogue_version": sheet.catalogue_version,
            "scores": {i["code"]: i["score"] for i in result["items"]},
            "deductions": result["deductions"]})
        notify.send(_("County evaluation %(q)s published: %(t)s points") % {"q": quarter, "t": sheet.total},
                    _("You may object within %(n)d days.") % {"n": result["objection_days"]},
                    sheet_link(county, quarter), organisations=county_organisations(county.pk))
    return sheet


# Objections (申诉) --------------------------------------------------------------------------------
def objection_deadline(sheet: ScoreSheet) -> dt.date | None:
    if not sheet.is_published or sheet.published_at is None:
        return None
    days = int((sheet.snapshot or {}).get("objection_days") or scoring.catalogue()["objection_days"])
    return timezone.localdate(sheet.published_at) + dt.timedelta(days=days)


def may_object(user, sheet: ScoreSheet, today: dt.date | None = None) -> bool:
    today = today or timezone.localdate()
    deadline = objection_deadline(sheet)
    return bool(county_of(user) == sheet.county_id and deadline and today <= deadline
                and not Objection.objects.filter(sheet=sheet).exists())


def file_objection(actor: User, sheet: ScoreSheet, reason: str, today: dt.date | None = None) -> Objection:
    """The county objects to its own published sheet, once, within the period, with the reason."""
    if county_of(actor) != sheet.county_id:
        raise PermissionDenied(_("only the county evaluated may object to its sheet"))
    errors: dict[str, str] = {}
    reason = _text(errors, "reason", reason, _("give the reason for the objection"))
    if errors:
        raise ValidationError(errors)
    if not sheet.is_published:
        raise InvalidTransition(_("a draft sheet cannot be objected to; wait for its publication"))
    today = today or timezone.localdate()
    deadline = objection_deadline(sheet)
    if today > deadline:
        raise DomainError(_("the objection period ended on %(d)s") % {"d": deadline}, field="objection",
                          code="objection_closed")
    with transaction.atomic():
        locked_row(ScoreSheet, sheet)
        if Objection.objects.filter(sheet=sheet).exists():
            raise DomainError(_("an objection to this sheet was already filed"), field="objection",
                              code="duplicate")
        objection = Objection.objects.create(sheet=sheet, reason=reason, filed_by=actor)
        audit.record(actor, AuditEvent.Action.CREATE, objection, after=audit.snapshot(objection))
        quarter = Quarter(sheet.year, sheet.quarter)
        notify.send(_("Objection to the evaluation %(q)s of %(c)s") % {"q": quarter, "c": sheet.county},
                    reason[:200], sheet_link(sheet.county, quarter), organisations=city_organisations())
    return objection


def answer_objection(actor: User, objection: Objection, *, decision: str, reason: str, item: str = "",
                     score=None) -> Objection:
    """The city answers: adjust one manual item (the published total follows) or reject, with the reason."""
    require_city(actor)
    if decision not in DECISIONS:
        raise ValidationError({"decision": _("choose adjust or reject")})
    target = DECISIONS[decision]
    if (objection.status, target) not in OBJECTION_TRANSITIONS:
        raise InvalidTransition(_("the objection was already answered (%(s)s)") % {
            "s": OS(objection.status).label})
    errors: dict[str, str] = {}
    reason = _text(errors, "reason", reason, _("give the reason for the answer"))
    sheet = objection.sheet
    entry = None
    if decision == Decision.ADJUST:
        entry = next((i for i in sheet.snapshot["items"] if i["code"] == item and i["kind"] == "manual"), None)
        if entry is None:
            errors["item"] = _("choose a manual item of the sheet")
        elif (value := _score(errors, score, entry["max"])) is not None:
            score = value
            if score == scoring.cents(entry["score"]):
                errors["score"] = _("the score is unchanged; reject the objection instead")
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        current = locked_row(Objection, objection)
        if current.status != objection.status:
            raise InvalidTransition(_("the objection changed meanwhile; reload and try again"))
        fields = ["status", "answer", "answered_by", "answered_at", "item", "old_score", "new_score"]
        before = audit.snapshot(current, fields)
        current.status, current.answer = target, reason
        current.answered_by, current.answered_at = actor, timezone.now()
        if decision == Decision.ADJUST:
            locked_sheet = ScoreSheet.objects.select_for_update().get(pk=sheet.pk)
            result = locked_sheet.snapshot
            entry = next(i for i in result["items"] if i["code"] == item)
            current.item, current.old_score, current.new_score = item, scoring.cents(entry["score"]), score
            entry["score"], entry["note"] = float(score), reason
            entry.setdefault("inputs", {})["adjusted_on_objection"] = True
            result.setdefault("adjustments", []).append({
                "item": item, "before": float(current.old_score), "after": float(score), "reason": reason,
                "by": str(actor), "at": scoring.iso(current.answered_at)})
            old_total = locked_sheet.total
            scoring.totals(result)
            locked_sheet.snapshot, locked_sheet.total = result, scoring.cents(result["total"])
            locked_sheet.save(update_fields=["snapshot", "total"])
            ManualScore.objects.filter(sheet=locked_sheet, item=item).update(score=score, reason=reason)
            audit.record(actor, AuditEvent.Action.UPDATE, locked_sheet,
                         before={"total": old_total, item: current.old_score},
                         after={"total": locked_sheet.total, item: score, "reason": reason})
            copy_back(locked_sheet, sheet)
        current.save(update_fields=fields)
        audit.record(actor, AuditEvent.Action.TRANSITION, current, before=before,
                     after=audit.snapshot(current, fields))
        quarter = Quarter(sheet.year, sheet.quarter)
        notify.send(_("Your objection to the evaluation %(q)s: %(s)s") % {"q": quarter, "s": OS(target).label},
                    reason[:200], sheet_link(sheet.county, quarter),
                    organisations=county_organisations(sheet.county_id))
    copy_back(current, objection)
    return objection


# Ranking -----------------------------------------------------------------------------------------
class RankStatus(models.TextChoices):
    PUBLISHED = "published", gettext_lazy("Published")
    DRAFT = "draft", gettext_lazy("Draft (computed live)")
    NONE = "none", gettext_lazy("Not published")


@dataclass
class RankRow:
    county: Region
    status: str  # a RankStatus
    total: float | None = None
    subtotal: float | None = None
    deductions: float | None = None
    rank: int | None = None
    scores: dict = field(default_factory=dict)
    flags: dict = field(default_factory=dict)


def assign_ranks(rows: list, key=lambda r: r.total) -> list:
    """Competition ranking (1, 2, 2, 4): equal totals share a rank; rows without a total come last, unranked.
    Within a tie the county code decides the order shown, never the rank."""
    scored_rows = sorted((r for r in rows if key(r) is not None), key=lambda r: (-key(r), r.county.code))
    previous, rank = None, 0
    for position, row in enumerate(scored_rows, start=1):
        if key(row) != previous:
            rank, previous = position, key(row)
        row.rank = rank
    return scored_rows + [r for r in rows if key(r) is None]


def ranking(quarter: Quarter, *, live: bool = False, today: dt.date | None = None) -> list[RankRow]:
    """Every county's total for the quarter: published sheets, and (live, for the city) drafts computed now."""
    today = today or timezone.localdate()
    sheets = {s.county_id: s for s in ScoreSheet.objects.filter(year=quarter.year, quarter=quarter.number)}
    rows = []
    memo: dict = {}
    for county in evaluated_counties():
        sheet = sheets.get(county.pk)
        if sheet is not None and sheet.is_published:
            result, status = sheet.snapshot, RankStatus.PUBLISHED
        elif live and quarter.start <= today:
            result = scoring.compute_sheet(county, quarter, manual=manual_map(sheet), today=today, memo=memo)
            status = RankStatus.DRAFT
        else:
            rows.append(RankRow(county=county, status=RankStatus.NONE))
            continue
        rows.append(RankRow(county=county, status=status, total=result["total"], subtotal=result["subtotal"],
                            deductions=result["deductions"], scores={i["code"]: i["score"] for i in result["items"]},
                            flags={f["code"]: f["count"] for f in result["flags"]}))
    return assign_ranks(rows)


def ranking_items(quarter: Quarter) -> list[dict]:
    """The item columns of a ranking: the catalogue's items (the published sheets carry the same codes)."""
    return scoring.catalogue()["items"]


# Half-year notice and annual summary -------------------------------------------------------------
@dataclass
class PeriodRow:
    county: Region
    totals: dict  # quarter number -> total (published only)
    average: float | None = None
    rank: int | None = None
    flags: dict = field(default_factory=dict)
    best_item: dict | None = None
    worst_item: dict | None = None
    total: float | None = None  # the average again, for assign_ranks


def aggregate(year: int, period: str) -> dict:
    """The half-year notice (通报) or annual summary: every county's published quarters in the period, its average
    and rank, flags summed, and per item the best and the worst county (average share of the item's maximum);
    per county its strongest and weakest item."""
    quarters = PERIODS[period]
    sheets = list(ScoreSheet.objects.published().filter(year=year, quarter__in=quarters).select_related("county"))
    by_county: dict[int, list[ScoreSheet]] = {}
    for sheet in sheets:
        by_county.setdefault(sheet.county_id, []).append(sheet)
    items: dict[str, dict] = {}
    rows = []
    for county in evaluated_counties():
        own = by_county.get(county.pk, [])
        row = PeriodRow(county=county, totals={s.quarter: float(s.total) for s in own})
        if own:
            row.average = row.total = float(scoring.cents(sum(Decimal(str(s.total)) for s in own) / len(own)))
        shares: dict[str, list[float]] = {}
        for sheet in own:
            for f in sheet.snapshot.get("flags", []):
                row.flags[f["code"]] = row.flags.get(f["code"], 0) + f["count"]
            for item in sheet.snapshot["items"]:
                items.setdefault(item["code"], {"code": item["code"], "zh": item["zh"], "en": item["en"],
                                                "max": item["max"], "counties": {}})
                shares.setdefault(item["code"], []).append(item["score"] / item["max"] if item["max"] else 0)
        for code, values in shares.items():
            share = sum(values) / len(values)
            items[code]["counties"][county.code] = {"county": county, "share": round(share, 4),
                                                    "score": round(share * items[code]["max"], 2)}
        ranked = sorted(((sum(v) / len(v), code) for code, v in shares.items()), key=lambda p: (-p[0], p[1]))
        if ranked:
            row.best_item = {**items[ranked[0][1]], "share": round(ranked[0][0], 4)}
            row.worst_item = {**items[ranked[-1][1]], "share": round(ranked[-1][0], 4)}
        rows.append(row)
    for item in items.values():
        entries = sorted(item["counties"].values(), key=lambda e: (-e["share"], e["county"].code))
        item["best"] = [e for e in entries if e["share"] == entries[0]["share"]] if entries else []
        item["worst"] = [e for e in entries if e["share"] == entries[-1]["share"]] if entries else []
        item["average_score"] = round(sum(e["score"] for e in entries) / len(entries), 2) if entries else None
    return {"year": year, "period": period, "quarters": quarters, "rows": assign_ranks(rows),
            "items": list(items.values()),
            "published": {q: sum(1 for s in sheets if s.quarter == q) for q in quarters},
            "counties": evaluated_counties().count()}
