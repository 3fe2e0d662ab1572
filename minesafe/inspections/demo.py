"""Inspections for the demo city: a year (the twelve months to today) of completed inspections by the bodies of
the annual plans, with their checklists, findings (a few major ones reported as hazards through the hazards
app, each with an order to rectify issued as a Word file), exams where the people demo has key-post holders,
and signatures; a couple of inspections still in progress today; and some counties behind their plans
(兴隆 at about 60%, 围场 at about 80%).

`targets` is what the annual plans ask (mine id -> (inspecting organisation id, visits a year, methods)); the
lead passes it from the plans demo. Without it the mines are picked by risk here. History is written in bulk
with one audit event per inspection; the hazards, documents and in-progress inspections go through the
services. Deterministic for a seed; nothing is added when the demo already has inspections."""

import datetime as dt
import hashlib
import random
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from minesafe.core import audit
from minesafe.core.models import AuditEvent, Organisation, User
from minesafe.registry.models import Mine, MineAssignment

from . import checklists, documents, services
from .models import Document, Finding, Inspection, InspectionItem, Method, Signature

RES = InspectionItem.Result
# The share of planned visits each county's team made (the rest of the counties: about 95%).
BEHIND_PLAN = {"130822": 0.6, "130828": 0.8}
DEFAULT_DONE = 0.95
MAJOR_FINDINGS = 8
ORDINARY_NOTES = ["培训档案缺少新员工三级教育记录", "应急演练记录不完整", "外包单位安全协议过期", "警示标志缺失",
                  "特种作业人员证件未按期复审", "安全检查记录填写不规范", "设备防护罩缺失", "巡查记录缺少签字"]
MAJOR_NOTES = {"UG": "井下现场核实存在，已责令整改", "OP": "采场现场核实存在，已责令整改",
               "TP": "库区现场核实存在，已责令整改"}


@dataclass
class InspectionSummary:
    inspections: int = 0
    completed: int = 0
    in_progress: int = 0
    planned: int = 0
    findings: int = 0
    major_findings: int = 0
    hazards: int = 0
    documents: int = 0
    exams: int = 0
    # county code of the inspecting team -> (visits made, visits planned) in the period
    by_county: dict[str, tuple[int, int]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def signature_png(seed: int) -> bytes:
    """A small valid PNG standing in for a drawn signature."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    width, height = 120, 40
    rows = b"".join(b"\x00" + bytes(0 if abs(y - 20 - ((x * (seed + 3)) % 17 - 8)) < 2 else 255 for x in range(width))
                    for y in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def risk_targets(rng: random.Random) -> dict[int, tuple[int, int, list[str]]]:
    """Visits by risk when no plan is given: producing underground mines and head ponds four a year, other
    ponds and open pits fewer, suspended mines checked covertly; three 宽城 mines inspected by 承德县's team
    (cross-county, assigned by the city); the city's own team at the head ponds."""
    counties = {o.region_id: o.pk for o in Organisation.objects.filter(kind=Organisation.Kind.COUNTY)}
    city = Organisation.objects.get(kind=Organisation.Kind.CITY_BUREAU)
    chengde_county = Organisation.objects.filter(kind=Organisation.Kind.COUNTY, region__code="130821").first()
    targets = {}
    cross = 0
    for mine in Mine.objects.exclude(status=Mine.Status.CLOSED).select_related("county").order_by("county__code",
                                                                                                 "code"):
        if mine.status in (Mine.Status.SUSPENDED, Mine.Status.CONSTRUCTION_HALTED):
            targets[mine.pk] = (counties[mine.county_id], 2, [Method.COVERT])
            continue
        visits = {"underground": 4, "open_pit": 3, "quarry": 2, "tailings_pond": 2, "processing_plant": 1}[
            mine.mine_type]
        methods = [Method.UNANNOUNCED]
        organisation = counties[mine.county_id]
        if mine.is_head_pond:
            visits, organisation = 4, city.pk
        elif mine.county.code == "130827" and mine.mine_type == "underground" and cross < 3 and chengde_county:
            organisation, methods, visits, cross = chengde_county.pk, [Method.CROSS_COUNTY], 2, cross + 1
        elif mine.mine_type == "tailings_pond" and rng.random() < 0.3:
            methods = [Method.UNANNOUNCED, Method.REMOTE]
        targets[mine.pk] = (organisation, visits, methods)
    return targets


def lead_for(organisation: Organisation, users_by_org: dict[int, list[User]], city_user: User) -> User:
    people = users_by_org.get(organisation.pk) or []
    return people[0] if people else city_user


def visit_dates(rng: random.Random, start: dt.date, end: dt.date, visits: int) -> list[dt.date]:
    """Visits spread over the period, one in each equal slice, none after `end`."""
    span = (end - start).days
    return [start + dt.timedelta(days=min(span, int((k + rng.uniform(0.1, 0.9)) * span / visits)))
            for k in range(visits)]


def seed_inspections(seed: int = 2026, targets: dict[int, tuple[int, int, list[str]]] | None = None,
                     today: dt.date | None = None) -> InspectionSummary:
    summary = InspectionSummary()
    if Inspection.objects.exists():
        return summary
    today = today or timezone.localdate()
    rng = random.Random(f"{seed}:inspections")
    city_user = User.objects.filter(role=User.Role.CITY, is_active=True).order_by("pk").first()
    if city_user is None or not Mine.objects.exists():
        summary.problems.append("no city user or no mines")
        return summary
    checklists.ensure_default_templates(city_user)
    start = (today.replace(day=1) - dt.timedelta(days=330)).replace(day=1)  # the twelve months to today
    end = today - dt.timedelta(days=1)
    targets = targets if targets is not None else risk_targets(rng)
    mines = Mine.objects.select_related("enterprise", "county").in_bulk(list(targets))
    organisations = Organisation.objects.select_related("region").in_bulk([t[0] for t in targets.values()])
    users_by_org: dict[int, list[User]] = {}
    for user in User.objects.filter(is_active=True, role__in=services.OFFICER_ROLES,
                                    organisation__in=list(organisations)).order_by("username"):
        users_by_org.setdefault(user.organisation_id, []).append(user)
    templates = {t: checklists.template_for(t) for t in Mine.Type.values}
    template_items = {t: list(tpl.items.order_by("position")) for t, tpl in templates.items()}

    # The visits made: each body does its share of the plan, spread over the year.
    planned: list[tuple[Mine, Organisation, dt.date, str]] = []
    for mine_id, (org_id, per_year, methods) in sorted(targets.items()):
        mine, organisation = mines.get(mine_id), organisations.get(org_id)
        if mine is None or organisation is None or per_year <= 0:
            continue
        for k, day in enumerate(visit_dates(rng, start, end, per_year)):
            method = methods[k % len(methods)] if methods else Method.ROUTINE
            if organisation.kind == Organisation.Kind.COUNTY and organisation.region_id != mine.county_id:
                method = Method.CROSS_COUNTY
            elif method == Method.CROSS_COUNTY:
                method = Method.ROUTINE
            planned.append((mine, organisation, day, method))
    done = []
    for visit in planned:
        code = visit[1].region.code
        share = BEHIND_PLAN.get(code, DEFAULT_DONE)
        made = rng.random() < share
        counted = summary.by_county.get(code, (0, 0))
        summary.by_county[code] = (counted[0] + made, counted[1] + 1)
        if made:
            done.append(visit)
    summary.planned = len(planned)
    done.sort(key=lambda v: (v[2], v[0].pk))

    with transaction.atomic():
        audit.lock_chain()
        serials: dict[str, int] = {}
        inspections = []
        for mine, organisation, day, method in done:
            prefix = f"JC{organisation.region.code}{day.year}"
            serials[prefix] = serials.get(prefix, 0) + 1
            lead = lead_for(organisation, users_by_org, city_user)
            started = timezone.make_aware(dt.datetime.combine(day, dt.time(rng.randint(8, 14), rng.randint(0, 59))))
            inspection = Inspection(
                mine=mine, organisation=organisation, method=method, inspected_on=day,
                status=Inspection.Status.COMPLETED, lead_inspector=lead, number=f"{prefix}{serials[prefix]:04d}",
                created_by=city_user if method == Method.CROSS_COUNTY else lead,
                checklist_template=templates[mine.mine_type], started_at=started,
                completed_at=started + dt.timedelta(hours=rng.randint(2, 5)),
                summary="现场检查完成，问题已当场反馈企业。")
            inspections.append(inspection)
        Inspection.objects.bulk_create(inspections, batch_size=500)

        items, findings = [], []
        for inspection in inspections:
            remote = inspection.method == Method.REMOTE
            chosen_free = None
            if rng.random() < 0.45:
                chosen_free = rng.choice([i for i in template_items[inspection.mine.mine_type] if not i.major])
            for t in template_items[inspection.mine.mine_type]:
                roll = rng.random()
                result = RES.NOT_CHECKED if remote and roll < 0.6 else (
                    RES.NOT_APPLICABLE if roll > 0.96 else RES.COMPLIANT)
                note = ""
                if chosen_free is not None and t.pk == chosen_free.pk:
                    result, note = RES.HAZARD_FOUND, rng.choice(ORDINARY_NOTES)
                item = InspectionItem(inspection=inspection, position=t.position, hazard_item_id=t.hazard_item_id,
                                      code=t.code, text=t.text, guidance=t.guidance, result=result, note=note,
                                      checked_by=inspection.lead_inspector,
                                      checked_at=inspection.started_at + dt.timedelta(minutes=t.position))
                items.append(item)
        InspectionItem.objects.bulk_create(items, batch_size=2000)
        for item in items:
            if item.result == RES.HAZARD_FOUND:
                inspection = item.inspection
                deadline = inspection.inspected_on + dt.timedelta(days=30)
                rectified = deadline < today and rng.random() < 0.85
                findings.append(Finding(
                    inspection=inspection, item=item, description=item.note, deadline=deadline,
                    status=Finding.Status.RECTIFIED if rectified else Finding.Status.OPEN,
                    rectified_at=timezone.make_aware(dt.datetime.combine(deadline - dt.timedelta(days=3),
                                                                         dt.time(10))) if rectified else None,
                    rectified_note="复查已整改" if rectified else "", created_by=inspection.lead_inspector,
                    created_at=inspection.started_at + dt.timedelta(hours=1)))
        Finding.objects.bulk_create(findings, batch_size=1000)
        summary.findings = len(findings)

        # A few major hazards, reported through the hazards app, each with its order to rectify.
        items_of: dict[int, list[InspectionItem]] = {}
        for item in items:
            items_of.setdefault(item.inspection.pk, []).append(item)
        findings_of: dict[int, list[Finding]] = {}
        for finding in findings:
            findings_of.setdefault(finding.inspection.pk, []).append(finding)
        majors = seed_major_findings(rng, inspections, items_of, findings_of, today, summary)
        seed_exams(rng, inspections, summary)
        seed_signatures(rng, inspections, items_of, findings_of)
        audit.record_many(city_user, [audit.Change(AuditEvent.Action.IMPORT, i, after={
            "number": i.number, "mine": i.mine_id, "organisation": i.organisation_id, "method": i.method,
            "inspected_on": i.inspected_on, "status": i.status}) for i in inspections])
        for inspection in majors:
            documents.issue_dated(lead_or_city(inspection, city_user), inspection,
                                  Document.Kind.RECTIFICATION_ORDER, inspection.inspected_on)
            summary.documents += 1
        summary.inspections = summary.completed = len(inspections)
        seed_in_progress(rng, today, city_user, summary)
    summary.inspections = Inspection.objects.count()
    return summary


def lead_or_city(inspection: Inspection, city_user: User) -> User:
    return inspection.lead_inspector if services.may_work(inspection.lead_inspector, inspection) else city_user


def seed_major_findings(rng, inspections, items_of, findings_of, today, summary) -> list[Inspection]:
    from minesafe.hazards import services as hazards

    candidates = [i for i in inspections if i.inspected_on.year == today.year and i.method != Method.REMOTE
                  and i.mine.mine_type in ("underground", "open_pit", "quarry", "tailings_pond")
                  and i.inspected_on < today - dt.timedelta(days=7)]
    chosen = rng.sample(candidates, min(MAJOR_FINDINGS, len(candidates)))
    for inspection in sorted(chosen, key=lambda i: i.inspected_on):
        item = rng.choice([i for i in items_of[inspection.pk] if i.hazard_item_id])
        note = f"{item.text}：{MAJOR_NOTES.get(item.code[:2], '现场核实存在')}"
        deadline = inspection.inspected_on + dt.timedelta(days=60)
        InspectionItem.objects.filter(pk=item.pk).update(result=RES.HAZARD_FOUND, note=note)
        item.result, item.note = RES.HAZARD_FOUND, note
        finding = Finding.objects.create(inspection=inspection, item=item, description=note, major=True,
                                         hazard_item=item.hazard_item, deadline=deadline,
                                         created_by=inspection.lead_inspector,
                                         created_at=inspection.started_at + dt.timedelta(hours=1))
        reporter = services.hazard_reporter(inspection.lead_inspector, inspection)
        finding.hazard = hazards.report_hazard(
            reporter, inspection.mine, item.hazard_item, source=services.hazard_source(inspection),
            found_on=inspection.inspected_on, deadline=deadline,
            description=f"{note}（检查 {inspection.number}，{inspection.organisation}）",
            finder_name=f"{inspection.lead_inspector} · {inspection.organisation}"[:64])
        finding.save(update_fields=["hazard"])
        findings_of.setdefault(inspection.pk, []).append(finding)
        summary.major_findings += 1
        summary.hazards += 1
    summary.findings += summary.major_findings
    return chosen


def seed_exams(rng, inspections, summary) -> None:
    """Passed exams of the mine manager at about half of this year's inspections, where the people demo has one
    (not at mines waiting for a resumption decision, whose exam state the operations demo shows)."""
    from minesafe.personnel import activities
    from minesafe.personnel.models import Appointment, Exam, ExamQuestion

    pool = list(ExamQuestion.objects.filter(active=True, post__in=["", "mine_manager"]))
    if len(pool) < 3:
        return
    from minesafe.operations.models import ResumptionApplication

    open_statuses = [ResumptionApplication.Status.APPLIED, ResumptionApplication.Status.CHECKING]
    waiting = set(ResumptionApplication.objects.filter(status__in=open_statuses).values_list("mine_id", flat=True))
    waiting |= set(Exam.objects.filter(passed=False).values_list("mine_id", flat=True))
    managers = {a.mine_id: a.person for a in Appointment.objects.filter(post="mine_manager", end_date__isnull=True)
                .select_related("person")}
    count = min(activities.questions_per_exam(), len(pool))
    pass_score = activities.pass_score()
    exams = []
    for inspection in inspections:
        person = managers.get(inspection.mine_id)
        if person is None or inspection.mine_id in waiting or inspection.method in (Method.REMOTE,
                                                                                       Method.CROSS_COUNTY):
            continue
        if inspection.inspected_on.year != inspection.completed_at.year or rng.random() > 0.5:
            continue
        asked = []
        for question in rng.sample(pool, count):
            given = question.answer if rng.random() < 0.9 else next(
                (o["key"] for o in question.options if o["key"] != question.answer), question.answer)
            asked.append({"question": question.pk, "text": question.text, "options": question.options,
                          "given": given, "right": question.answer, "correct": given == question.answer})
        score = (Decimal(100) * sum(a["correct"] for a in asked) / len(asked)).quantize(Decimal("0.1"))
        if score < pass_score:  # the demo's failed exams are the people demo's own
            for answer in asked:
                answer["given"], answer["correct"] = answer["right"], True
            score = Decimal(100)
        exams.append(Exam(person=person, mine_id=inspection.mine_id, post="mine_manager",
                          examiner=inspection.lead_inspector, held_on=inspection.inspected_on,
                          inspection_ref=inspection.number, answers=asked, score=score, passed=True))
    Exam.objects.bulk_create(exams, batch_size=1000)
    summary.exams = len(exams)


def seed_signatures(rng, inspections, items_of, findings_of) -> None:
    """Both signatures on every completed inspection, attesting its record; a few enterprises refused."""
    stored = []
    for n in range(6):
        content = signature_png(n)
        name = default_storage.save(f"inspections/demo/signature-{n}.png", ContentFile(content))
        stored.append((name, hashlib.sha256(content).hexdigest(), len(content)))
    signatures = []
    for inspection in inspections:
        fingerprint = services.fingerprint(
            inspection, [(i.position, i.code, i.result, i.note) for i in items_of.get(inspection.pk, [])],
            [(f.pk, f.item_id, f.description, f.major, f.hazard_item_id, f.deadline)
             for f in sorted(findings_of.get(inspection.pk, []), key=lambda f: f.pk)], [])
        at = inspection.completed_at - dt.timedelta(minutes=5)
        name, digest, size = rng.choice(stored)
        signatures.append(Signature(inspection=inspection, role=Signature.Role.LEAD_INSPECTOR,
                                    signer_name=str(inspection.lead_inspector)[:64],
                                    signer_user=inspection.lead_inspector, file=name, sha256=digest, size=size,
                                    recorded_by=inspection.lead_inspector, signed_at=at, record_hash=fingerprint))
        if rng.random() < 0.03:
            signatures.append(Signature(inspection=inspection, role=Signature.Role.ENTERPRISE,
                                        signer_name=inspection.mine.enterprise.legal_representative or "矿长",
                                        refused=True, refusal_reason="对检查结论有异议", witness_name="村委会主任",
                                        recorded_by=inspection.lead_inspector, signed_at=at,
                                        record_hash=fingerprint))
        else:
            name, digest, size = rng.choice(stored)
            signatures.append(Signature(inspection=inspection, role=Signature.Role.ENTERPRISE,
                                        signer_name=inspection.mine.enterprise.legal_representative or "矿长",
                                        file=name, sha256=digest, size=size, recorded_by=inspection.lead_inspector,
                                        signed_at=at, record_hash=fingerprint))
    Signature.objects.bulk_create(signatures, batch_size=1000)


def seed_in_progress(rng, today, city_user, summary) -> None:
    """Inspections being worked on today: 宽城's team at an underground mine, the expert at an assigned mine,
    and a cross-county visit the city assigned to 承德县's team."""
    county = User.objects.filter(username="kuancheng", is_active=True).first() or User.objects.filter(
        role=User.Role.COUNTY, organisation__region__code="130827", is_active=True).order_by("pk").first()
    started = []
    if county is not None:
        mine = Mine.objects.filter(county__code="130827", status=Mine.Status.PRODUCING,
                                   mine_type=Mine.Type.UNDERGROUND).order_by("code").first()
        if mine is not None:
            started.append((county, mine, {"method": Method.UNANNOUNCED, "team": "执法二组"}))
    inspector = User.objects.filter(role=User.Role.INSPECTOR, is_active=True).order_by("pk").first()
    if inspector is not None:
        assignment = MineAssignment.objects.filter(user=inspector).exclude(
            mine__status=Mine.Status.CLOSED).order_by("mine__code").first()
        if assignment is not None:
            started.append((inspector, assignment.mine, {"method": Method.ROUTINE}))
    team = Organisation.objects.filter(kind=Organisation.Kind.COUNTY, region__code="130821").first()
    lead = User.objects.filter(organisation=team, role=User.Role.COUNTY, is_active=True).order_by("pk").first()
    mine = Mine.objects.filter(county__code="130827", status=Mine.Status.PRODUCING,
                               mine_type=Mine.Type.OPEN_PIT).order_by("code").first()
    if team is not None and lead is not None and mine is not None:
        started.append((city_user, mine, {"method": Method.CROSS_COUNTY, "organisation": team,
                                          "lead_inspector": lead}))
    for actor, mine, options in started:
        inspection = services.start_inspection(actor, mine, inspected_on=today, **options)
        worker = inspection.lead_inspector
        for item in list(inspection.items.order_by("position"))[:rng.randint(3, 8)]:
            services.record_result(worker, item, RES.COMPLIANT)
        summary.in_progress += 1
