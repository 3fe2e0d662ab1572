from django import template

register = template.Library()


@register.filter
def lookup(mapping, key):
    """mapping[key], or None when it is missing (core's get_item falls back to the key itself)."""
    return mapping.get(key) if hasattr(mapping, "get") else None
