"""Pages of the penalty cases: the list with filters and exports, opening a case, one case with its timeline and
step forms, the decision document, the zero-penalty page for the city and the discretion benchmark. Thin: every
change goes through services.py (or benchmark.py); cases outside the reader's scope are 404."""

import datetime as dt

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from minesafe.core.models import Region, User
from minesafe.core.scoping import is_city
from minesafe.core.webutil import submit_on_form
from minesafe.enforcement.views_common import audit_trail, query_without_page, step_forms
from minesafe.registry.models import Mine

from . import benchmark, document, exports, forms, legal, services, zero
from .models import PenaltyCase, ZeroPenaltyRun

S = PenaltyCase.Status
READERS = (User.Role.CITY, User.Role.COUNTY, User.Role.ENTERPRISE, User.Role.INSPECTOR)


def require_reader(user) -> None:
    """Departments have no part in penalty cases (deny); everyone else reads their scope."""
    if not (is_city(user) or user.role in READERS):
        raise PermissionDenied


def scoped_cases(user):
    return PenaltyCase.objects.visible_to(user).select_related("mine__county", "mine__enterprise", "organisation")


def filter_cases(cases, params):
    """The list's filters, shared by the page and its exports."""
    status, county, violation, source = (params.get(k, "") for k in ("status", "county", "violation_type", "source"))
    if status in S.values:
        cases = cases.filter(status=status)
    if county:
        cases = cases.filter(mine__county__code=county)
    if violation:
        cases = cases.filter(violation_type=violation)
    if source in PenaltyCase.Source.values:
        cases = cases.filter(source=source)
    year = params.get("year", "")
    if year.isdigit() and len(year) == 4:
        cases = cases.filter(Q(decided_on__year=int(year)) | Q(decided_on__isnull=True, opened_on__year=int(year)))
    if params.get("overdue") == "1":
        cases = cases.payment_overdue()
    q = params.get("q", "").strip()[:64]
    if q:
        cases = cases.filter(Q(mine__name__icontains=q) | Q(decision_no__icontains=q)
                             | Q(mine__enterprise__name__icontains=q))
    return cases


@login_required
def case_list(request):
    require_reader(request.user)
    base = scoped_cases(request.user)
    cases = filter_cases(base, request.GET)
    page = Paginator(cases.order_by("-opened_on", "-pk"), 50).get_page(request.GET.get("page"))
    today = timezone.localdate()
    for case in page.object_list:  # the ID number is masked in lists, whoever reads
        case.masked_id = services.masked_id(case)
        case.payment_overdue = case.status == S.DECIDED and case.payment_due is not None and case.payment_due < today
    county_ids = base.order_by().values_list("mine__county_id", flat=True).distinct()
    return render(request, "penalties/list.html", {
        "page": page, "query": query_without_page(request), "params": request.GET,
        "statuses": S.choices, "sources": PenaltyCase.Source.choices, "violations": forms.violation_choices(),
        "counties": Region.objects.filter(pk__in=county_ids).order_by("code"),
        "overdue_count": base.payment_overdue().count(), "today": today,
        "may_open": openable_mines(request.user).exists(), "is_city": is_city(request.user)})


@login_required
def case_export_xlsx(request):
    require_reader(request.user)
    content = exports.cases_workbook(filter_cases(scoped_cases(request.user), request.GET))
    response = HttpResponse(content, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = 'attachment; filename="penalty-cases.xlsx"'
    return response


@login_required
def case_export_csv(request):
    require_reader(request.user)
    return exports.cases_csv(filter_cases(scoped_cases(request.user), request.GET))


def openable_mines(user):
    if is_city(user) or user.role == User.Role.COUNTY:
        return Mine.objects.visible_to(user).select_related("county").order_by("county__code", "code")
    return Mine.objects.none()


@login_required
def case_new(request):
    mines = openable_mines(request.user)
    if not mines.exists():
        raise PermissionDenied
    initial = {"source": PenaltyCase.Source.DIRECT}
    for name in ("mine", "inspection", "finding", "tipoff", "accident"):
        value = request.GET.get(name, "")
        if value.isdigit():
            initial[name] = int(value)
            if name != "mine":
                initial["source"] = name
    form = forms.OpenForm(request.POST or None, mines=mines, initial=initial)
    if request.method == "POST":
        def open_case(data):
            return services.open_case(
                request.user, mine=data["mine"], violation_type=data["violation_type"], facts=data["facts"],
                legal_basis=data["legal_basis"], source=data["source"], inspection=data["inspection"],
                finding=data["finding"], tipoff=data["tipoff"], accident=data["accident"], opened_on=data["opened_on"])

        created = submit_on_form(request, form, open_case, _("Penalty case opened."))
        if created:
            return redirect("penalties:detail", pk=created.pk)
    known = legal.provisions()
    typical = [(forms.entry_label(v), [known.get(k, {}).get("citation", k) for k in v.provisions])
               for v in benchmark.active().violations.values()]
    return render(request, "penalties/new.html", {"form": form, "typical": typical})


def step_table(user, case: PenaltyCase, bench: benchmark.Benchmark) -> tuple[dict, dict]:
    """The step forms open to this user now: name -> (form class, service call, success message), and kwargs."""
    steps, kwargs = {}, {}
    violation = bench.violation(case.violation_type)
    if services.may_step(user, case, "edit"):
        steps["edit"] = (forms.EditForm, lambda d: services.edit_case(
            user, case, facts=d["facts"], legal_basis=d["legal_basis"]), _("Case updated."))
        kwargs["edit"] = {"initial": {"facts": case.facts, "legal_basis": [p["key"] for p in case.legal_basis]}}
    if services.may_transition(user, case, S.NOTIFIED):
        steps["notify"] = (forms.NotifyForm, lambda d: services.notify_party(
            user, case, circumstance=d["circumstance"], proposed_enterprise_fine=d["proposed_enterprise_fine"],
            proposed_person_fine=d["proposed_person_fine"], person_name=d["person_name"],
            person_role=d["person_role"], person_id_number=d["person_id_number"], notified_on=d["notified_on"]),
            _("Notice recorded."))
        level = next(iter(violation.levels.values())) if violation else None
        initial = services.principal_of(case.mine)
        if level is not None:
            ent, per = benchmark.suggest(level, [], bench)
            initial.update(circumstance=level.key, proposed_enterprise_fine=ent, proposed_person_fine=per)
        kwargs["notify"] = {"violation": violation, "initial": initial}
    if services.may_step(user, case, "reply") and case.replied_on is None:
        steps["reply"] = (forms.ReplyForm, lambda d: services.record_reply(
            user, case, request_hearing=d["request_hearing"], statement=d["statement"], replied_on=d["replied_on"]),
            _("Reply recorded."))
    if services.may_step(user, case, "hearing") and case.hearing_requested_on and not case.hearing_held_on:
        steps["hearing"] = (forms.HearingForm, lambda d: services.record_hearing(
            user, case, held_on=d["held_on"], note=d["note"]), _("Hearing recorded."))
    if services.may_transition(user, case, S.DECIDED):
        steps["decide"] = (forms.DecideForm, lambda d: services.decide(
            user, case, circumstance=d["circumstance"], factors=d["factors"], enterprise_fine=d["enterprise_fine"],
            person_fine=d["person_fine"], person_name=d["person_name"], person_role=d["person_role"],
            person_id_number=d["person_id_number"], person_annual_income=d["person_annual_income"],
            person_exemption=d["person_exemption"], person_exemption_note=d["person_exemption_note"],
            fine_reason=d["fine_reason"], decided_on=d["decided_on"], served_on=d["served_on"]),
            _("Penalty decided."))
        kwargs["decide"] = {"violation": violation, "bench": bench, "initial": {
            "circumstance": case.circumstance, "enterprise_fine": case.proposed_enterprise_fine,
            "person_fine": case.proposed_person_fine, "person_name": case.person_name,
            "person_role": case.person_role, "person_id_number": case.person_id_number}}
    if services.may_step(user, case, "serve") and case.served_on is None:
        steps["serve"] = (forms.ServeForm, lambda d: services.serve(user, case, served_on=d["served_on"]),
                          _("Service recorded."))
    if services.may_step(user, case, "payment"):
        steps["payment"] = (forms.PaymentForm, lambda d: services.record_payment(
            user, case, target=d["target"], kind=d["kind"], amount=d["amount"], paid_on=d["paid_on"],
            receipt_ref=d["receipt_ref"]), _("Payment recorded."))
    open_challenges = [c for c in case.challenges.all() if c.concluded_on is None]
    if services.may_step(user, case, "challenge"):
        if not open_challenges:
            steps["challenge"] = (forms.ChallengeForm, lambda d: services.file_challenge(
                user, case, kind=d["kind"], filed_on=d["filed_on"], body=d["body"], note=d["note"]),
                _("Reconsideration or lawsuit recorded."))
        for c in open_challenges:
            steps[f"conclude{c.pk}"] = (forms.ConcludeChallengeForm, lambda d, c=c: services.conclude_challenge(
                user, c, concluded_on=d["concluded_on"], outcome=d["outcome"], note=d["note"]), _("Outcome recorded."))
    if services.may_transition(user, case, S.CLOSED) and not open_challenges and (
            case.status == S.PAID or services.revoked(case)):
        steps["close"] = (forms.CloseForm, lambda d: services.close_case(user, case, note=d["note"]),
                          _("Case closed."))
    if services.may_transition(user, case, S.WITHDRAWN):
        steps["withdraw"] = (forms.WithdrawForm, lambda d: services.withdraw(user, case, reason=d["reason"]),
                             _("Case withdrawn."))
    return steps, kwargs


def visible_case(request, pk: int) -> PenaltyCase:
    require_reader(request.user)
    return get_object_or_404(scoped_cases(request.user).select_related(
        "inspection", "tipoff", "accident", "benchmark").prefetch_related("payments", "challenges"), pk=pk)


@login_required
def case_detail(request, pk: int):
    case = visible_case(request, pk)
    user = request.user
    bench = benchmark.active()
    steps, kwargs = step_table(user, case, bench)
    done, forms_by_name = step_forms(request, steps, request.path, form_kwargs=kwargs)
    if done:
        return done
    challenges = list(case.challenges.all())
    for c in challenges:
        c.form = forms_by_name.get(f"conclude{c.pk}")
    violation = bench.violation(case.violation_type)
    payments = list(case.payments.all())
    extra = Q(object_type="penalties.payment", object_id__in=[str(p.pk) for p in payments]) | Q(
        object_type="penalties.challenge", object_id__in=[str(c.pk) for c in challenges])
    return render(request, "penalties/detail.html", {
        "case": case, "forms": forms_by_name, "timeline": services.timeline(case),
        "states": services.fine_states(case) if case.decided_on else [], "payments": payments,
        "challenges": challenges, "violation": violation,
        "violation_label": forms.entry_label(violation) if violation else case.violation_type,
        "levels": violation.levels.values() if violation else [],
        "violated": legal.cited_with_role(case.legal_basis, legal.VIOLATED),
        "penalty": legal.cited_with_role(case.legal_basis, legal.PENALTY),
        "exemption": legal.cited_with_role(case.legal_basis, legal.EXEMPTION),
        "factors": [forms.entry_label(bench.factors[f]) for f in case.factors if f in bench.factors],
        "person_id": case.person_id_number if services.may_see_personal(user, case) else services.masked_id(case),
        "decision_overdue": services.decision_overdue(case), "today": timezone.localdate(),
        "events": audit_trail(case, extra=extra)})


@login_required
def case_document(request, pk: int):
    case = visible_case(request, pk)
    if not case.decision_no:
        raise Http404
    content = document.decision_document(case, reveal_personal=services.may_see_personal(request.user, case))
    response = HttpResponse(content, content_type=document.DOCX_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="decision-{case.pk}.docx"'
    return response


# The zero-penalty page (the city) ----------------------------------------------------------------
def default_period(today: dt.date) -> str:
    last = today.replace(day=1) - dt.timedelta(days=1)
    return f"{last.year}-{last.month:02d}"


@login_required
def zero_penalty(request):
    if not is_city(request.user):
        raise PermissionDenied
    period = request.GET.get("period", "")
    bounds = zero.parse_period(period) if period else None
    if bounds is None and request.GET.get("start") and request.GET.get("end"):
        try:
            bounds = (dt.date.fromisoformat(request.GET["start"]), dt.date.fromisoformat(request.GET["end"]))
        except ValueError:
            bounds = None
        if bounds and (bounds[0] > bounds[1] or (bounds[1] - bounds[0]).days > 366):
            bounds = None
    if bounds is None:
        period = default_period(timezone.localdate())
        bounds = zero.parse_period(period)
    rows = zero.county_enforcement(*bounds)
    return render(request, "penalties/zero.html", {
        "rows": rows, "start": bounds[0], "end": bounds[1], "period": period, "limits": zero.thresholds(),
        "flagged": sum(r.flagged for r in rows), "reasons": {k: zero.reason_text(k) for k in zero.REASONS},
        "runs": ZeroPenaltyRun.objects.all()[:12]})


# The discretion benchmark ------------------------------------------------------------------------
@login_required
def benchmark_page(request):
    require_reader(request.user)
    city = is_city(request.user)
    form = None
    if request.method == "POST":
        if not city:
            raise PermissionDenied
        form = forms.BenchmarkLevelForm(request.POST)

        def edit(d):
            return benchmark.edit_level(
                request.user, d["violation"], d["level"], enterprise_min=d["enterprise_min"],
                enterprise_max=d["enterprise_max"], person_min=d["person_min"], person_max=d["person_max"],
                double_penalty=d["double_penalty"], note=d["note"])

        if submit_on_form(request, form, edit, _("Benchmark changed: a new version is active.")):
            return redirect("penalties:benchmark")
    bench = benchmark.active()
    violations = []
    for v in bench.violations.values():
        levels = []
        for lv in v.levels.values():
            initial = {"violation": v.key, "level": lv.key, "enterprise_min": lv.enterprise.low,
                       "enterprise_max": lv.enterprise.high, "double_penalty": lv.double_penalty,
                       "person_min": lv.person.low if lv.person else None,
                       "person_max": lv.person.high if lv.person else None}
            bound = form if form is not None and form.data.get("violation") == v.key and \
                form.data.get("level") == lv.key else None
            levels.append((lv, (bound or forms.BenchmarkLevelForm(initial=initial)) if city else None))
        violations.append((v, forms.entry_label(v), levels))
    provisions = legal.provisions()
    return render(request, "penalties/benchmark.html", {
        "bench": bench, "violations": violations, "city": city, "provisions": provisions,
        "factors": [(k, forms.entry_label(f), "aggravating") for k, f in bench.aggravating.items()]
        + [(k, forms.entry_label(f), "mitigating") for k, f in bench.mitigating.items()],
        "versions": benchmark.versions()[:20], "confidence": bench.data.get("confidence", "unverified")})
