from django import template

register = template.Library()


@register.filter
def percent(rate) -> str:
    """0.4567 -> "45.7%"; None -> "—"."""
    if rate is None or rate == "":
        return "—"
    return f"{round(float(rate) * 100, 1)}%"


@register.simple_tag
def campaign_funnel(campaign) -> dict:
    """The campaign page's funnel panel: the campaign's snapshot as rows (reporting reads
    campaigns; the campaign page asks reporting through this tag, not an import)."""
    from reporting.selectors import funnel_snapshot, snapshot_rows

    return snapshot_rows(funnel_snapshot(campaign=campaign.slug))
