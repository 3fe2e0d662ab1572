"""Forms and page filters of the monitoring pages. Field checks only: permissions, transitions and the
cross-field rules (thresholds in order, derived sensors, withdrawal answers) belong to services."""

import datetime as dt

import django_filters
from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from minesafe.registry.forms import DateInput

from . import services
from .filters import AlarmFilterSet
from .models import DataUpload, Gateway, Level, ProductionFlag, Rule, Sensor

ALARM_LEVEL_CHOICES = [(int(lvl), lvl.label) for lvl in Level if lvl != Level.NONE]


# Filters ---------------------------------------------------------------------------------------------
class BoardFilterSet(AlarmFilterSet):
    """The alarm board's filters (open alarms only): the API's filter set, of which a page offers the
    filters Meta.fields names, in that order. The level is a choice with an empty "any" option here, as a
    page's select needs (the API's typed choice has none)."""

    level = django_filters.ChoiceFilter(choices=ALARM_LEVEL_CHOICES, label=_("Level"))

    class Meta(AlarmFilterSet.Meta):
        fields = ["county", "mine", "level", "status"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.filters = {name: self.filters[name] for name in self._meta.fields}


def _local_midnight(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


class AlarmListFilterSet(BoardFilterSet):
    """The alarm list and its exports: the board's filters, closed alarms too, and a range of whole local
    days (the API takes instants instead: opened_after / opened_before)."""

    state = django_filters.ChoiceFilter(method="filter_state", label=_("Open or closed"), empty_label=_("all"),
                                        choices=[("open", _("open")), ("closed", _("closed"))])
    opened_from = django_filters.DateFilter(method="filter_from", label=_("Opened from"), widget=DateInput())
    opened_to = django_filters.DateFilter(method="filter_to", label=_("Opened until"), widget=DateInput())

    class Meta(BoardFilterSet.Meta):
        fields = [*BoardFilterSet.Meta.fields, "state", "opened_from", "opened_to"]

    def filter_state(self, queryset, name, value):
        if value == "open":
            return queryset.filter(closed_at__isnull=True)
        if value == "closed":
            return queryset.filter(closed_at__isnull=False)
        return queryset

    def filter_from(self, queryset, name, value):
        return queryset.filter(opened_at__gte=_local_midnight(value))

    def filter_to(self, queryset, name, value):
        return queryset.filter(opened_at__lt=_local_midnight(value + dt.timedelta(days=1)))


RANGES = {"24h": (dt.timedelta(hours=24), _("24 hours")), "7d": (dt.timedelta(days=7), _("7 days")),
          "30d": (dt.timedelta(days=30), _("30 days"))}


def chosen_range(value: str | None) -> str:
    return value if value in RANGES else "24h"


# 叫应回应 --------------------------------------------------------------------------------------------
class AcknowledgeForm(forms.Form):
    note = forms.CharField(label=_("note"), max_length=500, required=False)


WITHDRAWN_CHOICES = [("", _("not answered")), ("yes", _("yes")), ("no", _("no"))]


class RespondForm(forms.Form):
    measures = forms.CharField(label=_("measures taken"), widget=forms.Textarea(attrs={"rows": 3}), max_length=4000)
    people_withdrawn = forms.TypedChoiceField(
        label=_("people withdrawn"), choices=WITHDRAWN_CHOICES, required=False, empty_value=None,
        coerce=lambda v: {"yes": True, "no": False}.get(v))
    withdrawn_count = forms.IntegerField(label=_("people withdrawn (count)"), min_value=0, max_value=100000,
                                         required=False)


class ReviewForm(forms.Form):
    accept = forms.TypedChoiceField(label=_("decision"), coerce=lambda v: v == "1",
                                    choices=[("1", _("accept the response")), ("0", _("return it"))])
    note = forms.CharField(label=_("note"), max_length=500, required=False,
                           help_text=_("required when returning the response"))


# Gateways and sensors ------------------------------------------------------------------------------
class GatewayForm(forms.Form):
    name = forms.CharField(label=_("gateway name"), max_length=100)


class SensorForm(forms.Form):
    """A measured sensor (with its gateway) or a derived one (offset + scale x its source's value)."""

    code = forms.CharField(label=_("sensor code"), max_length=64)
    name = forms.CharField(label=_("name"), max_length=100, required=False)
    kind = forms.ChoiceField(label=_("kind"))
    gateway = forms.ModelChoiceField(label=_("gateway"), queryset=Gateway.objects.none(), required=False)
    unit = forms.CharField(label=_("unit"), max_length=16, required=False,
                           help_text=_("empty: the kind's unit"))
    interval_s = forms.IntegerField(label=_("expected interval (s)"), min_value=1, max_value=86400 * 7,
                                    required=False, help_text=_("empty: the kind's interval"))
    location = forms.CharField(label=_("location"), max_length=200, required=False)
    source = forms.ModelChoiceField(label=_("derived from"), queryset=Sensor.objects.none(), required=False,
                                    help_text=_("only for a derived sensor: value = offset + scale × source"))
    derive_offset = forms.FloatField(label=_("derived offset"), initial=0.0, required=False)
    derive_scale = forms.FloatField(label=_("derived scale"), initial=1.0, required=False)

    def __init__(self, *args, mine, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = services.kind_choices()
        self.fields["gateway"].queryset = Gateway.objects.filter(mine=mine, active=True)
        self.fields["source"].queryset = Sensor.objects.filter(mine=mine, source__isnull=True, active=True)

    def service_fields(self) -> dict:
        """The keyword arguments for services.create_sensor (empty unit and interval: the kind's)."""
        data = dict(self.cleaned_data)
        fields = {k: data[k] for k in ("gateway", "source", "location") if data.get(k) not in (None, "")}
        for key in ("unit", "interval_s"):
            if data.get(key) not in (None, ""):
                fields[key] = data[key]
        if data.get("source") is not None:
            fields["derive_offset"] = data.get("derive_offset") or 0.0
            fields["derive_scale"] = 1.0 if data.get("derive_scale") is None else data["derive_scale"]
        return {"code": data["code"], "name": data.get("name") or "", "kind": data["kind"], **fields}


# Rules -------------------------------------------------------------------------------------------------
FIELDS_BY_KIND = {
    Rule.Kind.THRESHOLD: ["direction", "blue", "yellow", "orange", "red", "hysteresis", "min_duration_s", "active",
                          "note"],
    Rule.Kind.RATE: ["direction", "blue", "yellow", "orange", "red", "window_s", "per_s", "min_duration_s",
                     "active", "note"],
    Rule.Kind.NO_DATA: ["silent_intervals", "level", "active", "note"],
}
ALL_RULE_FIELDS = ["direction", "blue", "yellow", "orange", "red", "hysteresis", "min_duration_s", "window_s",
                   "per_s", "silent_intervals", "level", "active", "note"]


class RuleForm(forms.ModelForm):
    """Edit one rule: the fields that apply to its kind. Built on a copy, so the shown rule never changes
    before services.update_rule has accepted the change."""

    class Meta:
        model = Rule
        fields = ALL_RULE_FIELDS
        widgets = {name: forms.NumberInput(attrs={"step": "any"}) for name in ("blue", "yellow", "orange", "red",
                                                                                 "hysteresis")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        keep = FIELDS_BY_KIND.get(self.instance.kind, ALL_RULE_FIELDS)
        for name in ALL_RULE_FIELDS:
            if name not in keep:
                del self.fields[name]
        if "level" in self.fields:
            self.fields["level"].choices = ALARM_LEVEL_CHOICES

    def _post_clean(self):
        pass  # no model validation and no change to the instance: services.update_rule validates and saves

    def changes(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.fields}


class RuleCreateForm(RuleForm):
    kind = forms.ChoiceField(label=_("rule kind"), choices=Rule.Kind.choices)

    field_order = ["kind"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)  # a new Rule has no kind yet: every field is offered
        for name in ("blue", "yellow", "orange", "red", "hysteresis", "min_duration_s", "silent_intervals", "level"):
            self.fields[name].required = False

    def create_fields(self) -> dict:
        data = self.cleaned_data
        kind = data["kind"]
        fields = {name: data[name] for name in FIELDS_BY_KIND[kind] if data.get(name) is not None}
        return {"kind": kind, **fields}


# Suspended mines: uploads and the outcome of a surprise inspection -----------------------------------
class DataUploadForm(forms.Form):
    kind = forms.ChoiceField(label=_("data"), choices=DataUpload.Kind.choices)
    file = forms.FileField(label=_("file (.xlsx or .csv, UTF-8)"))
    replace = forms.BooleanField(label=_("corrects earlier data (replace stored values)"), required=False)

    def __init__(self, *args, kinds=None, **kwargs):
        super().__init__(*args, **kwargs)
        if kinds is not None:
            self.fields["kind"].choices = [c for c in self.fields["kind"].choices if c[0] in kinds]


class FlagOutcomeForm(forms.Form):
    OUTCOMES = [("confirmed", _("Production found")), ("dismissed", _("False flag"))]
    outcome = forms.ChoiceField(label=_("outcome"), choices=OUTCOMES, widget=forms.RadioSelect)
    inspected_on = forms.DateField(label=_("inspected on"), widget=DateInput())
    method = forms.ChoiceField(label=_("method"), choices=ProductionFlag.Method.choices)
    findings = forms.CharField(label=_("findings"), required=False, max_length=4000,
                               widget=forms.Textarea(attrs={"rows": 3}))
    case_required = forms.BooleanField(label=_("open an enforcement case"), required=False, initial=True)
    hazard_item = forms.ModelChoiceField(label=_("also report a major hazard (item of the standard)"),
                                         queryset=None, required=False)
    dismissal_reason = forms.CharField(label=_("why the flag is false"), required=False, max_length=4000,
                                       widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, mine, **kwargs):
        super().__init__(*args, **kwargs)
        from minesafe.hazards.models import HazardItem

        items = HazardItem.objects.filter(catalogue__active=True).order_by("code")
        self.fields["hazard_item"].queryset = items.filter(pk__in=[i.pk for i in items if i.fits(mine.mine_type)])
        if not self.is_bound:
            self.initial["inspected_on"] = timezone.localdate()
