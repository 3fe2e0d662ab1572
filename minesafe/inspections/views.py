"""Pages of the inspections: the list (filters, CSV/Excel), per mine, starting one, the inspection page the team
works on from a phone (checklist, findings, photos, exams, signatures, documents), downloads, and the checklist
templates. Thin: every change goes through services.py, checklists.py or documents.py. An inspection outside the
reader's scope is 404; a change the reader may not make is refused (403 for a page offering nothing)."""

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from minesafe.core.errors import DomainError
from minesafe.core.models import AuditEvent, Region, User
from minesafe.core.scoping import is_city
from minesafe.core.webutil import attempt, error_text, query_without_page, submit_on_form
from minesafe.registry.models import Mine

from . import checklists, documents, exports, forms, services
from .models import ChecklistTemplate, Document, Finding, Inspection, InspectionItem, Method, Photo, Signature

S = Inspection.Status
READER_ROLES = (User.Role.CITY, User.Role.COUNTY, User.Role.INSPECTOR, User.Role.ENTERPRISE)


def require_reader(user) -> None:
    """The inspection pages are for officers and enterprises; departments have nothing here."""
    if not (is_city(user) or (user.role in READER_ROLES and user.organisation_id)):
        raise PermissionDenied


def visible_inspection(request, pk: int) -> Inspection:
    return get_object_or_404(Inspection.objects.visible_to(request.user).select_related(
        "mine__county", "mine__enterprise__organisation", "organisation__region", "lead_inspector",
        "checklist_template", "created_by"), pk=pk)


def parse_day(value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


# Lists -------------------------------------------------------------------------------------------
def filtered(request, inspections):
    """Apply the list's filters (county, method, status, date range, mine, text); unknown values are ignored."""
    get = request.GET
    if get.get("county"):
        inspections = inspections.filter(mine__county__code=get["county"])
    if get.get("method") in Method.values:
        inspections = inspections.filter(method=get["method"])
    if get.get("status") in S.values:
        inspections = inspections.filter(status=get["status"])
    since, until = parse_day(get.get("from", "")), parse_day(get.get("to", ""))
    if since:
        inspections = inspections.filter(inspected_on__gte=since)
    if until:
        inspections = inspections.filter(inspected_on__lte=until)
    if get.get("mine", "").isdigit():
        inspections = inspections.filter(mine_id=int(get["mine"]))
    text = get.get("q", "").strip()
    if text:
        inspections = inspections.filter(Q(number__icontains=text) | Q(mine__name__icontains=text)
                                         | Q(mine__code__icontains=text))
    return inspections


def listed(user):
    return (Inspection.objects.visible_to(user)
            .select_related("mine__county", "organisation", "lead_inspector")
            .annotate(finding_count=Count("findings", distinct=True),
                      major_count=Count("findings", filter=Q(findings__major=True), distinct=True))
            .order_by("-inspected_on", "-pk"))


@login_required
def inspection_list(request):
    user = request.user
    require_reader(user)
    base = Inspection.objects.visible_to(user)
    page = Paginator(filtered(request, listed(user)), 50).get_page(request.GET.get("page"))
    county_ids = base.order_by().values_list("mine__county_id", flat=True).distinct()
    return render(request, "inspections/list.html", {
        "page": page, "query": query_without_page(request), "get": request.GET, "methods": Method.choices,
        "statuses": S.choices, "counties": Region.objects.filter(pk__in=county_ids).order_by("code"),
        "may_start": services.is_officer(user)})


@login_required
def inspection_export(request, fmt: str):
    user = request.user
    require_reader(user)
    inspections = filtered(request, listed(user))
    if fmt == "csv":
        response = HttpResponse(exports.as_csv(inspections), content_type="text/csv; charset=utf-8")
    else:
        response = HttpResponse(exports.as_xlsx(inspections), content_type=exports.XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="inspections.{fmt}"'
    return response


@login_required
def mine_inspections(request, mine_pk: int):
    user = request.user
    require_reader(user)
    mine = get_object_or_404(Mine.objects.visible_to(user).select_related("county", "enterprise"), pk=mine_pk)
    inspections = listed(user).filter(mine=mine)
    return render(request, "inspections/mine.html", {
        "mine": mine, "inspections": inspections[:200], "may_start": services.may_start(user, mine),
        "open_findings": Finding.objects.visible_to(user).filter(inspection__mine=mine, status=Finding.Status.OPEN,
                                                                 major=False).select_related("inspection")})


# Starting ----------------------------------------------------------------------------------------
def startable_mines(user):
    if not services.is_officer(user):
        return Mine.objects.none()
    return Mine.objects.visible_to(user).select_related("county").order_by("county__code", "code")


@login_required
def inspection_start(request):
    user = request.user
    if not services.is_officer(user):
        raise PermissionDenied
    mines = startable_mines(user)
    if request.method == "POST":
        form = forms.StartForm(request.POST, user=user, mines=mines)
        result = submit_on_form(request, form, lambda d: services.start_inspection(
            user, d["mine"], inspected_on=d["inspected_on"], method=d["method"],
            organisation=d.get("organisation"), lead_inspector=d.get("lead_inspector"), team=d["team"]),
            _("Inspection started."))
        if result:
            return redirect("inspections:detail", pk=result.pk)
        status = 400
    else:
        initial = {"inspected_on": timezone.localdate(), "method": Method.ROUTINE}
        if request.GET.get("mine", "").isdigit():
            initial["mine"] = int(request.GET["mine"])
        form = forms.StartForm(user=user, mines=mines, initial=initial)
        status = 200
    return render(request, "inspections/start.html", {"form": form}, status=status)


# The inspection page -----------------------------------------------------------------------------
def finding_of(inspection: Inspection, finding_id) -> Finding:
    finding = inspection.findings.filter(pk=finding_id).first()
    if finding is None:
        raise ValidationError({"finding": _("not a finding of this inspection")})
    return finding


def read_upload(upload) -> bytes:
    limit = int(services.catalogue()["photos"]["max_bytes"])
    return upload.read(limit + 1)  # one byte past the limit is enough for the service to refuse it


def steps_for(user, inspection: Inspection) -> dict:
    """The forms open to this user now: name -> (form class, service call on cleaned data, message, kwargs)."""
    steps = {}
    work = services.may_work(user, inspection)
    if work and inspection.is_open:
        steps["details"] = (forms.DetailsForm, lambda d: services.update_details(
            user, inspection, summary=d["summary"], team=d["team"]), _("Saved."), {})
        steps["finding"] = (forms.FindingForm, lambda d: services.add_finding(
            user, inspection, description=d["description"], deadline=d["deadline"], major=d["major"],
            hazard_item=d["hazard_item"]), _("Finding recorded."), {"mine_type": inspection.mine.mine_type})
        steps["withdraw"] = (forms.WithdrawFindingForm, lambda d: services.withdraw_finding(
            user, finding_of(inspection, d["finding"])), _("Finding withdrawn."), {})
        steps["photo"] = (forms.PhotoForm, lambda d: services.add_photo(
            user, inspection, d["file"].name, read_upload(d["file"]), caption=d["caption"],
            finding=finding_of(inspection, d["finding"]) if d["finding"] else None), _("Photo added."),
            {"findings": list(inspection.findings.all())})
        if user.pk == inspection.lead_inspector_id:
            steps["sign_lead"] = (forms.LeadSignatureForm, lambda d: services.sign(
                user, inspection, Signature.Role.LEAD_INSPECTOR, image=d["image"]), _("Signed."), {})
        steps["sign_enterprise"] = (forms.EnterpriseSignatureForm, lambda d: services.sign(
            user, inspection, Signature.Role.ENTERPRISE, image=d["image"], signer_name=d["signer_name"],
            refused=d["refused"], refusal_reason=d["refusal_reason"], witness_name=d["witness_name"]),
            _("The enterprise's signature is recorded."), {})
        steps["complete"] = (forms.EmptyForm, lambda d: services.complete(user, inspection),
                             _("Inspection completed."), {})
        steps["cancel"] = (forms.ReasonForm, lambda d: services.cancel(user, inspection, d["reason"]),
                           _("Inspection cancelled."), {})
    if work and inspection.status == S.COMPLETED:
        steps["addendum"] = (forms.AddendumForm, lambda d: services.add_addendum(user, inspection, d["text"]),
                             _("Addendum added."), {})
    if documents.may_issue(user, inspection):
        steps["document"] = (forms.DocumentForm, lambda d: documents.issue(
            user, inspection, d["kind"], measures=d["measures"], details=d["details"]), _("Document issued."), {})
    if inspection.status == S.COMPLETED and services.may_confirm_rectification(user, inspection):
        steps["rectified"] = (forms.RectifiedForm, lambda d: services.confirm_rectified(
            user, finding_of(inspection, d["finding"]), d["note"]), _("Rectification confirmed."), {})
    return steps


def audit_trail(inspection: Inspection):
    q = Q(object_type="inspections.inspection", object_id=str(inspection.pk))
    for model, ids in (("inspectionitem", inspection.items.values_list("pk", flat=True)),
                       ("photo", inspection.photos.values_list("pk", flat=True)),
                       ("finding", inspection.findings.values_list("pk", flat=True)),
                       ("signature", inspection.signatures.values_list("pk", flat=True)),
                       ("document", inspection.documents.values_list("pk", flat=True)),
                       ("addendum", inspection.addenda.values_list("pk", flat=True))):
        q |= Q(object_type=f"inspections.{model}", object_id__in=[str(i) for i in ids])
    return AuditEvent.objects.filter(q).order_by("-seq")[:100]


def with_post_labels(rows) -> list:
    from minesafe.personnel.activities import post_label

    rows = list(rows)
    for row in rows:
        row.post_label = post_label(row.post)
    return rows


@login_required
def inspection_detail(request, pk: int):
    inspection = visible_inspection(request, pk)
    user = request.user
    steps = steps_for(user, inspection)
    bound = {}
    if request.method == "POST":
        if not steps:
            raise PermissionDenied
        name = request.POST.get("action", "")
        if name not in steps:
            messages.error(request, _("This step is not available now."))
            return redirect("inspections:detail", pk=inspection.pk)
        form_class, call, success, kwargs = steps[name]
        form = form_class(request.POST, request.FILES, prefix=name, **kwargs)
        if submit_on_form(request, form, call, success):
            return redirect(reverse("inspections:detail", args=[inspection.pk]) + f"#{name}")
        bound[name] = form
    step_forms = {name: bound.get(name) or cls(prefix=name, **kwargs) for name, (cls, _c, _m, kwargs) in steps.items()}
    if "details" in step_forms and "details" not in bound:
        step_forms["details"] = forms.DetailsForm(prefix="details", initial={"summary": inspection.summary,
                                                                             "team": inspection.team})
    if "finding" in step_forms and "finding" not in bound:
        step_forms["finding"].initial = {"deadline": services.default_deadline(inspection, False)}
    items = list(inspection.items.select_related("finding__hazard", "checked_by").order_by("position"))
    findings = list(inspection.findings.select_related("hazard", "hazard_item", "item").order_by("pk"))
    counts = {value: 0 for value in InspectionItem.Result.values}
    for item in items:
        counts[item.result] += 1
    work = services.may_work(user, inspection)
    may_examine = services.may_examine_here(user, inspection)
    exams = with_post_labels(services.exams_of(user, inspection))
    people = with_post_labels(services.examinable_people(inspection)) if may_examine else []
    return render(request, "inspections/detail.html", {
        "inspection": inspection, "items": items, "findings": findings, "forms": step_forms,
        "counts": counts, "results": InspectionItem.Result.choices, "work": work and inspection.is_open,
        "may_work": work, "photos": list(inspection.photos.select_related("finding")),
        "signatures": services.signature_state(inspection), "documents": inspection.documents.all(),
        "addenda": inspection.addenda.select_related("created_by"),
        "exams": exams, "may_examine": may_examine, "people": people,
        "default_major": services.default_deadline(inspection, True),
        "default_ordinary": services.default_deadline(inspection, False),
        "events": audit_trail(inspection) if work or is_city(user) else [],
        "today": timezone.localdate()})


@login_required
@require_POST
def item_result(request, pk: int, item_pk: int):
    """One checklist item's result (a small form per item, so a phone posts one item at a time)."""
    inspection = visible_inspection(request, pk)
    item = get_object_or_404(InspectionItem.objects.select_related("inspection__mine", "inspection__organisation"),
                             pk=item_pk, inspection=inspection)
    if not services.may_work(request.user, inspection):
        raise PermissionDenied
    form = forms.ResultForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        attempt(request, lambda: services.record_result(request.user, item, data["result"], note=data["note"],
                                                        deadline=data["deadline"]), _("Result saved."))
    else:
        messages.error(request, "; ".join(f"{field}: {' '.join(errors)}" for field, errors in form.errors.items()))
    return redirect(reverse("inspections:detail", args=[inspection.pk]) + f"#item-{item.pk}")


# Downloads ---------------------------------------------------------------------------------------
def private_file(handle, *, filename: str, content_type: str, as_attachment: bool):
    response = FileResponse(handle, as_attachment=as_attachment, filename=filename, content_type=content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


def open_file(field):
    try:
        return field.open("rb")
    except (FileNotFoundError, ValueError):
        raise Http404 from None


@login_required
def photo_download(request, pk: int, photo_pk: int):
    inspection = visible_inspection(request, pk)
    photo = get_object_or_404(Photo, pk=photo_pk, inspection=inspection)
    return private_file(open_file(photo.file), filename=photo.original_name, content_type=photo.content_type,
                        as_attachment=False)


@login_required
def signature_image(request, pk: int, signature_pk: int):
    inspection = visible_inspection(request, pk)
    signature = get_object_or_404(Signature, pk=signature_pk, inspection=inspection)
    if not signature.file:
        raise Http404
    return private_file(open_file(signature.file), filename=f"signature-{signature.role}.png",
                        content_type="image/png", as_attachment=False)


@login_required
def document_download(request, pk: int, document_pk: int):
    inspection = visible_inspection(request, pk)
    document = get_object_or_404(Document, pk=document_pk, inspection=inspection)
    return private_file(open_file(document.file), filename=f"{document.number}.docx",
                        content_type=documents.DOCX_CONTENT_TYPE, as_attachment=True)


# Exams at the inspection -------------------------------------------------------------------------
@login_required
def exam_take(request, pk: int, person_pk: int):
    """GET draws the questions for a key-post holder of the inspected mine; POST scores the answers. The exam
    is recorded against this inspection (逢查必考)."""
    from minesafe.personnel.models import Person

    inspection = visible_inspection(request, pk)
    user = request.user
    if not services.may_examine_here(user, inspection):
        raise PermissionDenied
    person = get_object_or_404(Person.objects.filter(mine=inspection.mine), pk=person_pk)
    draw, refusal, form = None, "", None
    try:
        if request.method == "POST":
            from minesafe.personnel import activities

            draw = activities.load_draw(user, request.POST.get("token", ""))
            if draw.person.pk != person.pk:
                raise PermissionDenied
            form = forms.ExamForm(request.POST, questions=draw.questions)
            if form.is_valid():
                exam = services.take_exam(user, inspection, draw.token, form.answers())
                messages.success(request, _("Exam recorded: score %(s)s.") % {"s": exam.score})
                return redirect(reverse("inspections:detail", args=[inspection.pk]) + "#exams")
        else:
            draw = services.draw_exam(user, inspection, person, request.GET.get("post", ""))
            form = forms.ExamForm(questions=draw.questions, initial={"token": draw.token})
    except (ValidationError, DomainError) as exc:
        refusal, form = error_text(exc), None
    return render(request, "inspections/exam.html", {
        "inspection": inspection, "person": person, "draw": draw, "form": form, "refusal": refusal})


# Checklist templates -----------------------------------------------------------------------------
@login_required
def template_list(request):
    user = request.user
    if not services.is_officer(user):
        raise PermissionDenied
    templates = ChecklistTemplate.objects.annotate(item_count=Count("items"), used=Count("inspections"))
    return render(request, "inspections/templates.html", {
        "active": templates.filter(active=True).order_by("mine_type"),
        "old": templates.filter(active=False).order_by("mine_type", "-version"),
        "may_edit": checklists.may_edit(user)})


@login_required
def template_detail(request, template_pk: int):
    user = request.user
    if not services.is_officer(user):
        raise PermissionDenied
    template = get_object_or_404(ChecklistTemplate, pk=template_pk)
    editable = checklists.may_edit(user) and template.active
    if request.method == "POST":
        if not editable:
            raise PermissionDenied
        action = request.POST.get("action", "")
        if action == "add":
            form = forms.TemplateItemForm(request.POST, mine_type=template.mine_type)
            version = submit_on_form(request, form, lambda d: checklists.add_item(
                user, template, text=d["text"], guidance=d["guidance"], hazard_item=d["hazard_item"],
                code=d["code"]), _("Item added."))
            if not version:
                return render(request, "inspections/template.html", template_context(template, user, add_form=form),
                              status=400)
        else:
            form = forms.TemplateEditForm(request.POST)
            calls = {
                "update": lambda d: checklists.update_item(user, template, d["item"], text=d["text"],
                                                           guidance=d["guidance"]),
                "remove": lambda d: checklists.remove_item(user, template, d["item"]),
                "up": lambda d: checklists.move_item(user, template, d["item"], "up"),
                "down": lambda d: checklists.move_item(user, template, d["item"], "down"),
            }
            if action not in calls or not form.is_valid():
                messages.error(request, _("This step is not available now."))
                return redirect("inspections:template", template_pk=template.pk)
            version = attempt(request, lambda: calls[action](form.cleaned_data), _("Checklist changed."))
        if version and version is not True and version.pk != template.pk:
            messages.info(request, _("Inspections already used version %(v)d, so the change made version %(n)d.") % {
                "v": template.version, "n": version.version})
            return redirect("inspections:template", template_pk=version.pk)
        return redirect("inspections:template", template_pk=template.pk)
    return render(request, "inspections/template.html", template_context(template, user))


def template_context(template: ChecklistTemplate, user, add_form=None) -> dict:
    editable = checklists.may_edit(user) and template.active
    return {
        "template": template, "items": template.items.select_related("hazard_item").order_by("position"),
        "editable": editable, "used": checklists.is_used(template),
        "versions": ChecklistTemplate.objects.filter(code=template.code).order_by("-version"),
        "add_form": add_form or (forms.TemplateItemForm(mine_type=template.mine_type) if editable else None)}
