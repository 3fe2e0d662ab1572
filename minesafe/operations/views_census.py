"""Pages of the hidden disaster-causing factor census (隐蔽致灾因素普查): the censuses in scope, one mine's
censuses, and one census with its factors. Thin: every change goes through census.py."""

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from minesafe.core.webutil import submit_on_form
from minesafe.registry.forms import DateInput
from minesafe.registry.models import Mine

from . import census as services
from . import disposal
from .models import Census, HiddenFactor
from .views_disposal import audit_trail, query_without_page, step_forms

C = Census.Status
T = HiddenFactor.Treatment


# Forms -------------------------------------------------------------------------------------------
class OpenCensusForm(forms.Form):
    provider = forms.CharField(label=gettext_lazy("census provider"), max_length=128)
    scope_years = forms.TypedChoiceField(label=gettext_lazy("planned mining covered (years)"), coerce=int)
    started_on = forms.DateField(label=gettext_lazy("started on"), widget=DateInput())

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        low, high = services.scope_year_range()
        self.fields["scope_years"].choices = [(n, n) for n in range(low, high + 1)]


class FactorForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("factor"), choices=HiddenFactor.Kind.choices)
    location = forms.CharField(label=gettext_lazy("where found"), max_length=200)
    description = forms.CharField(label=gettext_lazy("what was found"), widget=forms.Textarea(attrs={"rows": 2}))


class TreatmentForm(forms.Form):
    treatment = forms.ChoiceField(label=gettext_lazy("treatment"))
    treated_on = forms.DateField(label=gettext_lazy("treated on"), widget=DateInput(), required=False)
    note = forms.CharField(label=gettext_lazy("treatment measures"), required=False,
                           widget=forms.Textarea(attrs={"rows": 1}))

    def __init__(self, *args, current: str, **kwargs):
        super().__init__(*args, **kwargs)
        later = services.TREATMENT_ORDER[services.TREATMENT_ORDER.index(current) + 1:]
        self.fields["treatment"].choices = [(t, T(t).label) for t in later]


class CompleteCensusForm(forms.Form):
    completed_on = forms.DateField(label=gettext_lazy("completed on"), widget=DateInput())
    report_summary = forms.CharField(label=gettext_lazy("report summary"), widget=forms.Textarea(attrs={"rows": 3}))


class FalsifyForm(forms.Form):
    note = forms.CharField(label=gettext_lazy("falsification found"), widget=forms.Textarea(attrs={"rows": 3}))
    accountability = forms.CharField(label=gettext_lazy("accountability (who answers, measures)"),
                                     widget=forms.Textarea(attrs={"rows": 2}))


# Pages -------------------------------------------------------------------------------------------
def scoped_censuses(user):
    return services.with_counts(Census.objects.visible_to(user).select_related("mine__county"))


@login_required
def census_list(request):
    """Every census in the reader's scope, latest first, with how many factors are still untreated."""
    base = scoped_censuses(request.user)
    censuses = base
    county, status = request.GET.get("county", ""), request.GET.get("status", "")
    if county:
        censuses = censuses.filter(mine__county__code=county)
    if status in C.values:
        censuses = censuses.filter(status=status)
    page = Paginator(censuses.order_by("-started_on", "-pk"), 50).get_page(request.GET.get("page"))
    return render(request, "operations/census_list.html", {
        "page": page, "query": query_without_page(request), "county": county, "status": status,
        "statuses": C.choices, "counties": disposal.counties_in(Census.objects.visible_to(request.user),
                                                                "mine__county")})


@login_required
def mine_census(request, mine_pk: int):
    """One mine's censuses, the resumption precondition as it stands, and the form to open a census."""
    mine = get_object_or_404(Mine.objects.visible_to(request.user).select_related("county", "enterprise"),
                             pk=mine_pk)
    user = request.user
    may_write = services.may_write(user, mine)
    form = OpenCensusForm(request.POST or None, prefix="open") if may_write else None
    if request.method == "POST":
        if not may_write:
            raise PermissionDenied

        def start(data):
            return services.open_census(user, mine, provider=data["provider"], scope_years=data["scope_years"],
                                        started_on=data["started_on"])

        created = submit_on_form(request, form, start, _("Census opened."))
        if created:
            return redirect("operations:census-detail", pk=created.pk)
    passed, reason = services.census_treated(mine)
    return render(request, "operations/census_mine.html", {
        "mine": mine, "censuses": scoped_censuses(user).filter(mine=mine).order_by("-started_on", "-pk"),
        "form": form, "passed": passed, "reason": reason, "scope": services.scope_year_range()})


@login_required
def census_detail(request, pk: int):
    census = get_object_or_404(scoped_censuses(request.user), pk=pk)
    user = request.user
    mine = census.mine
    may_write, may_falsify = services.may_write(user, mine), services.may_falsify(user, mine)
    factors = list(census.factors.all())
    steps, kwargs = {}, {}
    if census.status == C.IN_PROGRESS:
        steps["factor"] = (FactorForm, lambda d: services.add_factor(
            user, census, kind=d["kind"], location=d["location"], description=d["description"]),
            _("Factor recorded."))
        steps["complete"] = (CompleteCensusForm, lambda d: services.complete_census(
            user, census, completed_on=d["completed_on"], report_summary=d["report_summary"]),
            _("Census completed."))
    if census.status != C.FALSIFIED:
        for factor in factors:
            if factor.treatment == T.TREATED:
                continue
            name = f"treat{factor.pk}"
            steps[name] = (TreatmentForm, lambda d, f=factor: services.set_treatment(
                user, f, d["treatment"], treated_on=d["treated_on"], note=d["note"]), _("Treatment recorded."))
            kwargs[name] = {"current": factor.treatment}
    if census.status == C.COMPLETED and may_falsify:
        steps["falsify"] = (FalsifyForm, lambda d: services.mark_falsified(
            user, census, note=d["note"], accountability=d["accountability"]),
            _("Census marked falsified; the offence is recorded."))
    if request.method == "POST" and request.POST.get("action") == "falsify" and not may_falsify:
        raise PermissionDenied
    done, step_form = step_forms(request, steps if may_write else {}, request.path, allowed=may_write,
                                 form_kwargs=kwargs)
    if done:
        return done
    for factor in factors:
        factor.form = step_form.get(f"treat{factor.pk}")
    factor_events = Q(object_type="operations.hiddenfactor", object_id__in=[str(f.pk) for f in factors])
    return render(request, "operations/census_detail.html", {
        "census": census, "mine": mine, "factors": factors, "forms": step_form,
        "check": services.census_treated(mine), "is_latest": services.latest_census(mine) == census,
        "events": audit_trail(census, extra=factor_events)})
