from django import template

register = template.Library()


@register.filter
def pct(ratio) -> str:
    """A share (0..1) as a percentage with one decimal; a dash when there is nothing to divide."""
    return "—" if ratio is None else f"{100 * ratio:.1f}%"
