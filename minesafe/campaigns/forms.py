"""Forms of the campaign and publicity pages; they only parse, the services validate the substance."""

from django import forms
from django.utils.translation import gettext_lazy as _

from minesafe.core.models import Organisation, Region, User
from minesafe.inspections import checklists
from minesafe.inspections.models import ChecklistTemplate, Method
from minesafe.registry.models import Mine

from .models import PublicityEvent


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs):
        kwargs.setdefault("format", "%Y-%m-%d")
        super().__init__(**kwargs)


def county_regions():
    return Region.objects.exclude(kind=Region.Kind.CITY).order_by("code")


class CampaignForm(forms.Form):
    code = forms.CharField(label=_("campaign number"), max_length=32, help_text=_("e.g. ZX-2026-01"))
    title = forms.CharField(label=_("title"), max_length=200)
    plan_task = forms.IntegerField(label=_("task of the action plan"), required=False,
                                   help_text=_("20 for the processing-plant campaign"))
    scope = forms.ModelChoiceField(label=_("county covered"), queryset=Region.objects.none(), required=False,
                                   empty_label=_("the whole city"))
    mine_types = forms.MultipleChoiceField(label=_("mine types targeted"), choices=Mine.Type.choices,
                                           widget=forms.CheckboxSelectMultiple)
    checklist = forms.ModelChoiceField(label=_("checklist"), queryset=ChecklistTemplate.objects.none(),
                                       required=False,
                                       empty_label=_("the shipped processing-plant checklist (task 20)"))
    starts_on = forms.DateField(label=_("starts on"), widget=DateInput())
    deadline = forms.DateField(label=_("deadline"), widget=DateInput())
    description = forms.CharField(label=_("what the campaign is about"), required=False,
                                  widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, user: User, running: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["checklist"].queryset = checklists.campaign_templates()
        if user.role == User.Role.COUNTY and user.organisation_id:
            self.fields["scope"].queryset = Region.objects.filter(pk=user.organisation.region_id)
            self.fields["scope"].empty_label = None
            self.fields["scope"].required = True
        else:
            self.fields["scope"].queryset = county_regions()
        if running:  # a running campaign changes only these
            for name in list(self.fields):
                if name not in ("title", "description", "deadline"):
                    del self.fields[name]


class SiteSelectForm(forms.Form):
    """Which candidate mines to list (GET) and which to add (POST)."""

    counties = forms.ModelMultipleChoiceField(label=_("counties"), queryset=Region.objects.none(), required=False,
                                              widget=forms.CheckboxSelectMultiple)
    mine_types = forms.MultipleChoiceField(label=_("mine types"), choices=(), required=False,
                                           widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, campaign, **kwargs):
        super().__init__(*args, **kwargs)
        regions = county_regions()
        if campaign.scope_id:
            regions = regions.filter(pk=campaign.scope_id)
        self.fields["counties"].queryset = regions
        self.fields["mine_types"].choices = [(t, Mine.Type(t).label) for t in campaign.mine_types
                                             if t in Mine.Type.values]


class AddSitesForm(forms.Form):
    mines = forms.ModelMultipleChoiceField(label=_("mines"), queryset=Mine.objects.none(),
                                           widget=forms.CheckboxSelectMultiple)
    assigned_organisation = forms.ModelChoiceField(
        label=_("assigned to"), queryset=Organisation.objects.none(), required=False,
        empty_label=_("each mine's county government"))

    def __init__(self, *args, mines, organisations, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["mines"].queryset = mines
        self.fields["assigned_organisation"].queryset = organisations


class VisitForm(forms.Form):
    inspected_on = forms.DateField(label=_("date of the visit"), widget=DateInput())
    method = forms.ChoiceField(label=_("method"), choices=[(m, label) for m, label in Method.choices
                                                          if m != Method.CROSS_COUNTY])
    team = forms.CharField(label=_("other inspectors"), max_length=200, required=False)


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("reason"), max_length=500, widget=forms.Textarea(attrs={"rows": 2}))


class CloseForm(forms.Form):
    """A reason field per site still open, and the closing summary."""

    note = forms.CharField(label=_("closing summary"), required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, open_sites, **kwargs):
        super().__init__(*args, **kwargs)
        self.open_sites = list(open_sites)
        for site in self.open_sites:
            self.fields[f"reason_{site.pk}"] = forms.CharField(
                label=f"{site.mine.county} · {site.mine.name} ({site.get_status_display()})", required=False,
                max_length=500, widget=forms.TextInput(attrs={"size": 60}))

    def reasons(self) -> dict[int, str]:
        return {site.pk: self.cleaned_data.get(f"reason_{site.pk}", "") for site in self.open_sites}


class EventForm(forms.Form):
    held_on = forms.DateField(label=_("held on"), widget=DateInput())
    kind = forms.ChoiceField(label=_("kind"), choices=PublicityEvent.Kind.choices)
    title = forms.CharField(label=_("title"), max_length=200)
    county = forms.ModelChoiceField(label=_("county"), queryset=Region.objects.none(), required=False,
                                    empty_label=_("city-wide"))
    place = forms.CharField(label=_("place"), max_length=200, required=False)
    audience = forms.ChoiceField(label=_("audience"), choices=PublicityEvent.Audience.choices)
    reach = forms.IntegerField(label=_("people reached"), widget=forms.NumberInput(attrs={"min": 0}))
    online_views = forms.IntegerField(label=_("online views"), required=False,
                                      widget=forms.NumberInput(attrs={"min": 0}))
    note = forms.CharField(label=_("note"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, counties, city: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["county"].queryset = counties
        if not city:
            self.fields["county"].empty_label = None
            self.fields["county"].required = True


class EvidenceForm(forms.Form):
    """Files come from request.FILES (several at once); the service checks them."""
