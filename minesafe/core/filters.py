"""Filter plumbing shared by every app's filter sets and API."""

import django_filters
from django_filters.rest_framework import DjangoFilterBackend


class IdFilter(django_filters.NumberFilter):
    """Filter by a related object's id without listing or validating related objects: a choice list
    would show rows outside the caller's scope, and "does not exist" would confirm that others do."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", 2**63 - 1)
        super().__init__(*args, **kwargs)


class IdFilterSet(django_filters.FilterSet):
    @classmethod
    def filter_for_field(cls, field, field_name, lookup_expr=None):
        if field.is_relation and (field.many_to_one or field.one_to_one) and lookup_expr in (None, "exact"):
            return IdFilter(field_name=f"{field_name}_id")
        return super().filter_for_field(field, field_name, lookup_expr)


class ScopedFilterBackend(DjangoFilterBackend):
    """Builds `filterset_fields` filter sets whose foreign keys are plain ids (see IdFilter)."""

    filterset_base = IdFilterSet
