"""Pages for drills and emergency plans, exams at inspection (逢查必考) and the question bank, contractors and
the own-team share. Thin: every change goes through activities.py; lists are scoped by visible_to and an
object outside the reader's scope is 404."""

import datetime as dt
import re

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from minesafe.core.errors import DomainError
from minesafe.core.webutil import error_text, query_without_page, step_forms
from minesafe.registry.forms import DateInput
from minesafe.registry.models import Mine

from . import activities as services
from . import common
from .models import Drill, EmergencyPlan, Exam, ExamQuestion, MiningTeam, OutsourcedProject, Person


# Plumbing ----------------------------------------------------------------------------------------
def visible_mine(user, pk: int) -> Mine:
    return get_object_or_404(Mine.objects.visible_to(user).select_related("county", "enterprise"), pk=pk)


def counties_of(mines) -> list:
    """The counties of the mines a reader sees (for a filter's choices)."""
    from minesafe.core.models import Region

    return list(Region.objects.filter(pk__in=mines.order_by().values_list("county_id", flat=True)).order_by("code"))


def post_choices(blank: str | None = None) -> list[tuple[str, str]]:
    choices = [(code, common.label(p)) for code, p in common.posts().items()]
    return [("", blank), *choices] if blank is not None else choices


# Forms -------------------------------------------------------------------------------------------
class DrillForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("kind"), choices=Drill.Kind.choices)
    held_on = forms.DateField(label=gettext_lazy("held on"), widget=DateInput())
    scenario = forms.CharField(label=gettext_lazy("scenario"), max_length=200)
    participants = forms.IntegerField(label=gettext_lazy("participants"), min_value=1)
    evidence = forms.CharField(label=gettext_lazy("evidence (record, photos, evaluation)"),
                               widget=forms.Textarea(attrs={"rows": 3}))


class PlanForm(forms.Form):
    title = forms.CharField(label=gettext_lazy("title"), max_length=200)
    version = forms.CharField(label=gettext_lazy("version"), max_length=32)
    revised_on = forms.DateField(label=gettext_lazy("revised on"), widget=DateInput())
    next_revision_due = forms.DateField(label=gettext_lazy("next revision due"), widget=DateInput())
    filed_with = forms.CharField(label=gettext_lazy("filed with (备案)"), max_length=128, required=False)


OPTION_LINE = re.compile(r"^\s*([^\s.:、)）．]{1,8})\s*[.:、)）．]?\s*(.+?)\s*$")


class QuestionForm(forms.Form):
    post = forms.ChoiceField(label=gettext_lazy("post"), required=False)
    text = forms.CharField(label=gettext_lazy("question"), widget=forms.Textarea(attrs={"rows": 3}))
    options = forms.CharField(label=gettext_lazy("options, one a line: key and text (e.g. \"A. ...\")"),
                              widget=forms.Textarea(attrs={"rows": 4}))
    answer = forms.CharField(label=gettext_lazy("answer (the key of the right option)"), max_length=8)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["post"].choices = post_choices(_("every post"))

    def clean_options(self) -> list[dict]:
        options = []
        for number, line in enumerate(self.cleaned_data["options"].splitlines(), 1):
            if not line.strip():
                continue
            match = OPTION_LINE.match(line)
            if not match:
                raise ValidationError(_("line %(n)d: write the key, then the text") % {"n": number})
            options.append({"key": match.group(1), "text": match.group(2)})
        return options


def options_text(options: list[dict]) -> str:
    return "\n".join(f"{o['key']}. {o['text']}" for o in options)


class ExamForm(forms.Form):
    """The drawn questions, one radio choice each (left unanswered: counted wrong)."""

    token = forms.CharField(widget=forms.HiddenInput())
    inspection_ref = forms.CharField(label=gettext_lazy("inspection"), max_length=100, required=False)

    def __init__(self, *args, questions=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.questions = list(questions)
        for number, question in enumerate(self.questions, 1):
            self.fields[f"q{question.pk}"] = forms.ChoiceField(
                label=f"{number}. {question.text}", required=False, widget=forms.RadioSelect,
                choices=[(o["key"], f"{o['key']}. {o['text']}") for o in question.options])

    def answers(self) -> dict[int, str]:
        return {q.pk: self.cleaned_data.get(f"q{q.pk}") or "" for q in self.questions}

    def question_fields(self):
        return [self[f"q{q.pk}"] for q in self.questions]


class ProjectForm(forms.Form):
    contractor = forms.CharField(label=gettext_lazy("contractor"), max_length=128)
    contractor_credit_code = forms.CharField(label=gettext_lazy("contractor's credit code"), max_length=18)
    qualification = forms.CharField(label=gettext_lazy("qualification (资质)"), max_length=200)
    qualification_expires_on = forms.DateField(label=gettext_lazy("qualification expires on"), widget=DateInput())
    scope = forms.CharField(label=gettext_lazy("scope of work"), max_length=200)
    underground = forms.BooleanField(label=gettext_lazy("work underground"), required=False)
    labour_dispatch = forms.BooleanField(label=gettext_lazy("labour dispatch (劳务派遣)"), required=False)
    blasting = forms.BooleanField(label=gettext_lazy("blasting"), required=False)
    start_date = forms.DateField(label=gettext_lazy("from"), widget=DateInput())
    end_date = forms.DateField(label=gettext_lazy("until"), widget=DateInput(), required=False)


class EndProjectForm(forms.Form):
    end_date = forms.DateField(label=gettext_lazy("ended on"), widget=DateInput())


class TeamForm(forms.Form):
    mode = forms.ChoiceField(label=gettext_lazy("mode"), choices=MiningTeam.Mode.choices)
    firm = forms.CharField(label=gettext_lazy("managing firm (whole-mine management)"), max_length=128,
                           required=False)
    since = forms.DateField(label=gettext_lazy("since"), widget=DateInput())
    evidence = forms.CharField(label=gettext_lazy("evidence"), required=False,
                               widget=forms.Textarea(attrs={"rows": 2}))


# Drills and plans --------------------------------------------------------------------------------
@login_required
def drill_list(request):
    """Producing and construction mines per county, with the evacuation drills overdue."""
    today = timezone.localdate()
    rows = services.overdue_drills(request.user, today)
    county = request.GET.get("county", "")
    if county:
        rows = [r for r in rows if r.county_code == county]
    return render(request, "personnel/drills_list.html", {
        "rows": rows, "county": county, "today": today, "every": services.drill_interval_months(),
        "counties": counties_of(services.active_mines(request.user)),
        "total_mines": sum(r.mines for r in rows), "total_overdue": sum(len(r.overdue) for r in rows)})


@login_required
def drill_mine(request, mine_pk: int):
    mine = visible_mine(request.user, mine_pk)
    user = request.user
    may_record = services.may_record(user, mine) and mine.status != Mine.Status.CLOSED
    steps = {"drill": (DrillForm, lambda d: services.record_drill(user, mine, **d), _("Drill recorded."))} \
        if may_record else {}
    if request.method == "POST" and not may_record:
        raise PermissionDenied
    done, step = step_forms(request, steps, request.path, unknown_step="forbid")
    if done:
        return done
    return render(request, "personnel/drills_mine.html", {
        "mine": mine, "status": services.drill_status(mine), "every": services.drill_interval_months(),
        "drills": Drill.objects.visible_to(user).filter(mine=mine).order_by("-held_on", "-pk"),
        "form": step.get("drill")})


@login_required
def plan_list(request):
    """Every producing or construction mine in scope with its emergency plan; missing or overdue first."""
    today = timezone.localdate()
    rows = services.plan_statuses(request.user, today)
    county, action = request.GET.get("county", ""), request.GET.get("action", "")
    if county:
        rows = [r for r in rows if r.mine.county.code == county]
    if action == "1":
        rows = [r for r in rows if r.missing or r.overdue]
    rows.sort(key=lambda r: (not (r.missing or r.overdue), r.mine.county.code, r.mine.code))
    return render(request, "personnel/plans_list.html", {
        "rows": rows, "county": county, "action": action, "today": today,
        "counties": counties_of(services.active_mines(request.user))})


@login_required
def plan_mine(request, mine_pk: int):
    mine = visible_mine(request.user, mine_pk)
    user = request.user
    may_record = services.may_record(user, mine) and mine.status != Mine.Status.CLOSED
    steps = {"plan": (PlanForm, lambda d: services.record_plan(user, mine, **d), _("Plan revision recorded."))} \
        if may_record else {}
    if request.method == "POST" and not may_record:
        raise PermissionDenied
    done, step = step_forms(request, steps, request.path, unknown_step="forbid")
    if done:
        return done
    plans = list(EmergencyPlan.objects.visible_to(user).filter(mine=mine).order_by("-revised_on", "-pk"))
    today = timezone.localdate()
    for plan in plans:
        plan.overdue = services.plan_overdue(plan, today)
    return render(request, "personnel/plans_mine.html", {
        "mine": mine, "plans": plans, "current": plans[0] if plans else None, "form": step.get("plan")})


# Exams -------------------------------------------------------------------------------------------
@login_required
def exam_list(request):
    exams = services.exam_history(request.user)
    county, result = request.GET.get("county", ""), request.GET.get("result", "")
    if county:
        exams = exams.filter(mine__county__code=county)
    if result in ("passed", "failed"):
        exams = exams.filter(passed=result == "passed")
    page = Paginator(exams, 50).get_page(request.GET.get("page"))
    with_post_labels(page.object_list)
    return render(request, "personnel/exams_list.html", {
        "page": page, "query": query_without_page(request), "county": county, "result": result,
        "counties": counties_of(Mine.objects.visible_to(request.user))})


def with_post_labels(exams) -> list[Exam]:
    exams = list(exams)
    for exam in exams:
        exam.post_label = services.post_label(exam.post)
    return exams


@login_required
def exam_mine(request, mine_pk: int):
    """The mine's current key-post holders with their latest exam, the resumption item, and its exams."""
    mine = visible_mine(request.user, mine_pk)
    user = request.user
    holders = services.current_holders(mine)
    latest: dict[int, Exam] = {}
    for exam in Exam.objects.filter(mine=mine, person_id__in=[a.person_id for a in holders]).order_by(
            "person_id", "-held_on", "-pk"):
        latest.setdefault(exam.person_id, exam)
    five = set(common.five_post_codes())
    for appointment in holders:
        appointment.post_label = services.post_label(appointment.post)
        appointment.five = appointment.post in five
        appointment.latest_exam = latest.get(appointment.person_id)
    passed, reason = services.chiefs_examined(mine)
    return render(request, "personnel/exams_mine.html", {
        "mine": mine, "holders": holders, "may_examine": services.may_examine(user, mine),
        "passed": passed, "reason": reason, "months": services.blocking_months(),
        "exams": with_post_labels(services.exam_history(user, mine=mine)[:100]), "pass_score": services.pass_score()})


@login_required
def exam_take(request, person_pk: int):
    """GET draws the questions and shows the form; POST scores the answers and shows the result."""
    person = get_object_or_404(Person.objects.visible_to(request.user).select_related("mine__county"), pk=person_pk)
    user = request.user
    if not services.may_examine(user, person.mine):
        raise PermissionDenied
    draw, refusal, form = None, "", None
    try:
        if request.method == "POST":
            draw = services.load_draw(user, request.POST.get("token", ""))
            if draw.person.pk != person.pk:
                raise PermissionDenied
            form = ExamForm(request.POST, questions=draw.questions)
            if form.is_valid():
                exam = services.take_exam(user, draw.token, form.answers(),
                                          inspection_ref=form.cleaned_data["inspection_ref"])
                messages.success(request, _("Exam recorded: score %(s)s.") % {"s": exam.score})
                return redirect("personnel:exam-detail", pk=exam.pk)
        else:
            draw = services.draw_exam(user, person, request.GET.get("post", ""))
            form = ExamForm(questions=draw.questions, initial={"token": draw.token})
    except (ValidationError, DomainError) as exc:
        refusal, form = error_text(exc), None
    held = services.open_posts(person)
    return render(request, "personnel/exams_take.html", {
        "person": person, "mine": person.mine, "draw": draw, "form": form, "refusal": refusal,
        "posts": [(a.post, services.post_label(a.post)) for a in held],
        "post_label": services.post_label(draw.post) if draw else "", "pass_score": services.pass_score()})


@login_required
def exam_detail(request, pk: int):
    exam = get_object_or_404(services.exam_history(request.user), pk=pk)
    return render(request, "personnel/exams_detail.html", {
        "exam": exam, "mine": exam.mine, "post_label": services.post_label(exam.post),
        "show_answers": services.may_see_answers(request.user, exam.mine),
        "correct": sum(1 for a in exam.answers if a.get("correct")), "asked": len(exam.answers)})


@login_required
def exam_person(request, person_pk: int):
    person = get_object_or_404(Person.objects.visible_to(request.user).select_related("mine__county"), pk=person_pk)
    exams = with_post_labels(services.exam_history(request.user, person=person))
    return render(request, "personnel/exams_person.html", {
        "person": person, "mine": person.mine, "exams": exams,
        "posts": [services.post_label(a.post) for a in services.open_posts(person)],
        "may_examine": services.may_examine(request.user, person.mine)})


# Question bank -----------------------------------------------------------------------------------
@login_required
def question_list(request):
    user = request.user
    services.require_bank_editor(user)
    done, step = step_forms(request, {"add": (QuestionForm, lambda d: services.create_question(user, **d),
                                              _("Question added."))}, request.path, unknown_step="forbid")
    if done:
        return done
    questions = ExamQuestion.objects.all()
    post, state = request.GET.get("post", ""), request.GET.get("state", "")
    if post == "-":
        questions = questions.filter(post="")
    elif post:
        questions = questions.filter(post=post)
    if state in ("active", "inactive"):
        questions = questions.filter(active=state == "active")
    page = Paginator(questions.order_by("post", "pk"), 50).get_page(request.GET.get("page"))
    for question in page.object_list:
        question.post_label = services.post_label(question.post) if question.post else _("every post")
    counts = {code: services.question_pool(code).count() for code in common.posts()}
    return render(request, "personnel/exams_questions.html", {
        "page": page, "query": query_without_page(request), "post": post, "state": state,
        "posts": post_choices(), "form": step["add"], "per_exam": services.questions_per_exam(),
        "pool": [(services.post_label(code), n) for code, n in counts.items()]})


@login_required
def question_detail(request, pk: int):
    user = request.user
    services.require_bank_editor(user)
    question = get_object_or_404(ExamQuestion, pk=pk)

    def edit_form(*args, **kwargs):
        if not args:
            kwargs["initial"] = {"post": question.post, "text": question.text, "answer": question.answer,
                                 "options": options_text(question.options)}
        return QuestionForm(*args, **kwargs)

    class ActiveForm(forms.Form):
        pass

    steps = {
        "edit": (edit_form, lambda d: services.update_question(user, question, **d), _("Question changed.")),
        "toggle": (ActiveForm, lambda d: services.set_question_active(user, question, not question.active),
                   _("Question taken out of use.") if question.active else _("Question back in use.")),
    }
    done, step = step_forms(request, steps, request.path, unknown_step="forbid")
    if done:
        return done
    return render(request, "personnel/exams_question.html", {
        "question": question, "form": step["edit"],
        "post_label": services.post_label(question.post) if question.post else _("every post")})


# Contractors and own teams -----------------------------------------------------------------------
@login_required
def contractor_list(request):
    """Outsourced projects in scope, the flagged (expired qualification, prohibited arrangement) first."""
    today = timezone.localdate()
    projects = OutsourcedProject.objects.visible_to(request.user).select_related("mine__county")
    county, state = request.GET.get("county", ""), request.GET.get("state", "")
    if county:
        projects = projects.filter(mine__county__code=county)
    rows = []
    for project in projects.order_by("mine__county__code", "mine__code", "-start_date"):
        project.flags = services.project_flags(project, today)
        project.running = services.project_running(project, today)
        if state == "flagged" and not project.flags or state == "running" and not project.running:
            continue
        rows.append(project)
    rows.sort(key=lambda p: not p.flags)
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    return render(request, "personnel/contractors_list.html", {
        "page": page, "query": query_without_page(request), "county": county, "state": state,
        "counties": counties_of(Mine.objects.visible_to(request.user))})


@login_required
def contractor_mine(request, mine_pk: int):
    """The mine's outsourced projects and how its mining work is staffed."""
    mine = visible_mine(request.user, mine_pk)
    user = request.user
    today = timezone.localdate()
    may_record = services.may_record(user, mine) and mine.status != Mine.Status.CLOSED
    projects = list(OutsourcedProject.objects.visible_to(user).filter(mine=mine).select_related("mine")
                    .order_by("-start_date", "-pk"))
    team = MiningTeam.objects.visible_to(user).filter(mine=mine).first()
    steps = {}
    if may_record:
        steps["project"] = (ProjectForm, lambda d: services.record_project(user, mine, **d),
                            _("Outsourced project recorded."))

        def team_form(*args, **kwargs):
            if team and not args:
                kwargs["initial"] = {"mode": team.mode, "firm": team.firm, "since": team.since,
                                     "evidence": team.evidence}
            return TeamForm(*args, **kwargs)

        steps["team"] = (team_form, lambda d: services.set_mining_team(user, mine, **d), _("Mining team stated."))
        for project in projects:
            if project.end_date is None or project.end_date > today:
                steps[f"end{project.pk}"] = (EndProjectForm, lambda d, p=project: services.end_project(
                    user, p, **d), _("Project ended."))
    if request.method == "POST" and not may_record:
        raise PermissionDenied
    done, step = step_forms(request, steps, request.path, unknown_step="forbid")
    if done:
        return done
    for project in projects:
        project.flags = services.project_flags(project, today)
        project.end_form = step.get(f"end{project.pk}")
    return render(request, "personnel/contractors_mine.html", {
        "mine": mine, "projects": projects, "team": team, "project_form": step.get("project"),
        "team_form": step.get("team"), "rules": services.outsourcing_rules()})


@login_required
def team_share(request):
    """Per county: the share of producing mines with own teams or whole-mine management, against the target
    in force on the chosen date."""
    on = request.GET.get("on", "")
    try:
        on_date = dt.date.fromisoformat(on) if on else timezone.localdate()
    except ValueError:
        messages.error(request, _("Not a date: %(d)s") % {"d": on})
        on_date = timezone.localdate()
    report = services.own_team_share(request.user, on_date)
    return render(request, "personnel/teams_share.html", {
        "report": report, "targets": services.share_targets(), "on": on_date.isoformat()})
