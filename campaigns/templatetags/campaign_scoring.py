"""`{% score_card lead %}`: the lead's score and how it was made, for the lead page.

A template tag, so the lead page (in funnel) shows it without funnel importing campaigns.
"""

from django import template
from django.conf import settings

from campaigns.scoring import score_breakdown

register = template.Library()


@register.inclusion_tag("campaigns/score_card.html")
def score_card(lead):
    return {
        "lead": lead,
        "breakdown": score_breakdown(lead),
        "threshold": settings.HANDOFF_MQL_THRESHOLD,
        "half_life": settings.HANDOFF_SCORE_HALF_LIFE_DAYS,
    }
