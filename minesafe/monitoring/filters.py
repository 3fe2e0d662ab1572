"""Filter sets for monitoring lists: one each for the pages, their exports and the API."""

import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from minesafe.core.filters import IdFilter
from minesafe.registry.filters import county_choices

from .models import Alarm, Level, Sensor


class SensorFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label=_("Search"))
    mine = IdFilter(field_name="mine_id", label=_("Mine"))
    county = django_filters.ChoiceFilter(field_name="mine__county__code", choices=county_choices, label=_("County"))
    gateway = IdFilter(field_name="gateway_id", label=_("Gateway"))
    kind = django_filters.CharFilter(label=_("Kind"))
    level = django_filters.TypedChoiceFilter(choices=Level.choices, coerce=int, label=_("Level"))
    active = django_filters.BooleanFilter(label=_("Active"))
    silent = django_filters.BooleanFilter(label=_("Silent"))

    class Meta:
        model = Sensor
        fields = ["q", "mine", "county", "gateway", "kind", "level", "active", "silent"]

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(code__icontains=value) | Q(name__icontains=value) | Q(location__icontains=value)
                               | Q(mine__name__icontains=value))


class AlarmFilterSet(django_filters.FilterSet):
    """One filter set for the alarm list, its export and the API."""

    mine = IdFilter(field_name="mine_id", label=_("Mine"))
    sensor = IdFilter(field_name="sensor_id", label=_("Sensor"))
    county = django_filters.ChoiceFilter(field_name="mine__county__code", choices=county_choices, label=_("County"))
    level = django_filters.TypedChoiceFilter(choices=Level.choices[1:], coerce=int, label=_("Level"))
    status = django_filters.ChoiceFilter(choices=Alarm.Status.choices, label=_("Handling"))
    source = django_filters.ChoiceFilter(choices=Alarm.Source.choices, label=_("Source"))
    tier = django_filters.ChoiceFilter(choices=Alarm.Tier.choices, label=_("Escalated to"))
    kind = django_filters.CharFilter(label=_("Monitored quantity"))
    open = django_filters.BooleanFilter(field_name="closed_at", lookup_expr="isnull", label=_("Open"))
    active = django_filters.BooleanFilter(label=_("Condition present"))
    opened_after = django_filters.IsoDateTimeFilter(field_name="opened_at", lookup_expr="gte",
                                                    label=_("Opened from"))
    opened_before = django_filters.IsoDateTimeFilter(field_name="opened_at", lookup_expr="lt",
                                                     label=_("Opened before"))

    class Meta:
        model = Alarm
        fields = ["mine", "sensor", "county", "level", "status", "source", "tier", "kind", "open", "active",
                  "opened_after", "opened_before"]
