import contextlib

from django import template
from django.apps import apps
from django.core.exceptions import FieldDoesNotExist

register = template.Library()


@register.simple_tag
def audit_fields(event, values: dict | None) -> list[tuple[str, object]]:
    """An audit event's before/after as (field label, value) pairs, labels from the model when known."""
    if not values:
        return []
    try:
        model = apps.get_model(event.object_type)
    except (LookupError, ValueError):
        model = None
    pairs = []
    for key, value in values.items():
        label = key
        if model is not None:
            with contextlib.suppress(FieldDoesNotExist):
                label = str(getattr(model._meta.get_field(key.removesuffix("_id")), "verbose_name", key))
        pairs.append((label, "—" if value in (None, "") else value))
    return pairs


@register.simple_tag
def max_of(rows, key: str) -> int:
    return max((row.get(key) or 0 for row in rows), default=0)


@register.simple_tag
def percent(value, top) -> int:
    """Bar width for a CSS chart: value as a share of the largest value, leaving room for the number."""
    return round(85 * (value or 0) / top) if top else 0


@register.filter
def get_item(mapping, key):
    return mapping.get(key, key)
