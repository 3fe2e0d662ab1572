"""Pages of the whistleblower reports: the public form and tracking page (no login), and the handling
officers' list and detail with the step forms. Thin: every change goes through services.py."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from minesafe.core.models import AuditEvent, Region
from minesafe.core.scoping import is_city
from minesafe.core.webutil import submit_on_form
from minesafe.hazards.models import HazardItem

from . import abuse, forms, services
from .models import Reward, Tipoff

S = Tipoff.Status
RS = Reward.Status


# Public pages ------------------------------------------------------------------------------------
def too_many(request, retry_after: int):
    response = render(request, "tipoffs/limited.html", {"retry_minutes": max(1, (retry_after + 59) // 60)},
                      status=429)
    response["Retry-After"] = str(retry_after)
    return response


def private(response):
    """Pages showing a tracking code or a report's progress are never cached, and no other site learns
    they were visited. Not "no-referrer": browsers then send `Origin: null` with the form's POST, which
    the CSRF origin check rightly refuses."""
    add_never_cache_headers(response)
    response["Referrer-Policy"] = "same-origin"
    return response


def read_uploads(request) -> list[tuple[str, bytes]]:
    """The uploaded files, each read at most one byte past the limit (the service refuses larger ones)."""
    files = request.FILES.getlist("attachments")
    if len(files) > services.ATTACHMENT_MAX_COUNT:
        raise ValidationError({"attachments": _("at most %(n)d files") % {"n": services.ATTACHMENT_MAX_COUNT}})
    return [(f.name, f.read(services.ATTACHMENT_MAX_BYTES + 1)) for f in files]


@require_http_methods(["GET", "POST"])
def public_new(request):
    """The public report form. Every POST counts against the IP's limit, whatever becomes of it."""
    if request.method == "GET":
        form = forms.ReportForm(initial={"started": abuse.form_token()})
        return private(render(request, "tipoffs/public_new.html", {"form": form, **limits_context()}))
    limit = abuse.hit("submit", abuse.client_ip(request), abuse.submit_limit())
    if not limit.allowed:
        return too_many(request, limit.retry_after)
    form = forms.ReportForm(request.POST)
    if request.POST.get("website") or not abuse.token_fresh(request.POST.get("started", "")):
        return private(render(request, "tipoffs/public_refused.html", status=400))
    if form.is_valid():
        data = form.cleaned_data
        try:
            tipoff, code = services.submit(
                county=data["county"], mine=data["mine"], place=data["place"], category=data["category"],
                description=data["description"], anonymous=data["anonymous"], contact_name=data["contact_name"],
                contact_phone=data["contact_phone"], attachments=read_uploads(request))
        except ValidationError as exc:
            for field, msgs in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, msgs)
        else:
            return private(render(request, "tipoffs/public_done.html", {
                "code": services.display_code(code), "received_at": tipoff.received_at}))
    # A new render time: the person has read the errors, the next submission is not "too fast".
    form.data = form.data.copy()
    form.data["started"] = abuse.form_token()
    return private(render(request, "tipoffs/public_new.html", {"form": form, **limits_context()}, status=400))


def limits_context() -> dict:
    return {"max_files": services.ATTACHMENT_MAX_COUNT, "max_mb": services.ATTACHMENT_MAX_BYTES // 2**20,
            "max_chars": services.DESCRIPTION_MAX}


@require_http_methods(["GET", "POST"])
def public_track(request):
    """The reporter's check: a code in, only that report's status, dates, feedback and reward out. A wrong code
    gets the same answer as a forged one, and wrong codes are limited per IP (guessing)."""
    if request.method == "GET":
        return private(render(request, "tipoffs/public_track.html", {"form": forms.TrackForm()}))
    ip = abuse.client_ip(request)
    limit = abuse.exhausted("track", ip, abuse.track_limit())
    if not limit.allowed:
        return too_many(request, limit.retry_after)
    form = forms.TrackForm(request.POST)
    tipoff = services.find_by_code(form.data.get("code", "")) if form.is_valid() else None
    if tipoff is None:
        abuse.hit("track", ip, abuse.track_limit())
        return private(render(request, "tipoffs/public_track.html", {"form": forms.TrackForm(), "not_found": True},
                              status=404))
    return private(render(request, "tipoffs/public_track.html", {
        "form": forms.TrackForm(), "report": services.public_view(tipoff)}))


# Officers' pages ---------------------------------------------------------------------------------
def require_officer(user) -> None:
    if not services.is_officer(user):
        raise PermissionDenied


@login_required
def tipoff_list(request):
    require_officer(request.user)
    base = Tipoff.objects.visible_to(request.user).select_related("county", "handling_county", "mine")
    tipoffs = base
    status, county, category = (request.GET.get(k, "") for k in ("status", "county", "category"))
    if status in S.values:
        tipoffs = tipoffs.filter(status=status)
    if county:
        tipoffs = tipoffs.filter(handling_county__code=county)
    if category in Tipoff.Category.values:
        tipoffs = tipoffs.filter(category=category)
    overdue = request.GET.get("overdue") == "1"
    if overdue:
        tipoffs = tipoffs.overdue()
    page = Paginator(tipoffs.order_by("-received_at", "-pk"), 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    county_ids = base.order_by().values_list("handling_county_id", flat=True).distinct()
    return render(request, "tipoffs/list.html", {
        "page": page, "query": query.urlencode(), "status": status, "county": county, "category": category,
        "overdue": overdue, "statuses": S.choices, "categories": Tipoff.Category.choices,
        "counties": Region.objects.filter(pk__in=county_ids).order_by("code"),
        "overdue_count": base.overdue().count()})


def visible_tipoff(request, pk: int) -> Tipoff:
    return get_object_or_404(Tipoff.objects.visible_to(request.user).select_related(
        "county", "handling_county", "mine__county", "hazard"), pk=pk)


def hazard_items(tipoff: Tipoff):
    """The standard's items a hazard opened from this report may cite (they must fit its mine)."""
    if not tipoff.substantiated or tipoff.mine is None:
        return None
    items = HazardItem.objects.filter(catalogue__active=True).order_by("code")
    facilities = [f for f, types in HazardItem.MINE_TYPES.items() if tipoff.mine.mine_type in types]
    return items.filter(facility_type__in=facilities)


def steps_for(user, tipoff: Tipoff) -> dict:
    """The step forms open now: name -> (form class, service call, success message, form kwargs)."""
    steps = {}
    st = tipoff.status
    if st == S.RECEIVED:
        steps["accept"] = (forms.EmptyForm, lambda d: services.accept(user, tipoff), _("Report accepted."), {})
        steps["reject"] = (forms.RejectForm, lambda d: services.reject(user, tipoff, d["reason"]),
                           _("Report not accepted."), {})
    if st == S.ACCEPTED:
        steps["verify"] = (forms.VerifyForm, lambda d: services.verify(
            user, tipoff, substantiated=d["substantiated"], findings=d["findings"]), _("Verification recorded."), {})
    if st == S.VERIFIED:
        steps["handle"] = (forms.HandleForm, lambda d: services.handle(
            user, tipoff, action_taken=d["action_taken"], hazard_item=d.get("hazard_item"),
            hazard_description=d.get("hazard_description", "")), _("Handling recorded."),
            {"items": hazard_items(tipoff)})
    if st in (S.HANDLED, S.REJECTED):
        steps["feedback"] = (forms.FeedbackForm, lambda d: services.give_feedback(user, tipoff, d["feedback"]),
                             _("Feedback given."), {})
    if st == S.FEEDBACK_GIVEN:
        steps["close"] = (forms.EmptyForm, lambda d: services.close(user, tipoff), _("Report closed."), {})
    if st != S.CLOSED and is_city(user):
        steps["reassign"] = (forms.ReassignForm, lambda d: services.reassign(user, tipoff, d["county"], d["note"]),
                             _("Report reassigned."), {})
    reward = Reward.objects.filter(tipoff=tipoff).first()
    if reward is None and tipoff.substantiated and st in (S.HANDLED, S.FEEDBACK_GIVEN):
        steps["reward"] = (forms.ProposeRewardForm, lambda d: services.propose_reward(user, tipoff, d["severity"]),
                           _("Reward proposed."), {})
    if reward is not None and is_city(user):
        if reward.status == RS.PROPOSED:
            steps["approve"] = (forms.EmptyForm, lambda d: services.approve_reward(user, reward),
                                _("Reward approved."), {})
            steps["refuse"] = (forms.RefuseRewardForm, lambda d: services.refuse_reward(user, reward, d["reason"]),
                               _("Reward refused."), {})
        if reward.status == RS.APPROVED:
            steps["pay"] = (forms.PayRewardForm, lambda d: services.pay_reward(
                user, reward, paid_on=d["paid_on"], payment_ref=d["payment_ref"]), _("Payment recorded."), {})
    return steps


@login_required
def tipoff_detail(request, pk: int):
    tipoff = visible_tipoff(request, pk)
    user = request.user
    steps = steps_for(user, tipoff)
    bound = {}
    if request.method == "POST":
        name = request.POST.get("action", "")
        if name not in steps:
            messages.error(request, _("This step is not available now."))
            return redirect("tipoffs:detail", pk=tipoff.pk)
        form_class, call, success, kwargs = steps[name]
        form = form_class(request.POST, prefix=name, **kwargs)
        if submit_on_form(request, form, call, success):
            return redirect("tipoffs:detail", pk=tipoff.pk)
        bound[name] = form
    step_forms = {name: bound.get(name) or cls(prefix=name, **kwargs) for name, (cls, _c, _m, kwargs) in steps.items()}
    reward = Reward.objects.filter(tipoff=tipoff).first()
    events_q = Q(object_type="tipoffs.tipoff", object_id=str(tipoff.pk))
    if reward is not None:
        events_q |= Q(object_type="tipoffs.reward", object_id=str(reward.pk))
    quotes = [(label, services.quote_reward(tipoff.category, sev)) for sev, label in Reward.Severity.choices] \
        if "reward" in steps else []
    return render(request, "tipoffs/detail.html", {
        "tipoff": tipoff, "identity": services.identity(user, tipoff), "forms": step_forms, "reward": reward,
        "deadlines": services.deadlines(tipoff), "attachments": tipoff.attachments.all(), "quotes": quotes,
        "events": AuditEvent.objects.filter(events_q).order_by("-seq")[:100],
        "may_handle": services.is_handler(user, tipoff)})


@login_required
def attachment_download(request, pk: int, attachment_id: int):
    tipoff = visible_tipoff(request, pk)
    attachment = get_object_or_404(tipoff.attachments, pk=attachment_id)
    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    response = FileResponse(handle, as_attachment=True, filename=attachment.original_name,
                            content_type=attachment.content_type)
    response["X-Content-Type-Options"] = "nosniff"
    return private(response)
