"""Pages of special-operation certificates and training: the certificates in scope, one mine's certificates
(add, import), one certificate (review, renewal, revocation), the expiry dashboard with its export; training
providers and their checks, training records, the enforcement staff's rotation training, and coverage.

Thin: every change goes through certificates.py or training.py. ID numbers (also inside certificate numbers)
are shown in full only to those who may see the mine's personal data."""

from pathlib import Path

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from minesafe.core.models import User
from minesafe.core.scoping import is_city
from minesafe.core.webutil import submit_on_form
from minesafe.operations.disposal import counties_in
from minesafe.operations.views_disposal import audit_trail, query_without_page, step_forms
from minesafe.registry.api import xlsx_response
from minesafe.registry.excel import XLSX_CONTENT_TYPE, build_error_report
from minesafe.registry.forms import DateInput
from minesafe.registry.models import Mine
from minesafe.registry.services import can_manage_mine
from minesafe.registry.views import REPORT_DIR, save_error_report

from . import certificates as services
from . import common, training
from .models import Certificate, Person, TrainingProvider, TrainingRecord

K = TrainingRecord.Kind
S = TrainingProvider.Standing


class Masker:
    """Per-reader masking of ID numbers, one permission check per mine."""

    def __init__(self, user):
        self.user, self.cache = user, {}

    def may_see(self, mine: Mine) -> bool:
        if mine.pk not in self.cache:
            self.cache[mine.pk] = common.may_see_personal(self.user, mine)
        return self.cache[mine.pk]

    def id_number(self, person: Person) -> str:
        return person.id_number if self.may_see(person.mine) else common.mask_id(person.id_number)

    def number(self, cert: Certificate) -> str:
        return services.shown_number(cert, self.may_see(cert.person.mine))


def visible_mine(request, mine_pk: int) -> Mine:
    return get_object_or_404(Mine.objects.visible_to(request.user).select_related("county", "enterprise"),
                             pk=mine_pk)


def decorate(rows, masker: Masker, categories: dict):
    """Attach what a row shows: the masked ID and number, the category's name."""
    for row in rows:
        cert = row.certificate
        row.certificate.shown_id = masker.id_number(cert.person)
        row.certificate.shown_number = masker.number(cert)
        row.certificate.category_label = services.category_label(cert.category, categories)
    return rows


# Forms -------------------------------------------------------------------------------------------
class PersonField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.name} ({common.mask_id(obj.id_number)})"


class CertificateForm(forms.Form):
    person = PersonField(label=gettext_lazy("holder"), queryset=Person.objects.none())
    category = forms.ChoiceField(label=gettext_lazy("operation category"))
    number = forms.CharField(label=gettext_lazy("certificate number"), max_length=64)
    issued_on = forms.DateField(label=gettext_lazy("issued on"), widget=DateInput())
    expires_on = forms.DateField(label=gettext_lazy("expires on (empty: 6 years after issue)"), widget=DateInput(),
                                 required=False)
    last_review_on = forms.DateField(label=gettext_lazy("last review"), widget=DateInput(), required=False)
    extended_review = forms.BooleanField(label=gettext_lazy("review extended to every 6 years (issuer's decision)"),
                                         required=False)
    issuer = forms.CharField(label=gettext_lazy("issuing authority"), max_length=128, required=False)

    def __init__(self, *args, mine: Mine, condition: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["person"].queryset = Person.objects.filter(mine=mine, active=True).order_by("name")
        self.fields["category"].choices = services.category_choices()
        self.fields["extended_review"].help_text = condition


class ReviewForm(forms.Form):
    reviewed_on = forms.DateField(label=gettext_lazy("reviewed on"), widget=DateInput())
    extended_review = forms.BooleanField(label=gettext_lazy("next review after 6 years (issuer's decision)"),
                                         required=False)


class RenewForm(forms.Form):
    renewed_on = forms.DateField(label=gettext_lazy("renewed on"), widget=DateInput())
    expires_on = forms.DateField(label=gettext_lazy("new expiry (empty: 6 more years)"), widget=DateInput(),
                                 required=False)


class RevokeForm(forms.Form):
    reason = forms.CharField(label=gettext_lazy("reason"), max_length=200, widget=forms.Textarea(attrs={"rows": 2}))


class ImportForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("filled certificate ledger (.xlsx)"))


class ProviderForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("name"), max_length=128)
    credit_code = forms.CharField(label=gettext_lazy("unified social credit code"), max_length=18, required=False)
    qualification = forms.CharField(label=gettext_lazy("qualification"), max_length=200, required=False)


class CheckForm(forms.Form):
    checked_on = forms.DateField(label=gettext_lazy("checked on"), widget=DateInput())
    findings = forms.CharField(label=gettext_lazy("findings"), widget=forms.Textarea(attrs={"rows": 3}))
    result = forms.ChoiceField(label=gettext_lazy("result"), choices=S.choices)


class ProviderChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return obj.name


def usable_providers():
    return TrainingProvider.objects.exclude(standing=S.BARRED).order_by("name")


class TrainingForm(forms.Form):
    person = PersonField(label=gettext_lazy("person"), queryset=Person.objects.none())
    kind = forms.ChoiceField(label=gettext_lazy("kind"))
    category = forms.ChoiceField(label=gettext_lazy("operation category (special-operation training)"),
                                 required=False)
    provider = ProviderChoice(label=gettext_lazy("provider"), queryset=TrainingProvider.objects.none(),
                              required=False)
    held_on = forms.DateField(label=gettext_lazy("held on"), widget=DateInput())
    hours = forms.DecimalField(label=gettext_lazy("hours"), max_digits=5, decimal_places=1)
    passed = forms.BooleanField(label=gettext_lazy("passed"), required=False, initial=True)
    score = forms.DecimalField(label=gettext_lazy("score"), max_digits=5, decimal_places=1, required=False)

    def __init__(self, *args, mine: Mine, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["person"].queryset = Person.objects.filter(mine=mine).order_by("name")
        self.fields["kind"].choices = [(k, K(k).label) for k in training.PERSON_KINDS]
        self.fields["category"].choices = [("", "—"), *services.category_choices()]
        self.fields["provider"].queryset = usable_providers()


class OfficialChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj} ({obj.organisation})" if obj.organisation_id else str(obj)


class RotationForm(forms.Form):
    official = OfficialChoice(label=gettext_lazy("enforcement official"), queryset=User.objects.none())
    provider = ProviderChoice(label=gettext_lazy("provider"), queryset=TrainingProvider.objects.none(),
                              required=False)
    held_on = forms.DateField(label=gettext_lazy("held on"), widget=DateInput())
    hours = forms.DecimalField(label=gettext_lazy("hours"), max_digits=5, decimal_places=1)
    passed = forms.BooleanField(label=gettext_lazy("passed"), required=False, initial=True)
    score = forms.DecimalField(label=gettext_lazy("score"), max_digits=5, decimal_places=1, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["official"].queryset = training.enforcement_users().order_by("organisation__name", "username")
        self.fields["provider"].queryset = usable_providers()


# Certificates ------------------------------------------------------------------------------------
@login_required
def certificate_list(request):
    """Every certificate in scope with its state; filter by county, category, state."""
    user = request.user
    base = services.scoped_certificates(user)
    certs = base
    county, category, state = (request.GET.get(k, "") for k in ("county", "category", "state"))
    if county:
        certs = certs.filter(person__mine__county__code=county)
    if category:
        certs = certs.filter(category=category)
    certs = certs.order_by("person__mine__county__code", "person__mine__name", "person__name", "category", "pk")
    limits, today = services.rules(), timezone.localdate()
    if state in services.State.values:  # the state is computed: filter the rows, then page them
        rows = [r for r in services.with_states(certs, today, limits) if r.status.state == state]
        page = Paginator(rows, 50).get_page(request.GET.get("page"))
    else:
        page = Paginator(certs, 50).get_page(request.GET.get("page"))
        page.object_list = services.with_states(page.object_list, today, limits)
    decorate(page.object_list, Masker(user), common.operation_categories())
    return render(request, "personnel/certificates_list.html", {
        "page": page, "query": query_without_page(request), "county": county, "category": category,
        "state": state, "states": services.State.choices, "categories": services.category_choices(),
        "counties": counties_in(base, "person__mine__county")})


@login_required
def certificate_mine(request, mine_pk: int):
    """One mine's certificates and unlicensed workers; the form to add a certificate."""
    mine = visible_mine(request, mine_pk)
    user = request.user
    may_write = common.may_write(user, mine)
    limits = services.rules()
    form = CertificateForm(request.POST or None, mine=mine, condition=limits.extended_condition,
                           prefix="add") if may_write else None
    if request.method == "POST":
        if not may_write:
            raise PermissionDenied

        def add(data):
            return services.issue_certificate(
                user, data["person"], category=data["category"], number=data["number"],
                issued_on=data["issued_on"], expires_on=data["expires_on"], last_review_on=data["last_review_on"],
                extended_review=data["extended_review"], issuer=data["issuer"])

        created = submit_on_form(request, form, add, _("Certificate recorded."))
        if created:
            return redirect("personnel:certificate-detail", pk=created.pk)
    certs = services.scoped_certificates(user).filter(person__mine=mine).order_by("person__name", "category", "pk")
    rows = decorate(services.with_states(certs, limits=limits), Masker(user), common.operation_categories())
    flags = services.unlicensed_work(user, people=Person.objects.visible_to(user).filter(mine=mine))
    return render(request, "personnel/certificates_mine.html", {
        "mine": mine, "rows": rows, "flags": flags, "form": form, "may_write": may_write, "limits": limits})


@login_required
def certificate_detail(request, pk: int):
    cert = get_object_or_404(services.scoped_certificates(request.user), pk=pk)
    user = request.user
    mine = cert.person.mine
    may_write, may_revoke = common.may_write(user, mine), can_manage_mine(user, mine)
    limits, today = services.rules(), timezone.localdate()
    status = services.certificate_state(cert, today, limits=limits)
    steps = {}
    current = not cert.revoked and today <= cert.expires_on
    if current and may_write:
        steps["review"] = (ReviewForm, lambda d: services.record_review(
            user, cert, reviewed_on=d["reviewed_on"], extended_review=d["extended_review"]), _("Review recorded."))
        if status.in_renewal_window:
            steps["renew"] = (RenewForm, lambda d: services.renew_certificate(
                user, cert, renewed_on=d["renewed_on"], expires_on=d["expires_on"]), _("Certificate renewed."))
    if not cert.revoked and may_revoke:
        steps["revoke"] = (RevokeForm, lambda d: services.revoke_certificate(user, cert, reason=d["reason"]),
                           _("Certificate revoked."))
    if request.method == "POST" and request.POST.get("action") == "revoke" and not may_revoke:
        raise PermissionDenied
    done, step_form = step_forms(request, steps, request.path, allowed=may_write or may_revoke)
    if done:
        return done
    if "review" in step_form and not step_form["review"].is_bound:
        step_form["review"].initial = {"extended_review": cert.extended_review}
    masker = Masker(user)
    return render(request, "personnel/certificates_detail.html", {
        "cert": cert, "mine": mine, "status": status, "state_label": services.State(status.state).label,
        "shown_id": masker.id_number(cert.person), "shown_number": masker.number(cert),
        "category_label": services.category_label(cert.category), "limits": limits, "forms": step_form,
        "events": audit_trail(cert)})


def dashboard_county(request) -> str:
    return request.GET.get("county", "")


@login_required
def certificate_dashboard(request):
    """What to act on, per county: certificates expiring within the renewal window, reviews overdue, expired
    certificates, and workers without a valid certificate for their job (任职无证)."""
    user = request.user
    county = dashboard_county(request)
    board = services.expiry_dashboard(user, county=county)
    masker, categories = Masker(user), common.operation_categories()
    for group in (board.expiring, board.review_overdue, board.expired):
        decorate(group, masker, categories)
    flags = [(f, masker.id_number(f.person)) for f in board.unlicensed]
    return render(request, "personnel/certificates_dashboard.html", {
        "board": board, "flags": flags, "county": county, "query": request.GET.urlencode(),
        "counties": counties_in(Mine.objects.visible_to(user), "county")})


@login_required
def certificate_dashboard_export(request):
    board = services.expiry_dashboard(request.user, county=dashboard_county(request))
    name = f"certificates-{board.today.isoformat()}.xlsx"
    return xlsx_response(services.build_dashboard_export(request.user, board), name)


@login_required
def certificate_import(request, mine_pk: int):
    mine = visible_mine(request, mine_pk)
    if not common.may_write(request.user, mine):
        raise PermissionDenied
    form = ImportForm(request.POST or None, request.FILES or None)
    result, report_token = None, None
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        result = services.import_certificates(request.user, mine, upload.name,
                                              upload.read(settings.IMPORT_MAX_BYTES + 1))
        if result.ok:
            messages.success(request, _("Imported %(rows)d rows: %(c)d new, %(u)d changed, %(n)d unchanged.") % {
                "rows": result.rows, "c": result.created, "u": result.updated, "n": result.unchanged})
            return redirect("personnel:certificate-mine", mine_pk=mine.pk)
        if result.errors or result.file_error:
            report_token = save_error_report(build_error_report(result))
            request.session["import_reports"] = [*request.session.get("import_reports", [])[-9:], report_token]
    return render(request, "personnel/certificates_import.html", {
        "mine": mine, "form": form, "result": result, "report_token": report_token})


@login_required
def certificate_import_report(request, token: str):
    if token not in request.session.get("import_reports", []):
        raise Http404
    path = Path(REPORT_DIR) / f"{token}.xlsx"
    if not path.exists():
        raise Http404
    return FileResponse(path.open("rb"), as_attachment=True, filename="certificate-import-errors.xlsx",
                        content_type=XLSX_CONTENT_TYPE)


@login_required
def certificate_import_template(request):
    return xlsx_response(services.build_import_template(), "certificate-ledger-template.xlsx")


# Training ----------------------------------------------------------------------------------------
@login_required
def training_provider_list(request):
    """Training providers (city-wide) with their standing; the city or a county adds them."""
    user = request.user
    may_manage = training.may_manage_providers(user)
    form = ProviderForm(request.POST or None, prefix="provider") if may_manage else None
    if request.method == "POST":
        if not may_manage:
            raise PermissionDenied

        def create(data):
            return training.create_provider(user, name=data["name"], credit_code=data["credit_code"],
                                            qualification=data["qualification"])

        created = submit_on_form(request, form, create, _("Provider recorded."))
        if created:
            return redirect("personnel:training-provider-detail", pk=created.pk)
    providers = TrainingProvider.objects.order_by("name")
    standing = request.GET.get("standing", "")
    if standing in S.values:
        providers = providers.filter(standing=standing)
    page = Paginator(providers, 50).get_page(request.GET.get("page"))
    return render(request, "personnel/training_providers.html", {
        "page": page, "query": query_without_page(request), "form": form, "standing": standing,
        "standings": S.choices})


@login_required
def training_provider_detail(request, pk: int):
    provider = get_object_or_404(TrainingProvider, pk=pk)
    user = request.user
    may_manage = training.may_manage_providers(user)
    steps = {"check": (CheckForm, lambda d: training.check_provider(
        user, provider, checked_on=d["checked_on"], findings=d["findings"], result=d["result"]),
        _("Check recorded."))} if may_manage else {}
    done, step_form = step_forms(request, steps, request.path, allowed=may_manage)
    if done:
        return done
    records = training.visible_records(user).filter(provider=provider)
    return render(request, "personnel/training_provider_detail.html", {
        "provider": provider, "checks": provider.checks.select_related("checked_by"), "forms": step_form,
        "record_count": records.count(), "events": audit_trail(provider, *provider.checks.all())})


def year_param(request) -> int:
    try:
        year = int(request.GET.get("year", ""))
    except ValueError:
        return timezone.localdate().year
    return year if 2000 <= year <= 2100 else timezone.localdate().year


@login_required
def training_list(request):
    """Person training records in scope; filter by county, kind, year."""
    user = request.user
    base = TrainingRecord.objects.visible_to(user).filter(person__isnull=False)
    records = base.select_related("person__mine__county", "provider")
    county, kind, year = request.GET.get("county", ""), request.GET.get("kind", ""), request.GET.get("year", "")
    if county:
        records = records.filter(person__mine__county__code=county)
    if kind in training.PERSON_KINDS:
        records = records.filter(kind=kind)
    if year.isdigit():
        records = records.filter(held_on__year=int(year))
    page = Paginator(records.order_by("-held_on", "-pk"), 50).get_page(request.GET.get("page"))
    categories = common.operation_categories()
    for record in page.object_list:
        record.category_label = services.category_label(record.category, categories) if record.category else ""
    return render(request, "personnel/training_list.html", {
        "page": page, "query": query_without_page(request), "county": county, "kind": kind, "year": year,
        "kinds": [(k, K(k).label) for k in training.PERSON_KINDS],
        "counties": counties_in(base, "person__mine__county")})


@login_required
def training_mine(request, mine_pk: int):
    """One mine's training records and the form to record one (the enterprise, its county, the city)."""
    mine = visible_mine(request, mine_pk)
    user = request.user
    may_write = common.may_write(user, mine)
    form = TrainingForm(request.POST or None, mine=mine, prefix="training") if may_write else None
    if request.method == "POST":
        if not may_write:
            raise PermissionDenied

        def record(data):
            return training.record_training(
                user, data["person"], kind=data["kind"], held_on=data["held_on"], hours=data["hours"],
                provider=data["provider"], category=data["category"], passed=data["passed"], score=data["score"])

        if submit_on_form(request, form, record, _("Training recorded.")):
            return redirect("personnel:training-mine", mine_pk=mine.pk)
    records = list(TrainingRecord.objects.visible_to(user).filter(person__mine=mine)
                   .select_related("person", "provider").order_by("-held_on", "-pk")[:500])
    categories = common.operation_categories()
    for record in records:
        record.category_label = services.category_label(record.category, categories) if record.category else ""
    return render(request, "personnel/training_mine.html", {"mine": mine, "records": records, "form": form})


@login_required
def training_rotation(request):
    """The enforcement staff's rotation training: records (the city all, a county its own officials), the
    city's form to record one."""
    user = request.user
    may_record = training.may_record_rotation(user)
    form = RotationForm(request.POST or None, prefix="rotation") if may_record else None
    if request.method == "POST":
        if not may_record:
            raise PermissionDenied

        def record(data):
            return training.record_rotation_training(
                user, data["official"], held_on=data["held_on"], hours=data["hours"], provider=data["provider"],
                passed=data["passed"], score=data["score"])

        if submit_on_form(request, form, record, _("Rotation training recorded.")):
            return redirect("personnel:training-rotation")
    records = (TrainingRecord.objects.filter(training.rotation_records_q(user))
               .select_related("official__organisation", "provider").order_by("-held_on", "-pk"))
    page = Paginator(records, 50).get_page(request.GET.get("page"))
    return render(request, "personnel/training_rotation.html", {
        "page": page, "query": query_without_page(request), "form": form})


@login_required
def training_coverage(request):
    """Annual training of principal heads and five-post holders per county against the plan's 100%; for the
    city and counties, the enforcement staff's rotation coverage."""
    user = request.user
    year = year_param(request)
    rotation = None
    if is_city(user) or user.role == User.Role.COUNTY:
        rotation = training.rotation_coverage(year, user)
    this_year = timezone.localdate().year
    return render(request, "personnel/training_coverage.html", {
        "coverage": training.annual_coverage(user, year), "rotation": rotation, "year": year,
        "years": list(range(this_year, this_year - 6, -1)), "kinds": dict(K.choices)})

