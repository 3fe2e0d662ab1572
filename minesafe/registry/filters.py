import django_filters
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from minesafe.core.filters import IdFilter
from minesafe.core.models import Region

from .models import LedgerSubmission, Mine


def county_choices():
    return [(r.code, str(r)) for r in Region.objects.exclude(kind=Region.Kind.CITY).order_by("code")]


class MineFilterSet(django_filters.FilterSet):
    """One filter set for the mine list page, its export and the API."""

    q = django_filters.CharFilter(method="search", label=_("Search"))
    county = django_filters.ChoiceFilter(field_name="county__code", choices=county_choices, label=_("County"))
    mine_type = django_filters.ChoiceFilter(choices=Mine.Type.choices, label=_("Type"))
    status = django_filters.ChoiceFilter(choices=Mine.Status.choices, label=_("Status"))
    scale_class = django_filters.ChoiceFilter(choices=Mine.Scale.choices, label=_("Scale"))
    overdue = django_filters.BooleanFilter(method="filter_overdue", label=_("Ledger overdue"))
    is_head_pond = django_filters.BooleanFilter(label=_("Head pond"))
    pond_grade = django_filters.NumberFilter(label=_("Pond grade"), min_value=1, max_value=5)
    enterprise = IdFilter(field_name="enterprise_id", label=_("Enterprise"))

    class Meta:
        model = Mine
        fields = ["q", "county", "mine_type", "status", "scale_class", "overdue", "is_head_pond", "pond_grade",
                  "enterprise"]

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(name__icontains=value) | Q(code__icontains=value) |
                               Q(enterprise__name__icontains=value) | Q(enterprise__credit_code=value.upper()))

    def filter_overdue(self, queryset, name, value):
        if value is None:
            return queryset
        today = timezone.localdate()
        if value:
            return queryset.filter(ledger_due_date__lt=today)
        return queryset.filter(Q(ledger_due_date__gte=today) | Q(ledger_due_date__isnull=True))


class LedgerSubmissionFilterSet(django_filters.FilterSet):
    mine = IdFilter(field_name="mine_id")
    period_from = django_filters.DateFilter(field_name="period", lookup_expr="gte")
    period_to = django_filters.DateFilter(field_name="period", lookup_expr="lte")

    class Meta:
        model = LedgerSubmission
        fields = ["mine", "period_from", "period_to"]
