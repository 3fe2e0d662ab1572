from django import template

register = template.Library()


@register.filter
def pct(ratio) -> str:
    """A share (0..1) as a percentage with one decimal; a dash when there is nothing to divide."""
    return "—" if ratio is None else f"{100 * ratio:.1f}%"


@register.filter
def kind_name(code: str) -> str:
    """A sensor kind code (co, water_level …) as its catalogue name in the active language."""
    from minesafe.monitoring.services import kind_label

    return kind_label(code)
