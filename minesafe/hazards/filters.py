import django_filters
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from minesafe.core.filters import IdFilter
from minesafe.registry.filters import county_choices
from minesafe.registry.models import Mine

from .models import Hazard, SelfCheck


class HazardFilterSet(django_filters.FilterSet):
    """One filter set for the hazard list, its export, the analysis page and the API."""

    q = django_filters.CharFilter(method="search", label=_("Search"))
    county = django_filters.ChoiceFilter(field_name="mine__county__code", choices=county_choices, label=_("County"))
    mine_type = django_filters.ChoiceFilter(field_name="mine__mine_type", choices=Mine.Type.choices, label=_("Type"))
    status = django_filters.ChoiceFilter(choices=Hazard.Status.choices, label=_("Status"))
    source = django_filters.ChoiceFilter(choices=Hazard.Source.choices, label=_("Source"))
    item = django_filters.CharFilter(field_name="item__code", label=_("Standard item"))
    mine = IdFilter(field_name="mine_id", label=_("Mine"))
    overdue = django_filters.BooleanFilter(method="filter_overdue", label=_("Overdue"))
    is_repeat = django_filters.BooleanFilter(label=_("Repeat offence"))
    city_supervised = django_filters.BooleanFilter(label=_("City-supervised"))
    found_from = django_filters.DateFilter(field_name="found_on", lookup_expr="gte", label=_("Found from"))
    found_to = django_filters.DateFilter(field_name="found_on", lookup_expr="lte", label=_("Found until"))

    class Meta:
        model = Hazard
        fields = ["q", "county", "mine_type", "status", "source", "item", "mine", "overdue", "is_repeat",
                  "city_supervised", "found_from", "found_to"]

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(number__icontains=value) | Q(mine__name__icontains=value) |
                               Q(description__icontains=value))

    def filter_overdue(self, queryset, name, value):
        if value is None:
            return queryset
        overdue = Q(status__in=[Hazard.Status.REPORTED, Hazard.Status.RECTIFYING],
                    deadline__lt=timezone.localdate())
        return queryset.filter(overdue) if value else queryset.exclude(overdue)


class SelfCheckFilterSet(django_filters.FilterSet):
    mine = IdFilter(field_name="mine_id")
    county = django_filters.CharFilter(field_name="mine__county__code")
    period = django_filters.DateFilter()

    class Meta:
        model = SelfCheck
        fields = ["mine", "county", "period"]
