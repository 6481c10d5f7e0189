"""`{% touch_card lead %}`: the lead's first and last touch (attribution), for the lead page.

A template tag, so the lead page (in funnel) shows it without funnel importing campaigns.
"""

from django import template

from leads.fields import TOUCH_FIELDS
from leads.touches import lead_touches

register = template.Library()


@register.inclusion_tag("campaigns/touch_card.html")
def touch_card(lead):
    first, last = lead_touches(lead)
    touches = []
    for title, touch in (("First touch", first), ("Last touch", last)):
        if touch is not None:
            values = [(f.label, touch[f.name]) for f in TOUCH_FIELDS if touch[f.name]]
            touches.append({"title": title, "touch": touch, "values": values})
    return {"lead": lead, "touches": touches}
