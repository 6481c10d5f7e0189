from django import template

register = template.Library()


@register.filter
def percent(rate) -> str:
    """0.4567 -> "45.7%"; None -> "—"."""
    if rate is None or rate == "":
        return "—"
    return f"{round(float(rate) * 100, 1)}%"
